"""Reliability indices of a run, per area and per customer class (``summary.json`` ``reliability``).

Customers: each load element (a row of the pandapower ``load`` table) is
one customer, of its area (by its bus) and of its customer class (the
``customer_class`` of the flexible-load group it belongs to, else
``default``). A SimBench MV load stands for a whole LV grid, so the
indices count supply points rather than households; pandapower and
SimBench carry no customer counts to weigh them by.

A customer is interrupted during a physics step when its bus is
de-energised or some of its demand is not served (load shedding by
under-frequency relays, or a flexible load capped by its area, e.g. on the
market's security check); steps whose power flow failed are not counted.
An interruption is a run of consecutive interrupted steps; it is
*sustained* when it lasts longer than 5 min, else *momentary* (IEEE Std
1366-2012). With ``N`` customers and ``T`` the run's length:

* SAIFI = Σ sustained interruptions / N;
* SAIDI = Σ durations of sustained interruptions / N [h];
* CAIDI = SAIDI / SAIFI [h] (None without interruptions);
* ASAI = 1 − SAIDI / T;
* MAIFI = Σ momentary interruptions / N

(IEEE Std 1366-2012, *Guide for Electric Power Distribution Reliability
Indices*; R. Billinton, R. N. Allan, *Reliability Evaluation of Power
Systems*, 2nd ed., Plenum, 1996, ch. 7). Energy not served is the
demand not served integrated over the steps [MWh] (the same as
``energy.not_served_mwh``, split by area); loss-of-load hours the hours in
which any of the area's demand went unserved (Billinton & Allan, ch. 2,
the LOLE of a chronological simulation); reserve shortfall hours the hours of
market intervals whose upward reserve fell short of the requirement
(system-wide: the market holds one reserve).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["reliability_summary", "interruptions", "MOMENTARY_MS"]

#: an interruption up to this long is momentary (IEEE 1366) [ms]
MOMENTARY_MS = 300_000
#: demand not served below this does not interrupt a customer [MW]
_TOL_MW = 1e-6


def interruptions(interrupted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs of interrupted steps of every customer.

    Parameters
    ----------
    interrupted : ndarray of bool
        ``(n_steps, n_customers)``.

    Returns
    -------
    (customer, first_step, n_steps) : ndarrays of int
        One entry per interruption, by customer then time.

    Examples
    --------
    >>> customer, first, length = interruptions(np.array([[1, 0], [1, 1], [0, 0], [1, 1]], bool))
    >>> customer.tolist(), first.tolist(), length.tolist()
    ([0, 0, 1, 1], [0, 3, 1, 3], [2, 1, 1, 1])
    """
    flags = np.asarray(interrupted, dtype=np.int8).T  # (customers, steps)
    padded = np.pad(flags, ((0, 0), (1, 1)))
    change = np.diff(padded, axis=1)
    customer, first = np.nonzero(change == 1)
    _, stop = np.nonzero(change == -1)
    return customer, first, stop - first


def _indices(customers: np.ndarray, counts, n_steps: int, step_ms: int, ens_mwh: float,
             lol_hours: float) -> dict[str, Any]:
    """The indices of one group of customers (``customers`` their positions) from the runs."""
    customer, _, length = counts
    n = int(customers.size)
    mine = np.isin(customer, customers)
    duration_h = length[mine] * step_ms / 3_600_000
    sustained = length[mine] * step_ms > MOMENTARY_MS
    saifi = float(np.sum(sustained)) / n if n else 0.0
    saidi = float(np.sum(duration_h[sustained])) / n if n else 0.0
    hours = n_steps * step_ms / 3_600_000
    return {
        "customers": n, "interruptions": int(np.sum(sustained)),
        "momentary_interruptions": int(np.sum(~sustained)),
        "saifi": saifi, "saidi_h": saidi, "caidi_h": saidi / saifi if saifi > 0 else None,
        "asai": 1.0 - saidi / hours if hours > 0 else None,
        "maifi": float(np.sum(~sustained)) / n if n else 0.0,
        "energy_not_served_mwh": ens_mwh, "loss_of_load_hours": lol_hours,
    }


def reliability_summary(rt) -> dict[str, Any]:
    """The ``reliability`` section of the summary (module docstring)."""
    rec = rt.recorder
    n, step_ms = rec.steps_done, rt.step_ms
    step_h = step_ms / 3_600_000
    n_load = len(rt.plant.net.load)
    load_area = rt.area_of_bus[rt.plant.element_positions("load")] if n_load else np.zeros(0, int)
    load_class = np.array(["default"] * n_load, dtype=object)
    for g in rt.groups:
        if g.kind == "flexible_load" and g.table == "load":
            load_class[g.positions] = rt.customer_class.get(g.id, "default")
    vm = rec.arrays["bus_vm_pu"][:n][:, rt.plant.element_positions("load")] if n_load else np.zeros((n, 0))
    interrupted = ~np.isfinite(vm)
    failed = [k for k in rec.nonconverged_pf_steps if k < n]
    ens_load = np.zeros(n_load)
    area_steps: dict[int, set] = {}
    for steps, loads, mw in rec.not_served:
        keep = steps < n
        steps, loads, mw = steps[keep], loads[keep], mw[keep]
        np.add.at(ens_load, loads, mw * step_h)
        hit = mw > _TOL_MW
        interrupted[steps[hit], loads[hit]] = True
        for a in np.unique(load_area[loads[hit]]):
            area_steps.setdefault(int(a), set()).update(steps[hit][load_area[loads[hit]] == a].tolist())
    interrupted[failed] = False
    runs = interruptions(interrupted)
    everyone = np.arange(n_load)
    all_steps = set().union(*area_steps.values()) if area_steps else set()
    out: dict[str, Any] = {
        "customer": "load element",
        **_indices(everyone, runs, n, step_ms, float(ens_load.sum()), len(all_steps) * step_h),
        "reserve_shortfall_hours": _reserve_shortfall_hours(rt),
        "by_area": {}, "by_class": {},
    }
    for a, area in enumerate(rt.areas):
        mine = np.flatnonzero(load_area == a)
        out["by_area"][area.id] = _indices(mine, runs, n, step_ms, float(ens_load[mine].sum()),
                                           len(area_steps.get(a, ())) * step_h)
    for cls in sorted(set(load_class.tolist())):
        mine = np.flatnonzero(load_class == cls)
        hours = len({int(k) for steps, loads, mw in rec.not_served
                     for k in steps[np.isin(loads, mine) & (mw > _TOL_MW) & (steps < n)]}) * step_h
        out["by_class"][cls] = _indices(mine, runs, n, step_ms, float(ens_load[mine].sum()), hours)
    return out


def _reserve_shortfall_hours(rt) -> float:
    """Hours of market intervals whose upward reserve fell short of the requirement."""
    rows = rt.recorder.market.reliability
    short = sum(1 for row in rows if row.get("reserve_shortfall_mw", 0.0) > 1e-9)
    return short * rt.interval_ms / 3_600_000 if not math.isnan(rt.interval_ms) else 0.0
