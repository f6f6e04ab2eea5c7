"""Tier 3, market control: clearing mechanisms, retail tariffs and settlement.

Mechanisms are pure functions first, callable without a simulation on the
same message dataclasses the simulation passes around:

>>> from market_control import double_auction, economic_dispatch, Offer, Bid, Generator, Clearing
>>> double_auction([Offer("pv", 1.0, 10.0), Offer("gas", 1.0, 30.0)],
...                [Bid("home", 1.0, 25.0), Bid("shop", 1.0, 20.0)]).price
20.0001

The continuous double auction is a pure class, an order book with
price-time priority:

>>> from market_control import OrderBook, Order, Trade
>>> book = OrderBook()
>>> book.submit(Order("pv", "sell", 2.0, 10.0, 0))
[]
>>> book.submit(Order("home", "buy", 1.5, 25.0, 1000))
[Trade(buyer='home', seller='pv', quantity_mw=1.5, price=10.0, time_ms=1000, interval_start_ms=0)]

:mod:`market_control.markets` wraps them as :class:`market_control.base.Market`
classes for the engine; :mod:`market_control.tariffs` turns clearing prices
into retail prices; :mod:`market_control.settlement` settles awards against
metered output; :mod:`market_control.continuous` trades delivery intervals
continuously (``market.mechanism: continuous``). Sign convention: generation and export positive; awards are
positive for sellers, negative for buyers.
"""
from hierarchy.messages import Award, Bid, Offer, Order, Price, Trade
from market_control.auction import double_auction
from market_control.base import Clearing, Market
from market_control.dispatch import Generator, economic_dispatch
from market_control.orderbook import OrderBook

__all__ = [
    "Award",
    "Bid",
    "Clearing",
    "Generator",
    "Market",
    "Offer",
    "Order",
    "OrderBook",
    "Price",
    "Trade",
    "double_auction",
    "economic_dispatch",
]
