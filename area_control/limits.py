"""Bounds from the market's security check, turned into unit setpoints (pure functions).

Where the market re-dispatches a participant to relieve the feeder, its
award carries bounds on its net output over the interval
(:class:`~hierarchy.messages.Award` ``min_mw``, ``max_mw``, generation
positive): a participant raised must deliver at least its new award, one
lowered at most. The area keeps its setpoints within them, on top of what
its balancing decided, so that balancing never undoes a redispatch:

* a dispatchable unit (participant ``<area>/<group>/<unit>``): its setpoint
  clipped to ``[min_mw, max_mw]``;
* a renewable group (its policy follows a P cap): ``max_mw`` shared in
  proportion to each unit's available power (``UnitStatus.p_max_mw``);
* a flexible load group: consumption at most ``−min_mw``, shared in
  proportion to each unit's consumption.
"""
from __future__ import annotations

import math

import numpy as np

from hierarchy.messages import Award, UnitGroupInfo, UnitStatus

__all__ = ["security_bounds", "bounded_setpoints"]


def security_bounds(awards: dict[str, Award] | None) -> dict[str, tuple[float, float]]:
    """Participant -> (min_mw, max_mw) of the awards that carry a bound (NaN: none) [MW].

    Examples
    --------
    >>> security_bounds({"a/pv": Award("a/pv", 1.0, 50.0, 0, "a", 0, max_mw=1.0),
    ...                  "a/load": Award("a/load", -2.0, 50.0, 0)})
    {'a/pv': (nan, 1.0)}
    """
    if not awards:
        return {}
    return {name: (a.min_mw, a.max_mw) for name, a in awards.items()
            if not (math.isnan(a.min_mw) and math.isnan(a.max_mw))}


def bounded_setpoints(area: str, groups: dict[str, UnitGroupInfo], statuses: dict[str, UnitStatus],
                      bounds: dict[str, tuple[float, float]],
                      p_set_mw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The setpoints within the bounds of ``bounds`` (a new dict; ``p_set_mw`` unchanged).

    Parameters
    ----------
    area : str
        Area id (participants are ``<area>/<group>``, ``<area>/<group>/<unit>``).
    groups : dict
        Group id -> :class:`UnitGroupInfo`.
    statuses : dict
        Group id -> latest :class:`UnitStatus`.
    bounds : dict
        Participant -> (min_mw, max_mw) [MW] (:func:`security_bounds`).
    p_set_mw : dict
        Group id -> setpoint per unit [MW] (NaN: none).

    Returns
    -------
    dict
        Group id -> setpoints [MW] (module docstring).

    Examples
    --------
    >>> one = np.ones(2)
    >>> info = UnitGroupInfo("pv", "a", "renewable", ("sgen/0", "sgen/1"), one, True, 0 * one, one,
    ...                      0 * one, 0 * one, 0 * one)
    >>> status = UnitStatus("pv", "a", ("sgen/0", "sgen/1"), one, 0 * one, 0 * one, np.array([1.0, 3.0]),
    ...                     np.nan * one, 0)
    >>> bounded_setpoints("a", {"pv": info}, {"pv": status}, {"a/pv": (np.nan, 2.0)}, {})["pv"].tolist()
    [0.5, 1.5]
    """
    out = dict(p_set_mw)
    for group, info in groups.items():
        if not info.takes_setpoints:
            continue
        if info.kind == "dispatchable":
            names = [f"{area}/{group}/{unit}" for unit in info.unit_ids]
            if not any(name in bounds for name in names):
                continue
            lo, hi = np.array([bounds.get(name, (math.nan, math.nan)) for name in names]).T
            current = np.asarray(out.get(group, np.full(len(names), math.nan)), float)
            out[group] = np.fmin(np.fmax(current, lo), hi)
            continue
        lo, hi = bounds.get(f"{area}/{group}", (math.nan, math.nan))
        status = statuses.get(group)
        if status is None:
            continue
        if info.kind == "renewable" and not math.isnan(hi):
            target, tighter = hi * _shares(np.maximum(status.p_max_mw, 0.0)), np.fmin
        elif info.kind == "flexible_load" and not math.isnan(lo):
            consumption = np.maximum(-np.asarray(status.p_mw, float), 0.0)
            target, tighter = min(lo, 0.0) * _shares(consumption), np.fmax
        else:
            continue
        current = out.get(group)
        out[group] = target if current is None else tighter(np.asarray(current, float), target)
    return out


def _shares(weights: np.ndarray) -> np.ndarray:
    """``weights`` normalised to sum to 1 (equal shares where they sum to 0)."""
    total = float(np.sum(weights))
    return weights / total if total > 0 else np.full(weights.size, 1.0 / max(weights.size, 1))
