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

from hierarchy.outputs.reliability import reliability_summary
from hierarchy.outputs.frequency_metrics import Disturbance, area_figures
from hierarchy.sim.metering import SYSTEM_COLUMNS

__all__ = ["summarize", "violation_bus_hours", "schedule_deviation_mwh"]


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _nanmin(a: np.ndarray) -> float | None:
    return _finite(np.nanmin(a)) if a.size and np.isfinite(a).any() else None


def _nanmax(a: np.ndarray) -> float | None:
    return _finite(np.nanmax(a)) if a.size and np.isfinite(a).any() else None


def violation_bus_hours(vm_pu: np.ndarray, v_band_pu, step_h: float) -> float:
    """Bus-hours outside the band [h]: steps × buses with a voltage outside, times the step.

    Parameters
    ----------
    vm_pu : ndarray
        ``(steps, buses)`` voltage magnitudes [pu]; NaN (de-energised) is not counted.
    v_band_pu : (float, float)
        Lowest and highest voltage inside the band [pu].
    step_h : float
        Length of a step [h].
    """
    lo, hi = v_band_pu
    outside = np.isfinite(vm_pu) & ((vm_pu < lo) | (vm_pu > hi))
    return float(outside.sum() * step_h)


def schedule_deviation_mwh(export_mw: np.ndarray, schedule_mw: np.ndarray, step_h: float) -> float:
    """Energy by which an area's net export missed its schedule [MWh]: ``Σ |P − P_sched|·Δt``
    over the steps that have both (NaN where no award has come yet)."""
    tracked = np.isfinite(schedule_mw) & np.isfinite(export_mw)
    return float(np.sum(np.abs(export_mw[tracked] - schedule_mw[tracked])) * step_h)


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
                    "violation_bus_hours": violation_bus_hours(vm, v_band_pu, step_h),
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
        "reliability": reliability_summary(rt),
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
            "schedule_deviation_mwh": schedule_deviation_mwh(export, schedule, step_h),
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
        "security": _security(rt, interval_h),
        **_stages(rt, interval_h),
    }


def _settlement(rt, interval_h: float) -> dict[str, Any]:
    """Money over the settled intervals [currency], received positive (see recorder.settlement)."""
    tables = rt.recorder.settlement(rt.scenario.time.start)
    money, metered = tables["market_settlement"], tables["market_metered_mw"]
    accounts = ["energy_account", "imbalance_account", "residual", "redispatch_account"]
    participants = [c for c in money.columns if c not in accounts]
    awarded = _awarded(rt, metered)
    deviation_mwh = float(np.sum(np.abs(metered.to_numpy(dtype=float) - awarded))) * interval_h
    out = {
        "intervals": len(money),
        "energy_account": float(money["energy_account"].sum()) if len(money) else 0.0,
        "redispatch_account": (float(money["redispatch_account"].sum())
                               if "redispatch_account" in money else 0.0),
        "imbalance_account": float(money["imbalance_account"].sum()) if len(money) else 0.0,
        "imbalance_abs_mwh": float(deviation_mwh),
        "max_abs_residual": float(money["residual"].abs().max()) if len(money) else 0.0,
        "participants": {name: float(money[name].sum()) for name in participants
                         if name != "day_ahead_account"},
    }
    if "day_ahead_account" in money:
        out["day_ahead_account"] = float(money["day_ahead_account"].sum())
    return out


def _awarded(rt, metered) -> np.ndarray:
    """The awards aligned with the metered table [MW]: a row per settled interval."""
    awards = {start: award for start, award in zip(rt.recorder.market.starts_ms, rt.recorder.market.awards)}
    start = np.datetime64(rt.scenario.time.start, "ms")
    starts_ms = (metered.index.to_numpy().astype("datetime64[ms]") - start).astype(np.int64)
    return np.array([[awards[int(t)].get(name, 0.0) for name in metered.columns] for t in starts_ms],
                    dtype=float).reshape(metered.shape)


def _stages(rt, interval_h: float) -> dict[str, Any]:
    """Forecast errors, balancing energy, the day-ahead stage and continuous trading."""
    rec = rt.recorder
    if rec.forecast is None:
        return {}
    start = rt.scenario.time.start
    out: dict[str, Any] = {
        "forecast": _forecast_errors(rec.stages.forecast_frame(start, rec.forecast, "real_time",
                                                               rec.market.starts_ms),
                                     interval_h, rt.scenario.forecast),
        "balancing": _balancing(rt, interval_h),
    }
    slots = rec.stages.slots
    if slots:
        slot_h = slots[0].length_ms / 3_600_000
        prices = [np.mean(list(r.price.values())) if isinstance(r.price, dict) else r.price for r in slots]
        out["day_ahead"] = {
            "slots": len(slots), "mean_price": _finite(np.mean(prices)),
            "cleared_mwh": float(sum(r.quantity_mw for r in slots) * slot_h),
            "shortfall_mwh": float(sum(r.shortfall_mw for r in slots) * slot_h),
            "forecast": _forecast_errors(rec.stages.forecast_frame(
                start, rec.forecast, "day_ahead", [r.start_ms for r in slots]), slot_h, rt.scenario.forecast),
        }
    if rec.market.continuous:
        trades = rec.stages.trades
        volume_mw = float(sum(t.quantity_mw for t in trades))
        out["continuous"] = {
            "trades": len(trades), "traded_mwh": volume_mw * interval_h,
            "mean_trade_price": _finite(sum(t.quantity_mw * t.price for t in trades) / volume_mw)
            if volume_mw > 0 else None,
        }
    return out


def _forecast_errors(frame, interval_h: float, config) -> dict[str, Any]:
    """Per profile kind: method, bias and absolute error of the whole grid's forecast."""
    out = {}
    for kind in ("load", "pv", "wind"):
        error = (frame[kind] - frame[f"{kind}_actual"]).to_numpy(float) if frame is not None and len(frame) \
            else np.zeros(0)
        out[kind] = {"method": getattr(config, kind).method,
                     "error_mwh": float(error.sum() * interval_h),
                     "abs_error_mwh": float(np.abs(error).sum() * interval_h),
                     "mae_mw": float(np.abs(error).mean()) if error.size else 0.0}
    return out


def _balancing(rt, interval_h: float) -> dict[str, float]:
    """Balancing energy [MWh]: the net deviation of the areas' participants from their
    awards (upstream grid and losses left out), upward where they fell short."""
    metered = rt.recorder.settlement(rt.scenario.time.start)["market_metered_mw"]
    if not len(metered):
        return {"energy_mwh": 0.0, "up_mwh": 0.0, "down_mwh": 0.0}
    keep = [k for k, name in enumerate(metered.columns) if name not in ("upstream", "losses")]
    deviation_mw = (metered.to_numpy(float) - _awarded(rt, metered))[:, keep].sum(axis=1)
    return {"energy_mwh": float(np.abs(deviation_mw).sum() * interval_h),
            "up_mwh": float(np.maximum(-deviation_mw, 0.0).sum() * interval_h),
            "down_mwh": float(np.maximum(deviation_mw, 0.0).sum() * interval_h)}


def _security(rt, interval_h: float) -> dict[str, Any]:
    """The market's security check over the run (``market.security``; zeros when off)."""
    rows = list(rt.recorder.market.security.values())
    security = getattr(rt, "security", None)

    def total(key: str) -> float:
        return float(sum(row.get(key, 0.0) for row in rows))

    return {
        "enabled": security is not None,
        "intervals_checked": len(rows),
        "intervals_violated": sum(1 for row in rows if row.get("security_violations", 0) > 0),
        "intervals_redispatched": sum(1 for row in rows if row.get("redispatch_mw", 0) > 0),
        "intervals_unresolved": sum(1 for row in rows if row.get("security_unresolved", 0) > 0),
        "redispatch_mwh": total("redispatch_mw") * interval_h,
        "redispatch_cost": total("redispatch_cost"),
        "curtailed_load_mwh": total("curtailed_load_mw") * interval_h,
        "contract_interruptions": (sum(security.ledger.total.values()) if security is not None else 0),
    }
