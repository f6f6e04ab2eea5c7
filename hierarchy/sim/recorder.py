"""The recorder: every physics step into preallocated arrays, tables at the end.

No DataFrame is built per step; :meth:`Recorder.frames` turns the arrays
into the wide timeseries tables of the output contract once, and only the
rows of completed steps (an interrupted run keeps what it computed).

What the system balance and the participants' metering are made of is
:mod:`hierarchy.sim.metering`; the market's clearings and settlement are
recorded in :mod:`hierarchy.sim.market_records` (``recorder.market``), the
market stages' in :mod:`hierarchy.sim.stage_records` (``recorder.stages``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from hierarchy.sim.market_records import MarketRecords
from hierarchy.sim.metering import SYSTEM_COLUMNS, balance_rows, meter_plan
from hierarchy.sim.stage_records import StageRecords

__all__ = ["Recorder"]

#: steps whose balance and metering are computed together (:meth:`Recorder._flush`)
_FLUSH_STEPS = 512


class Recorder:
    """Preallocated result arrays of one run.

    Parameters
    ----------
    rt : Runtime
        The wired run (sizes and names are taken from it).
    """

    def __init__(self, rt):
        n = rt.n_steps
        self.n_steps = n
        self.steps_done = 0
        self.area_ids = [a.id for a in rt.areas]
        self.bus_names = [f"bus/{b}" for b in rt.plant.net.bus.index]
        self.line_names = [f"line/{b}" for b in rt.plant.net.line.index]
        self.trafo_names = [f"trafo/{b}" for b in rt.plant.net.trafo.index]
        self.unit_names = [u for g in rt.groups for u in g.unit_ids]
        self.storage_groups = [g for g in rt.groups if g.kind == "storage"]
        self.battery_names = [u for g in self.storage_groups for u in g.unit_ids]
        #: the participants' metering (:mod:`hierarchy.sim.metering`), the security check's too
        self.meter = meter_plan(rt, self.area_ids)
        self._arrays = self._allocate(n, len(rt.plant.powerflow.vm_pu))
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
        self._plant = rt.plant
        #: per recorded step, what the balance and metering columns are made of
        #: (:meth:`_flush` computes them block-wise)
        self._pending: list[tuple] = []
        #: demand not served, sparse: (steps, load positions, MW) of every (step, load) with some,
        #: from de-energised buses and load shedding (per block) and flexible loads shed by their
        #: area (per step); the reliability indices (hierarchy.outputs.reliability) read it
        self.not_served: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        #: day-ahead slots, trades and forecast issue times (hierarchy.sim.market_stages)
        self.stages = StageRecords(rt.interval_ms)
        #: clearings, retail prices, the security check and the settlement
        self.market = MarketRecords(self.area_ids, rt.interval_ms, rt.step_ms,
                                    float(rt.scenario.market.imbalance_penalty),
                                    bool(rt.stages is not None and rt.stages.continuous),
                                    self.meter, self.stages)
        #: the forecast service (set by the builder with a market): market_forecast_mw
        self.forecast = None

    def _allocate(self, n: int, n_bus: int) -> dict[str, np.ndarray]:
        """The tables written per step, ``n`` rows of NaN each."""
        na = len(self.area_ids)
        widths = {
            "bus_vm_pu": n_bus, "line_loading_percent": len(self.line_names),
            "trafo_loading_percent": len(self.trafo_names), "unit_p_mw": len(self.unit_names),
            "unit_q_mvar": len(self.unit_names), "battery_soc": len(self.battery_names),
            "area_frequency_hz": na, "area_net_export_mw": na, "area_schedule_mw": na,
            "area_ace_mw": na, "system_balance_mw": len(SYSTEM_COLUMNS),
            "participant_p_mw": len(self.meter.names),
        }
        return {name: np.full((n, width), np.nan) for name, width in widths.items()}

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
        a["area_net_export_mw"][k] = rt.meters.net_export_mw()
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
        what is energised); arguments as :func:`~hierarchy.sim.metering.balance_rows`, one row per step."""
        vm = self._arrays["bus_vm_pu"][steps]
        energised = {t: np.isfinite(vm[:, self._plant.element_positions(t)]).astype(float)
                     for t in p_mw}
        balance = balance_rows(p_mw, load_p_mw, shed_mw, energised, gen_slack, ext, losses,
                                curtailed)
        balance[:, SYSTEM_COLUMNS.index("not_served_mw")] += shed_flexible
        self._keep_not_served(steps, p_mw["load"], shed_mw, energised["load"])
        self._arrays["system_balance_mw"][steps] = balance
        self._arrays["participant_p_mw"][steps] = self.meter.rows(p_mw, energised, ext, losses)

    def _keep_not_served(self, steps, load_mw: np.ndarray, shed_mw, energised: np.ndarray) -> None:
        """Keep the (step, load) pairs with demand not served, as :func:`~hierarchy.sim.metering.balance_rows` counts it."""
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
        a["area_net_export_mw"][rows] = rt.meters.net_export_rows(flows)
        a["area_ace_mw"][rows] = [area.ace_mw for area in rt.areas]
        self._write_balance(rows, p_mw, load_p_mw, None, np.nansum(flows["gen_slack_p_mw"], axis=1),
                            np.nansum(flows["ext_grid_p_mw"], axis=1), flows["losses_mw"], 0.0)
        for k in np.flatnonzero(~flows["converged"]):
            self.nonconverged_powerflow(k0 + int(k), time_ms=(k0 + int(k)) * self._step_ms)
        self.steps_done = k1

    # ------------------------------------------------------------- others
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
        frames.update(self.market.frames(start, self._metered if settlement else None))
        frames.update(self.stages.frames(start, self.market.starts_ms, self.forecast))
        return frames

    def settlement(self, start) -> dict[str, pd.DataFrame]:
        """``market_metered_mw`` and ``market_settlement`` of every complete interval
        (:meth:`~hierarchy.sim.market_records.MarketRecords.settlement`)."""
        return self.market.settlement(start, self._metered)

    def _metered(self) -> tuple[np.ndarray, int]:
        """The participants' metered output per step [MW] and the number of steps done."""
        return self.arrays["participant_p_mw"], self.steps_done

    def events_frame(self, start) -> pd.DataFrame:
        times = [pd.Timestamp(start) + pd.Timedelta(milliseconds=t) for t, *_ in self.events]
        return pd.DataFrame({
            "time": pd.DatetimeIndex(times) if times else pd.DatetimeIndex([]),
            "kind": [e[1] for e in self.events], "target": [e[2] for e in self.events],
            "detail": [e[3] for e in self.events],
        })


def _nansum(values: np.ndarray) -> float:
    """``np.nansum`` as a float; a plain sum where nothing is NaN (the common case, faster)."""
    total = float(values.sum())
    return float(np.nansum(values)) if math.isnan(total) else total
