"""Continuous trading of delivery intervals (``market.mechanism: continuous``).

Each delivery interval has its own :class:`~market_control.orderbook.OrderBook`.
The engine opens it, submits every offer and bid at the moment it arrives
(its time priority), withdraws an area's orders when the area asks, and
closes the book at gate closure: what rests then is cancelled, and the
interval's :class:`~market_control.base.Clearing` is made of the trades.

The clearing of a continuous interval:

* ``awards``: each participant's position for delivery, its day-ahead award
  (if any) plus its net traded quantity (sold positive);
* ``traded_value_per_h``: ``Σ sold q·p − Σ bought q·p`` of its trades, each
  at its own price (pay-as-bid) [currency per h];
* ``price``: the volume-weighted mean price of the interval's trades (the
  index a continuous market publishes, e.g. EPEX SPOT's ID index); without
  trades the fallback price given at closing (the day-ahead price), else the
  midpoint of the best bid and offer left, else the one side left, else 0;
* ``shortfall_mw``: unresponsive demand (buy orders at ``price_cap``) left
  in the book; ``reserve_mw``: sell orders left in the book; the reserve
  requirement is that of :func:`market_control.markets.reserve_requirement_mw`
  over the orders submitted;
* ``standing_orders``: each participant's supply curve at gate closure as
  orders: those it sent since it last withdrew its orders, at the
  quantities sent, after an order for the position it held when the first
  of them arrived (day-ahead award plus trades so far; a sell at
  ``−price_cap`` for a position sold, a buy at ``+price_cap`` for one
  bought); a participant that sent none since, its position alone.

Examples
--------
>>> from hierarchy.messages import Bid, Offer
>>> market = ContinuousMarket(price_cap=3000.0)
>>> clearing = market.clear(0, [Offer("pv", 2.0, 10.0, sent_ms=0), Offer("gas", 2.0, 50.0, sent_ms=1)],
...                         [Bid("load", 3.0, 3000.0, sent_ms=2)])
>>> sorted(clearing.awards.items()), sorted(clearing.traded_value_per_h.items())
([('gas', 1.0), ('load', -3.0), ('pv', 2.0)], [('gas', 50.0), ('load', -70.0), ('pv', 20.0)])
>>> round(clearing.price, 4)
23.3333
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Sequence

from hierarchy.messages import Bid, Offer, Order, Trade
from market_control.base import Clearing
from market_control.markets import ReserveMarket
from market_control.orderbook import QUANTITY_TOL_MW, OrderBook

__all__ = ["ContinuousMarket", "to_order", "position_of"]


def to_order(order: Offer | Bid, time_ms: int, price_cap: float) -> Order:
    """An offer (sell) or bid (buy) as a book order arriving at ``time_ms``, price within ±cap."""
    side = "sell" if isinstance(order, Offer) else "buy"
    price = min(max(float(order.price), -price_cap), price_cap)
    return Order(order.participant, side, float(order.quantity_mw), price, int(time_ms),
                 order.interval_start_ms, order.area)


def position_of(trades: Sequence[Trade]) -> tuple[dict[str, float], dict[str, float]]:
    """Net traded quantity [MW] (sold positive) and trade value [per h] per participant."""
    quantity_mw: dict[str, float] = {}
    value_per_h: dict[str, float] = {}
    for trade in trades:
        for name, sign in ((trade.seller, 1.0), (trade.buyer, -1.0)):
            quantity_mw[name] = quantity_mw.get(name, 0.0) + sign * trade.quantity_mw
            value_per_h[name] = value_per_h.get(name, 0.0) + sign * trade.quantity_mw * trade.price
    return quantity_mw, value_per_h


@dataclass
class _Session:
    """The book of one delivery interval and what passed through it."""

    book: OrderBook = field(default_factory=OrderBook)
    trades: list = field(default_factory=list)
    offers: list = field(default_factory=list)  # every offer and bid submitted (reserve requirement)
    bids: list = field(default_factory=list)
    traded_mw: dict = field(default_factory=dict)  # participant -> net traded so far [MW]
    standing: dict = field(default_factory=dict)  # participant -> book orders sent since it withdrew
    base_mw: dict = field(default_factory=dict)  # participant -> traded when the first of them came [MW]


class ContinuousMarket(ReserveMarket):
    """Continuous double auction, one order book per delivery interval.

    Parameters
    ----------
    price_cap : float
        Order prices are limited to ``±price_cap`` [per MWh]; a buy order at
        it is unresponsive demand.
    reserve_mw, reserve_fraction_of_load, reserve_largest_unit :
        Reserve requirement (reported, not enforced), see
        :func:`market_control.markets.reserve_requirement_mw`.
    """

    def __init__(self, price_cap: float = 3000.0, reserve_mw: float = 0.0,
                 reserve_fraction_of_load: float = 0.0, reserve_largest_unit: bool = False):
        super().__init__(price_cap, reserve_mw, reserve_fraction_of_load, reserve_largest_unit)
        self._sessions: dict[int, _Session] = {}

    # ------------------------------------------------------------- trading
    def open(self, interval_start_ms: int) -> None:
        """Open the book of the interval starting at ``interval_start_ms`` [ms]."""
        self._sessions.setdefault(int(interval_start_ms), _Session())

    def is_open(self, interval_start_ms: int) -> bool:
        """Whether the interval's book takes orders."""
        return int(interval_start_ms) in self._sessions

    def submit(self, order: Offer | Bid, time_ms: int) -> list[Trade]:
        """Submit an offer or bid that arrived at ``time_ms`` [ms] to its interval's book.

        Raises
        ------
        KeyError
            If the book of ``order.interval_start_ms`` is not open.
        """
        session = self._sessions[order.interval_start_ms]
        (session.offers if isinstance(order, Offer) else session.bids).append(order)
        book_order = to_order(order, time_ms, self.price_cap)
        name = order.participant
        if name not in session.standing:
            session.standing[name] = []
            session.base_mw[name] = session.traded_mw.get(name, 0.0)
        session.standing[name].append(book_order)
        trades = session.book.submit(book_order)
        session.trades += trades
        for trade in trades:
            for who, sign in ((trade.seller, 1.0), (trade.buyer, -1.0)):
                session.traded_mw[who] = session.traded_mw.get(who, 0.0) + sign * trade.quantity_mw
        return trades

    def cancel(self, area: str, interval_start_ms: int) -> list[Order]:
        """Withdraw the resting orders of ``area``'s participants (``<area>/...``) for the interval;
        their standing orders end there (the next order a participant sends starts anew)."""
        session = self._sessions.get(int(interval_start_ms))
        if session is None:
            return []
        prefix = f"{area}/"
        for name in [n for n in session.standing if n.startswith(prefix)]:
            del session.standing[name], session.base_mw[name]
        names = {o.participant for side in ("buy", "sell") for o in session.book.orders(side)
                 if o.participant.startswith(prefix)}
        return session.book.cancel_all(names) if names else []

    def session_orders(self, interval_start_ms: int) -> tuple[list[Offer], list[Bid]]:
        """Every offer and bid submitted for the interval so far, in arrival order."""
        session = self._sessions.get(int(interval_start_ms))
        return (list(session.offers), list(session.bids)) if session else ([], [])

    def close(self, interval_start_ms: int, day_ahead_mw: Mapping[str, float] | None = None,
              fallback_price: float | None = None) -> Clearing:
        """Close the interval's book: cancel what rests, return the clearing of its trades.

        Parameters
        ----------
        interval_start_ms : int
            The interval [ms].
        day_ahead_mw : mapping of str to float, optional
            Day-ahead awards of the interval [MW]; added to the traded
            quantities in ``awards``.
        fallback_price : float, optional
            The price without trades [per MWh] (e.g. the day-ahead price).
        """
        session = self._sessions.pop(int(interval_start_ms), None) or _Session()
        traded_mw, value_per_h = position_of(session.trades)
        awards = dict(day_ahead_mw or {})
        for name, quantity_mw in traded_mw.items():
            awards[name] = awards.get(name, 0.0) + quantity_mw
        volume_mw = math.fsum(t.quantity_mw for t in session.trades)
        book = session.book
        required_mw = self.required_reserve_mw(session.offers, session.bids)
        headroom_mw = book.depth_mw("sell")
        return Clearing(
            price=self._price(session, volume_mw, fallback_price),
            quantity_mw=volume_mw, awards=awards,
            shortfall_mw=math.fsum(o.quantity_mw for o in book.orders("buy")
                                   if o.price >= self.price_cap),
            marginal="continuous" if session.trades else "null",
            reserve_required_mw=required_mw, reserve_mw=headroom_mw,
            reserve_shortfall_mw=max(required_mw - headroom_mw, 0.0),
            traded_value_per_h=value_per_h,
            standing_orders=self._standing(session, day_ahead_mw or {}, awards, interval_start_ms),
        )

    def _standing(self, session: _Session, day_ahead_mw: Mapping[str, float], awards: Mapping[str, float],
                  interval_start_ms: int) -> tuple[Order, ...]:
        """Every participant's standing orders at gate closure (module docstring)."""
        out: list[Order] = []
        for name in [*awards, *(n for n in session.standing if n not in awards)]:
            orders = session.standing.get(name)
            base_mw = (day_ahead_mw.get(name, 0.0) + session.base_mw[name]) if orders else awards.get(name, 0.0)
            if abs(base_mw) > QUANTITY_TOL_MW:
                area = orders[0].area if orders else None
                side, price = ("sell", -self.price_cap) if base_mw > 0 else ("buy", self.price_cap)
                out.append(Order(name, side, abs(base_mw), price, 0, interval_start_ms, area))
            out += orders or []
        return tuple(out)

    def _price(self, session: _Session, volume_mw: float, fallback_price: float | None) -> float:
        if volume_mw > 0:
            return math.fsum(t.quantity_mw * t.price for t in session.trades) / volume_mw
        if fallback_price is not None and math.isfinite(fallback_price):
            return float(fallback_price)
        bid, ask = session.book.best_bid(), session.book.best_ask()
        if bid is not None and ask is not None:
            return 0.5 * (bid.price + ask.price)
        return bid.price if bid is not None else ask.price if ask is not None else 0.0

    # ------------------------------------------------------------ one call
    def clear(self, interval_start_ms: int, offers: Sequence[Offer], bids: Sequence[Bid]) -> Clearing:
        """Trade one interval in one call: orders arrive in the order of ``sent_ms``.

        Orders for another interval are ignored; at equal ``sent_ms`` offers
        come before bids, each in the given order. Each order's time
        priority is its ``sent_ms``.
        """
        start = int(interval_start_ms)
        orders = [o for o in (*offers, *bids) if o.interval_start_ms == start]
        self.open(start)
        for order in sorted(orders, key=lambda o: o.sent_ms):  # stable: offers first at a tie
            self.submit(order, order.sent_ms)
        return self.close(start)
