"""Voltage and congestion support of an area: relieve violations in merit order of cost.

When a bus of the area leaves its voltage band or a line exceeds its
loading limit, the area changes its net injection by a *relief* ``R`` [MW]
(positive: inject less) and spreads it over its flexible units in merit
order of cost (Hirst & Kirby, *Ancillary-service details: voltage control*,
ORNL/CON-453, 1997; the "traffic light" of BDEW, *Smart Grid Traffic Light
Concept*, 2015: network security before the market):

1. free actions: batteries charge (or discharge) toward relieving;
   reactive power would come here too, but no built-in unit policy takes
   reactive setpoints, so there is none;
2. curtailment of renewables that take setpoints (``curtail`` policy),
   cheapest offer first, only to inject less;
3. redispatch of dispatchable units: down, the most expensive first (it
   saves the most fuel); up, the cheapest first.

The area knows only its meter readings (:class:`~hierarchy.messages.AreaMeasurement`:
lowest and highest bus voltage, most loaded line and its flow, net export).
It assumes a radial feeder: power flows through its lines to or from its
connection point, so an overload while the area exports is relieved by
injecting less, and one while it imports by injecting more. The relief it
needs is estimated from two linear models, then corrected at every new
measurement (integral action):

* line: loading ∝ flow, so bringing loading ``L`` [%] to ``L*`` takes
  ``|P_line|·(L − L*)/L`` [MW];
* voltage: along a feeder the rise (or drop) from the connection point
  follows the area's own flow, ``ΔV ≈ R·P/V`` (Kersting, *Distribution
  System Modeling and Analysis*, 2012, ch. 3), estimated as
  ``∂V/∂P ≈ (V_max − V_min)/|P_export|`` [pu/MW].

The support acts from a *target* one margin inside each limit (alarm
threshold, so the limit itself is not reached while the violation grows
slowly) and releases its relief once the area is a second margin further
inside (hysteresis, no chattering).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from area_control.aggregation import share
from hierarchy.messages import AreaMeasurement, UnitGroupInfo, UnitStatus

__all__ = ["SUPPORT_DEFAULTS", "SupportLimits", "relief_step_mw", "Resource", "merit_order",
           "allocate", "GridSupport"]

#: support parameters every built-in coordinator takes (None: that support is off)
SUPPORT_DEFAULTS: Mapping[str, Any] = {
    "voltage_band_pu": None, "max_loading_percent": None,
    "voltage_margin_pu": 0.005, "loading_margin_percent": 5.0,
}
#: fraction of the estimated headroom released per measurement (cautious: the estimates are linear)
RELEASE_GAIN = 0.5
#: a relief change below this is not reported again [MW]
REPORT_TOL_MW = 1e-3
_RANK = {"battery": 0, "curtail": 1, "redispatch": 2}


@dataclass(frozen=True)
class SupportLimits:
    """Voltage band [pu] and loading limit [%] with their margins (NaN: off)."""

    v_min_pu: float = math.nan
    v_max_pu: float = math.nan
    max_loading_percent: float = math.nan
    voltage_margin_pu: float = 0.005
    loading_margin_percent: float = 5.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "SupportLimits | None":
        """Limits from coordinator ``params``; None if both supports are off.

        Raises
        ------
        ValueError
            Naming the parameter, if a value is malformed.
        """
        band, loading = params.get("voltage_band_pu"), params.get("max_loading_percent")
        if band is None and loading is None:
            return None
        v_min = v_max = math.nan
        if band is not None:
            if not isinstance(band, (list, tuple)) or len(band) != 2:
                raise ValueError(f"voltage_band_pu: give [v_min, v_max] in pu, not {band!r}")
            v_min, v_max = float(band[0]), float(band[1])
            if not 0 < v_min < v_max:
                raise ValueError(f"voltage_band_pu: needs 0 < v_min < v_max, not {list(band)}")
        if loading is not None and not float(loading) > 0:
            raise ValueError(f"max_loading_percent: {loading!r} must be > 0")
        margin_v = float(params.get("voltage_margin_pu", 0.005))
        margin_l = float(params.get("loading_margin_percent", 5.0))
        if margin_v < 0 or margin_l < 0 or (band is not None and 4 * margin_v >= v_max - v_min):
            raise ValueError("voltage_margin_pu, loading_margin_percent: must be >= 0 and leave "
                             "room inside the band")
        return cls(v_min, v_max, math.nan if loading is None else float(loading), margin_v, margin_l)


def _line_terms(meas: AreaMeasurement, lim: SupportLimits) -> tuple[float, float]:
    """(need, headroom) of the line limit [MW], in the direction that relieves it."""
    loading, flow = meas.max_loading_percent, abs(meas.max_loading_line_p_mw)
    if not (math.isfinite(lim.max_loading_percent) and math.isfinite(loading) and loading > 0
            and math.isfinite(flow)):
        return 0.0, math.inf
    target = lim.max_loading_percent - lim.loading_margin_percent
    release = target - lim.loading_margin_percent
    need = flow * (loading - target) / loading if loading > target else 0.0
    return need, max(flow * (release - loading) / loading, 0.0)


def _voltage_terms(meas: AreaMeasurement, lim: SupportLimits) -> tuple[float, float, float]:
    """(signed need [MW], headroom up [MW], headroom down [MW]) of the voltage band."""
    v_lo, v_hi = meas.vm_min_pu, meas.vm_max_pu
    if not (math.isfinite(lim.v_max_pu) and math.isfinite(v_lo) and math.isfinite(v_hi)):
        return 0.0, math.inf, math.inf
    m = lim.voltage_margin_pu
    mw_per_pu = abs(meas.net_export_mw) / max(v_hi - v_lo, 1e-3)
    need = 0.0
    if v_hi > lim.v_max_pu - m:
        need = mw_per_pu * (v_hi - (lim.v_max_pu - m))
    elif v_lo < lim.v_min_pu + m:
        need = -mw_per_pu * ((lim.v_min_pu + m) - v_lo)
    up = mw_per_pu * max(lim.v_max_pu - 2 * m - v_hi, 0.0)  # room to inject more
    down = mw_per_pu * max(v_lo - (lim.v_min_pu + 2 * m), 0.0)  # room to inject less
    return need, up, down


def relief_step_mw(meas: AreaMeasurement, lim: SupportLimits, relief_mw: float) -> tuple[float, str]:
    """Change of the relief [MW] after one new measurement, and why.

    Parameters
    ----------
    meas : AreaMeasurement
        The area's latest meter readings.
    lim : SupportLimits
        Limits and margins.
    relief_mw : float
        Relief now [MW] (positive: the area injects that much less).

    Returns
    -------
    (delta_mw, reason)
        ``delta_mw`` > 0 asks the area to inject less; the reason names the
        violated limit (empty when releasing or holding).

    Examples
    --------
    >>> m = AreaMeasurement("a", 5.0, 1.0, 0.0, 50.0, 0, 1.0, "bus/1", 1.02, "bus/9", 110.0, "line/3", 5.5)
    >>> round(relief_step_mw(m, SupportLimits(max_loading_percent=100.0), 0.0)[0], 3)  # 5.5·(110 − 95)/110
    0.75
    """
    direction = 1.0 if meas.net_export_mw >= 0 else -1.0  # radial feeder: export loads the lines
    line_need, line_room = _line_terms(meas, lim)
    v_need, v_up, v_down = _voltage_terms(meas, lim)
    if line_need > 0 or v_need != 0:
        if abs(v_need) > line_need:
            bus = meas.vm_max_bus if v_need > 0 else meas.vm_min_bus
            value = meas.vm_max_pu if v_need > 0 else meas.vm_min_pu
            return v_need, f"{bus} at {value:.4f} pu"
        return direction * line_need, (f"{meas.max_loading_line} at "
                                       f"{meas.max_loading_percent:.1f} %")
    if relief_mw > 0:  # inject more again: raises voltage; loads the lines if exporting
        room = min(v_up, line_room if direction > 0 else math.inf)
        return -min(relief_mw, RELEASE_GAIN * room), ""
    if relief_mw < 0:
        room = min(v_down, line_room if direction < 0 else math.inf)
        return min(-relief_mw, RELEASE_GAIN * room), ""
    return 0.0, ""


@dataclass
class Resource:
    """Units of one group that can change the area's injection.

    ``base_mw`` is what they would do without support, ``low_mw`` and
    ``high_mw`` their reachable range [MW]; ``cost`` orders resources of one
    kind [per MWh].
    """

    group: str
    kind: str  # battery, curtail, redispatch
    rows: np.ndarray
    base_mw: np.ndarray
    low_mw: np.ndarray
    high_mw: np.ndarray
    weights: np.ndarray
    cost: float = 0.0


def merit_order(resources: list[Resource], relief_mw: float) -> list[Resource]:
    """Resources in the order they are used for ``relief_mw`` (see the module doc)."""
    if relief_mw > 0:
        return sorted(resources, key=lambda r: (_RANK[r.kind], -r.cost if r.kind == "redispatch"
                                                else r.cost))
    return sorted((r for r in resources if r.kind != "curtail"), key=lambda r: (_RANK[r.kind], r.cost))


def capacity_mw(resources: list[Resource]) -> tuple[float, float]:
    """(most the area can inject less, most it can inject more) [MW] (both >= 0)."""
    down = sum(float(np.sum(np.maximum(r.base_mw - r.low_mw, 0.0))) for r in resources)
    up = sum(float(np.sum(np.maximum(r.high_mw - r.base_mw, 0.0)))
             for r in resources if r.kind != "curtail")
    return down, up


def allocate(relief_mw: float, resources: list[Resource]) -> list[tuple[Resource, np.ndarray]]:
    """Spread ``relief_mw`` [MW] over the resources in merit order.

    Returns
    -------
    list of (resource, relief per unit [MW])
        In merit order; the units of a resource share by weight within range.

    Examples
    --------
    >>> b = Resource("bat", "battery", np.arange(1), np.zeros(1), -np.ones(1), np.ones(1), np.ones(1))
    >>> c = Resource("pv", "curtail", np.arange(1), np.full(1, 3.0), np.zeros(1), np.full(1, 3.0), np.ones(1))
    >>> [(r.group, a.tolist()) for r, a in allocate(1.5, [c, b])]
    [('bat', [1.0]), ('pv', [0.5])]
    """
    out, left = [], float(relief_mw)
    for res in merit_order(resources, relief_mw):
        room = np.maximum(res.base_mw - res.low_mw, 0.0) if left > 0 else np.maximum(res.high_mw - res.base_mw, 0.0)
        part = share(abs(left), np.zeros_like(room), room, res.weights) if room.sum() > 0 else np.zeros_like(room)
        part = math.copysign(1.0, left) * part
        left -= float(np.sum(part))
        out.append((res, part))
    return out


@dataclass
class GridSupport:
    """The support's state in one coordinator: relief and what it applied.

    The balancing (schedule tracking, AGC) is shown the area as it would be
    without the support's own actions (:meth:`view`), so that it does not
    undo them; the support then moves the balancing's setpoints by its
    relief (:meth:`apply`). The allocation in effect at a measurement is
    the last one sent before it.
    """

    limits: SupportLimits
    relief_mw: float = 0.0
    realized_total_mw: float = 0.0
    reason: str = ""
    last_measured_ms: int = -1
    history: list = field(default_factory=list)  # (sent_ms, {group: (kind, relief, base) per unit})
    reported: dict = field(default_factory=dict)  # group -> last reported relief [MW]

    def _in_effect(self, time_ms: int) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
        applied = [alloc for sent_ms, alloc in self.history if sent_ms < time_ms]
        return applied[-1] if applied else {}

    @staticmethod
    def realized_mw(kind: str, status: UnitStatus, relief: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Relief per unit [MW] the units delivered, at most what was asked.

        Curtailment: available minus output; others: the base they were
        moved from minus their output. A unit that could not follow (a full
        battery) delivered less than asked.
        """
        moved = status.p_max_mw - status.p_mw if kind == "curtail" else base - status.p_mw
        return np.clip(moved, np.minimum(relief, 0.0), np.maximum(relief, 0.0))

    def view(self, state):
        """The area state with the support's own delivered effect taken out of the readings."""
        meas = state.measurement
        if meas is None:
            return state
        units, total = dict(state.units), 0.0
        for group, (kind, relief, base) in self._in_effect(meas.time_ms).items():
            status: UnitStatus | None = units.get(group)
            if status is None or status.p_mw.shape != relief.shape:
                continue
            done = self.realized_mw(kind, status, relief, base)
            total += float(np.sum(done))
            if kind != "curtail":
                units[group] = replace(status, p_mw=status.p_mw + done)
        self.realized_total_mw = total
        return replace(state, units=units,
                       measurement=replace(meas, net_export_mw=meas.net_export_mw + total))

    def resources(self, groups: Mapping[str, UnitGroupInfo], view, p_set: dict) -> list[Resource]:
        """The area's flexible units, their base (balancing setpoint or unsupported output)."""
        found = []
        for info in groups.values():
            status = view.units.get(info.group)
            if status is None or not info.takes_setpoints:
                continue
            kind = {"storage": "battery", "renewable": "curtail", "dispatchable": "redispatch"}.get(info.kind)
            if kind is None:
                continue
            wanted = np.asarray(p_set.get(info.group, np.full(status.p_mw.size, np.nan)), float)
            base = status.p_max_mw if kind == "curtail" else np.where(np.isfinite(wanted), wanted, status.p_mw)
            low = np.zeros_like(base) if kind == "curtail" else status.p_min_mw
            base = np.clip(base, low, np.maximum(status.p_max_mw, low))
            if kind == "redispatch":
                marginal = info.cost_b + 2 * info.cost_c * base
                found += [Resource(info.group, kind, np.array([r]), base[[r]], low[[r]],
                                   status.p_max_mw[[r]], info.rating_mw[[r]], float(marginal[r]))
                          for r in range(base.size)]
            else:
                found.append(Resource(info.group, kind, np.arange(base.size), base, low,
                                      status.p_max_mw, info.rating_mw, info.offer_price))
        return found

    def apply(self, state, view, groups: Mapping[str, UnitGroupInfo], p_set: dict) -> tuple[dict, list[str]]:
        """Update the relief from a new measurement; the setpoints with it and the actions."""
        meas = view.measurement
        if meas is None:
            return p_set, []
        resources = self.resources(groups, view, p_set)
        if meas.time_ms > self.last_measured_ms:  # the measurement shows the relief delivered then
            self.last_measured_ms = meas.time_ms
            delta_mw, reason = relief_step_mw(meas, self.limits, self.realized_total_mw)
            down, up = capacity_mw(resources)
            self.relief_mw = float(np.clip(self.realized_total_mw + delta_mw, -up, down))
            self.reason = reason or self.reason
        setpoints, alloc = dict(p_set), {}
        for res, part in allocate(self.relief_mw, resources):
            if not np.any(part):
                continue
            size = view.units[res.group].p_mw.size
            _, group_alloc, group_base = alloc.setdefault(res.group, (res.kind, np.zeros(size), np.zeros(size)))
            group_alloc[res.rows] += part
            group_base[res.rows] = res.base_mw
            row = np.asarray(setpoints.get(res.group, np.full(group_alloc.size, np.nan)), float).copy()
            row[res.rows] = res.base_mw - part
            setpoints[res.group] = row
        older = [h for h in self.history if h[0] < meas.time_ms][-1:]  # still in effect
        self.history = older + [h for h in self.history if h[0] >= meas.time_ms] + [(state.time_ms, alloc)]
        return setpoints, self._report(alloc, resources)

    def _report(self, alloc: dict, resources: list[Resource]) -> list[str]:
        """One line per group whose relief changed, in merit order."""
        actions, seen = [], set()
        order = merit_order(resources, 1.0) if self.relief_mw >= 0 else (
            merit_order(resources, -1.0) + [r for r in resources if r.kind == "curtail"])
        for res in order:
            if res.group in seen:
                continue
            seen.add(res.group)
            now_mw = float(np.sum(alloc[res.group][1])) if res.group in alloc else 0.0
            if abs(now_mw - self.reported.get(res.group, 0.0)) <= REPORT_TOL_MW:
                continue
            self.reported[res.group] = now_mw
            what = {"battery": "battery", "curtail": "curtail", "redispatch": "redispatch"}[res.kind]
            text = (f"{what} {res.group}: {-now_mw:+.3f} MW ({self.reason})" if abs(now_mw) > REPORT_TOL_MW
                    else f"{what} {res.group}: released")
            actions.append(text)
        return actions
