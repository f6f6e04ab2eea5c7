"""The reward of an agent: schedule deviation, voltage violations and energy cost.

Each term is one of the figures ``summary.json`` reports, computed by the
same function (:func:`hierarchy.outputs.summary.schedule_deviation_mwh`,
:func:`~hierarchy.outputs.summary.violation_bus_hours`) on the physics
steps recorded since the agent's last decision, restricted to what the
agent answers for:

* ``schedule_deviation_mwh``: ``Σ |P_export − P_sched|·Δt`` of the agent's
  area (a unit group: of the areas its units are in) [MWh], summed over the
  episode it is the summary's ``areas.<id>.schedule_deviation_mwh``;
* ``voltage_violation_bus_hours``: bus-hours outside the voltage band on the
  buses of those areas [h], the summary's ``voltage.violation_bus_hours``
  restricted to them;
* ``energy_cost``: what the agent's net injection is worth at the market's
  clearing price of its area (``market_price``), bought positive:
  ``Σ −P·price·Δt`` [currency] (an area: its net export; a unit group: its
  units' output); 0 in intervals without a price.

The reward is ``−(w_sched·schedule_deviation_mwh + w_volt·voltage_violation_bus_hours
+ w_cost·energy_cost)`` with the weights of :class:`RewardWeights`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from hierarchy.outputs.summary import schedule_deviation_mwh, violation_bus_hours

__all__ = ["RewardWeights", "RewardScope", "reward_terms", "TERMS"]

#: the reward's terms, in the order of :class:`RewardWeights`
TERMS = ("schedule_deviation_mwh", "voltage_violation_bus_hours", "energy_cost")


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the reward's terms (all >= 0) and the voltage band.

    Attributes
    ----------
    schedule_deviation_mwh : float
        Weight per MWh off schedule [1/MWh] (default 1).
    voltage_violation_bus_hours : float
        Weight per bus-hour outside the band [1/h] (default 1).
    energy_cost : float
        Weight per unit of money spent on energy [1/currency] (default 0).
    v_band_pu : (float, float)
        The voltage band [pu] (default 0.95–1.05, the summary's).
    """

    schedule_deviation_mwh: float = 1.0
    voltage_violation_bus_hours: float = 1.0
    energy_cost: float = 0.0
    v_band_pu: tuple[float, float] = (0.95, 1.05)

    def __post_init__(self) -> None:
        for name in TERMS:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value) and value >= 0):
                raise ValueError(f"reward.{name}: expected a finite number >= 0; got {value!r}")
        lo, hi = self.v_band_pu
        if not lo < hi:
            raise ValueError(f"reward.v_band_pu: expected [low, high] with low < high; got {self.v_band_pu!r}")

    @classmethod
    def of(cls, value: "RewardWeights | Mapping[str, Any] | None") -> "RewardWeights":
        """Weights from themselves, a mapping of some of their fields, or None (defaults)."""
        if value is None or isinstance(value, cls):
            return value or cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"reward.{unknown[0]}: unknown; valid: {', '.join(sorted(known))}")
        return cls(**{k: (tuple(v) if k == "v_band_pu" else v) for k, v in value.items()})

    def reward(self, terms: Mapping[str, float]) -> float:
        """``−Σ weight·term`` (see the module)."""
        return 0.0 - float(sum(getattr(self, name) * terms[name] for name in TERMS))  # no -0.0


@dataclass(frozen=True)
class RewardScope:
    """What an agent answers for.

    Attributes
    ----------
    areas : tuple of int
        Area indices (its area; a unit group's: the areas of its units).
    buses : ndarray of int
        Bus positions of those areas.
    unit_columns : slice or None
        A unit group's columns in ``unit_p_mw`` (None for an area agent).
    unit_areas : ndarray of int or None
        The area index of each of those units.
    """

    areas: tuple[int, ...]
    buses: np.ndarray
    unit_columns: slice | None = None
    unit_areas: np.ndarray | None = None


def clearing_prices(rt, start: int, stop: int) -> np.ndarray:
    """Clearing price of each area at physics steps ``start:stop`` [per MWh],
    ``(steps, areas)``; NaN where the interval has no clearing."""
    market = rt.recorder.market
    by_start = dict(zip(market.starts_ms, market.prices))
    ids = [area.id for area in rt.areas]
    out = np.full((max(stop - start, 0), len(ids)), math.nan)
    for row, k in enumerate(range(start, stop)):
        prices = by_start.get((k * rt.step_ms // rt.interval_ms) * rt.interval_ms)
        if prices is not None:
            out[row] = [prices.get(area, prices.get("system", math.nan)) for area in ids]
    return out


def reward_terms(rt, scope: RewardScope, start: int, stop: int,
                 v_band_pu: tuple[float, float]) -> dict[str, float]:
    """The reward's terms over physics steps ``start:stop`` (see the module)."""
    rec, step_h = rt.recorder, rt.step_ms / 3_600_000
    export = rec.step_rows("area_net_export_mw", start, stop)
    schedule = rec.step_rows("area_schedule_mw", start, stop)
    vm_pu = rec.step_rows("bus_vm_pu", start, stop)[:, scope.buses]
    prices = clearing_prices(rt, start, stop)
    if scope.unit_columns is None:
        value = -export[:, list(scope.areas)] * prices[:, list(scope.areas)]
    else:
        value = -rec.step_rows("unit_p_mw", start, stop)[:, scope.unit_columns] * prices[:, scope.unit_areas]
    return {
        "schedule_deviation_mwh": sum(schedule_deviation_mwh(export[:, a], schedule[:, a], step_h)
                                      for a in scope.areas),
        "voltage_violation_bus_hours": violation_bus_hours(vm_pu, v_band_pu, step_h),
        "energy_cost": float(np.nansum(value) * step_h),
    }
