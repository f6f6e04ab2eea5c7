"""Topology selectors: elements by name or attribute, feeders, zones, islands.

Graph rule used throughout: buses are nodes; in-service lines, impedances,
TCSCs, two- and three-winding transformers and closed switches are edges
(``pandapower.topology.create_nxgraph`` with ``respect_switches=True``).
DC lines and VSC converters are left out: they do not tie two buses into one
synchronous island.

Feeders (:func:`feeder_buses`, :func:`feeders`) are defined from two bus sets:

* the **upstream** set U: the buses of in-service ext_grids, plus the buses
  tied to them by closed bus-bus switches (a double busbar on the HV side);
* the **substation busbars** S: buses not in U reached from U across one
  transformer edge (the low- or medium-voltage side of each feeding
  transformer, e.g. CIGRE MV buses 1 and 12, SimBench MV ``busbar1.1`` and
  ``busbar1.2``), plus the buses tied to those by closed bus-bus switches.

A feeder never passes through U. Where an ext_grid sits directly on the
distribution busbar (no feeding transformer), S is empty and U plays its
role.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pandapower
import pandapower.topology as pp_topology

__all__ = [
    "element_bus",
    "feeder_buses",
    "feeder_ends",
    "feeders",
    "islands",
    "parse_element",
    "select_elements",
    "substation_busbars",
    "upstream_buses",
    "zone_buses",
]

_ELEMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)/(\d+)$")
#: Column holding an element's bus, for tables without a plain ``bus`` column.
_BUS_COLUMN: dict[str, str] = {
    "line": "from_bus", "impedance": "from_bus", "tcsc": "from_bus", "dcline": "from_bus",
    "trafo": "lv_bus", "trafo3w": "lv_bus",
}


def parse_element(name: str) -> tuple[str, int]:
    """Split an element name ``"table/index"``.

    Examples
    --------
    >>> parse_element("sgen/3")
    ('sgen', 3)
    """
    match = _ELEMENT.match(name.strip()) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"element {name!r} is not of the form 'table/index' (e.g. 'sgen/3')")
    return match.group(1), int(match.group(2))


def _table(net: pandapower.pandapowerNet, table: str) -> pd.DataFrame:
    if table not in net or not isinstance(net[table], pd.DataFrame) or table.startswith("res_"):
        raise ValueError(f"unknown table {table!r}")
    return net[table]


def select_elements(net: pandapower.pandapowerNet, table: str,
                    where: Mapping[str, Any] | None) -> list[int]:
    """Indices of the rows of ``table`` whose columns match ``where``.

    Parameters
    ----------
    net : pandapower.pandapowerNet
    table : str
        Element table, e.g. ``"sgen"``.
    where : Mapping, optional
        Column -> value (rows equal to it) or list/tuple/set of values (rows
        equal to any); all conditions must hold. ``None`` selects all rows.

    Returns
    -------
    list of int
        Row indices in table row order.

    Raises
    ------
    ValueError
        Unknown table, or a column not in the table (the message lists the
        table's columns).

    Examples
    --------
    >>> import pandapower.networks as pn
    >>> net = pn.create_cigre_network_mv(with_der="all")
    >>> select_elements(net, "sgen", {"type": "WP"})
    [8]
    """
    frame = _table(net, table)
    mask = np.ones(len(frame), dtype=bool)
    for column, value in (where or {}).items():
        if column not in frame.columns:
            raise ValueError(
                f"{table} has no column {column!r}; columns: {', '.join(map(str, frame.columns))}")
        if isinstance(value, (list, tuple, set, frozenset)):
            mask &= frame[column].isin(list(value)).to_numpy()
        else:
            mask &= (frame[column] == value).to_numpy()
    return [int(index) for index in frame.index[mask]]


def element_bus(net: pandapower.pandapowerNet, table: str) -> np.ndarray:
    """Bus of each row of ``table`` (line: ``from_bus``; trafo: ``lv_bus``).

    Returns
    -------
    numpy.ndarray
        int64 bus indices in table row order.
    """
    frame = _table(net, table)
    column = _BUS_COLUMN.get(table, "bus")
    if column not in frame.columns:
        raise ValueError(f"table {table!r} has no bus column {column!r}")
    return frame[column].to_numpy(dtype=np.int64)


def _graph(net: pandapower.pandapowerNet, include_out_of_service: bool = False) -> nx.MultiGraph:
    return pp_topology.create_nxgraph(
        net, respect_switches=True, include_dclines=False, include_vsc=False,
        include_line_dc=False, include_out_of_service=include_out_of_service)


def _close_over_bus_switches(graph: nx.MultiGraph, seeds: Iterable[int],
                             blocked: set[int]) -> set[int]:
    """``seeds`` plus every bus tied to them by closed bus-bus switch edges."""
    found = {int(b) for b in seeds if b in graph}
    stack = list(found)
    while stack:
        bus = stack.pop()
        for _, other, key in graph.edges(bus, keys=True):
            other = int(other)
            if key[0] == "switch" and other not in found and other not in blocked:
                found.add(other)
                stack.append(other)
    return found


def upstream_buses(net: pandapower.pandapowerNet) -> set[int]:
    """The upstream set U (see the module docstring)."""
    return _upstream(net, _graph(net))


def substation_busbars(net: pandapower.pandapowerNet) -> set[int]:
    """The substation busbars S (see the module docstring)."""
    graph = _graph(net)
    return _busbars(graph, _upstream(net, graph))


def _upstream(net: pandapower.pandapowerNet, graph: nx.MultiGraph) -> set[int]:
    ext_grid = net.ext_grid
    seeds = ext_grid.bus[ext_grid.in_service.astype(bool)].astype(int).tolist()
    return _close_over_bus_switches(graph, seeds, blocked=set())


def _busbars(graph: nx.MultiGraph, upstream: set[int]) -> set[int]:
    seeds = {int(other) for bus in upstream for _, other, key in graph.edges(bus, keys=True)
             if key[0] in ("trafo", "trafo3w") and int(other) not in upstream}
    return _close_over_bus_switches(graph, seeds, blocked=upstream)


def _component(graph: nx.MultiGraph, bus: int, removed: set[int]) -> list[int]:
    view = nx.subgraph_view(graph, filter_node=lambda node: int(node) not in removed)
    return sorted(int(b) for b in nx.node_connected_component(view, bus))


def feeder_buses(net: pandapower.pandapowerNet, bus: int) -> list[int]:
    """Buses of the feeder that starts at ``bus``.

    Rule (U, S as in the module docstring):

    * ``bus`` is a substation busbar (in S): every bus reachable from it
      without passing through U -- the busbar with all feeders it supplies
      (and other busbars tied to it).
    * any other bus: every bus reachable from it without passing through U
      or S -- the whole feeder it lies on below the substation busbar, not
      only the part downstream of ``bus``.

    For CIGRE MV (``create_cigre_network_mv``, switches as built) bus 1
    gives buses 1..11 and bus 12 gives 12..14.

    Returns
    -------
    list of int
        Sorted bus indices, ``bus`` included.

    Raises
    ------
    ValueError
        ``bus`` is not an in-service bus of the net, or is upstream (in U).
    """
    if bus not in net.bus.index:
        raise ValueError(f"bus {bus} is not in the grid")
    graph = _graph(net)
    if bus not in graph:
        raise ValueError(f"bus {bus} is out of service")
    upstream = _upstream(net, graph)
    if bus in upstream:
        raise ValueError(f"bus {bus} is upstream (an ext_grid bus); a feeder starts below it")
    busbars = _busbars(graph, upstream)
    removed = upstream if bus in busbars else upstream | busbars
    return _component(graph, int(bus), removed)


def feeders(net: pandapower.pandapowerNet) -> list[list[int]]:
    """All feeders below the upstream, each a sorted list of buses.

    A feeder is a connected part of the grid once U and S are removed that
    touches U or S. A group of busbars (tied by closed bus-bus switches)
    that supplies exactly one feeder belongs to it (CIGRE MV: [1..11] and
    [12..14]); one that supplies several (a SimBench MV substation with its
    radial feeders) belongs to none of them, and one that supplies none is
    a feeder by itself. Parts touching neither U nor S (an unsupplied
    island) are no feeder.

    Returns
    -------
    list of list of int
        Feeders sorted by their smallest bus.
    """
    graph = _graph(net)
    upstream = _upstream(net, graph)
    busbars = _busbars(graph, upstream)
    barrier = upstream | busbars
    rest = nx.subgraph_view(graph, filter_node=lambda node: int(node) not in barrier)
    groups = [{int(b) for b in c} for c in nx.connected_components(rest)]
    touching = [g for g in groups if any(int(n) in barrier for b in g for n in graph.neighbors(b))]
    bar_graph = nx.subgraph_view(graph, filter_node=lambda node: int(node) in busbars)
    for bar_group in nx.connected_components(bar_graph):
        neighbours = {int(n) for b in bar_group for n in graph.neighbors(b)}
        supplied = [g for g in touching if g & neighbours]
        if len(supplied) == 1:
            supplied[0].update(int(b) for b in bar_group)
        elif not supplied:
            touching.append({int(b) for b in bar_group})
    return sorted((sorted(g) for g in touching), key=lambda g: g[0])


def feeder_ends(net: pandapower.pandapowerNet) -> list[int]:
    """The end bus of every feeder: the one farthest from the substation along the lines.

    Distance is the length [km] of the shortest path from the upstream set
    U and the substation busbars S (module docstring) over in-service lines
    and closed switches (transformers and switches count 0 km); among buses
    equally far, the smallest index. For SimBench ``1-MV-semiurb--0-sw`` it
    gives one bus per ``FeederN``.

    Returns
    -------
    list of int
        One bus per feeder, in the order of :func:`feeders`.
    """
    graph = _graph(net)
    upstream = _upstream(net, graph)
    sources = upstream | _busbars(graph, upstream)
    distance_km = nx.multi_source_dijkstra_path_length(graph, sources, weight="weight")
    ends = []
    for feeder in feeders(net):
        far_km = max(distance_km.get(bus, -1.0) for bus in feeder)
        ends.append(min(bus for bus in feeder if distance_km.get(bus, -1.0) == far_km))
    return ends


def zone_buses(net: pandapower.pandapowerNet, zone: str) -> list[int]:
    """Buses of a zone.

    A bus is in ``zone`` when its ``bus.zone`` equals it, or -- for grids
    with a ``bus.subnet`` column, as SimBench's -- when its ``subnet``
    equals it or has it as one ``_``-separated part: ``"Feeder3"`` selects
    SimBench's ``MV2.101_LV2.206_Feeder3``, ``MV2.101_Feeder3`` ... buses.
    The matches of both columns are united.

    Returns
    -------
    list of int
        Sorted bus indices.

    Raises
    ------
    ValueError
        No bus matches; the message lists the zone names there are.
    """
    bus = net.bus
    mask = (bus["zone"] == zone).to_numpy() if "zone" in bus else np.zeros(len(bus), bool)
    names = set(bus["zone"].dropna().astype(str)) if "zone" in bus else set()
    if "subnet" in bus:
        parts = bus["subnet"].fillna("").astype(str).str.split("_")
        mask |= ((bus["subnet"] == zone) | parts.map(lambda p: zone in p)).to_numpy(bool)
        names |= set(bus["subnet"].dropna().astype(str)) | {p for ps in parts for p in ps if p}
    if not mask.any():
        shown = sorted(names)[:20]
        raise ValueError(f"no bus in zone {zone!r}; zones: {shown}{' ...' if len(names) > 20 else ''}")
    return sorted(int(b) for b in bus.index[mask])


def islands(net: pandapower.pandapowerNet, in_service_only: bool = True) -> list[np.ndarray]:
    """Synchronous islands: connected bus sets of the graph rule above.

    Parameters
    ----------
    in_service_only : bool
        True: in-service buses and branches only (the grid as it operates);
        False: out-of-service ones count too (the grid as built).

    Returns
    -------
    list of numpy.ndarray
        Sorted int64 bus arrays, the islands sorted by their smallest bus.
    """
    graph = _graph(net, include_out_of_service=not in_service_only)
    found = [np.sort(np.fromiter((int(b) for b in c), dtype=np.int64))
             for c in pp_topology.connected_components(graph)]
    return sorted(found, key=lambda a: int(a[0]))
