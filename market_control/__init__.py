"""Tier 3, market control: clearing mechanisms, retail tariffs and settlement.

Mechanisms are pure functions first, callable without a simulation on the
same message dataclasses the simulation passes around:

>>> from market_control import double_auction, economic_dispatch, Offer, Bid, Generator, Clearing
>>> double_auction([Offer("pv", 1.0, 10.0), Offer("gas", 1.0, 30.0)],
...                [Bid("home", 1.0, 25.0), Bid("shop", 1.0, 20.0)]).price
20.0001

:mod:`market_control.markets` wraps them as :class:`market_control.base.Market`
classes for the engine; :mod:`market_control.tariffs` turns clearing prices
into retail prices; :mod:`market_control.settlement` settles awards against
metered output. Sign convention: generation and export positive; awards are
positive for sellers, negative for buyers.
"""
from hierarchy.messages import Award, Bid, Offer, Price
from market_control.auction import double_auction
from market_control.base import Clearing, Market
from market_control.dispatch import Generator, economic_dispatch

__all__ = [
    "Award",
    "Bid",
    "Clearing",
    "Generator",
    "Market",
    "Offer",
    "Price",
    "double_auction",
    "economic_dispatch",
]
