"""Continuous trading: the orders that move a participant from its position to its wish.

An area trades continuously for an interval in rounds. At each round it
works out the orders it would send to a single auction (its whole wish, as
:func:`area_control.aggregation.area_orders`), withdraws what it still has in
the book, and sends only the difference to the position it already holds
(day-ahead award plus the trades confirmed so far).

Each participant's orders are one net supply curve: ``S(p)`` [MW], the
quantity it wants to have sold at price ``p`` (bought: negative), a step up
of ``q`` at the price of every offer and every bid. With a position ``P``
(sold positive), what is left to trade is ``R(p) = S(p) − P``; its steps
below zero are bids (buy back up to that price), above zero offers. What
the curve still needs at any price, ``R(+∞) < 0`` (sold more than it can
deliver) or ``R(−∞) > 0`` (bought more than it will use), is an order at
``±price_cap``: it trades with the best order on the other side, at that
order's price.

Examples
--------
A PV group that sold 3 MW day-ahead, now forecasting 5 MW at price 0, offers
the other 2 MW (and would buy back its 3 MW below price 0):

>>> from hierarchy.messages import Offer
>>> offers, bids = residual_orders([Offer("a/pv", 5.0, 0.0)], [], {"a/pv": 3.0}, 3000.0)
>>> [(o.quantity_mw, o.price) for o in offers], [(b.quantity_mw, b.price) for b in bids]
([(2.0, 0.0)], [(3.0, -0.0001)])

Forecasting 1 MW instead, it must buy 2 MW back at any price (and would buy the
last 1 MW back below price 0):

>>> offers, bids = residual_orders([Offer("a/pv", 1.0, 0.0)], [], {"a/pv": 3.0}, 3000.0)
>>> [(b.quantity_mw, b.price) for b in bids]
[(1.0, 0.0), (2.0, 3000.0)]
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from hierarchy.messages import Bid, Offer

__all__ = ["residual_orders", "PRICE_NUDGE", "QUANTITY_TOL_MW"]

#: a buy-back bid at the price of the participant's own offer is set this much lower [per MWh]
PRICE_NUDGE = 0.0001
#: smaller orders are left out [MW]
QUANTITY_TOL_MW = 1e-9


def residual_orders(offers: Sequence[Offer], bids: Sequence[Bid], position_mw: Mapping[str, float],
                    price_cap: float) -> tuple[list[Offer], list[Bid]]:
    """The orders that take each participant from ``position_mw`` to what ``offers`` and ``bids`` wish.

    Parameters
    ----------
    offers, bids : sequence of Offer, Bid
        The whole wish for one interval (as for a single auction).
    position_mw : mapping of str to float
        Participant -> position already held [MW], sold positive; a
        participant that has no order now is left where it is.
    price_cap : float
        Price limit [per MWh]: a forced order is at ``±price_cap``; offers
        at or above it and bids at or below ``−price_cap`` (which could only
        trade at the limit) are left out.

    Returns
    -------
    (offers, bids)
        Per participant in the order they first appear, each order stamped
        like the participant's first order (interval, area, sending time).
    """
    wish: dict[str, list[tuple[float, float]]] = {}  # participant -> steps (price, q)
    template: dict[str, Offer | Bid] = {}
    demand_mw: dict[str, float] = {}
    for order in (*offers, *bids):
        name = order.participant
        template.setdefault(name, order)
        wish.setdefault(name, []).append((float(order.price), float(order.quantity_mw)))
        if isinstance(order, Bid):
            demand_mw[name] = demand_mw.get(name, 0.0) + float(order.quantity_mw)
    out_offers: list[Offer] = []
    out_bids: list[Bid] = []
    for name, steps in wish.items():
        level = -demand_mw.get(name, 0.0) - float(position_mw.get(name, 0.0))
        sells, buys = _decompose(sorted(steps, key=lambda step: step[0]), level, price_cap)
        first = template[name]
        out_offers += [Offer(name, q, p, first.interval_start_ms, first.area, first.sent_ms)
                       for q, p in sells if q > QUANTITY_TOL_MW and p < price_cap]
        sell_prices = {p for q, p in sells if q > QUANTITY_TOL_MW and p < price_cap}
        out_bids += [Bid(name, q, p - PRICE_NUDGE if p in sell_prices else p,
                         first.interval_start_ms, first.area, first.sent_ms)
                     for q, p in buys if q > QUANTITY_TOL_MW and p > -price_cap]
    return out_offers, out_bids


def _decompose(steps: list[tuple[float, float]], level: float,
               price_cap: float) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Sell and buy parts ``(q, p)`` of a curve that starts at ``level`` and steps up by ``steps``."""
    sells: list[tuple[float, float]] = []
    buys: list[tuple[float, float]] = []
    if level > 0:  # bought more than it uses at any price: sell it at any price
        sells.append((level, -price_cap))
    for price, q in steps:
        new = level + q
        if level < 0:
            buys.append((min(new, 0.0) - level, price))
        if new > 0:
            sells.append((new - max(level, 0.0), price))
        level = new
    if level < 0:  # sold more than it can deliver at any price: buy it back at any price
        buys.append((-level, price_cap))
    return sells, buys

