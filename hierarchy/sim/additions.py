"""Builder step: the scenario's ``add`` section applied to the grid and its profiles.

For each entry of ``add`` (:class:`~hierarchy.scenario.additions.AddConfig`),
in order: its bus selection is resolved on the grid, one element is created
per bus (:func:`hierarchy.plant.additions.create_elements`), their series
are computed and appended to the run's profiles, and elements without a
rating get one. Everything that does not fit the grid is a
:class:`~hierarchy.scenario.ScenarioError` at ``add[i].<key>``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from hierarchy.scenario import Scenario, ScenarioError
from hierarchy.sim.wiring import _bus_number, _selected_buses

__all__ = ["Added", "apply_additions"]


@dataclass(frozen=True)
class Added:
    """Elements one ``add`` entry created: their names (``storage/3``) and buses (``bus/25``)."""

    name: str
    table: str
    elements: tuple[str, ...]
    buses: tuple[str, ...]


def _buses(net, selection, path: str) -> list[int]:
    """Bus indices of an ``add[i].bus`` selection, in a fixed order."""
    from hierarchy.plant.topology import feeder_ends

    if isinstance(selection, str):
        return [_bus_number(net, selection, path)]
    if hasattr(selection, "feeder_ends"):
        ends = feeder_ends(net)
        if not ends:
            raise ScenarioError(path, "the grid has no feeder (no bus below an ext_grid)")
        return ends
    return _selected_buses(net, selection, path)


def _error(path: str, exc: ValueError) -> ScenarioError:
    """A plant error (``columns.p_mw: ...``) at its key below ``path``."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    match = re.match(r"^((?:columns|profile)(?:\.[A-Za-z_][\w]*)?): (.*)$", message)
    return ScenarioError(f"{path}.{match.group(1)}", match.group(2)) if match \
        else ScenarioError(path, message)


def _series(scenario: Scenario, net, entry, positions: np.ndarray, profiles, n_steps: int):
    """Active (and a load's reactive) series of the new elements, ``(n_steps, k)``."""
    from hierarchy.plant import additions as plant_add
    from hierarchy.plant.topology import parse_element

    profile, time = entry.profile, scenario.time
    if profile == "constant":
        return plant_add.constant_series(net, entry.table, positions, n_steps)
    if hasattr(profile, "csv"):
        column = plant_add.csv_series(str(profile.csv), profile.column, time.start, time.step,
                                      n_steps)
        return np.repeat(profile.scale * column[:, None], positions.size, axis=1), None
    if hasattr(profile, "simbench"):
        return plant_add.simbench_series(net, entry.table, profile.simbench, positions,
                                         time.start, time.step, n_steps)
    return plant_add.copy_series(profiles, net, parse_element(profile.copy_of), entry.table,
                                 positions.size, profile.scale)


def apply_additions(scenario: Scenario, net, profiles) -> tuple[object, list[Added]]:
    """Create the ``add`` elements in ``net`` (in place) and append their series.

    Parameters
    ----------
    scenario : Scenario
    net : pandapower.pandapowerNet
        The grid as loaded, its own elements' profiles already computed.
    profiles : Profiles
        The run's profiles of the grid's own elements.

    Returns
    -------
    (Profiles, list of Added)
        The profiles with the added elements' series, and what was added.

    Raises
    ------
    ScenarioError
        At ``add[i].bus``, ``add[i].columns.<key>`` or ``add[i].profile...``.
    """
    from hierarchy.plant import additions as plant_add

    added = []
    n_steps = profiles.time_ms.size
    for i, entry in enumerate(scenario.add):
        path = f"add[{i}]"
        buses = _buses(net, entry.bus, f"{path}.bus")
        if len(set(buses)) < len(buses):
            twice = next(b for b in buses if buses.count(b) > 1)
            raise ScenarioError(f"{path}.bus", f"bus {twice} is listed twice")
        try:
            positions = plant_add.create_elements(net, entry.table, buses, entry.name,
                                                  dict(entry.columns))
            p_mw, q_mvar = _series(scenario, net, entry, positions, profiles, n_steps)
        except ValueError as exc:
            raise _error(path, exc) from None
        profiles = plant_add.extend_profiles(profiles, entry.table, p_mw, q_mvar)
        plant_add.fill_added_ratings(net, entry.table, positions, p_mw)
        index = net[entry.table].index[positions]
        added.append(Added(entry.name, entry.table,
                           tuple(f"{entry.table}/{int(k)}" for k in index),
                           tuple(f"bus/{int(b)}" for b in buses)))
    return profiles, added
