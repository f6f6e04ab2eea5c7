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

__all__ = ["Recorder"]

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
        self.arrays = {
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
        self.nonconverged_control_steps: list[tuple[int, str]] = []
        self.nonconverged_pf_steps: list[int] = []
        self._unit_cols = {}
        start = 0
        for g in rt.groups:
            self._unit_cols[g.id] = slice(start, start + g.n_units)
            start += g.n_units
        self._renewables = [g for g in rt.groups if g.kind == "renewable"]
        self._interval_ms = rt.interval_ms

    # ------------------------------------------------------------ per step
    def record_step(self, k: int, rt) -> None:
        """Copy the settled state of step ``k`` into the arrays."""
        a, plant, pf = self.arrays, rt.plant, rt.plant.powerflow
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
        a["area_frequency_hz"][k] = rt.f0_hz
        a["area_net_export_mw"][k] = rt.net_export_mw()
        a["area_ace_mw"][k] = [area.ace_mw for area in rt.areas]
        schedule = self.market.schedule.get((k * rt.step_ms // self._interval_ms) * self._interval_ms)
        if schedule is not None:
            a["area_schedule_mw"][k] = schedule
        a["system_balance_mw"][k] = self._balance(rt)
        self.steps_done = k + 1

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

    def _balance(self, rt) -> list[float]:
        plant, pf = rt.plant, rt.plant.powerflow
        energised = {t: self._energised(rt, t) for t in plant.tables}
        load = float(np.sum(plant.tables["load"].p_mw * energised["load"]))
        not_served = float(np.sum(plant.tables["load"].p_mw * (1.0 - energised["load"])))
        generation = sum(float(np.sum(plant.tables[t].p_mw * energised[t])) for t in ("sgen", "gen"))
        storage = float(np.sum(plant.tables["storage"].p_mw * energised["storage"]))
        ext = float(np.nansum(pf.ext_grid_p_mw))
        curtailed = 0.0
        for g in self._renewables:
            curtailed += float(np.sum(plant.available_mw(g.table, g.positions) - g.p_mw))
        return [load, generation, storage, max(ext, 0.0), max(-ext, 0.0), float(pf.losses_mw),
                max(curtailed, 0.0), not_served]

    @staticmethod
    def _energised(rt, table: str) -> np.ndarray:
        plant = rt.plant
        if not len(plant.net[table]):
            return np.zeros(0)
        if not hasattr(plant, "_element_bus_pos"):
            plant._element_bus_pos = {}
        if table not in plant._element_bus_pos:
            plant._element_bus_pos[table] = plant.element_bus_positions(
                table, np.arange(len(plant.net[table])))
        return np.isfinite(plant.vm_pu[plant._element_bus_pos[table]]).astype(float)

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
        schedule = np.zeros(len(self.area_ids))
        for participant, quantity in clearing.awards.items():
            area = participant.split("/", 1)[0]
            if area in self.area_ids:
                schedule[self.area_ids.index(area)] += quantity
        m.schedule[start_ms] = schedule

    def event(self, time_ms: int, kind: str, target: str, detail: str = "") -> None:
        self.events.append((int(time_ms), kind, target, detail))

    def late_order(self, time_ms: int, order) -> None:
        self.late_orders += 1
        self.event(time_ms, "late_order", order.participant,
                   f"for interval at {order.interval_start_ms / 1000:g} s")

    def nonconverged_control(self, k: int, time_ms: int, group_ids) -> None:
        self.nonconverged_control_steps.append((int(time_ms), ",".join(group_ids)))

    def nonconverged_powerflow(self, k: int) -> None:
        self.nonconverged_pf_steps.append(k)

    # -------------------------------------------------------------- tables
    def frames(self, start, step_ms: int) -> dict[str, pd.DataFrame]:
        """The timeseries tables of the output contract (completed steps only)."""
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
        m = self.market
        market_index = pd.DatetimeIndex(
            pd.Timestamp(start) + pd.to_timedelta(np.asarray(m.starts_ms, dtype=np.int64), "ms"),
            name="time")
        frames["market_price"] = pd.DataFrame(m.prices, index=market_index, dtype=float)
        frames["market_award_mw"] = pd.DataFrame(m.awards, index=market_index, dtype=float).fillna(0.0)
        return frames

    def events_frame(self, start) -> pd.DataFrame:
        times = [pd.Timestamp(start) + pd.Timedelta(milliseconds=t) for t, *_ in self.events]
        return pd.DataFrame({
            "time": pd.DatetimeIndex(times) if times else pd.DatetimeIndex([]),
            "kind": [e[1] for e in self.events], "target": [e[2] for e in self.events],
            "detail": [e[3] for e in self.events],
        })
