"""Caps from the market's security check, turned into unit setpoints (pure functions).

Where the market re-dispatches a participant that only a cap can hold (a
renewable group, a flexible load), its award carries ``limit_mw``
(:class:`~hierarchy.messages.Award`): a seller produces at most
``limit_mw``, a buyer consumes at most ``−limit_mw`` during the interval.
The area splits the cap over the group's units and sends it as their
setpoints, on top of what its balancing decided (the tighter of the two):

* a renewable group (its policy follows a P cap): ``limit_mw`` shared in
  proportion to each unit's available power (``UnitStatus.p_max_mw``);
* a flexible load group: ``limit_mw`` (negative) shared in proportion to
  each unit's consumption.
"""
from __future__ import annotations

import math

import numpy as np

from hierarchy.messages import Award, UnitGroupInfo, UnitStatus

__all__ = ["security_limits", "capped_setpoints"]


def security_limits(awards: dict[str, Award] | None) -> dict[str, float]:
    """Participant -> cap [MW] of the awards that carry one.

    Examples
    --------
    >>> security_limits({"a/pv": Award("a/pv", 1.0, 50.0, 0, "a", 0, 1.0), "a/load": Award("a/load", -2.0, 50.0, 0)})
    {'a/pv': 1.0}
    """
    if not awards:
        return {}
    return {name: award.limit_mw for name, award in awards.items() if not math.isnan(award.limit_mw)}


def capped_setpoints(area: str, groups: dict[str, UnitGroupInfo], statuses: dict[str, UnitStatus],
                     limits: dict[str, float], p_set_mw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The setpoints with the caps of ``limits`` applied (a new dict; ``p_set_mw`` unchanged).

    Parameters
    ----------
    area : str
        Area id (participants are ``<area>/<group>``).
    groups : dict
        Group id -> :class:`UnitGroupInfo`.
    statuses : dict
        Group id -> latest :class:`UnitStatus`.
    limits : dict
        Participant -> cap [MW] (:func:`security_limits`).
    p_set_mw : dict
        Group id -> setpoint per unit [MW] (NaN: none).

    Returns
    -------
    dict
        Group id -> setpoints [MW]: each capped group's units at most their
        share of the cap (renewable) or consuming at most their share
        (flexible load).

    Examples
    --------
    >>> one = np.ones(2)
    >>> info = UnitGroupInfo("pv", "a", "renewable", ("sgen/0", "sgen/1"), one, True, 0 * one, one,
    ...                      0 * one, 0 * one, 0 * one)
    >>> status = UnitStatus("pv", "a", ("sgen/0", "sgen/1"), one, 0 * one, 0 * one, np.array([1.0, 3.0]),
    ...                     np.nan * one, 0)
    >>> capped_setpoints("a", {"pv": info}, {"pv": status}, {"a/pv": 2.0}, {})["pv"].tolist()
    [0.5, 1.5]
    """
    out = dict(p_set_mw)
    for group, info in groups.items():
        cap_mw = limits.get(f"{area}/{group}")
        status = statuses.get(group)
        if cap_mw is None or status is None or not info.takes_setpoints:
            continue
        if info.kind == "renewable":
            share = _shares(np.maximum(status.p_max_mw, 0.0))
            target, tighter = cap_mw * share, np.fmin
        elif info.kind == "flexible_load":
            share = _shares(np.maximum(-np.asarray(status.p_mw, float), 0.0))
            target, tighter = min(cap_mw, 0.0) * share, np.fmax
        else:
            continue
        current = out.get(group)
        out[group] = target if current is None else tighter(np.asarray(current, float), target)
    return out


def _shares(weights: np.ndarray) -> np.ndarray:
    """``weights`` normalised to sum to 1 (equal shares where they sum to 0)."""
    total = float(np.sum(weights))
    return weights / total if total > 0 else np.full(weights.size, 1.0 / max(weights.size, 1))
