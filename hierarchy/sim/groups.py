"""Runtime wiring of one unit group: its policy, its elements and its inputs.

A :class:`UnitGroup` is the engine's side of a scenario's ``units[]`` entry:
it builds the policy's :class:`~unit_control.base.Observation` from the
plant's arrays (no link: unit controllers sit at the device) and writes the
policy's :class:`~unit_control.base.Command` back into the plant.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["UnitGroup"]


@dataclass
class UnitGroup:
    """One unit group at run time.

    Attributes
    ----------
    id : str
        The scenario's ``units[].id``.
    policy_name : str
        Registered name or ``module:Class``.
    policy : UnitPolicy
        The policy instance controlling all the group's units.
    kind : str
        ``renewable``, ``storage``, ``dispatchable``, ``flexible_load``,
        ``tap`` or ``other``.
    table : str
        pandapower table of the group's elements.
    positions : ndarray of int
        Row positions of the elements in their table.
    unit_ids : list of str
        Element names (``sgen/3``).
    bus_positions : ndarray of int
        Bus-table positions of the elements' buses (trafo: LV bus).
    area_of_unit : ndarray of int
        Area index of each unit.
    rating_mw : ndarray
        Rating per unit [MW].
    """

    id: str
    policy_name: str
    policy: object
    kind: str
    table: str
    positions: np.ndarray
    unit_ids: list[str]
    bus_positions: np.ndarray
    area_of_unit: np.ndarray
    rating_mw: np.ndarray
    p_set_mw: np.ndarray = field(init=False)
    price_per_mwh: np.ndarray = field(init=False)
    p_mw: np.ndarray = field(init=False)
    q_mvar: np.ndarray = field(init=False)
    connected: np.ndarray = field(init=False)
    tap_pos: np.ndarray | None = None
    offer_price: float = 0.0
    takes_setpoints: bool = False

    def __post_init__(self) -> None:
        n = len(self.unit_ids)
        # read-only: replaced, never written in place (observations hand them out uncopied)
        self.p_set_mw = np.full(n, np.nan)
        self.price_per_mwh = np.full(n, np.nan)
        self.p_set_mw.setflags(write=False)
        self.price_per_mwh.setflags(write=False)
        self.p_mw = np.zeros(n)
        self.q_mvar = np.zeros(n)
        self.connected = np.ones(n, dtype=bool)
        #: rating per unit, at least 1e-9 MW: the divisor of per-unit moves [MW]
        self.rating_floor_mw = np.maximum(self.rating_mw, 1e-9)
        self.by_area = {int(a): np.flatnonzero(self.area_of_unit == a) for a in np.unique(self.area_of_unit)}
        self.area_unit_ids = {a: tuple(self.unit_ids[r] for r in rows) for a, rows in self.by_area.items()}
        #: the units ordered area by area (each area's in ``by_area`` order), and where
        #: each area's run lies in that order: ``by_area[a] == area_order[area_span[a]]``
        self.area_order = np.argsort(self.area_of_unit, kind="stable")
        bounds = np.cumsum([0] + [rows.size for rows in self.by_area.values()])
        self.area_span = {a: slice(int(start), int(stop))
                          for a, start, stop in zip(self.by_area, bounds[:-1], bounds[1:])}

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)
