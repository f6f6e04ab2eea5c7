"""Key figures of a run (``summary.json``), from the recorder's arrays.

Energies integrate each physics step's power over the step (the state of a
step holds until the next one) [MWh]. Voltage violations count bus-hours
outside the band ``outputs.voltage_band`` (default 0.95–1.05 pu, EN 50160's
±5 % planning band for MV) and overloads line-hours above 100 % loading.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from hierarchy.outputs.frequency_metrics import Disturbance, area_figures
from hierarchy.sim.recorder import SYSTEM_COLUMNS

__all__ = ["summarize"]


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _nanmin(a: np.ndarray) -> float | None:
    return _finite(np.nanmin(a)) if a.size and np.isfinite(a).any() else None


def _nanmax(a: np.ndarray) -> float | None:
    return _finite(np.nanmax(a)) if a.size and np.isfinite(a).any() else None


def summarize(rt, wall_s: float, complete: bool, v_band_pu=(0.95, 1.05)) -> dict[str, Any]:
    """The summary of a run (DESIGN.md "Outputs (v1 contract)").

    Parameters
    ----------
    rt : Runtime
        The run, after the engine stopped.
    wall_s : float
        Wall-clock duration [s].
    complete : bool
        False if the run was interrupted or failed before its end.
    """
    rec = rt.recorder
    n = rec.steps_done
    step_h = rt.step_ms / 3_600_000
    arrays = {k: v[:n] for k, v in rec.arrays.items()}
    balance = dict(zip(SYSTEM_COLUMNS, arrays["system_balance_mw"].T)) if n else {}

    def energy(column: str) -> float:
        return float(np.sum(balance[column]) * step_h) if n else 0.0

    vm = arrays["bus_vm_pu"]
    lo, hi = v_band_pu
    outside = np.isfinite(vm) & ((vm < lo) | (vm > hi))
    loading = arrays["line_loading_percent"]
    summary: dict[str, Any] = {
        "name": rt.scenario.name,
        "complete": complete,
        "steps": n,
        "runtime": {"wall_s": wall_s, "steps_per_s": n / wall_s if wall_s > 0 else None,
                    "open_loop": rec.open_loop},
        "energy": {
            "load_mwh": energy("load_mw"), "not_served_mwh": energy("not_served_mw"),
            "generation_mwh": energy("generation_mw"), "curtailed_mwh": energy("curtailed_mw"),
            "losses_mwh": energy("losses_mw"), "import_mwh": energy("import_mw"),
            "export_mwh": energy("export_mw"), "storage_charge_mwh": energy("storage_charge_mw"),
        },
        "voltage": {"min_pu": _nanmin(vm), "max_pu": _nanmax(vm),
                    "violation_bus_hours": float(outside.sum() * step_h),
                    "band_pu": [lo, hi]},
        "lines": {"max_loading_percent": _nanmax(loading),
                  "overload_line_hours": float((np.nan_to_num(loading) > 100.0).sum() * step_h)},
        "areas": _areas(rt, arrays, step_h),
        "market": _market(rt),
        "control": {
            "nonconverged_steps": len(rec.nonconverged_control_steps),
            "messages_sent": sum(link.stats.sent for link in rt.links.values()),
            "messages_lost": sum(link.stats.lost for link in rt.links.values()),
            "late_orders": rec.late_orders,
        },
        "powerflow": {"nonconverged_steps": len(rec.nonconverged_pf_steps),
                      "fallbacks": int(getattr(rt.plant.powerflow, "n_fallbacks", 0)),
                      "solves": int(getattr(rt.plant.powerflow, "n_solves", 0))},
        "frequency": {"rocof_window_s": rt.scenario.frequency.rocof_window / 1000.0,
                      "settling_band_hz": rt.scenario.frequency.settling_band_hz,
                      "samples": int(rec.frequency_trajectory()[0].size)},
        "events": len(rec.events),
        "added": {entry.name: dict(zip(entry.elements, entry.buses))
                  for entry in getattr(rt, "added", ())},
    }
    return summary


def _areas(rt, arrays, step_h: float) -> dict[str, Any]:
    out = {}
    time_ms, f_hz = rt.recorder.frequency_trajectory()
    time_s = time_ms / 1000.0
    config = rt.scenario.frequency
    disturbances = _disturbances(rt)
    for a, area in enumerate(rt.areas):
        figures = area_figures(time_s, f_hz[:, a], config.rocof_window / 1000.0,
                               config.settling_band_hz, disturbances)
        export = arrays["area_net_export_mw"][:, a]
        schedule = arrays["area_schedule_mw"][:, a]
        tracked = np.isfinite(schedule) & np.isfinite(export)
        out[area.id] = {
            "frequency_min_hz": figures["min_hz"], "frequency_max_hz": figures["max_hz"],
            "frequency_final_hz": figures["final_hz"],
            **_frequency_times(rt, figures),
            "net_export_final_mw": _finite(export[-1]) if export.size else None,
            "schedule_deviation_mwh": float(np.sum(np.abs(export[tracked] - schedule[tracked])) * step_h),
            "scheduled_steps": int(tracked.sum()),
        }
    return out


def _frequency_times(rt, figures: dict) -> dict[str, Any]:
    """The whole-run frequency keys beyond min, max and final (``frequency_nadir_s`` ...)."""
    start = np.datetime64(rt.scenario.time.start, "ms")

    def clock(seconds: float | None) -> str | None:
        if seconds is None:
            return None
        return str(start + np.timedelta64(round(seconds * 1000), "ms")).replace("T", " ")

    def ms(seconds: float | None) -> float | None:  # times to the millisecond, no -0.0
        return None if seconds is None else round(seconds, 3) + 0.0

    disturbances = [{key: ms(value) if key.endswith("_s") and not key.endswith("_per_s") else value
                     for key, value in d.items()}
                    | {"time": clock(d["at_s"])} for d in figures["disturbances"]]
    rocof = figures["rocof_max_hz_per_s"]
    return {"frequency_nadir_s": ms(figures["nadir_s"]),
            "frequency_nadir_time": clock(figures["nadir_s"]),
            "frequency_zenith_s": ms(figures["zenith_s"]),
            "frequency_zenith_time": clock(figures["zenith_s"]),
            "frequency_rocof_max_hz_per_s": None if rocof is None else rocof + 0.0,
            "frequency_rocof_max_s": ms(figures["rocof_max_s"]),
            "frequency_disturbances": disturbances}


def _disturbances(rt) -> list[Disturbance]:
    """The scenario's events that change the grid, those at one time taken together."""
    grouped: dict[int, list[str]] = {}
    for event in rt.scenario.events:
        if event.kind == "comm_outage":
            continue
        what = " ".join(part for part in (event.kind, getattr(event, "target", ""),
                                          rt.describe_event(event)) if part)
        grouped.setdefault(int(event.at), []).append(what)
    return [Disturbance(at_ms / 1000.0, "; ".join(whats)) for at_ms, whats in sorted(grouped.items())
            if at_ms < rt.recorder.steps_done * rt.step_ms]


def _market(rt) -> dict[str, Any]:
    m = rt.recorder.market
    interval_h = rt.interval_ms / 3_600_000
    prices = [np.mean(list(p.values())) for p in m.prices]
    reserve_short = np.array([row.get("reserve_shortfall_mw", 0.0) for row in m.reliability], dtype=float)
    by_area: dict[str, list[float]] = {}
    for row in m.prices:
        for column, price in row.items():
            by_area.setdefault(column, []).append(price)
    return {
        "intervals": len(m.starts_ms),
        "mean_price": _finite(np.mean(prices)) if prices else None,
        "mean_price_by_area": {k: _finite(np.mean(v)) for k, v in by_area.items()},
        "cleared_mwh": float(np.sum(m.cleared_mw) * interval_h),
        "shortfall_mwh": float(np.sum(m.shortfall_mw) * interval_h),
        "reserve_shortfall_mwh": float(reserve_short.sum() * interval_h),
        "reserve_shortfall_intervals": int(np.count_nonzero(reserve_short > 1e-9)),
        "late_orders": int(rt.recorder.late_orders),
        "settlement": _settlement(rt, interval_h),
    }


def _settlement(rt, interval_h: float) -> dict[str, Any]:
    """Money over the settled intervals [currency], received positive (see recorder.settlement)."""
    tables = rt.recorder.settlement(rt.scenario.time.start)
    money, metered = tables["market_settlement"], tables["market_metered_mw"]
    accounts = ["energy_account", "imbalance_account", "residual"]
    participants = [c for c in money.columns if c not in accounts]
    awards = {start: award for start, award in zip(rt.recorder.market.starts_ms, rt.recorder.market.awards)}
    start = np.datetime64(rt.scenario.time.start, "ms")
    # awards aligned with the metered table: one row per settled interval
    starts_ms = (metered.index.to_numpy().astype("datetime64[ms]") - start).astype(np.int64)
    awarded = np.array([[awards[int(t)].get(name, 0.0) for name in metered.columns] for t in starts_ms],
                       dtype=float).reshape(metered.shape)
    deviation_mwh = float(np.sum(np.abs(metered.to_numpy(dtype=float) - awarded))) * interval_h
    return {
        "intervals": len(money),
        "energy_account": float(money["energy_account"].sum()) if len(money) else 0.0,
        "imbalance_account": float(money["imbalance_account"].sum()) if len(money) else 0.0,
        "imbalance_abs_mwh": float(deviation_mwh),
        "max_abs_residual": float(money["residual"].abs().max()) if len(money) else 0.0,
        "participants": {name: float(money[name].sum()) for name in participants},
    }
