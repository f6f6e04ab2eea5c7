"""Market classes the engine drives: one clearing per delivery interval.

Registered in :mod:`hierarchy.kernel.registry` as ``double_auction``,
``economic_dispatch`` and ``none``. Each holds its parameters and calls a
pure mechanism; constructors have no side effects.

Examples
--------
>>> from hierarchy.messages import Bid, Offer
>>> market = DoubleAuctionMarket(price_cap=3000.0)
>>> market.clear(0, [Offer("pv", 1.0, 10.0)], [Bid("home", 1.0, 25.0)]).quantity_mw
1.0
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

from hierarchy.messages import Bid, Offer
from market_control.auction import double_auction
from market_control.base import Clearing, Market, for_interval
from market_control.dispatch import Generator, Solution, TransferLimits, solve_dispatch

__all__ = ["DoubleAuctionMarket", "EconomicDispatchMarket", "NoMarket", "ReserveMarket",
           "reserve_requirement_mw", "NOT_A_UNIT"]

#: Participants that are not generating units for ``largest_unit``: the
#: upstream grid's import offer is an interconnection, not a unit.
NOT_A_UNIT = frozenset({"upstream"})


def reserve_requirement_mw(
    offers: Sequence[Offer],
    bids: Sequence[Bid],
    price_cap: float,
    reserve_mw: float = 0.0,
    fraction_of_load: float = 0.0,
    largest_unit: bool = False,
) -> float:
    """Upward reserve requirement of one interval [MW].

    ``reserve_mw + fraction_of_load · D + (largest_unit ? max_i O_i : 0)``,
    with ``D`` the unresponsive demand (bids at or above ``price_cap``)
    [MW] and ``O_i`` the total offered capacity of participant ``i`` [MW]
    (those in :data:`NOT_A_UNIT` excepted): a share of the load, as in
    ENTSO-E's dimensioning of frequency restoration reserve, and the
    loss of the largest infeed (N-1), the deterministic criterion of
    Wood, Wollenberg & Sheblé, *Power Generation, Operation, and Control*,
    3rd ed., 2014, §4.4 (spinning reserve). A unit group that offers as one
    participant (a renewable group) counts as one unit.

    Examples
    --------
    >>> reserve_requirement_mw([Offer("g1", 5, 10), Offer("g1", 3, 20), Offer("g2", 6, 30)],
    ...                        [Bid("load", 10, 3000), Bid("flex", 4, 80)], 3000, 1.0, 0.1, True)
    10.0
    """
    fixed_mw = sum(b.quantity_mw for b in bids if b.price >= price_cap and b.quantity_mw > 0)
    required_mw = float(reserve_mw) + float(fraction_of_load) * fixed_mw
    if largest_unit:
        offered: dict[str, float] = {}
        for o in offers:
            if o.participant not in NOT_A_UNIT and o.quantity_mw > 0:
                offered[o.participant] = offered.get(o.participant, 0.0) + o.quantity_mw
        required_mw += max(offered.values(), default=0.0)
    return required_mw


class ReserveMarket(Market):
    """A market with a price cap and an upward reserve requirement
    (:func:`reserve_requirement_mw`), shared by the mechanisms that report it.

    Parameters
    ----------
    price_cap : float
        Price limit [per MWh]; a bid at it is unresponsive load.
    reserve_mw, reserve_fraction_of_load, reserve_largest_unit :
        Reserve requirement, see :func:`reserve_requirement_mw`.
    """

    def __init__(self, price_cap: float = 3000.0, reserve_mw: float = 0.0,
                 reserve_fraction_of_load: float = 0.0, reserve_largest_unit: bool = False):
        self.price_cap = float(price_cap)
        self.reserve_mw = float(reserve_mw)
        self.reserve_fraction_of_load = float(reserve_fraction_of_load)
        self.reserve_largest_unit = bool(reserve_largest_unit)

    def required_reserve_mw(self, offers: Sequence[Offer], bids: Sequence[Bid]) -> float:
        """The interval's reserve requirement [MW] (:func:`reserve_requirement_mw`)."""
        return reserve_requirement_mw(offers, bids, self.price_cap, self.reserve_mw,
                                      self.reserve_fraction_of_load, self.reserve_largest_unit)


class NoMarket(Market):
    """No market: every interval clears nothing, at price 0 [per MWh]."""

    def clear(self, interval_start_ms: int, offers: Sequence[Offer], bids: Sequence[Bid]) -> Clearing:
        return Clearing(price=0.0, quantity_mw=0.0, awards={}, marginal="null")


class DoubleAuctionMarket(ReserveMarket):
    """Uniform-price double auction (:func:`market_control.double_auction`).

    The auction clears energy only; the reserve requirement is reported,
    not enforced: ``reserve_mw`` of the clearing is the offered capacity
    left unaccepted, ``reserve_shortfall_mw`` what it lacks against the
    requirement of :func:`reserve_requirement_mw`.

    Parameters
    ----------
    price_cap : float
        Price limit [per MWh]; a bid at it is unresponsive load.
    reserve_mw, reserve_fraction_of_load, reserve_largest_unit :
        Reserve requirement, see :func:`reserve_requirement_mw`.
    """

    def clear(self, interval_start_ms: int, offers: Sequence[Offer], bids: Sequence[Bid]) -> Clearing:
        offers = for_interval(interval_start_ms, offers)
        bids = for_interval(interval_start_ms, bids)
        clearing = double_auction(offers, bids, self.price_cap)
        required_mw = self.required_reserve_mw(offers, bids)
        headroom_mw = sum(o.quantity_mw for o in offers) - sum(clearing.offers_accepted_mw)
        return replace(clearing, reserve_required_mw=required_mw, reserve_mw=headroom_mw,
                       reserve_shortfall_mw=max(required_mw - headroom_mw, 0.0))


class EconomicDispatchMarket(ReserveMarket):
    """Offers and bids cleared by least-cost dispatch (:func:`market_control.economic_dispatch`).

    Each offer becomes a unit with linear cost ``price·P`` [per h] over
    ``[0, quantity_mw]`` (several offers of one participant are its blocks).
    A bid at or above ``price_cap`` is fixed demand in its area; a bid below
    it is dispatchable demand, a unit over ``[-quantity_mw, 0]`` with cost
    ``price·P`` (a negative cost: the bidder's benefit), that holds no
    reserve. Unaccepted offered capacity counts as reserve.

    Parameters
    ----------
    price_cap : float
        Value of lost load [per MWh]; the price when demand goes unserved.
    reserve_mw : float
        Upward reserve requirement [MW].
    transfer_limits : mapping of (str, str) to float, optional
        Inter-area transfer limits [MW] (see
        :func:`market_control.economic_dispatch`); given, the clearing has a
        price per area and every offer and bid must name its area.
    reserve_fraction_of_load : float
        Added reserve requirement as a fraction of the fixed demand
        (the scenario's ``market.reserve.fraction_of_load``).
    reserve_largest_unit : bool
        Add the largest single offer to the requirement
        (``market.reserve.largest_unit``, see :func:`reserve_requirement_mw`).
    """

    def __init__(
        self,
        price_cap: float = 3000.0,
        reserve_mw: float = 0.0,
        transfer_limits: TransferLimits | None = None,
        reserve_fraction_of_load: float = 0.0,
        reserve_largest_unit: bool = False,
    ):
        super().__init__(price_cap, reserve_mw, reserve_fraction_of_load, reserve_largest_unit)
        self.transfer_limits = dict(transfer_limits) if transfer_limits is not None else None

    def clear(self, interval_start_ms: int, offers: Sequence[Offer], bids: Sequence[Bid]) -> Clearing:
        zonal = self.transfer_limits is not None
        offer_ix = [k for k, o in enumerate(offers) if o.interval_start_ms == interval_start_ms and o.quantity_mw > 0]
        bid_ix = [k for k, b in enumerate(bids) if b.interval_start_ms == interval_start_ms and b.quantity_mw > 0]
        fixed_ix = [k for k in bid_ix if bids[k].price >= self.price_cap]
        flexible_ix = [k for k in bid_ix if bids[k].price < self.price_cap]
        if zonal and any(order.area is None for order in [offers[k] for k in offer_ix] + [bids[k] for k in bid_ix]):
            raise ValueError("with transfer_limits, every offer and bid must name its area")
        units = [
            Generator(o.participant, 0.0, _capped(o.price, self.price_cap), 0.0, 0.0, o.quantity_mw, o.area)
            for o in (offers[k] for k in offer_ix)
        ]
        units += [
            Generator(b.participant, 0.0, _capped(b.price, self.price_cap), 0.0, -b.quantity_mw, 0.0, b.area, 0.0)
            for b in (bids[k] for k in flexible_ix)
        ]
        demand_mw: dict[str | None, float] = {}
        for k in fixed_ix:
            zone = bids[k].area if zonal else None
            demand_mw[zone] = demand_mw.get(zone, 0.0) + bids[k].quantity_mw
        live_offers = [offers[k] for k in offer_ix]
        reserve_mw = self.required_reserve_mw(live_offers, [bids[k] for k in bid_ix])
        demand = demand_mw if zonal else demand_mw.get(None, 0.0)
        solution = solve_dispatch(units, demand, reserve_mw, self.transfer_limits, self.price_cap)
        offers_mw = [0.0] * len(offers)
        bids_mw = [0.0] * len(bids)
        for k, p_mw in zip(offer_ix, solution.p_mw[: len(offer_ix)]):
            offers_mw[k] = float(p_mw)
        for k, p_mw in zip(flexible_ix, solution.p_mw[len(offer_ix) :]):
            bids_mw[k] = max(-float(p_mw), 0.0)  # consumption is negative output
        for k in fixed_ix:
            zone = bids[k].area if zonal else None
            bids_mw[k] = bids[k].quantity_mw * (1.0 - solution.unserved_mw[zone] / demand_mw[zone])
        clearing = self._clearing(offers, bids, offers_mw, bids_mw, solution)
        headroom_mw = sum(o.quantity_mw for o in live_offers) - sum(offers_mw)
        return replace(clearing, reserve_required_mw=reserve_mw, reserve_mw=headroom_mw)

    def _clearing(self, offers, bids, offers_mw: list[float], bids_mw: list[float], solution: Solution) -> Clearing:
        """The clearing, from the accepted quantity of each order [MW]."""
        awards: dict[str, float] = {}
        for order, accepted_mw in zip(offers, offers_mw):
            awards[order.participant] = awards.get(order.participant, 0.0) + accepted_mw
        for order, accepted_mw in zip(bids, bids_mw):
            awards[order.participant] = awards.get(order.participant, 0.0) - accepted_mw
        return Clearing(
            price=solution.price[None] if self.transfer_limits is None else dict(solution.price),
            quantity_mw=float(sum(offers_mw)),
            awards=awards,
            shortfall_mw=float(sum(solution.unserved_mw.values())),
            reserve_shortfall_mw=solution.reserve_short_mw,
            surplus_mw=float(sum(solution.spilled_mw.values())),
            marginal="dispatch",
            offers_accepted_mw=tuple(offers_mw),
            bids_accepted_mw=tuple(bids_mw),
            flows_mw=solution.flows_mw,
            reserve_price=solution.reserve_price,
        )


def _capped(price: float, price_cap: float) -> float:
    """``price`` clipped to ``±price_cap`` [per MWh]."""
    if not math.isfinite(price):
        raise ValueError(f"price must be finite, got {price}")
    return min(max(price, -price_cap), price_cap)
