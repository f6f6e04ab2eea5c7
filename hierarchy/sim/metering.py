"""What a step's system balance and the market participants' metered outputs are made of.

The recorder (:mod:`hierarchy.sim.recorder`) keeps each step's element
powers and computes, a block of steps at a time, the ``system_balance_mw``
table (:func:`balance_rows`) and each participant's metered output
(:class:`MeterPlan`), which the market settlement (:mod:`hierarchy.sim.market_records`)
and the security check (:mod:`hierarchy.sim.security`) read. Signs: generation
and export positive; pandapower's signs go in (:data:`hierarchy.plant.plant.INJECTION_TABLES`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SYSTEM_COLUMNS", "MeterPlan", "meter_plan", "balance_rows"]

#: system-wide quantities recorded per step [MW], pandapower-independent signs
SYSTEM_COLUMNS = ("load_mw", "generation_mw", "storage_charge_mw", "import_mw", "export_mw",
                  "losses_mw", "curtailed_mw", "not_served_mw")


@dataclass
class MeterPlan:
    """Which market participant each element's output is metered under.

    ``owner[table]`` holds a participant column per element (-1: none);
    ``upstream`` and ``losses`` are the columns of the upstream grid
    (ext_grid injection, import positive) and of the branch losses
    (negative), so that the columns sum to zero by the power balance.
    """

    names: list
    owner: dict
    upstream: int
    losses: int
    upstream_area: str | None

    def rows(self, p_mw: dict, energised: dict, ext_grid_mw, losses_mw) -> np.ndarray:
        """Participant outputs [MW] from element powers (pandapower signs), per row.

        ``p_mw[table]`` and ``energised[table]`` are ``(n,)`` for one state
        or ``(n_steps, n)``; ``ext_grid_mw`` and ``losses_mw`` are the total
        ext_grid supply and branch losses, scalars or ``(n_steps,)``.
        """
        from hierarchy.plant.plant import INJECTION_TABLES

        out = 0.0
        for table, owner in self.owner.items():
            injection = INJECTION_TABLES[table] * p_mw[table] * energised[table]
            injection = np.where(np.isnan(injection), 0.0, injection)
            out = out + injection @ self._one_hot(table, owner)
        out = out[..., 1:] if np.ndim(out) else np.zeros(len(self.names))
        out[..., self.upstream] += ext_grid_mw
        out[..., self.losses] -= np.where(np.isnan(losses_mw), 0.0, losses_mw)
        return out

    def _one_hot(self, table: str, owner: np.ndarray) -> np.ndarray:
        """``(n, 1 + n_participants)``: 1 at each element's column (column 0: nobody)."""
        cache = self.__dict__.setdefault("_one_hot_cache", {})
        if table not in cache:
            matrix = np.zeros((owner.size, len(self.names) + 1))
            matrix[np.arange(owner.size), owner + 1] = 1.0
            cache[table] = matrix
        return cache[table]

    def area_of(self, participant: str) -> str | None:
        """Area whose price a participant settles at (the ext_grid's for upstream and losses)."""
        return participant.split("/", 1)[0] if "/" in participant else self.upstream_area


def meter_plan(rt, area_ids: list) -> MeterPlan:
    """Participants named as the areas name them in their orders (area_control.aggregation)."""
    from area_control.aggregation import (
        LOAD,
        OTHER_GENERATION,
        OTHER_STORAGE,
        unit_participant,
    )

    names: list = []
    column: dict = {}

    def col(name: str) -> int:
        if name not in column:
            column[name] = len(names)
            names.append(name)
        return column[name]

    plant = rt.plant
    owner = {t: np.full(len(plant.net[t]), -1, dtype=int) for t in plant.tables}
    for g in rt.groups:
        if g.table not in owner:
            continue
        for a, rows in g.by_area.items():
            for r in rows:
                owner[g.table][g.positions[r]] = col(unit_participant(area_ids[a], g.id, g.kind, g.unit_ids[r]))
    rest = {"load": LOAD, "sgen": OTHER_GENERATION, "gen": OTHER_GENERATION, "storage": OTHER_STORAGE}
    for area in area_ids:
        col(f"{area}/{LOAD}")
        col(f"{area}/{OTHER_GENERATION}")
    for table, own in owner.items():
        free = np.flatnonzero(own < 0)
        if free.size:
            areas = rt.area_of_bus[plant.element_bus_positions(table, free)]
            own[free] = [col(f"{area_ids[a]}/{rest[table]}") for a in areas]
    ext = rt.export_matrices["ext_grid"]
    upstream_area = area_ids[int(np.argmax(ext[:, 0]))] if ext.size else None
    return MeterPlan(names, owner, col("upstream"), col("losses"), upstream_area)


def balance_rows(p_mw: dict, load_p_mw: np.ndarray, shed_mw: np.ndarray | None, energised: dict,
                 gen_slack_mw, ext_grid_mw, losses_mw, curtailed_mw) -> np.ndarray:
    """The :data:`SYSTEM_COLUMNS` [MW] of one state (arrays ``(n,)``) or of
    several (``(n_steps, n)``; scalars become ``(n_steps,)``).

    ``p_mw`` per injection table as the plant sets it (pandapower signs),
    ``load_p_mw`` the consumption as solved (load damping and shedding in),
    ``shed_mw`` the demand disconnected by load shedding (or None).
    """
    def total(x):
        return np.sum(x, axis=-1)

    load = total(load_p_mw * energised["load"])
    not_served = total(p_mw["load"] * (1.0 - energised["load"]))
    if shed_mw is not None:
        not_served = not_served + total(shed_mw * energised["load"])
    generation = total(p_mw["sgen"] * energised["sgen"]) + total(p_mw["gen"] * energised["gen"])
    generation = generation + gen_slack_mw  # distributed slack shares
    storage = total(p_mw["storage"] * energised["storage"])
    columns = [load, generation, storage, np.maximum(ext_grid_mw, 0.0),
               np.maximum(-np.asarray(ext_grid_mw), 0.0), losses_mw,
               np.maximum(curtailed_mw, 0.0), not_served]
    return np.stack(np.broadcast_arrays(*columns), axis=-1).astype(float)
