"""SimPy processes of the per-interval market: the areas' bidding, the gate, the clearing, the publication.

The engine (:mod:`hierarchy.sim.engine`) starts them when the run has a
market that clears each delivery interval at its gate closure (an auction
or an economic dispatch; continuous trading has its own processes in
:mod:`hierarchy.sim.market_stages`). The logic lives in the tiers
(``area_control`` makes the orders, ``market_control`` clears them), the
timing here:

* :func:`orders_for`: an area's orders for one interval of a stage, with
  the forecast service's forecast (the market stages' bidding uses it too);
* :func:`bidding`, one process per area: the area's offers and bids for
  each delivery interval, sent one gate-closure period before the gate;
* :func:`interval_market`: at each gate closure, the orders that arrived
  in time (late ones are counted and never cleared), with the upstream
  grid's, are cleared; the clearing passes :meth:`Engine._after_clearing`,
  is recorded and published (:func:`publish`: prices, retail prices per
  customer class and awards to each area).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hierarchy.kernel.clock import Order, tick
from hierarchy.messages import REAL_TIME, Award, Offer, Price

if TYPE_CHECKING:
    from hierarchy.sim.engine import Engine

__all__ = ["orders_for", "bidding", "interval_market", "publish"]

#: an award's (min_mw, max_mw) where the security check set none
_NO_BOUNDS = (math.nan, math.nan)


def orders_for(engine: "Engine", area, start_ms: int, length_ms: int, stage: str,
               intraday: bool = False) -> tuple[list, list]:
    """Ask an area's coordinator for its orders of one interval of ``stage``.

    Where the forecasts are not all persistence the area gets the forecast
    service's :class:`~hierarchy.messages.Forecast` of the interval first;
    the time is noted as the forecast's issue time for the record.
    """
    rt, now = engine.rt, engine._time_ms()
    state = area.state
    service = rt.forecast
    if service is not None:
        rt.recorder.stages.forecast_issued(stage, start_ms, now)
        if not service.persistence_only:
            state.forecasts[start_ms] = service.for_area(area.index, start_ms, length_ms, now, stage)
    state.stage = stage
    try:
        if intraday:
            return area.coordinator.intraday_orders(state, start_ms)
        return area.coordinator.orders(state, start_ms)
    finally:
        state.stage = REAL_TIME
        state.forecasts.pop(start_ms, None)


def bidding(engine: "Engine", area):
    """An area's offers and bids for each delivery interval, one gate-closure period before its gate."""
    rt = engine.rt
    for start_ms in rt.market_intervals():
        send_ms = start_ms - 2 * rt.gate_closure_ms
        yield tick(engine.env, max(send_ms - engine._time_ms(), 0), Order.BIDDING)
        engine._trace(f"bidding:{area.id}")
        engine._refresh(area)
        offers, bids = orders_for(engine, area, start_ms, rt.interval_ms, REAL_TIME)
        link = rt.links[("area", "market")]
        for order in (*offers, *bids):
            link.send(order, rt.market_inbox)


def interval_market(engine: "Engine"):
    """Clear each delivery interval at its gate closure; record and publish the clearing."""
    rt = engine.rt
    waiting: list = []  # orders that arrived for later intervals
    starts = rt.market_intervals()
    for start_ms in starts:
        gate_ms = start_ms - rt.gate_closure_ms
        yield tick(engine.env, max(gate_ms - engine._time_ms(), 0), Order.MARKET)
        engine._trace("market")
        offers, bids, waiting = _gate(engine, start_ms, waiting)
        offers_up, bids_up = rt.upstream_orders(start_ms)
        offers, bids = offers + offers_up, bids + bids_up
        clearing = rt.market.clear(start_ms, offers, bids)
        clearing = engine._after_clearing(start_ms, clearing, offers, bids)
        rt.recorder.market.clearing(start_ms, clearing, offers, bids)
        publish(engine, start_ms, clearing)
    if starts:  # what missed the last gate, by the start of its delivery
        yield tick(engine.env, max(starts[-1] - engine._time_ms(), 0), Order.MARKET)
        _gate(engine, rt.duration_ms, waiting)


def _gate(engine: "Engine", start_ms: int, waiting: list) -> tuple[list, list, list]:
    """Offers and bids for the interval at ``start_ms`` [ms], from what has arrived.

    Orders for an earlier interval missed its gate closure: they are
    reported as late and never cleared. Orders for a later interval wait.
    """
    rt, now = engine.rt, engine._time_ms()
    arrived = waiting + list(rt.market_inbox.items)
    rt.market_inbox.items.clear()
    offers, bids, later = [], [], []
    for order in arrived:
        if order.interval_start_ms < start_ms:
            rt.recorder.late_order(now, order, order.interval_start_ms - rt.gate_closure_ms)
        elif order.interval_start_ms > start_ms:
            later.append(order)
        else:
            (offers if isinstance(order, Offer) else bids).append(order)
    return offers, bids, later


def publish(engine: "Engine", start_ms: int, clearing) -> None:
    """A delivery interval's clearing to the areas: the clearing price, the retail price of
    each customer class (recorded) and the awards of the area's participants (those not
    zero, or bounded by the security check)."""
    rt, now = engine.rt, engine._time_ms()
    link = rt.links[("market", "area")]
    tariffs = rt.tariffs
    retail_of: dict[tuple[str, float], float] = {}  # areas at one price share their retail
    awards_of: dict[str, list] = {}  # area id -> its participants' non-zero or bounded awards
    bounds = getattr(clearing, "bounds_mw", None) or {}
    for participant, quantity in clearing.awards.items():
        if quantity != 0 or participant in bounds:
            awards_of.setdefault(participant.split("/", 1)[0], []).append((participant, quantity))
    for area in rt.areas:
        price = clearing.price[area.id] if isinstance(clearing.price, dict) else clearing.price
        link.send(Price(float(price), start_ms, rt.interval_ms, area.id, "clearing", now), area.inbox)
        for cls, tariff in tariffs.items():
            key = (cls, float(price))
            if key not in retail_of:
                retail_of[key] = rt.retail_price(tariff, start_ms, float(price))
            retail = retail_of[key]
            rt.recorder.market.retail_price(start_ms, area.id, cls, retail)
            link.send(Price(retail, start_ms, rt.interval_ms, area.id, cls, now), area.inbox)
        for participant, quantity in awards_of.get(area.id, ()):
            link.send(Award(participant, float(quantity), float(price), start_ms, area.id, now,
                            *bounds.get(participant, _NO_BOUNDS)), area.inbox)
