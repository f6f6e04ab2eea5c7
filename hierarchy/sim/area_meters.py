"""What the meters of every area read at the latest power flow: net export, load, SCADA.

:class:`AreaMeters` turns the plant's solution into the fields of each
area's :class:`~hierarchy.messages.AreaMeasurement` (but time and
frequency, which the runtime adds): net export (the flows leaving the area,
export positive), load, generation no unit group controls, and the SCADA
readings (lowest and highest bus voltage, most loaded line). Everything is
vectorised over the areas and computed once per power-flow solve.
"""
from __future__ import annotations

import numpy as np

__all__ = ["AreaMeters", "READING_FIELDS", "nanargs"]

#: flows whose sum over an area's boundary is its net export (:meth:`AreaMeters.net_export_mw`)
EXPORT_FLOWS = ("line_p_from_mw", "line_p_to_mw", "trafo_p_hv_mw", "trafo_p_lv_mw", "ext_grid_p_mw")

#: the fields of an AreaMeasurement that :meth:`AreaMeters.readings` gives, in order
READING_FIELDS = ("area", "net_export_mw", "load_mw", "uncontrolled_generation_mw", "vm_min_pu",
                  "vm_min_bus", "vm_max_pu", "vm_max_bus", "max_loading_percent",
                  "max_loading_line", "max_loading_line_p_mw")


class AreaMeters:
    """The meters of every area (see the module docstring).

    Parameters
    ----------
    plant : Plant
        The grid and its latest power flow.
    area_ids : list of str
        The areas, in order.
    area_of_bus : ndarray
        Area index of every bus (bus positions).
    export_matrices : dict
        :func:`~hierarchy.sim.wiring.area_net_export_matrices`' matrices.
    uncontrolled_gen : dict
        Table -> (positions, areas) of the generators no unit group controls.
    """

    def __init__(self, plant, area_ids: list[str], area_of_bus: np.ndarray, export_matrices: dict,
                 uncontrolled_gen: dict):
        self.plant = plant
        self.area_ids = list(area_ids)
        self.area_of_bus = area_of_bus
        self.export_matrices = export_matrices
        self.uncontrolled_gen = uncontrolled_gen
        self._export_cache: tuple = (-1, None)
        self._meter_cache: tuple = (-1, None)
        self._readings_cache: tuple = (-1, None)
        self._scada_names: tuple = ((), ())
        self._scada_index: dict = {}  # "bus", "line" -> (areas, members) positions

    # ------------------------------------------------------------ net export
    def net_export_mw(self) -> np.ndarray:
        """Net export of every area [MW]: the flows leaving it (export positive).

        One matrix product over all branch-end flows and ext_grid supplies,
        cached for the latest solution.
        """
        pf = self.plant.powerflow
        if self._export_cache[0] == pf.n_solves:
            return self._export_cache[1]
        export = self._export_of([getattr(pf, name) for name in EXPORT_FLOWS])
        self._export_cache = (pf.n_solves, export)
        return export

    def net_export_rows(self, flows: dict) -> np.ndarray:
        """Net export of every area [MW] per row of a block of solutions, as
        :meth:`net_export_mw` (``flows``: :meth:`PowerFlow.solve_many`'s result)."""
        return self._export_of([flows[name] for name in EXPORT_FLOWS])

    def _export_of(self, flows: list) -> np.ndarray:
        """Area exports [MW] from branch-end flows and ext_grid supply, ``(..., n)`` each."""
        stacked = np.concatenate(flows, axis=-1)
        stacked[np.isnan(stacked)] = 0.0
        return np.asarray(self.export_matrices["all"] @ stacked.T).T

    # -------------------------------------------------------------- readings
    def readings(self) -> list[dict]:
        """Per area: the fields of its :class:`~hierarchy.messages.AreaMeasurement` but
        time and frequency (:data:`READING_FIELDS`: net export, load, uncontrolled
        generation and the SCADA of :meth:`_scada`), as Python numbers, cached per solve."""
        pf = self.plant.powerflow
        if self._readings_cache[0] == pf.n_solves:
            return self._readings_cache[1]
        load_mw, other_mw = self._load_and_other()
        readings = [dict(zip(READING_FIELDS, (area, export, load, other, *scada)))
                    for area, export, load, other, scada in zip(
                        self.area_ids, self.net_export_mw().tolist(), load_mw.tolist(),
                        other_mw.tolist(), self._scada())]
        self._readings_cache = (pf.n_solves, readings)
        return readings

    def _load_and_other(self) -> tuple[np.ndarray, np.ndarray]:
        """Load [MW] and generation no group controls [MW] of every area, cached per solve."""
        pf, plant = self.plant.powerflow, self.plant
        if self._meter_cache[0] == pf.n_solves:
            return self._meter_cache[1]
        n = len(self.area_ids)
        load = np.bincount(self.export_matrices["load_area"], weights=plant.load_p_mw,
                           minlength=n)
        other = np.zeros(n)
        for table, (positions, areas) in self.uncontrolled_gen.items():
            if positions.size:
                other += np.bincount(areas, weights=plant.tables[table].p_mw[positions], minlength=n)
        self._meter_cache = (pf.n_solves, (load, other))
        return load, other

    # ------------------------------------------------------------------ SCADA
    def _scada(self) -> list[tuple]:
        """SCADA of every area: lowest and highest bus voltage [pu] and where, most
        loaded line with an end in the area [%], which, and its flow [MW].

        Vectorised over the areas on NaN-padded (areas, members) index tables;
        computed once per solve by :meth:`readings`.
        """
        if not self._scada_index:
            self._index_scada()
        pf, (bus_names, line_names) = self.plant.powerflow, self._scada_names
        bus_idx, line_idx = self._scada_index["bus"], self._scada_index["line"]
        vm_pu = np.append(pf.vm_pu, np.nan)  # the padding position reads NaN
        loading = np.append(np.asarray(pf.line_loading_percent, float), np.nan)
        (lo, hi), (top,) = (nanargs(vm_pu[bus_idx], bus_idx, low=True),
                            nanargs(loading[line_idx], line_idx, low=False))
        vm_lo_pu, vm_hi_pu, top_loading = vm_pu[lo].tolist(), vm_pu[hi].tolist(), loading[top].tolist()
        flow_mw: list = []  # (rows with top = −1 read the last line here: not used)
        if loading.size > 1:
            flow = np.fmax(np.abs(pf.line_p_from_mw[top]), np.abs(pf.line_p_to_mw[top]))
            flow_mw = np.where(np.isnan(flow), 0.0, flow).tolist()
        nan = float("nan")
        meters = []
        for a, (b_lo, b_hi, t) in enumerate(zip(lo.tolist(), hi.tolist(), top.tolist())):
            bus_part = ((vm_lo_pu[a], bus_names[b_lo], vm_hi_pu[a], bus_names[b_hi]) if b_lo >= 0
                        else (nan, "", nan, ""))  # −1: no energised bus
            line_part = (top_loading[a], line_names[t], flow_mw[a]) if t >= 0 else (nan, "", nan)
            meters.append(bus_part + line_part)
        return meters

    def _index_scada(self) -> None:
        """The (areas, members) position tables of the buses and lines each area watches,
        padded with a position past the end (which reads NaN)."""
        net, n_areas = self.plant.net, len(self.area_ids)
        line_area = [self.area_of_bus[self.plant.bus_positions(net.line[end])]
                     for end in ("from_bus", "to_bus")]
        members = {"bus": [np.flatnonzero(self.area_of_bus == k) for k in range(n_areas)],
                   "line": [np.flatnonzero((line_area[0] == k) | (line_area[1] == k))
                            for k in range(n_areas)]}
        sentinel = {"bus": len(net.bus), "line": len(net.line)}
        for kind, rows in members.items():
            width = max((r.size for r in rows), default=0)
            index = np.full((n_areas, max(width, 1)), sentinel[kind], dtype=int)
            for k, r in enumerate(rows):
                index[k, :r.size] = r
            self._scada_index[kind] = index
        self._scada_names = ([f"bus/{b}" for b in net.bus.index],
                             [f"line/{b}" for b in net.line.index])


def nanargs(values: np.ndarray, index: np.ndarray, low: bool) -> list[np.ndarray]:
    """Per row of ``values``, the element (from ``index``, same shape) with the highest
    value ignoring NaN, and before it the one with the lowest if ``low``; the first of
    equals; −1 in rows that are all NaN."""
    missing = np.isnan(values)
    start = np.arange(0, index.size, max(index.shape[1], 1))  # each row's first element
    picks = [np.where(missing, -np.inf, values).argmax(axis=1)]
    if low:
        picks.insert(0, np.where(missing, np.inf, values).argmin(axis=1))
    found = [index.take(start + column) for column in picks]
    empty = missing.all(axis=1)
    if empty.any():
        for positions in found:
            positions[empty] = -1
    return found
