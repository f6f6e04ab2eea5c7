"""An area coordinator whose setpoints come from outside (``coordinator: {policy: external}``).

A reinforcement-learning agent (:class:`hierarchy.gym_env.HiergridEnv` with
``agent="areas.<id>"``) sets the area's unit setpoints with
:meth:`ExternalCoordinator.hold` before the coordinator's call; the
coordinator sends them at that call and every call after, until they are
changed (sample and hold). Groups for which nothing is held follow their
market awards, as under ``policy: none``; the area's offers and bids are the
built-in aggregation of ``none`` too. Until something is held the
coordinator is ``none``, so a scenario naming ``external`` runs with
``hiergrid run`` as if the area had no balancing.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from area_control.base import AreaAction, AreaState
from area_control.coordinators import NoCoordinator

__all__ = ["ExternalCoordinator"]


class ExternalCoordinator(NoCoordinator):
    """Setpoints held from outside; awards for the rest; the market part of ``none``.

    Examples
    --------
    >>> from hierarchy.messages import UnitGroupInfo
    >>> one = np.array([1.0])
    >>> info = UnitGroupInfo(group="bat", area="north", kind="storage", unit_ids=("storage/0",),
    ...                      rating_mw=one, takes_setpoints=True, p_min_mw=-one, p_max_mw=one,
    ...                      cost_a=0 * one, cost_b=0 * one, cost_c=0 * one)
    >>> area = ExternalCoordinator("north", [info], {})
    >>> area.hold({"bat": [0.25]})
    >>> area.control(AreaState("north", 50.0, 3_600_000)).p_set_mw["bat"].tolist()
    [0.25]
    """

    name = "external"
    defaults: Mapping[str, Any] = {}

    def __init__(self, area, groups, params, price_cap=3000.0):
        super().__init__(area, groups, params, price_cap)
        self.held_mw: dict[str, np.ndarray] = {}

    def hold(self, p_set_mw: Mapping[str, Any]) -> None:
        """Hold setpoints [MW] per unit group id, one per unit of the group in this area.

        NaN for a unit sends it no setpoint. Groups not named keep what was
        held for them before.

        Raises
        ------
        ValueError
            For a group that is not the area's, or a wrong number of values.
        """
        held = dict(self.held_mw)
        for group, values in p_set_mw.items():
            info = self.groups.get(group)
            if info is None:
                raise ValueError(f"no unit group {group!r} in area {self.area!r}; "
                                 f"its groups: {', '.join(self.groups) or 'none'}")
            values = np.array(values, dtype=float)
            if values.shape != (len(info.unit_ids),):
                raise ValueError(f"{group}: expected {len(info.unit_ids)} setpoints (one per unit "
                                 f"in area {self.area!r}), got shape {values.shape}")
            values.setflags(write=False)
            held[group] = values
        self.held_mw = held

    def control(self, state: AreaState) -> AreaAction:
        """The held setpoints; the awards' dispatch for groups with none held."""
        return AreaAction({**self.dispatch(state), **self.held_mw}, math.nan)
