"""The recorder: every physics step into preallocated arrays, tables at the end.

No DataFrame is built per step; :meth:`Recorder.frames` turns the arrays
into the wide timeseries tables of the output contract once, and only the
rows of completed steps (an interrupted run keeps what it computed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hierarchy.sim.stage_records import StageRecords

__all__ = ["Recorder"]

#: per-interval reliability figures of a clearing (``market_clearing`` table)
RELIABILITY_COLUMNS = ("shortfall_mw", "surplus_mw", "reserve_required_mw", "reserve_mw",
                       "reserve_shortfall_mw", "reserve_price")

#: steps whose balance and metering are computed together (:meth:`Recorder._flush`)
_FLUSH_STEPS = 512

#: system-wide quantities recorded per step [MW], pandapower-independent signs
SYSTEM_COLUMNS = ("load_mw", "generation_mw", "storage_charge_mw", "import_mw", "export_mw",
                  "losses_mw", "curtailed_mw", "not_served_mw")


@dataclass
class _Market:
    starts_ms: list = field(default_factory=list)
    prices: list = field(default_factory=list)  # dict column -> price
    awards: list = field(default_factory=list)  # dict participant -> MW
    schedule: dict = field(default_factory=dict)  # start_ms -> array per area
    cleared_mw: list = field(default_factory=list)
    shortfall_mw: list = field(default_factory=list)
    orders: list = field(default_factory=list)  # (offers, bids) cleared per interval
    reliability: list = field(default_factory=list)  # dict column -> value per interval
    late: dict = field(default_factory=dict)  # interval start_ms -> late orders
    retail: dict = field(default_factory=dict)  # start_ms -> {"<area>/<class>": price}
    security: dict = field(default_factory=dict)  # start_ms -> security check columns (market.security)
    redispatch: dict = field(default_factory=dict)  # start_ms -> participant -> award change [MW]
    redispatch_money: dict = field(default_factory=dict)  # start_ms -> participant -> payment
    traded: list = field(default_factory=list)  # dict participant -> trade value [per h] (continuous)


class Recorder:
    """Preallocated result arrays of one run.

    Parameters
    ----------
    rt : Runtime
        The wired run (sizes and names are taken from it).
    """

    def __init__(self, rt):
        n, plant = rt.n_steps, rt.plant
        pf = plant.powerflow
        self.n_steps = n
        self.steps_done = 0
        self.area_ids = [a.id for a in rt.areas]
        self.bus_names = [f"bus/{b}" for b in rt.plant.net.bus.index]
        self.line_names = [f"line/{b}" for b in rt.plant.net.line.index]
        self.trafo_names = [f"trafo/{b}" for b in rt.plant.net.trafo.index]
        self.unit_names = [u for g in rt.groups for u in g.unit_ids]
        self.storage_groups = [g for g in rt.groups if g.kind == "storage"]
        self.battery_names = [u for g in self.storage_groups for u in g.unit_ids]
        na = len(self.area_ids)
        self._arrays = {
            "bus_vm_pu": np.full((n, len(pf.vm_pu)), np.nan),
            "line_loading_percent": np.full((n, len(self.line_names)), np.nan),
            "trafo_loading_percent": np.full((n, len(self.trafo_names)), np.nan),
            "unit_p_mw": np.full((n, len(self.unit_names)), np.nan),
            "unit_q_mvar": np.full((n, len(self.unit_names)), np.nan),
            "battery_soc": np.full((n, len(self.battery_names)), np.nan),
            "area_frequency_hz": np.full((n, na), np.nan),
            "area_net_export_mw": np.full((n, na), np.nan),
            "area_schedule_mw": np.full((n, na), np.nan),
            "area_ace_mw": np.full((n, na), np.nan),
            "system_balance_mw": np.full((n, len(SYSTEM_COLUMNS)), np.nan),
        }
        self.market = _Market()
        self.events: list[tuple[int, str, str, str]] = []
        self.late_orders = 0
        #: frequency-step rows (time [ms], f per area [Hz]) between physics steps
        self.frequency_rows: list[tuple[int, np.ndarray]] = []
        self.nonconverged_control_steps: list[tuple[int, str]] = []
        self.nonconverged_pf_steps: list[int] = []
        #: steps recorded in blocks by an open-loop run (:meth:`record_block`)
        self.open_loop = False
        self._unit_cols = {}
        start = 0
        for g in rt.groups:
            self._unit_cols[g.id] = slice(start, start + g.n_units)
            start += g.n_units
        self._renewables = [g for g in rt.groups if g.kind == "renewable"]
        self._flexible_loads = [g for g in rt.groups if g.kind == "flexible_load" and g.table == "load"]
        self._interval_ms = rt.interval_ms
        self._step_ms = rt.step_ms
        self._env = rt.env
        self._penalty = float(rt.scenario.market.imbalance_penalty)
        self.meter = _meter_plan(rt, self.area_ids)
        self._arrays["participant_p_mw"] = np.full((n, len(self.meter.names)), np.nan)
        self._plant = rt.plant
        #: per recorded step, what the balance and metering columns are made of
        #: (:meth:`_flush` computes them block-wise)
        self._pending: list[tuple] = []
        self._settlement = None
        #: demand not served, sparse: (steps, load positions, MW) of every (step, load) with some,
        #: from de-energised buses and load shedding (per block) and flexible loads shed by their
        #: area (per step); the reliability indices (hierarchy.outputs.reliability) read it
        self.not_served: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        #: day-ahead slots, trades and forecast issue times (hierarchy.sim.market_stages)
        self.stages = StageRecords(rt.interval_ms)
        self._continuous = bool(rt.stages is not None and rt.stages.continuous)
        #: the forecast service (set by the builder with a market): market_forecast_mw
        self.forecast = None

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The result arrays, one row per physics step (rows of steps not done are NaN)."""
        self._flush()
        return self._arrays

    #: tables that :meth:`_flush` computes in blocks (not in :meth:`step_rows`)
    BLOCK_TABLES = ("system_balance_mw", "participant_p_mw")

    def step_rows(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of a table written at each step, read-only, read mid-run.

        Unlike :attr:`arrays`, this computes nothing pending, so that reading
        between steps (:mod:`hierarchy.coupling`) leaves the run's blocks, and
        its numbers, as they are. Not for :data:`BLOCK_TABLES`.
        """
        if name in self.BLOCK_TABLES:
            raise KeyError(f"{name} is computed in blocks; read it from arrays after the run")
        rows = self._arrays[name][start:stop]
        rows.setflags(write=False)  # a view: the table itself stays writable
        return rows

    # ------------------------------------------------------------ per step
    def record_step(self, k: int, rt) -> None:
        """Copy the settled state of step ``k`` into the arrays.

        The system balance and the participants' metering are computed from
        the step's injections (kept here) and its recorded voltages, a block
        of steps at a time (:meth:`_flush`, also on every read of
        :attr:`arrays`).
        """
        a, plant, pf = self._arrays, rt.plant, rt.plant.powerflow
        a["bus_vm_pu"][k] = pf.vm_pu
        a["line_loading_percent"][k] = pf.line_loading_percent
        a["trafo_loading_percent"][k] = pf.trafo_loading_percent
        for g in rt.groups:
            cols = self._unit_cols[g.id]
            a["unit_p_mw"][k, cols] = g.p_mw
            a["unit_q_mvar"][k, cols] = g.q_mvar
        col = 0
        for g in self.storage_groups:
            a["battery_soc"][k, col:col + g.n_units] = self._soc(g, rt, k)
            col += g.n_units
        a["area_frequency_hz"][k] = rt.frequency.area_f_hz
        a["area_net_export_mw"][k] = rt.net_export_mw()
        a["area_ace_mw"][k] = [area.ace_mw for area in rt.areas]
        schedule = self.market.schedule.get((k * rt.step_ms // self._interval_ms) * self._interval_ms)
        if schedule is not None:
            a["area_schedule_mw"][k] = schedule
        curtailed = 0.0
        for g in self._renewables:
            curtailed += float(np.sum(rt.profile_inputs(g)[0] - g.p_mw))
        shed_flexible = self._shed_mw(rt, k, {"load": plant.energised("load")}) if (
            self._flexible_loads) else 0.0
        self._pending.append((
            k, {t: plant.tables[t].p_mw.copy() for t in plant.tables}, plant.load_p_mw,
            plant.load_shed_mw, _nansum(pf.gen_slack_p_mw), _nansum(pf.ext_grid_p_mw),
            float(pf.losses_mw), curtailed, shed_flexible))
        if len(self._pending) >= _FLUSH_STEPS:
            self._flush()
        self.steps_done = k + 1

    def _flush(self) -> None:
        """System balance and metering of the pending steps, in one block."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        steps = np.array([row[0] for row in pending])
        p_mw = {t: np.array([row[1][t] for row in pending]).reshape(len(pending), -1)
                for t in pending[0][1]}
        load_p_mw, shed_mw = (np.array([row[i] for row in pending]).reshape(len(pending), -1)
                              for i in (2, 3))
        gen_slack, ext, losses, curtailed, shed_flexible = (
            np.array([row[i] for row in pending]) for i in range(4, 9))
        self._write_balance(steps, p_mw, load_p_mw, shed_mw, gen_slack, ext, losses, curtailed,
                            shed_flexible)

    def _write_balance(self, steps, p_mw: dict, load_p_mw, shed_mw, gen_slack, ext, losses,
                       curtailed, shed_flexible=0.0) -> None:
        """System balance and participant metering of ``steps`` (recorded voltages decide
        what is energised); arguments as :func:`_balance_rows`, one row per step."""
        vm = self._arrays["bus_vm_pu"][steps]
        energised = {t: np.isfinite(vm[:, self._plant.element_positions(t)]).astype(float)
                     for t in p_mw}
        balance = _balance_rows(p_mw, load_p_mw, shed_mw, energised, gen_slack, ext, losses,
                                curtailed)
        balance[:, SYSTEM_COLUMNS.index("not_served_mw")] += shed_flexible
        self._keep_not_served(steps, p_mw["load"], shed_mw, energised["load"])
        self._arrays["system_balance_mw"][steps] = balance
        self._arrays["participant_p_mw"][steps] = self.meter.rows(p_mw, energised, ext, losses)

    def _keep_not_served(self, steps, load_mw: np.ndarray, shed_mw, energised: np.ndarray) -> None:
        """Keep the (step, load) pairs with demand not served, as :func:`_balance_rows` counts it."""
        not_served = load_mw * (1.0 - energised)
        if shed_mw is not None:
            not_served = not_served + shed_mw * energised
        rows, loads = np.nonzero(not_served > 0)
        if rows.size:
            steps = np.arange(steps.start, steps.stop) if isinstance(steps, slice) else np.asarray(steps)
            self.not_served.append((steps[rows], loads, not_served[rows, loads]))

    @staticmethod
    def _soc(group, rt, k: int) -> np.ndarray:
        """State of charge [pu] of a storage group: the policy's ``soc``, or
        stored energy over ``capacity_mwh``."""
        soc = getattr(group.policy, "soc", None)
        if soc is not None:
            return np.asarray(soc, dtype=float)
        energy = group.policy.capability(rt.observe(group, k * rt.step_ms)).energy_mwh
        capacity = getattr(group.policy, "capacity_mwh", np.nan)
        return energy / np.asarray(capacity, dtype=float)

    def _shed_mw(self, rt, k: int, energised: dict[str, np.ndarray]) -> float:
        """Flexible-load consumption shed at the area's request [MW] (>= 0).

        Where a load's area has sent a setpoint (shedding asked), the load's
        shortfall ``max(wanted − served, 0)`` counts as not served, with
        ``wanted`` what it would consume at the price it faces without the
        area's cap (the policy's ``wanted_consumption_mw(obs)``; the profile
        demand ``−p_avail`` for a policy without it). The voluntary price
        response, including shedding at the load's own ``shed_price``, is a
        choice of the customer and is not counted. De-energised loads are
        counted in :meth:`_balance` (their served power is 0 here too).
        """
        shed_mw = 0.0
        for g in self._flexible_loads:
            obs = rt.observe(g, k * rt.step_ms)
            asked = np.isfinite(obs.p_set_mw)
            if not asked.any():
                continue
            wanted = getattr(g.policy, "wanted_consumption_mw", None)
            wanted_mw = (np.asarray(wanted(obs), dtype=float) if wanted is not None
                         else -np.minimum(np.asarray(obs.p_avail_mw, dtype=float), 0.0))
            live = energised["load"][g.positions] > 0
            served_mw = -g.p_mw
            gap_mw = np.maximum(wanted_mw - served_mw, 0.0)
            shed_mw += float(np.sum(gap_mw[asked & live]))
            rows = np.flatnonzero(asked & live & (gap_mw > 0))
            if rows.size:
                self.not_served.append((np.full(rows.size, k), g.positions[rows], gap_mw[rows]))
        return shed_mw

    # ------------------------------------------------------ open-loop blocks
    def record_block(self, k0: int, rt, p_mw: dict, load_p_mw: np.ndarray, flows: dict) -> None:
        """Record steps ``k0 …`` of an open-loop run at once (no unit groups, no market).

        Parameters
        ----------
        p_mw : dict
            Per injection table, ``(n_steps, n)`` active power as the plant
            sets it [MW], pandapower's signs.
        load_p_mw : ndarray
            ``(n_steps, n_load)`` consumption as solved [MW].
        flows : dict
            :meth:`~hierarchy.plant.powerflow.PowerFlow.solve_many`'s result.

        The same numbers :meth:`record_step` writes step by step: in an open
        loop every area watches (``area_ace_mw`` stays as it is), frequency
        stays at its value, nothing is curtailed or shed.
        """
        self._flush()
        a = self._arrays
        self.open_loop = True
        vm = flows["vm_pu"]
        k1 = k0 + vm.shape[0]
        rows = slice(k0, k1)
        a["bus_vm_pu"][rows] = vm
        a["line_loading_percent"][rows] = flows["line_loading_percent"]
        a["trafo_loading_percent"][rows] = flows["trafo_loading_percent"]
        a["area_frequency_hz"][rows] = rt.frequency.area_f_hz
        a["area_net_export_mw"][rows] = rt.net_export_rows(flows)
        a["area_ace_mw"][rows] = [area.ace_mw for area in rt.areas]
        self._write_balance(rows, p_mw, load_p_mw, None, np.nansum(flows["gen_slack_p_mw"], axis=1),
                            np.nansum(flows["ext_grid_p_mw"], axis=1), flows["losses_mw"], 0.0)
        for k in np.flatnonzero(~flows["converged"]):
            self.nonconverged_powerflow(k0 + int(k), time_ms=(k0 + int(k)) * self._step_ms)
        self.steps_done = k1

    # ------------------------------------------------------------- others
    def clearing(self, start_ms: int, clearing, offers, bids) -> None:
        """Record a market clearing for the interval starting at ``start_ms``."""
        m = self.market
        price = clearing.price
        m.starts_ms.append(start_ms)
        m.prices.append(dict(price) if isinstance(price, dict) else {"system": float(price)})
        m.awards.append(dict(clearing.awards))
        m.cleared_mw.append(float(clearing.quantity_mw))
        m.shortfall_mw.append(float(getattr(clearing, "shortfall_mw", 0.0) or 0.0))
        m.orders.append((tuple(offers), tuple(bids)))
        m.traded.append(dict(getattr(clearing, "traded_value_per_h", None) or {}))
        row = {key: float(getattr(clearing, key, 0.0) or 0.0) for key in RELIABILITY_COLUMNS}
        for (a, b), flow_mw in (getattr(clearing, "flows_mw", None) or {}).items():
            row[f"flow_{a}_{b}_mw"] = float(flow_mw)
        m.reliability.append(row)
        self._settlement = None
        schedule = np.zeros(len(self.area_ids))
        for participant, quantity in clearing.awards.items():
            area = participant.split("/", 1)[0]
            if area in self.area_ids:
                schedule[self.area_ids.index(area)] += quantity
        m.schedule[start_ms] = schedule

    def frequency_row(self, time_ms: int, area_f_hz: np.ndarray) -> None:
        """One frequency-model step while some island is not settled [Hz per area]."""
        self.frequency_rows.append((int(time_ms), np.array(area_f_hz, dtype=float)))

    def frequency_trajectory(self) -> tuple[np.ndarray, np.ndarray]:
        """Every recorded frequency sample: physics-step rows and, between them, the
        frequency-step rows up to the last physics step (a physics row wins a tie).

        Returns
        -------
        time_ms : ndarray
            ``(n,)`` int64, sorted [ms since the run start].
        f_hz : ndarray
            ``(n, n_areas)`` frequency of each area [Hz].
        """
        n = self.steps_done
        time_ms = np.arange(n, dtype=np.int64) * self._step_ms
        f_hz = self.arrays["area_frequency_hz"][:n]
        if not self.frequency_rows or n == 0:
            return time_ms, f_hz
        extra_ms = np.array([t for t, _ in self.frequency_rows], dtype=np.int64)
        keep = (extra_ms <= time_ms[-1]) & (extra_ms % self._step_ms != 0)  # not at a physics row
        merged_ms = np.concatenate([time_ms, extra_ms[keep]])
        merged = np.vstack([f_hz, np.vstack([f for _, f in self.frequency_rows])[keep]])
        order = np.argsort(merged_ms, kind="stable")
        merged_ms, merged = merged_ms[order], merged[order]
        first = np.r_[True, np.diff(merged_ms) != 0]  # one sample per time: the first recorded
        return merged_ms[first], merged[first]

    def _frequency_frame(self, start, frame: pd.DataFrame) -> pd.DataFrame:
        """Physics-step rows and frequency-step rows, time-sorted (:meth:`frequency_trajectory`)."""
        if not self.frequency_rows:
            return frame
        time_ms, f_hz = self.frequency_trajectory()
        index = pd.DatetimeIndex(pd.Timestamp(start) + pd.to_timedelta(time_ms, "ms"), name="time")
        return pd.DataFrame(f_hz, index=index, columns=frame.columns)

    def event(self, time_ms: int, kind: str, target: str, detail: str = "") -> None:
        self.events.append((int(time_ms), kind, target, detail))

    def late_order(self, time_ms: int, order, gate_ms: int | None = None) -> None:
        """An order that missed its gate closure (``gate_ms``): counted, never cleared."""
        self.late_orders += 1
        start = order.interval_start_ms
        self.market.late[start] = self.market.late.get(start, 0) + 1
        gate = "" if gate_ms is None else f", gate closed at {gate_ms / 1000:g} s"
        self.event(time_ms, "late_order", order.participant,
                   f"{type(order).__name__} for interval at {start / 1000:g} s, sent at "
                   f"{getattr(order, 'sent_ms', 0) / 1000:g} s{gate}")

    def security(self, start_ms: int, row: dict, delta_mw: dict, payments: dict) -> None:
        """The security check of the interval at ``start_ms``: its ``market_clearing`` columns,
        the change of each re-dispatched award [MW] and the redispatch payments [currency]."""
        m = self.market
        m.security[start_ms] = dict(row)
        m.redispatch[start_ms] = dict(delta_mw)
        m.redispatch_money[start_ms] = dict(payments)
        self._settlement = None

    def retail_price(self, start_ms: int, area: str, customer_class: str, price: float) -> None:
        """A retail price published for ``customer_class`` in ``area`` [per MWh]."""
        self.market.retail.setdefault(start_ms, {})[f"{area}/{customer_class}"] = float(price)

    def nonconverged_control(self, k: int, time_ms: int, group_ids) -> None:
        self.nonconverged_control_steps.append((int(time_ms), ",".join(group_ids)))
        self.event(time_ms, "nonconverged", ",".join(group_ids),
                   f"step {k}: unit control did not settle within control.max_iter")

    def nonconverged_powerflow(self, k: int, time_ms: int | None = None) -> None:
        """The power flow failed (results NaN): an event; counted once per physics step.

        A failed re-solve after a scenario event between steps is an event
        only: the step's recorded row was solved before it. ``time_ms``
        defaults to the simulation clock.
        """
        time_ms = int(self._env.now) if time_ms is None else int(time_ms)
        self.event(time_ms, "nonconverged_powerflow", "",
                   f"step {k}: the power flow did not converge (voltages and flows NaN)")
        if time_ms == k * self._step_ms and k not in self.nonconverged_pf_steps[-1:]:
            self.nonconverged_pf_steps.append(k)

    # -------------------------------------------------------------- tables
    def frames(self, start, step_ms: int, settlement: bool = True) -> dict[str, pd.DataFrame]:
        """The timeseries tables of the output contract (completed steps only).

        ``settlement=False`` leaves out the tables of the market settlement
        (the only ones that take a while to compute).
        """
        n = self.steps_done
        index = pd.DatetimeIndex(pd.Timestamp(start) + pd.to_timedelta(np.arange(n) * step_ms, "ms"),
                                 name="time")
        columns = {
            "bus_vm_pu": self.bus_names, "line_loading_percent": self.line_names,
            "trafo_loading_percent": self.trafo_names, "unit_p_mw": self.unit_names,
            "unit_q_mvar": self.unit_names, "battery_soc": self.battery_names,
            "area_frequency_hz": self.area_ids, "area_net_export_mw": self.area_ids,
            "area_schedule_mw": self.area_ids, "area_ace_mw": self.area_ids,
            "system_balance_mw": list(SYSTEM_COLUMNS),
        }
        frames = {name: pd.DataFrame(self.arrays[name][:n], index=index, columns=cols)
                  for name, cols in columns.items()}
        frames["area_frequency_hz"] = self._frequency_frame(start, frames["area_frequency_hz"])
        m = self.market
        market_index = pd.DatetimeIndex(
            pd.Timestamp(start) + pd.to_timedelta(np.asarray(m.starts_ms, dtype=np.int64), "ms"),
            name="time")
        frames["market_price"] = pd.DataFrame(m.prices, index=market_index, dtype=float)
        frames["market_award_mw"] = pd.DataFrame(m.awards, index=market_index, dtype=float).fillna(0.0)
        if settlement:
            frames.update(self._market_frames(start, market_index))
        elif m.security:  # the security check's tables (no settlement needed) for the plots
            frames.update(self._security_frames(market_index))
        frames.update(self.stages.frames(start, m.starts_ms, self.forecast))
        return frames

    def _market_frames(self, start, market_index) -> dict[str, pd.DataFrame]:
        """``market_clearing`` (reliability per interval), ``market_retail_price`` and the settlement."""
        m = self.market
        clearing = pd.DataFrame(m.reliability, index=market_index, dtype=float)
        clearing["cleared_mw"] = np.asarray(m.cleared_mw, dtype=float)
        clearing["late_orders"] = np.array([m.late.get(t, 0) for t in m.starts_ms], dtype=float)
        retail = pd.DataFrame([m.retail.get(t, {}) for t in m.starts_ms], index=market_index, dtype=float)
        frames = {"market_clearing": clearing, "market_retail_price": retail}
        if m.security:  # market.security: the check's columns and the award changes
            security = self._security_frames(market_index)
            for column in security["market_security"].columns:
                clearing[column] = security["market_security"][column].to_numpy()
            frames["market_redispatch_mw"] = security["market_redispatch_mw"]
        return {**frames, **self.settlement(start)}

    def _security_frames(self, market_index) -> dict[str, pd.DataFrame]:
        """The security check's columns of ``market_clearing`` (as ``market_security``) and
        ``market_redispatch_mw``, a row per cleared interval."""
        m = self.market
        return {
            "market_security": pd.DataFrame([m.security.get(t, {}) for t in m.starts_ms],
                                            index=market_index, dtype=float),
            "market_redispatch_mw": pd.DataFrame([m.redispatch.get(t, {}) for t in m.starts_ms],
                                                 index=market_index, dtype=float).fillna(0.0)}

    def settlement(self, start) -> dict[str, pd.DataFrame]:
        """``market_metered_mw`` and ``market_settlement`` of every complete interval.

        Each participant's metered mean output over the interval is settled
        against its award with :func:`market_control.settlement.settle_dual`
        (clearing price of its area, ``market.imbalance_penalty``); with a
        day-ahead stage its day-ahead award at the day-ahead price, with
        continuous trading its trades at their prices (two settlements).
        """
        if self._settlement is None:
            from market_control.settlement import DayAhead, interval_means, settle_dual

            rows = interval_means(self.arrays["participant_p_mw"], self.steps_done, self._step_ms,
                                   self.market.starts_ms, self._interval_ms)
            done, metered, money = [], [], []
            area_of: dict[str, str | None] = {}  # participant -> area, looked up once
            for i, mean_mw in rows:
                actual = dict(zip(self.meter.names, mean_mw.tolist()))
                awards = self.market.awards[i]
                for name in awards:  # an award no meter knows of delivered nothing measurable
                    actual.setdefault(name, 0.0)
                price = self.market.prices[i]
                for n in actual:
                    if n not in area_of:
                        area_of[n] = self.meter.area_of(n)
                stages = {}
                day_ahead = self.stages.day_ahead_position(self.market.starts_ms[i])
                if day_ahead is not None:
                    for name in day_ahead[0]:
                        actual.setdefault(name, 0.0)
                        if name not in area_of:
                            area_of[name] = self.meter.area_of(name)
                    stages["day_ahead"] = DayAhead(day_ahead[0], _area_prices(day_ahead[1], actual, area_of))
                if self._continuous:
                    stages["traded_value_per_h"] = self.market.traded[i]
                system = price.get("system", np.nan)
                area_price = {n: price.get(area_of[n], system) for n in actual}
                s = settle_dual(awards, actual, area_price, self._penalty, self._interval_ms / 3_600_000,
                                **stages)
                done.append(self.market.starts_ms[i])
                metered.append(actual)
                row = {**s.total, "energy_account": s.energy_account,
                       "imbalance_account": s.imbalance_account, "residual": s.residual}
                if self.stages.slots:
                    row["day_ahead_account"] = s.day_ahead_account
                if self.market.security:
                    row = _with_redispatch(row, self.market.redispatch_money.get(self.market.starts_ms[i], {}))
                money.append(row)
            index = pd.DatetimeIndex(
                pd.Timestamp(start) + pd.to_timedelta(np.asarray(done, dtype=np.int64), "ms"), name="time")
            self._settlement = {
                "market_metered_mw": pd.DataFrame(metered, index=index, dtype=float),
                "market_settlement": pd.DataFrame(money, index=index, dtype=float).fillna(0.0)}
        return self._settlement

    def events_frame(self, start) -> pd.DataFrame:
        times = [pd.Timestamp(start) + pd.Timedelta(milliseconds=t) for t, *_ in self.events]
        return pd.DataFrame({
            "time": pd.DatetimeIndex(times) if times else pd.DatetimeIndex([]),
            "kind": [e[1] for e in self.events], "target": [e[2] for e in self.events],
            "detail": [e[3] for e in self.events],
        })


@dataclass
class _MeterPlan:
    """Which market participant each element's output is metered under.

    ``owner[table]`` holds a participant column per element (-1: none);
    ``upstream`` and ``losses`` are the columns of the upstream grid
    (ext_grid injection, import positive) and of the branch losses
    (negative), so that the columns sum to zero by the power balance.
    """

    names: list
    owner: dict
    upstream: int
    losses: int
    upstream_area: str | None

    def rows(self, p_mw: dict, energised: dict, ext_grid_mw, losses_mw) -> np.ndarray:
        """Participant outputs [MW] from element powers (pandapower signs), per row.

        ``p_mw[table]`` and ``energised[table]`` are ``(n,)`` for one state
        or ``(n_steps, n)``; ``ext_grid_mw`` and ``losses_mw`` are the total
        ext_grid supply and branch losses, scalars or ``(n_steps,)``.
        """
        from hierarchy.plant.plant import INJECTION_TABLES

        out = 0.0
        for table, owner in self.owner.items():
            injection = INJECTION_TABLES[table] * p_mw[table] * energised[table]
            injection = np.where(np.isnan(injection), 0.0, injection)
            out = out + injection @ self._one_hot(table, owner)
        out = out[..., 1:] if np.ndim(out) else np.zeros(len(self.names))
        out[..., self.upstream] += ext_grid_mw
        out[..., self.losses] -= np.where(np.isnan(losses_mw), 0.0, losses_mw)
        return out

    def _one_hot(self, table: str, owner: np.ndarray) -> np.ndarray:
        """``(n, 1 + n_participants)``: 1 at each element's column (column 0: nobody)."""
        cache = self.__dict__.setdefault("_one_hot_cache", {})
        if table not in cache:
            matrix = np.zeros((owner.size, len(self.names) + 1))
            matrix[np.arange(owner.size), owner + 1] = 1.0
            cache[table] = matrix
        return cache[table]

    def area_of(self, participant: str) -> str | None:
        """Area whose price a participant settles at (the ext_grid's for upstream and losses)."""
        return participant.split("/", 1)[0] if "/" in participant else self.upstream_area


def _balance_rows(p_mw: dict, load_p_mw: np.ndarray, shed_mw: np.ndarray | None, energised: dict,
                  gen_slack_mw, ext_grid_mw, losses_mw, curtailed_mw) -> np.ndarray:
    """The :data:`SYSTEM_COLUMNS` [MW] of one state (arrays ``(n,)``) or of
    several (``(n_steps, n)``; scalars become ``(n_steps,)``).

    ``p_mw`` per injection table as the plant sets it (pandapower signs),
    ``load_p_mw`` the consumption as solved (load damping and shedding in),
    ``shed_mw`` the demand disconnected by load shedding (or None).
    """
    def total(x):
        return np.sum(x, axis=-1)

    load = total(load_p_mw * energised["load"])
    not_served = total(p_mw["load"] * (1.0 - energised["load"]))
    if shed_mw is not None:
        not_served = not_served + total(shed_mw * energised["load"])
    generation = total(p_mw["sgen"] * energised["sgen"]) + total(p_mw["gen"] * energised["gen"])
    generation = generation + gen_slack_mw  # distributed slack shares
    storage = total(p_mw["storage"] * energised["storage"])
    columns = [load, generation, storage, np.maximum(ext_grid_mw, 0.0),
               np.maximum(-np.asarray(ext_grid_mw), 0.0), losses_mw,
               np.maximum(curtailed_mw, 0.0), not_served]
    return np.stack(np.broadcast_arrays(*columns), axis=-1).astype(float)


def _meter_plan(rt, area_ids: list) -> _MeterPlan:
    """Participants named as the areas name them in their orders (area_control.aggregation)."""
    from area_control.aggregation import (
        LOAD,
        OTHER_GENERATION,
        OTHER_STORAGE,
        unit_participant,
    )

    names: list = []
    column: dict = {}

    def col(name: str) -> int:
        if name not in column:
            column[name] = len(names)
            names.append(name)
        return column[name]

    plant = rt.plant
    owner = {t: np.full(len(plant.net[t]), -1, dtype=int) for t in plant.tables}
    for g in rt.groups:
        if g.table not in owner:
            continue
        for a, rows in g.by_area.items():
            for r in rows:
                owner[g.table][g.positions[r]] = col(unit_participant(area_ids[a], g.id, g.kind, g.unit_ids[r]))
    rest = {"load": LOAD, "sgen": OTHER_GENERATION, "gen": OTHER_GENERATION, "storage": OTHER_STORAGE}
    for area in area_ids:
        col(f"{area}/{LOAD}")
        col(f"{area}/{OTHER_GENERATION}")
    for table, own in owner.items():
        free = np.flatnonzero(own < 0)
        if free.size:
            areas = rt.area_of_bus[plant.element_bus_positions(table, free)]
            own[free] = [col(f"{area_ids[a]}/{rest[table]}") for a in areas]
    ext = rt.export_matrices["ext_grid"]
    upstream_area = area_ids[int(np.argmax(ext[:, 0]))] if ext.size else None
    return _MeterPlan(names, owner, col("upstream"), col("losses"), upstream_area)


def _with_redispatch(row: dict, payments: dict) -> dict:
    """A settlement row with the redispatch payments added to the participants and paid
    by the ``redispatch_account`` (:func:`market_control.service_levels.redispatch_payments`)."""
    row = dict(row)
    for name, amount in payments.items():
        row[name] = row.get(name, 0.0) + amount
    row["redispatch_account"] = -math.fsum(payments.values())
    row["residual"] = math.fsum(value for key, value in row.items() if key != "residual")
    return row


def _area_prices(price, names, area_of: dict) -> dict[str, float]:
    """Participant -> the price of its area [per MWh], from one price or area -> price."""
    if not isinstance(price, dict):
        return {n: float(price) for n in names}
    system = float(np.mean(list(price.values()))) if price else np.nan
    return {n: float(price.get(area_of[n], system)) for n in names}


def _nansum(values: np.ndarray) -> float:
    """``np.nansum`` as a float; a plain sum where nothing is NaN (the common case, faster)."""
    total = float(values.sum())
    return float(np.nansum(values)) if math.isnan(total) else total
