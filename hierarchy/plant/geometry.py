"""Where to draw a grid: bus coordinates and branches, as plain data for the plots.

:func:`grid_geometry` reads a pandapower net once and returns a
:class:`GridGeometry` of numpy arrays and names, which the plotting code
(:mod:`hierarchy.outputs.plots_grid`) draws without touching pandapower.

Bus coordinates are the net's own geodata (``bus.geo``, GeoJSON points:
SimBench and CIGRE grids have them) where every bus has one; otherwise
generic coordinates from pandapower's ``create_generic_coordinates`` (an
igraph tree layout from the ext_grid, the feeders fanned out), or, without
igraph, networkx's Kamada-Kawai layout.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import numpy as np
import pandapower

__all__ = ["GridGeometry", "grid_geometry"]


@dataclass(frozen=True)
class GridGeometry:
    """A grid's drawing: buses at ``bus_xy``, branches between bus positions.

    Attributes
    ----------
    bus_names : tuple of str
        ``bus/N`` in bus-table order (the columns of ``bus_vm_pu``).
    bus_xy : numpy.ndarray
        ``(n_bus, 2)`` coordinates (x east, y north; longitudes scaled by
        cos(latitude) for geodata) [arbitrary units].
    layout : str
        ``geodata``, ``generic (igraph)`` or ``generic (networkx)``.
    line_names, trafo_names : tuple of str
        ``line/N``, ``trafo/N`` in table order (the columns of the loading tables).
    line_ends, trafo_ends : numpy.ndarray
        ``(n, 2)`` bus positions of each branch's two ends (from/to, hv/lv).
    ext_grid_buses : numpy.ndarray
        Bus positions of the in-service ext_grids.
    line_open : numpy.ndarray
        Per line: out of service, or an open switch at one of its ends (a
        radial grid's open ring points).
    device_buses : dict of str to numpy.ndarray
        Bus positions of the ``sgen``, ``gen`` and ``storage`` elements.
    vn_kv : numpy.ndarray
        Nominal voltage of each bus [kV].
    """

    bus_names: tuple[str, ...]
    bus_xy: np.ndarray
    layout: str
    line_names: tuple[str, ...]
    line_ends: np.ndarray
    trafo_names: tuple[str, ...]
    trafo_ends: np.ndarray
    ext_grid_buses: np.ndarray
    line_open: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    device_buses: dict = field(default_factory=dict)
    vn_kv: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _geodata_xy(net: pandapower.pandapowerNet) -> np.ndarray | None:
    """Bus coordinates from ``bus.geo`` where every bus has a point, else None."""
    geo = net.bus.get("geo")
    if geo is None or len(geo) == 0 or geo.isna().any():
        return None
    try:
        points = np.array([json.loads(text)["coordinates"][:2] for text in geo], dtype=float)
    except (TypeError, ValueError, KeyError, IndexError):
        return None
    if not np.all(np.isfinite(points)) or len(np.unique(points, axis=0)) < max(2, len(points) // 2):
        return None  # half the buses or more on one point: no drawing to speak of
    if np.all(np.abs(points[:, 1]) <= 90) and np.ptp(points[:, 0]) < 5:  # longitude, latitude
        points[:, 0] *= np.cos(np.radians(np.mean(points[:, 1])))
    return points


def _generic_xy(net: pandapower.pandapowerNet) -> tuple[np.ndarray, str]:
    """Coordinates of every bus from a graph layout (igraph through pandapower, else networkx)."""
    try:
        import pandapower.plotting as pp_plotting

        part = copy.deepcopy(net)
        pp_plotting.create_generic_coordinates(part, library="igraph", overwrite=True,
                                               respect_switches=True)
        xy = np.full((len(net.bus), 2), np.nan)
        for position, bus in enumerate(net.bus.index):
            text = part.bus["geo"].get(bus)
            if isinstance(text, str):
                xy[position] = json.loads(text)["coordinates"][:2]
        if np.all(np.isfinite(xy)):
            return xy, "generic (igraph)"
    except (ImportError, ValueError, KeyError, TypeError):  # no igraph, or a grid it cannot lay out
        pass
    import networkx as nx
    import pandapower.topology as pp_topology

    graph = nx.Graph(pp_topology.create_nxgraph(net, respect_switches=True,
                                                include_out_of_service=True))
    graph.add_nodes_from(int(b) for b in net.bus.index)
    layout = nx.kamada_kawai_layout(graph, weight=None)
    return np.array([layout[int(b)] for b in net.bus.index], dtype=float), "generic (networkx)"


def grid_geometry(net: pandapower.pandapowerNet) -> GridGeometry:
    """The drawing of ``net``: bus coordinates, branches, ext_grids and devices.

    Returns
    -------
    GridGeometry
    """
    xy = _geodata_xy(net)
    layout = "geodata"
    if xy is None:
        xy, layout = _generic_xy(net)
    position = {int(b): k for k, b in enumerate(net.bus.index)}

    def ends(frame, first: str, second: str) -> np.ndarray:
        if not len(frame):
            return np.zeros((0, 2), dtype=int)
        return np.array([[position[int(a)], position[int(b)]]
                         for a, b in zip(frame[first], frame[second])], dtype=int)

    eg = net.ext_grid
    live = eg["in_service"].to_numpy(bool) if len(eg) else np.zeros(0, bool)
    devices = {table: np.array([position[int(b)] for b in net[table]["bus"]], dtype=int)
               for table in ("sgen", "gen", "storage") if table in net and len(net[table])}
    open_switch = net.switch[(net.switch["et"] == "l") & ~net.switch["closed"].astype(bool)] \
        if len(net.switch) else net.switch
    line_open = ~net.line["in_service"].to_numpy(bool) | net.line.index.isin(open_switch["element"])
    return GridGeometry(
        bus_names=tuple(f"bus/{int(b)}" for b in net.bus.index), bus_xy=xy, layout=layout,
        line_names=tuple(f"line/{int(i)}" for i in net.line.index),
        line_ends=ends(net.line, "from_bus", "to_bus"),
        trafo_names=tuple(f"trafo/{int(i)}" for i in net.trafo.index),
        trafo_ends=ends(net.trafo, "hv_bus", "lv_bus"),
        ext_grid_buses=np.array([position[int(b)] for b in eg["bus"][live]], dtype=int),
        line_open=np.asarray(line_open, dtype=bool),
        device_buses=devices, vn_kv=net.bus["vn_kv"].to_numpy(float))
