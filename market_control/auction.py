"""Uniform-price double auction, cleared by the rules of GridLAB-D's ``auction``.

The rules are those of the appendix of DESIGN.md ("Double-auction clearing
rules"), which follow ``auction::clear_market`` of GridLAB-D's market module
(Chassin, Fuller, Djilali, "GridLAB-D: An agent-based simulation framework
for smart grids", J. Appl. Math. 2014, doi:10.1155/2014/492320), so that
results can be compared with that tool.

Examples
--------
>>> from hierarchy.messages import Bid, Offer
>>> clearing = double_auction([Offer("a", 7, 30), Offer("b", 9, 30)],
...                           [Bid("x", 6, 40), Bid("y", 8, 40)])
>>> clearing.quantity_mw, clearing.price
(14.0, 30.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from hierarchy.messages import Bid, Offer
from market_control.base import Clearing

__all__ = ["double_auction", "PRICE_NUDGE"]

#: Step [per MWh] by which a price is set off a rejected bid or offer so
#: that it would not have been accepted (GridLAB-D's ``bid_offset``).
PRICE_NUDGE = 0.0001


@dataclass(frozen=True)
class _Order:
    index: int  # position in the caller's sequence
    price: float  # clipped to +-price_cap [per MWh]
    quantity_mw: float


@dataclass(frozen=True)
class _Walk:
    quantity_mw: float
    case: str | None  # "buyer", "seller", "exact" or None (no step)
    candidate: float  # price candidate of a "buyer"/"seller" step
    a: float  # last exactly matched bid price
    b: float  # last exactly matched offer price
    next_bid: int  # index into the sorted bids of the first not accepted
    next_offer: int


def double_auction(offers: Sequence[Offer], bids: Sequence[Bid], price_cap: float = 3000.0) -> Clearing:
    """Clear sell offers against buy bids at one uniform price.

    Parameters
    ----------
    offers : sequence of Offer
        Sell offers: up to ``quantity_mw`` [MW] at ``price`` [per MWh] or more.
    bids : sequence of Bid
        Buy bids: up to ``quantity_mw`` [MW] at ``price`` [per MWh] or less.
        A bid at ``+price_cap`` is unresponsive load.
    price_cap : float
        Price limit [per MWh]; offer, bid and clearing prices are clipped
        to ``[-price_cap, +price_cap]``.

    Returns
    -------
    Clearing
        ``price`` [per MWh], ``quantity_mw`` (accepted supply = accepted
        demand) [MW], ``awards`` per participant [MW] (offers positive, bids
        negative), ``offers_accepted_mw``/``bids_accepted_mw`` per order,
        ``marginal`` (how the price was set) and ``shortfall_mw``, the
        unresponsive demand left unserved by a failed clearing [MW].

    Notes
    -----
    Offers are sorted by price ascending and bids descending (ties keep
    their given order); orders of zero quantity are ignored. The walk and
    the price rules are those of the DESIGN.md appendix, step by step.
    Every accepted offer is priced at or below, every accepted bid at or
    above, the clearing price; orders exactly at the price share what is
    left of the cleared quantity pro rata. Quantities are compared exactly
    (as GridLAB-D does), and prices closer together than :data:`PRICE_NUDGE`
    can defeat the nudges. A clearing at ``Q = 0`` with unresponsive bids
    (only bids given) is also reported as a failure with its shortfall.

    Raises
    ------
    ValueError
        If a quantity is negative or a quantity or price is not finite.
    """
    sell = _sorted_orders(offers, price_cap, descending=False)
    buy = _sorted_orders(bids, price_cap, descending=True)
    walk = _walk(buy, sell)
    price, marginal = _clearing_price(walk, buy, sell)
    unresponsive_mw = sum(order.quantity_mw for order in buy if order.price >= price_cap)
    shortfall_mw = 0.0
    if walk.quantity_mw < unresponsive_mw:
        price, marginal = price_cap, "failure"
        shortfall_mw = unresponsive_mw - walk.quantity_mw
    price = min(max(price, -price_cap), price_cap)
    offers_mw = _allocate(sell, len(offers), walk.quantity_mw, price, lambda p: p < price)
    bids_mw = _allocate(buy, len(bids), walk.quantity_mw, price, lambda p: p > price)
    awards: dict[str, float] = {}
    for order in sell:
        name = offers[order.index].participant
        awards[name] = awards.get(name, 0.0) + offers_mw[order.index]
    for order in buy:
        name = bids[order.index].participant
        awards[name] = awards.get(name, 0.0) - bids_mw[order.index]
    return Clearing(
        price=float(price),
        quantity_mw=float(walk.quantity_mw),
        awards=awards,
        shortfall_mw=float(shortfall_mw),
        marginal=marginal,
        offers_accepted_mw=tuple(offers_mw),
        bids_accepted_mw=tuple(bids_mw),
    )


def _sorted_orders(orders: Sequence[Offer] | Sequence[Bid], price_cap: float, descending: bool) -> list[_Order]:
    """Orders of positive quantity, prices clipped, sorted by price (stable)."""
    kept = []
    for index, order in enumerate(orders):
        if not (math.isfinite(order.quantity_mw) and math.isfinite(order.price)):
            raise ValueError(f"{type(order).__name__} {index} ({order.participant}): quantity and price must be finite")
        if order.quantity_mw < 0:
            raise ValueError(f"{type(order).__name__} {index} ({order.participant}): quantity_mw must be >= 0")
        if order.quantity_mw > 0:
            price = min(max(float(order.price), -price_cap), price_cap)
            kept.append(_Order(index, price, float(order.quantity_mw)))
    return sorted(kept, key=lambda order: -order.price if descending else order.price)


def _walk(buy: list[_Order], sell: list[_Order]) -> _Walk:
    """Walk bids (descending) and offers (ascending) while they cross."""
    i = j = 0
    demand_mw = supply_mw = quantity_mw = 0.0
    case, candidate, a, b = None, math.nan, math.nan, math.nan
    while i < len(buy) and j < len(sell) and buy[i].price >= sell[j].price:
        demand_next = demand_mw + buy[i].quantity_mw
        supply_next = supply_mw + sell[j].quantity_mw
        if demand_next > supply_next:  # 1. the offer is used up: marginal buyer
            quantity_mw = supply_mw = supply_next
            case, candidate = "buyer", buy[i].price
            j += 1
        elif demand_next < supply_next:  # 2. the bid is used up: marginal seller
            quantity_mw = demand_mw = demand_next
            case, candidate = "seller", sell[j].price
            i += 1
        else:  # 3. both used up exactly
            quantity_mw = demand_mw = supply_mw = demand_next
            case, a, b = "exact", buy[i].price, sell[j].price
            i += 1
            j += 1
    return _Walk(quantity_mw, case, candidate, a, b, i, j)


def _clearing_price(walk: _Walk, buy: list[_Order], sell: list[_Order]) -> tuple[float, str]:
    """Price [per MWh] and how it was set, from where the walk ended."""
    if walk.case in ("buyer", "seller"):
        return walk.candidate, walk.case
    if walk.case == "exact":
        next_bid = buy[walk.next_bid].price if walk.next_bid < len(buy) else None
        next_offer = sell[walk.next_offer].price if walk.next_offer < len(sell) else None
        return _exact_match_price(walk.a, walk.b, next_bid, next_offer)
    if buy and sell:  # nothing crosses
        return sell[0].price + 0.5 * (buy[0].price - sell[0].price), "null"
    if sell:
        return sell[0].price - PRICE_NUDGE, "null"
    if buy:
        return buy[0].price + PRICE_NUDGE, "null"
    return 0.0, "null"


def _exact_match_price(a: float, b: float, next_bid: float | None, next_offer: float | None) -> tuple[float, str]:
    """Price after an exact match of bid price ``a`` and offer price ``b`` [per MWh].

    ``next_bid`` and ``next_offer`` are the prices of the first bid and
    offer not accepted, None where that side has nothing left.
    """
    if a == b:
        return a, "exact"
    if next_bid is None and next_offer is not None and next_offer == b:
        return b, "seller"
    if next_offer is None and next_bid is not None and next_bid == a:
        return a, "buyer"
    if next_bid is not None and next_offer is not None:
        if next_bid == a:
            return a, "buyer"
        if next_offer == b:
            return b, "seller"
    # A marginal price. The appendix's first two tests here (next bid at a,
    # next offer at b) are already answered above in every case.
    middle = 0.5 * (a + b)
    if next_bid is not None and middle < next_bid:
        return next_bid + PRICE_NUDGE, "price"
    if next_offer is not None and middle > next_offer:
        return next_offer - PRICE_NUDGE, "price"
    return middle, "price"


def _allocate(orders: list[_Order], n_orders: int, quantity_mw: float, price: float, better) -> list[float]:
    """Accepted quantity per order [MW]: all of those priced better than
    ``price``, and a pro-rata share of what is left for those exactly at it."""
    accepted_mw = [0.0] * n_orders
    at_price = [order for order in orders if order.price == price]
    remaining_mw = quantity_mw
    for order in orders:
        if better(order.price):
            accepted_mw[order.index] = order.quantity_mw
            remaining_mw -= order.quantity_mw
    total_at_mw = sum(order.quantity_mw for order in at_price)
    share = min(max(remaining_mw / total_at_mw, 0.0), 1.0) if total_at_mw > 0 else 0.0
    for order in at_price:
        accepted_mw[order.index] = order.quantity_mw * share
    return accepted_mw
