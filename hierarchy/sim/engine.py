"""The SimPy engine: wires the tiers' processes and moves their messages.

Processes (DESIGN.md "Time"), each at its own period, ordered within an
instant by :mod:`hierarchy.kernel.clock`:

* ``physics`` every ``time.step``: profiles → unit controllers iterated with
  the power flow to a fixed point → record → unit status and meter readings
  sent up to the areas;
* ``area`` every ``coordinator.period``: each area reads what has arrived,
  calls its coordinator and sends setpoints (and retail prices) down (one
  process for all areas where their periods are equal, else one per area);
* one ``bidding`` process per area: sends the area's offers and bids for each
  delivery interval one gate-closure period before the gate;
* ``market``: at each gate closure clears the orders that arrived, publishes
  awards and prices to the areas before delivery starts (the bidding and
  market processes are in :mod:`hierarchy.sim.market_interval`);
* with ``market.day_ahead``, a day-ahead market and one day-ahead bidding
  process per area; with ``market.mechanism: continuous``, the per-interval
  bidding and market processes trade continuously instead
  (:mod:`hierarchy.sim.market_stages`);
* one process per scenario event.

Every clearing (day-ahead, per-interval, continuous) passes
:meth:`Engine._after_clearing` before it is recorded and published.

The engine holds no control logic: the tiers decide, the plant computes.
"""
from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING

import numpy as np
import simpy

from hierarchy.kernel.clock import Order, tick
from hierarchy.kernel.links import TraceRecord
from hierarchy.messages import (
    DAY_AHEAD,
    REAL_TIME,
    AreaMeasurement,
    Award,
    Price,
    Trade,
    UnitSetpoint,
    UnitStatus,
)
from hierarchy.sim import market_interval, market_stages
from hierarchy.sim.fixed_point import FixedPoint, PolicyError, policy_error, unit_policy
from hierarchy.sim.open_loop import open_loop_reason, run_open_loop

if TYPE_CHECKING:
    from hierarchy.sim.runtime import Runtime

__all__ = ["Engine", "PolicyError"]

class Engine:
    """Runs one :class:`~hierarchy.sim.runtime.Runtime` to its end.

    Parameters
    ----------
    rt : Runtime
        Everything the builder wired: plant, groups, areas, market, links,
        recorder.
    progress : callable or None
        Called with the number of physics steps done since the last call.
    stop : StopRequest or None
        Checked at the start of every physics step; a stop asked for by a
        signal ends the run there (:class:`~hierarchy.sim.stop.RunInterrupted`).
    open_loop : bool
        Allow the block-wise open-loop run where it applies (default); False
        steps every run through the SimPy processes.
    """

    def __init__(self, rt: "Runtime", progress=None, stop=None, open_loop: bool = True):
        self.rt = rt
        self.stop = stop
        self.open_loop = open_loop
        self.env: simpy.Environment = rt.env
        self.progress = progress
        self.step_index = 0
        self._area_index = rt.area_index  # area id -> index (the areas are fixed)
        self._settled_commands = None
        self.fixed_point = FixedPoint(rt)
        self._frequency_wake: simpy.Event | None = None
        self._frequency_time_ms = 0

    # ------------------------------------------------------------------ run
    def run(self) -> None:
        """Start every process and run until the end of the scenario.

        A run with nothing that acts on the grid (no unit groups, events,
        market or frequency dynamics; areas that only watch) is solved and
        recorded in blocks instead (:mod:`hierarchy.sim.open_loop`), unless
        ``open_loop=False`` was given.
        """
        if self.open_loop and open_loop_reason(self.rt) is None:
            run_open_loop(self.rt, self.progress, self.stop)
            return
        self.start()
        self.env.run(until=self.rt.duration_ms)

    def start(self) -> None:
        """Start every process, at time 0; the caller runs the environment.

        :meth:`run` runs it to the end at once; :mod:`hierarchy.coupling` runs it
        in increments (``env.run(until=...)``), between which the outside reads
        the state and sets the decisions of ``external`` policies.
        """
        env, rt = self.env, self.rt
        env.process(self._physics())
        env.process(self._frequency())
        periods = {area.period_ms for area in rt.areas}
        if len(periods) == 1:  # one process steps them all, in order: fewer SimPy events
            env.process(self._areas(rt.areas, periods.pop()))
        else:  # at instants where periods meet, each runs in the order it was scheduled
            for area in rt.areas:
                env.process(self._areas([area], area.period_ms))
        continuous = rt.stages.continuous
        for area in rt.areas:
            if rt.market is not None:
                env.process(market_stages.intraday_bidding(self, area) if continuous
                            else market_interval.bidding(self, area))
            if rt.stages.day_ahead_market is not None:
                env.process(market_stages.day_ahead_bidding(self, area))
        if rt.market is not None:
            env.process(market_stages.continuous_market(self) if continuous
                        else market_interval.interval_market(self))
        if rt.stages.day_ahead_market is not None:
            env.process(market_stages.day_ahead_market(self))
        for event in rt.events:
            env.process(self._event(event))

    # -------------------------------------------------------------- physics
    def _physics(self):
        rt = self.rt
        for k in range(rt.n_steps):
            wait_ms = k * rt.step_ms - int(self.env.now)
            yield tick(self.env, wait_ms, Order.PHYSICS)
            if self.stop is not None:
                self.stop.check()
            self.step_index = k
            self._trace("physics")
            self._apply_unit_inboxes()
            self._frequency_advance()
            rt.plant.begin_step(k)
            self._settle(k)
            self._advance(k)
            self._frequency_sync()
            rt.recorder.record_step(k, rt)
            self._report(k)
            if self.progress is not None and (k % 200 == 199 or k == rt.n_steps - 1):
                self.progress(200 if k % 200 == 199 else (k % 200) + 1)

    def _apply_unit_inboxes(self) -> None:
        for group in self.rt.groups:
            items = self.rt.unit_inbox[group.id].items
            if not items:
                continue
            # copy on write, once per step: observations hand these arrays out without copying
            p_set_mw, price_per_mwh = group.p_set_mw.copy(), group.price_per_mwh.copy()
            arrived = items.copy()
            items.clear()
            for message in arrived:  # in the order they arrived
                rows = group.by_area[self._area_index[message.area]]
                p_set_mw[rows] = message.p_mw
                if not math.isnan(message.price_per_mwh):
                    price_per_mwh[rows] = message.price_per_mwh
            p_set_mw.setflags(write=False)
            price_per_mwh.setflags(write=False)
            group.p_set_mw, group.price_per_mwh = p_set_mw, price_per_mwh

    def _settle(self, k: int) -> None:
        """Settle step ``k``: unit controllers and power flow to a fixed point."""
        self._settled_commands = self.fixed_point.settle(k, self._time_ms())

    def _advance(self, k: int) -> None:
        """Move every policy's state over the step with its settled command."""
        now = self._time_ms()
        observations = self.fixed_point.observations  # the settled state, already built
        for group, command, obs in zip(self.rt.groups, self._settled_commands, observations):
            settled = type(command)(p_mw=group.p_mw, q_mvar=group.q_mvar,
                                    connected=command.connected, tap_pos=command.tap_pos)
            try:
                group.policy.advance(obs, settled)
            except Exception as exc:
                raise policy_error(unit_policy(group), now, exc) from exc
            if command.connected is not None:
                connected = np.asarray(command.connected, dtype=bool)
                for row in np.flatnonzero(connected != group.connected):
                    what = "reconnect" if connected[row] else "trip"
                    self.rt.recorder.event(now, what, group.unit_ids[row], f"group {group.id}")
                group.connected = connected

    def _report(self, k: int) -> None:
        """Send unit status and meter readings up to the areas."""
        rt, now = self.rt, self._time_ms()
        link = rt.links[("unit", "area")]
        reports = []  # per group: its status quantities, units area by area
        for group in rt.groups:
            cap = group.policy.capability(rt.observe(group, now))
            stacked = np.empty((5, group.n_units))  # a policy may report a scalar for all
            stacked[0], stacked[1], stacked[2], stacked[3], stacked[4] = (
                group.p_mw, group.q_mvar, cap.p_min_mw, cap.p_max_mw, cap.energy_mwh)
            report = stacked.take(group.area_order, axis=1)  # a copy the statuses own
            report.setflags(write=False)
            reports.append(tuple(report))  # its five rows; each status gets slices of them
        messages = []
        for a, area in enumerate(rt.areas):
            messages.append((rt.measure_area(a, now), area.inbox))
            for group, (p, q, p_min, p_max, energy) in zip(rt.groups, reports):
                span = group.area_span.get(a)
                if span is None:
                    continue
                status = UnitStatus.of_owned(group.id, area.id, group.area_unit_ids[a], p[span],
                                             q[span], p_min[span], p_max[span], energy[span], now)
                messages.append((status, area.inbox))
        link.send_many(messages)

    # ---------------------------------------------------------------- areas
    def _areas(self, areas: list, period_ms: int):
        """The coordinators of ``areas`` (one period), each in turn, every ``period_ms``."""
        delay_ms = 0
        while True:
            yield tick(self.env, delay_ms, Order.AREA)
            delay_ms = period_ms
            for area in areas:
                self._area_step(area)

    def _area_step(self, area) -> None:
        rt = self.rt
        self._trace(f"area:{area.id}")
        self._refresh(area)
        try:
            action = area.coordinator.control(area.state)
        except Exception as exc:
            raise policy_error(f"area coordinator {area.policy_name!r} of area {area.id!r}",
                               self._time_ms(), exc) from exc
        area.ace_mw = action.ace_mw
        for text in getattr(action, "actions", ()):
            rt.recorder.event(self._time_ms(), "area_action", area.id, text)
        self._send_setpoints(area, action)

    def _send_setpoints(self, area, action) -> None:
        """Send each unit group its setpoints and retail price, when they changed."""
        rt = self.rt
        prices: dict[str, float] = {}
        messages = []
        for group in rt.groups:
            rows = group.by_area.get(area.index)
            if rows is None:
                continue
            p_set = action.p_set_mw.get(group.id)
            if p_set is not None:
                p_set = np.asarray(p_set, float)
            cls = rt.customer_class.get(group.id, "default")
            if cls not in prices:
                prices[cls] = area.state.price(cls)
            price = prices[cls]
            # what was sent last, by value (None: no setpoints, NaN for every unit)
            key = (None if p_set is None else p_set.tobytes(), struct.pack("d", price))
            if area.last_sent.get(group.id) == key:
                continue
            area.last_sent[group.id] = key
            if p_set is None:
                p_set = np.full(rows.size, np.nan)
            messages.append((UnitSetpoint(group.id, area.id, p_set, self._time_ms(), price),
                             rt.unit_inbox[group.id]))
        if messages:
            rt.links[("area", "unit")].send_many(messages)

    def area_state(self, area):
        """The area's state as its coordinator would see it now: what has arrived, moved in.

        The engine does the same at the area's next call; called between the
        instant's last delivery and that call it changes nothing.
        """
        self._refresh(area)
        return area.state

    def _refresh(self, area) -> None:
        """Move what has arrived in the area's inbox into its state."""
        state = area.state
        state.time_ms = self._time_ms()
        items = area.inbox.items
        if not items:
            return
        arrived = items.copy()
        items.clear()
        for message in arrived:  # in the order they arrived
            kind = type(message)  # exact type first: the common case, fast
            if kind is UnitStatus or isinstance(message, UnitStatus):
                state.units[message.group] = message
            elif kind is AreaMeasurement or isinstance(message, AreaMeasurement):
                state.measurement = message
            elif isinstance(message, Award):
                awards = state.day_ahead if message.stage == DAY_AHEAD else state.awards
                awards.setdefault(message.interval_start_ms, {})[message.participant] = message
            elif isinstance(message, Price):
                state.prices.setdefault(message.interval_start_ms, {})[message.kind] = message
            elif isinstance(message, Trade):
                traded = state.traded_mw.setdefault(message.interval_start_ms, {})
                for name, sign in ((message.seller, 1.0), (message.buyer, -1.0)):
                    if name.split("/", 1)[0] == area.id:
                        traded[name] = traded.get(name, 0.0) + sign * message.quantity_mw

    # --------------------------------------------------------------- market
    def _after_clearing(self, start_ms: int, clearing, offers, bids, stage: str = REAL_TIME):
        """The one place every clearing passes right after it is made, before it is
        recorded and published: the day-ahead slots (``stage="day_ahead"``), the
        per-interval auctions and dispatches, and the continuous intervals at their
        gate closure. Returns the clearing to record and publish (as it is, for now).

        Parameters
        ----------
        start_ms : int
            Start of the delivery interval or day-ahead slot [ms].
        clearing : Clearing
            What the mechanism cleared.
        offers, bids : list
            The orders it cleared (for continuous trading: every order submitted).
        stage : str
            ``real_time`` or ``day_ahead``.

        With ``market.security`` on, the schedule that goes to delivery (the
        per-interval clearing, or the continuous book at its gate closure) is
        checked against the feeder's limits and re-dispatched where it violates
        one (:mod:`hierarchy.sim.security`). Day-ahead slots are forward
        positions, traded again before delivery: they are not checked.
        """
        if self.rt.security is None or stage != REAL_TIME:
            return clearing
        return self.rt.security.secure(start_ms, clearing, offers, bids)

    # --------------------------------------------------------------- events
    def _event(self, event):
        yield tick(self.env, max(event.at - int(self.env.now), 0), Order.EVENT)
        rt = self.rt
        self._trace(f"event:{event.kind}")
        rt.apply_event(event)
        if event.kind != "comm_outage" and self._settled_commands is not None:
            self._frequency_advance()
            self._settle(self.step_index)
            self._frequency_sync()
        rt.recorder.event(self._time_ms(), event.kind, getattr(event, "target", "") or "",
                          rt.describe_event(event))

    # ------------------------------------------------------------ frequency
    def _frequency(self):
        """Integrate island frequencies every ``frequency.step`` while unsettled, else sleep."""
        rt = self.rt
        while True:
            if rt.frequency.settled():
                self._frequency_wake = self.env.event()
                yield self._frequency_wake
                self._frequency_wake = None
                self._frequency_time_ms = self._time_ms()
                # the state it wakes from: the trajectory starts moving here, not at the last row
                rt.recorder.frequency_row(self._time_ms(), rt.frequency.area_f_hz)
            yield tick(self.env, rt.frequency_step_ms, Order.FREQUENCY)
            self._trace("frequency")
            self._frequency_advance()
            rt.recorder.frequency_row(self._time_ms(), rt.frequency.area_f_hz)

    def _frequency_advance(self) -> None:
        """Bring the frequency model up to now (it is idle while settled)."""
        now = self._time_ms()
        if self._frequency_wake is None and now > self._frequency_time_ms:
            self.rt.frequency.advance((now - self._frequency_time_ms) / 1000.0)
        self._frequency_time_ms = now

    def _frequency_sync(self) -> None:
        """New inputs after a solve; a disturbance wakes the frequency process."""
        freq, now = self.rt.frequency, self._time_ms()
        freq.sync(self.rt.observe, now)
        for kind, detail in freq.events:
            self.rt.recorder.event(now, kind, "", detail)
        freq.events.clear()
        if self._frequency_wake is not None and not freq.settled():
            self._frequency_wake.succeed()

    def _trace(self, process: str) -> None:
        if self.rt.trace is not None:
            self.rt.trace.append(TraceRecord(self._time_ms(), "tick", process, ""))

    def _time_ms(self) -> int:
        return int(self.env.now)

