"""SimPy processes of the market stages: day-ahead, continuous trading, and the areas' bidding.

The engine (:mod:`hierarchy.sim.engine`) starts them beside the
per-interval market's (:mod:`hierarchy.sim.market_interval`, whose
bidding and publication they share); the logic lives in the tiers
(``market_control.continuous``, ``area_control``), the timing here:

* **day-ahead** (``market.day_ahead``): every day at ``gate_closure`` the
  day-ahead market clears each slot of the next day's ``horizon``; the
  areas send their orders one ``market.gate_closure`` before it (the same
  lead as the per-interval stage). Day-ahead awards and prices go to the
  areas as :class:`~hierarchy.messages.Award` (``stage="day_ahead"``) and
  :class:`~hierarchy.messages.Price` (``kind="day_ahead"``) for every
  per-interval delivery interval of the slot;
* **continuous** (``market.mechanism: continuous``): the book of a delivery
  interval opens ``market.continuous.open`` before delivery; every
  ``market.continuous.period`` from then on each area withdraws its resting
  orders for it and sends the orders that take it from its position to its
  wish (:meth:`area_control.base.AreaCoordinator.intraday_orders`); the
  market matches each order as it arrives, after its link's latency, and
  confirms each trade to the areas of its buyer and seller; at gate closure
  the book closes and the interval's positions are published as awards.

Every clearing passes :meth:`Engine._after_clearing` before it is recorded
and published.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hierarchy.kernel.clock import Order, tick
from hierarchy.messages import (
    DAY_AHEAD,
    REAL_TIME,
    Award,
    CancelOrders,
    Offer,
    Price,
    Trade,
)
from hierarchy.sim.market_interval import orders_for, publish

if TYPE_CHECKING:
    from hierarchy.sim.engine import Engine

__all__ = ["Stages", "day_ahead_gates", "continuous_rounds", "day_ahead_bidding",
           "day_ahead_market", "intraday_bidding", "continuous_market"]

DAY_MS = 86_400_000


@dataclass
class Stages:
    """The market stages of a run beside the per-interval market (``Runtime.stages``).

    Attributes
    ----------
    day_ahead_market : Market or None
        The day-ahead mechanism (None: no day-ahead stage).
    day_ahead_inbox : simpy.Store or None
        Where the areas' day-ahead orders arrive.
    day_ahead_gates : list of (int, list of int)
        Gate closures [ms] and the slot starts [ms] each clears (:func:`day_ahead_gates`).
    day_ahead_slot_ms : int
        Slot length [ms].
    continuous : bool
        The per-interval market trades continuously.
    rounds : dict of int to list of int
        Trading rounds: time [ms] -> interval starts (:func:`continuous_rounds`).
    intervals : list of int
        Interval starts traded continuously, in order.
    closed : set of int
        Intervals whose book has closed.
    """

    day_ahead_market: Any = None
    day_ahead_inbox: Any = None
    day_ahead_gates: list = field(default_factory=list)
    day_ahead_slot_ms: int = 0
    continuous: bool = False
    rounds: dict = field(default_factory=dict)
    intervals: list = field(default_factory=list)
    closed: set = field(default_factory=set)


# ------------------------------------------------------------------ timing
def day_ahead_gates(start: datetime, duration_ms: int, config, gate_lead_ms: int) -> list[tuple[int, list[int]]]:
    """Day-ahead gate closures of a run and the slot starts each clears [ms since start].

    A day's gate is at ``config.gate_closure`` (time of day); its slots cover
    ``config.horizon`` from the next midnight. Gates whose orders would be
    sent at or before the run's start (``gate − gate_lead_ms <= 0``), and
    slots that start after the run, are left out.

    Examples
    --------
    >>> from hierarchy.scenario.market_stages import DayAheadConfig
    >>> gates = day_ahead_gates(datetime(2016, 1, 1, 6), 2 * DAY_MS, DayAheadConfig(), 900_000)
    >>> [(g // 3_600_000, len(s), s[0] // 3_600_000) for g, s in gates]
    [(6, 24, 18), (30, 6, 42)]
    """
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset_ms = -round((start - midnight).total_seconds() * 1000)
    gates = []
    day = 0
    while offset_ms + (day + 1) * DAY_MS < duration_ms:
        gate_ms = offset_ms + day * DAY_MS + config.gate_ms_of_day
        delivery_ms = offset_ms + (day + 1) * DAY_MS
        slots = [delivery_ms + k * config.slot for k in range(config.horizon // config.slot)]
        slots = [t for t in slots if t < duration_ms]
        if gate_ms - gate_lead_ms > 0 and slots:
            gates.append((gate_ms, slots))
        day += 1
    return gates


def continuous_rounds(starts_ms: list[int], open_ms: int, period_ms: int,
                      gate_closure_ms: int) -> dict[int, list[int]]:
    """Trading rounds: time [ms] -> the delivery intervals traded then.

    Rounds of an interval starting at ``s`` are at ``s − open + k·period``
    before its gate ``s − gate_closure``, after the run's start.

    Examples
    --------
    >>> continuous_rounds([7_200_000], 3_600_000, 1_800_000, 900_000)
    {3600000: [7200000], 5400000: [7200000]}
    """
    rounds: dict[int, list[int]] = {}
    for start in starts_ms:
        t = start - open_ms
        while t < start - gate_closure_ms:
            if t > 0:
                rounds.setdefault(t, []).append(start)
            t += period_ms
    return dict(sorted(rounds.items()))


# ---------------------------------------------------------------- bidding
def day_ahead_bidding(engine: "Engine", area):
    """An area's day-ahead orders, one ``market.gate_closure`` before each day-ahead gate."""
    rt = engine.rt
    link = rt.links[("area", "market")]
    for gate_ms, slots in rt.stages.day_ahead_gates:
        yield tick(engine.env, max(gate_ms - rt.gate_closure_ms - engine._time_ms(), 0), Order.BIDDING)
        engine._trace(f"day_ahead_bidding:{area.id}")
        engine._refresh(area)
        for slot_ms in slots:
            offers, bids = orders_for(engine, area, slot_ms, rt.stages.day_ahead_slot_ms, DAY_AHEAD)
            for order in (*offers, *bids):
                link.send(order, rt.stages.day_ahead_inbox)


def intraday_bidding(engine: "Engine", area):
    """An area's rounds of continuous trading: withdraw, then send what is left to trade."""
    rt = engine.rt
    link = rt.links[("area", "market")]
    for round_ms, starts in rt.stages.rounds.items():
        yield tick(engine.env, max(round_ms - engine._time_ms(), 0), Order.BIDDING)
        engine._trace(f"intraday_bidding:{area.id}")
        engine._refresh(area)
        for start_ms in starts:
            offers, bids = orders_for(engine, area, start_ms, rt.interval_ms, REAL_TIME, intraday=True)
            link.send(CancelOrders(area.id, start_ms, round_ms), rt.market_inbox)
            for order in (*offers, *bids):
                link.send(order, rt.market_inbox)


# ---------------------------------------------------------------- markets
def day_ahead_market(engine: "Engine"):
    """Clear every day-ahead slot at its gate; publish awards and prices per delivery interval."""
    rt, stages = engine.rt, engine.rt.stages
    for gate_ms, slots in stages.day_ahead_gates:
        yield tick(engine.env, max(gate_ms - engine._time_ms(), 0), Order.MARKET)
        engine._trace("day_ahead_market")
        arrived = list(stages.day_ahead_inbox.items)
        stages.day_ahead_inbox.items.clear()
        first = set(slots)
        for order in arrived:
            if order.interval_start_ms not in first:
                rt.recorder.late_order(engine._time_ms(), order, gate_ms)
        for slot_ms in slots:
            offers = [o for o in arrived if o.interval_start_ms == slot_ms and isinstance(o, Offer)]
            bids = [o for o in arrived if o.interval_start_ms == slot_ms and not isinstance(o, Offer)]
            offers_up, bids_up = rt.upstream_orders(slot_ms)
            offers, bids = offers + offers_up, bids + bids_up
            clearing = stages.day_ahead_market.clear(slot_ms, offers, bids)
            clearing = engine._after_clearing(slot_ms, clearing, offers, bids, stage=DAY_AHEAD)
            rt.recorder.stages.day_ahead_clearing(slot_ms, stages.day_ahead_slot_ms, clearing)
            _publish_day_ahead(engine, slot_ms, clearing)


def _publish_day_ahead(engine: "Engine", slot_ms: int, clearing) -> None:
    """Day-ahead awards and prices to the areas, for each delivery interval of the slot."""
    rt, now = engine.rt, engine._time_ms()
    link = rt.links[("market", "area")]
    intervals = range(slot_ms, slot_ms + rt.stages.day_ahead_slot_ms, rt.interval_ms)
    for area in rt.areas:
        price = float(clearing.price_of(area.id) if isinstance(clearing.price, dict) else clearing.price)
        mine = [(name, q) for name, q in clearing.awards.items()
                if q != 0 and name.split("/", 1)[0] == area.id]
        for start_ms in intervals:
            link.send(Price(price, start_ms, rt.interval_ms, area.id, DAY_AHEAD, now), area.inbox)
            for name, quantity_mw in mine:
                link.send(Award(name, float(quantity_mw), price, start_ms, area.id, now, stage=DAY_AHEAD),
                          area.inbox)


def continuous_market(engine: "Engine"):
    """Match the orders as they arrive (one book per delivery interval), close each at its gate."""
    rt = engine.rt
    engine.env.process(_receive_orders(engine))
    for start_ms in rt.stages.intervals:
        yield tick(engine.env, max(start_ms - rt.gate_closure_ms - engine._time_ms(), 0), Order.MARKET)
        engine._trace("market")
        day_ahead = rt.recorder.stages.day_ahead_position(start_ms)
        offers, bids = rt.market.session_orders(start_ms)
        clearing = rt.market.close(start_ms, day_ahead[0] if day_ahead else None,
                                   _price_of(day_ahead[1]) if day_ahead else None)
        rt.stages.closed.add(start_ms)
        clearing = engine._after_clearing(start_ms, clearing, offers, bids)
        rt.recorder.market.clearing(start_ms, clearing, offers, bids)
        publish(engine, start_ms, clearing)


def _price_of(price) -> float:
    """A day-ahead price as one number (the mean of zonal prices)."""
    if isinstance(price, dict):
        return sum(price.values()) / len(price) if price else float("nan")
    return float(price)


def _receive_orders(engine: "Engine"):
    """Submit every order as it arrives; withdraw on request; confirm trades to the areas."""
    rt, stages = engine.rt, engine.rt.stages
    inbox = rt.market_inbox
    traded = set(stages.intervals)
    while True:
        first = yield inbox.get()
        arrived = [first, *inbox.items]
        inbox.items.clear()
        now = engine._time_ms()
        for message in arrived:
            start_ms = message.interval_start_ms
            if start_ms in stages.closed or start_ms not in traded:
                if not isinstance(message, CancelOrders):
                    rt.recorder.late_order(now, message, start_ms - rt.gate_closure_ms)
                continue
            if not rt.market.is_open(start_ms):
                _open(engine, start_ms)
            if isinstance(message, CancelOrders):
                rt.market.cancel(message.area, start_ms)
                continue
            _confirm(engine, rt.market.submit(message, now))


def _open(engine: "Engine", start_ms: int) -> None:
    """Open an interval's book; the upstream grid's offer and bid rest in it from the start,
    less its day-ahead position (it trades from there, as the areas do)."""
    rt = engine.rt
    rt.market.open(start_ms)
    offers, bids = rt.upstream_orders(start_ms)
    day_ahead = rt.recorder.stages.day_ahead_position(start_ms)
    if day_ahead is not None:
        from area_control.intraday import residual_orders

        offers, bids = residual_orders(offers, bids, {"upstream": day_ahead[0].get("upstream", 0.0)},
                                       rt.scenario.market.price_cap)
    for order in (*offers, *bids):
        _confirm(engine, rt.market.submit(order, engine._time_ms()))


def _confirm(engine: "Engine", trades: list[Trade]) -> None:
    """Record trades and confirm each to the areas of its buyer and seller."""
    if not trades:
        return
    rt = engine.rt
    link = rt.links[("market", "area")]
    index = rt.area_index
    for trade in trades:
        rt.recorder.stages.trade(trade)
        areas = {index.get(name.split("/", 1)[0]) for name in (trade.buyer, trade.seller)}
        for area in sorted(a for a in areas if a is not None):  # one confirmation per area
            link.send(trade, rt.areas[area].inbox)
