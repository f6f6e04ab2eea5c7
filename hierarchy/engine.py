"""The SimPy engine: wires the tiers' processes and moves their messages.

Processes (DESIGN.md "Time"), each at its own period, ordered within an
instant by :mod:`hierarchy.clock`:

* ``physics`` every ``time.step``: profiles → unit controllers iterated with
  the power flow to a fixed point → record → unit status and meter readings
  sent up to the areas;
* one ``area`` process per area every ``coordinator.period``: reads what has
  arrived, calls its coordinator, sends setpoints (and retail prices) down;
* one ``bidding`` process per area: sends the area's offers and bids for each
  delivery interval one gate-closure period before the gate;
* ``market``: at each gate closure clears the orders that arrived, publishes
  awards and prices to the areas before delivery starts;
* one process per scenario event.

The engine holds no control logic: the tiers decide, the plant computes.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import simpy

from hierarchy.clock import Order, tick
from hierarchy.links import TraceRecord
from hierarchy.messages import AreaMeasurement, Award, Bid, Offer, Price, UnitSetpoint, UnitStatus

if TYPE_CHECKING:
    from hierarchy.build import Runtime

__all__ = ["Engine", "PolicyError"]


class PolicyError(RuntimeError):
    """A policy raised during the run; names the policy and the time."""


class Engine:
    """Runs one :class:`~hierarchy.build.Runtime` to its end.

    Parameters
    ----------
    rt : Runtime
        Everything the builder wired: plant, groups, areas, market, links,
        recorder.
    progress : callable or None
        Called with the number of physics steps done since the last call.
    """

    def __init__(self, rt: "Runtime", progress=None):
        self.rt = rt
        self.env: simpy.Environment = rt.env
        self.progress = progress
        self.step_index = 0
        self._settled_commands = None

    # ------------------------------------------------------------------ run
    def run(self) -> None:
        """Start every process and run until the end of the scenario."""
        env, rt = self.env, self.rt
        env.process(self._physics())
        for area in rt.areas:
            env.process(self._area(area))
            if rt.market is not None:
                env.process(self._bidding(area))
        if rt.market is not None:
            env.process(self._market())
        for event in rt.events:
            env.process(self._event(event))
        env.run(until=rt.duration_ms)

    # -------------------------------------------------------------- physics
    def _physics(self):
        rt = self.rt
        for k in range(rt.n_steps):
            wait_ms = k * rt.step_ms - int(self.env.now)
            yield tick(self.env, wait_ms, Order.PHYSICS)
            self.step_index = k
            self._trace("physics")
            self._apply_unit_inboxes()
            rt.plant.begin_step(k)
            self._settle(k)
            self._advance(k)
            rt.recorder.record_step(k, rt)
            self._report(k)
            if self.progress is not None and (k % 200 == 199 or k == rt.n_steps - 1):
                self.progress(200 if k % 200 == 199 else (k % 200) + 1)

    def _apply_unit_inboxes(self) -> None:
        for group in self.rt.groups:
            inbox = self.rt.unit_inbox[group.id]
            while inbox.items:
                message: UnitSetpoint = inbox.items.pop(0)
                rows = group.by_area[self.rt.area_index[message.area]]
                group.p_set_mw[rows] = message.p_mw
                if not math.isnan(message.price_per_mwh):
                    group.price_per_mwh[rows] = message.price_per_mwh

    def _settle(self, k: int) -> None:
        """Iterate unit controllers and power flow to a fixed point.

        Commands are computed at the latest solution; if none moves more
        than ``control.tol`` [pu of rating] from what was last solved, the
        step has settled (the plant holds exactly the solved injections).
        A group whose move reverses direction (oscillation) has its
        relaxation factor halved; one that keeps its direction gets it back.
        """
        rt = self.rt
        tol, max_iter = rt.control_tol, rt.control_max_iter
        relax = [1.0] * len(rt.groups)
        last = [None] * len(rt.groups)
        converged = None
        for iteration in range(max_iter + 1):
            commands, moves = self._commands()
            if converged is not None and max(moves, default=0.0) <= tol:
                break
            if iteration == max_iter:
                restless = [g.id for g, m in zip(rt.groups, moves) if m > tol]
                rt.recorder.nonconverged_control(k, self._time_ms(), restless)
                break
            for i, (group, command) in enumerate(zip(rt.groups, commands)):
                delta = np.concatenate([np.asarray(command.p_mw, float) - group.p_mw,
                                        np.asarray(command.q_mvar, float) - group.q_mvar])
                if last[i] is not None:
                    reversing = float(np.dot(delta, last[i])) < 0.0
                    relax[i] = max(relax[i] * 0.5, 0.125) if reversing else min(relax[i] * 2.0, 1.0)
                last[i] = delta
                self._apply(group, command, relax[i])
            converged = self._solve(k)
            self._settled_commands = commands
        if not converged:
            rt.recorder.nonconverged_powerflow(k)

    def _solve(self, k: int) -> bool:
        return self.rt.plant.solve()

    def _commands(self):
        """Every group's command at the latest solution, and each group's move [pu].

        The move is the largest change of P, Q (in pu of rating) or tap
        position the command asks for against what was last solved.
        """
        commands, moves = [], []
        now = self._time_ms()
        for group in self.rt.groups:
            obs = self.rt.observe(group, now)
            try:
                command = group.policy.step(obs)
            except Exception as exc:  # a user's policy may raise anything
                raise PolicyError(
                    f"unit policy {group.policy_name!r} of group {group.id!r} raised at "
                    f"t={now / 1000:g} s: {type(exc).__name__}: {exc}"
                ) from exc
            move = 0.0
            if group.n_units:
                rating = np.maximum(group.rating_mw, 1e-9)
                move = max(float(np.max(np.abs(command.p_mw - group.p_mw) / rating)),
                           float(np.max(np.abs(command.q_mvar - group.q_mvar) / rating)))
                if command.tap_pos is not None and group.tap_pos is not None:
                    move = max(move, float(np.max(np.abs(command.tap_pos - group.tap_pos))))
            commands.append(command)
            moves.append(move)
        return commands, moves

    def _apply(self, group, command, relax: float) -> None:
        group.p_mw = group.p_mw + relax * (np.asarray(command.p_mw, float) - group.p_mw)
        group.q_mvar = group.q_mvar + relax * (np.asarray(command.q_mvar, float) - group.q_mvar)
        if command.tap_pos is not None:
            taps = np.asarray(command.tap_pos).astype(int)
            for pos, tap, old in zip(group.positions, taps, group.tap_pos):
                if tap != old:
                    self.rt.plant.powerflow.set_tap_pos(int(pos), int(tap))
            group.tap_pos = taps
        if group.table in self.rt.plant.tables:
            self.rt.plant.set_output(group.table, group.positions, group.p_mw, group.q_mvar)

    def _advance(self, k: int) -> None:
        """Move every policy's state over the step with its settled command."""
        now = self._time_ms()
        for group, command in zip(self.rt.groups, self._settled_commands):
            obs = self.rt.observe(group, now)
            settled = type(command)(p_mw=group.p_mw, q_mvar=group.q_mvar,
                                    connected=command.connected, tap_pos=command.tap_pos)
            try:
                group.policy.advance(obs, settled)
            except Exception as exc:
                raise PolicyError(
                    f"unit policy {group.policy_name!r} of group {group.id!r} raised at "
                    f"t={now / 1000:g} s: {type(exc).__name__}: {exc}"
                ) from exc
            if command.connected is not None:
                connected = np.asarray(command.connected, dtype=bool)
                for row in np.flatnonzero(connected != group.connected):
                    what = "reconnect" if connected[row] else "trip"
                    self.rt.recorder.event(now, what, group.unit_ids[row], f"group {group.id}")
                group.connected = connected

    def _report(self, k: int) -> None:
        """Send unit status and meter readings up to the areas."""
        rt, now = self.rt, self._time_ms()
        for a, area in enumerate(rt.areas):
            link = rt.links[("unit", "area")]
            meas = rt.measure_area(a, now)
            link.send(meas, area.inbox)
            for group in rt.groups:
                rows = group.by_area.get(a)
                if rows is None:
                    continue
                obs = rt.observe(group, now)
                cap = group.policy.capability(obs)
                status = UnitStatus(
                    group.id, area.id, tuple(group.unit_ids[r] for r in rows),
                    group.p_mw[rows], group.q_mvar[rows], cap.p_min_mw[rows], cap.p_max_mw[rows],
                    cap.energy_mwh[rows], now,
                )
                link.send(status, area.inbox)

    # ---------------------------------------------------------------- areas
    def _area(self, area):
        rt = self.rt
        delay_ms = 0
        while True:
            yield tick(self.env, delay_ms, Order.AREA)
            delay_ms = area.period_ms
            self._trace(f"area:{area.id}")
            self._refresh(area)
            try:
                action = area.coordinator.control(area.state)
            except Exception as exc:
                raise PolicyError(
                    f"area coordinator {area.policy_name!r} of area {area.id!r} raised at "
                    f"t={self._time_ms() / 1000:g} s: {type(exc).__name__}: {exc}"
                ) from exc
            area.ace_mw = action.ace_mw
            link = rt.links[("area", "unit")]
            for group in rt.groups:
                rows = group.by_area.get(area.index)
                if rows is None:
                    continue
                p_set = action.p_set_mw.get(group.id)
                p_set = np.full(rows.size, np.nan) if p_set is None else np.asarray(p_set, float)
                price = area.state.price(rt.customer_class.get(group.id, "default"))
                last = area.last_sent.get(group.id)
                if last is not None and np.array_equal(last[0], p_set, equal_nan=True) and (
                    last[1] == price or (math.isnan(last[1]) and math.isnan(price))
                ):
                    continue
                area.last_sent[group.id] = (p_set, price)
                link.send(UnitSetpoint(group.id, area.id, p_set, self._time_ms(), price),
                          rt.unit_inbox[group.id])

    def _refresh(self, area) -> None:
        """Move what has arrived in the area's inbox into its state."""
        state = area.state
        state.time_ms = self._time_ms()
        while area.inbox.items:
            message = area.inbox.items.pop(0)
            if isinstance(message, UnitStatus):
                state.units[message.group] = message
            elif isinstance(message, AreaMeasurement):
                state.measurement = message
            elif isinstance(message, Award):
                state.awards.setdefault(message.interval_start_ms, {})[message.participant] = message
            elif isinstance(message, Price):
                state.prices.setdefault(message.interval_start_ms, {})[message.kind] = message

    def _bidding(self, area):
        rt = self.rt
        for start_ms in rt.market_intervals():
            send_ms = start_ms - 2 * rt.gate_closure_ms
            yield tick(self.env, max(send_ms - int(self.env.now), 0), Order.BIDDING)
            self._trace(f"bidding:{area.id}")
            self._refresh(area)
            offers, bids = area.coordinator.orders(area.state, start_ms)
            link = rt.links[("area", "market")]
            for order in (*offers, *bids):
                link.send(order, rt.market_inbox)

    # --------------------------------------------------------------- market
    def _market(self):
        rt = self.rt
        for start_ms in rt.market_intervals():
            gate_ms = start_ms - rt.gate_closure_ms
            yield tick(self.env, max(gate_ms - int(self.env.now), 0), Order.MARKET)
            self._trace("market")
            offers, bids = [], []
            while rt.market_inbox.items:
                order = rt.market_inbox.items.pop(0)
                if order.interval_start_ms != start_ms:
                    rt.recorder.late_order(self._time_ms(), order)
                    continue
                (offers if isinstance(order, Offer) else bids).append(order)
            offers_up, bids_up = rt.upstream_orders(start_ms)
            clearing = rt.market.clear(start_ms, offers + offers_up, bids + bids_up)
            rt.recorder.clearing(start_ms, clearing, offers + offers_up, bids + bids_up)
            self._publish(start_ms, clearing)

    def _publish(self, start_ms: int, clearing) -> None:
        rt, now = self.rt, self._time_ms()
        link = rt.links[("market", "area")]
        for area in rt.areas:
            price = clearing.price[area.id] if isinstance(clearing.price, dict) else clearing.price
            link.send(Price(float(price), start_ms, rt.interval_ms, area.id, "clearing", now), area.inbox)
            for cls, tariff in rt.tariffs.items():
                retail = rt.retail_price(tariff, start_ms, float(price))
                link.send(Price(retail, start_ms, rt.interval_ms, area.id, cls, now), area.inbox)
            for participant, quantity in clearing.awards.items():
                if participant.split("/", 1)[0] == area.id and quantity != 0:
                    link.send(Award(participant, float(quantity), float(price), start_ms, area.id, now),
                              area.inbox)

    # --------------------------------------------------------------- events
    def _event(self, event):
        yield tick(self.env, max(event.at_ms - int(self.env.now), 0), Order.EVENT)
        rt = self.rt
        self._trace(f"event:{event.kind}")
        rt.apply_event(event)
        if event.kind != "comm_outage" and self._settled_commands is not None:
            self._settle(self.step_index)
        rt.recorder.event(self._time_ms(), event.kind, getattr(event, "target", "") or "",
                          rt.describe_event(event))

    def _trace(self, process: str) -> None:
        if self.rt.trace is not None:
            self.rt.trace.append(TraceRecord(self._time_ms(), "tick", process, ""))

    def _time_ms(self) -> int:
        return int(self.env.now)
