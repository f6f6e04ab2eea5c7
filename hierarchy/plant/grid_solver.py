"""lightsim2grid's Newton-Raphson on a grid model kept between solves.

:class:`GridSolver` builds the admittance matrix of a compiled network
model (:class:`~hierarchy.plant.network_model.NetworkModel`) into a
lightsim2grid grid model once and solves it for new bus injections, one
row or a block of rows at a time [1]_.

References
----------
.. [1] B. Donnot, "LightSim2grid: a c++ backend for grid2op",
   https://github.com/Grid2Op/lightSim2Grid (2020).
.. [2] R. D. Zimmerman et al., "MATPOWER: Steady-State Operations, Planning,
   and Analysis Tools", IEEE Trans. Power Syst. 26(1), 2011,
   doi:10.1109/TPWRS.2010.2051168 (case format, ``makeYbus``).
"""
from __future__ import annotations

import cmath
import warnings
from typing import TYPE_CHECKING

import numpy as np
from lightsim2grid.lightsim2grid_cpp import AlgorithmType
from lightsim2grid.network import init_from_matpower
from lightsim2grid.timeSerie import TimeSeriesCPP
from pandapower.pypower.idx_brch import (
    BR_R, BR_R_ASYM, BR_STATUS, BR_X, BR_X_ASYM, F_BUS, SHIFT, T_BUS, TAP)
from pandapower.pypower.idx_bus import BASE_KV, GS
from pandapower.pypower.makeYbus import makeYbus
from scipy import sparse

if TYPE_CHECKING:
    from hierarchy.plant.network_model import NetworkModel

__all__ = ["GridSolver"]


class GridSolver:
    """Newton-Raphson on a lightsim2grid grid model kept between solves [1]_.

    Solving through ``NRSing_KLU.solve`` hands the admittance matrix over and
    analyses the Jacobian's sparsity again on every call (≈ 60 % of a solve
    on a 100-bus feeder). Here the ppci is built once into a lightsim2grid
    grid model and solved by its one-row time-series computer, which keeps
    the analysis between calls; only the bus injections change.

    The model is exact, not a re-conversion of the pandapower net: every
    ppci branch enters as a MATPOWER series branch (r, x, tap ratio, phase
    shift) and all shunt admittance (line charging, transformer
    magnetisation, pandapower's asymmetric branch shunts, bus shunts) as a
    bus shunt, ``diag(Ybus) − diag(Ybus_series)``; off-diagonal entries depend
    on the series part only, so the grid model's admittance matrix equals
    ``makeYbus`` to rounding. All bus injections enter as one load per bus
    (``−Sbus``); one generator per slack and PV bus holds the voltage
    setpoint. The algorithm is lightsim2grid's single-slack Newton-Raphson
    (``NRSing_KLU``, every slack bus at its fixed voltage, as pandapower's
    ext_grids), the one :class:`~hierarchy.plant.network_model.NetworkModel` calls
    directly. Not used with
    distributed slack.
    """

    @classmethod
    def build(cls, model: "NetworkModel", bus: np.ndarray, branch: np.ndarray) -> "GridSolver | None":
        """The grid solver of a model, or None where it cannot be exact.

        None with distributed slack, with asymmetric series impedances (not
        a MATPOWER branch), or if the grid model's admittance matrix differs
        from the model's (checked once here).
        """
        if model.slack is not None or model.ref.size == 0 or model.n_ppci == 0:
            return None
        if np.any(branch[:, BR_R_ASYM]) or np.any(branch[:, BR_X_ASYM]):
            return None
        solver = cls(model.ybus, bus, branch, model.base_mva, model.ref, model.pv,
                     np.abs(model.v_set))
        v0 = model.cold_start(model.sbus_fixed)
        if solver.solve(model.sbus_fixed, v0.copy(), model.max_iteration, model.tolerance_mva) is None:
            return None
        try:  # the time-series computer solves a copy: build the grid's own Ybus to compare
            solver.grid.ac_pf(v0, model.max_iteration, model.tolerance_mva)
            y_grid = solver.grid.get_Ybus()
        except RuntimeError:
            return None
        if y_grid.shape != model.ybus.shape:
            return None
        scale = max(float(abs(model.ybus).max()), 1.0)
        if abs(y_grid - model.ybus).max() > 1e-12 * scale:
            return None
        return solver

    def __init__(self, ybus: sparse.csc_matrix, bus: np.ndarray, branch: np.ndarray,
                 base_mva: float, ref: np.ndarray, pv: np.ndarray, vm_set: np.ndarray) -> None:
        n = bus.shape[0]
        series = branch.copy()
        series[:, 4:] = 0.0  # MATPOWER columns beyond R, X: charging and all shunt terms
        series[:, TAP], series[:, SHIFT], series[:, BR_STATUS] = (
            branch[:, TAP], branch[:, SHIFT], branch[:, BR_STATUS])
        plain_bus = bus.copy()
        plain_bus[:, GS:GS + 2] = 0.0  # GS, BS
        y_series, _, _ = makeYbus(base_mva, plain_bus, series)
        y_shunt = ybus.diagonal() - y_series.diagonal()
        on = branch[:, BR_STATUS].real > 0
        mp_bus = np.zeros((n, 13))
        mp_bus[:, 0] = np.arange(1, n + 1)
        mp_bus[:, 1] = 1.0
        mp_bus[pv, 1] = 2.0
        mp_bus[ref, 1] = 3.0
        mp_bus[:, 2] = 1e-3  # a load on every bus [MW]; each solve sets its value
        mp_bus[:, 4], mp_bus[:, 5] = y_shunt.real * base_mva, y_shunt.imag * base_mva
        mp_bus[:, 6] = mp_bus[:, 7] = mp_bus[:, 10] = 1.0
        mp_bus[:, 9] = bus[:, BASE_KV].real
        mp_bus[:, 11], mp_bus[:, 12] = 2.0, 0.0
        gen_bus = np.r_[ref, pv]
        mp_gen = np.zeros((gen_bus.size, 10))
        mp_gen[:, 0] = gen_bus + 1
        mp_gen[:, 3], mp_gen[:, 4] = 1e9, -1e9  # no reactive limits (as runpp's default)
        mp_gen[:, 5] = vm_set[gen_bus]
        mp_gen[:, 6], mp_gen[:, 7] = base_mva, 1.0
        mp_gen[:, 8], mp_gen[:, 9] = 1e9, -1e9
        mp_branch = np.zeros((int(on.sum()), 13))
        for column, source in ((0, F_BUS), (1, T_BUS)):
            mp_branch[:, column] = branch[on, source].real + 1
        for column, source in ((2, BR_R), (3, BR_X), (8, TAP), (9, SHIFT)):
            mp_branch[:, column] = branch[on, source].real
        mp_branch[:, 10], mp_branch[:, 11], mp_branch[:, 12] = 1.0, -360.0, 360.0
        with warnings.catch_warnings():  # several slack buses are meant: NRSing holds each at its V
            warnings.filterwarnings("ignore", message=r".*buses found with `bus_type == 3`")
            self.grid = init_from_matpower({"bus": mp_bus, "gen": mp_gen, "branch": mp_branch,
                                            "baseMVA": base_mva})
        self._series = self._computer()
        self._base_mva = base_mva
        self._load_p = np.zeros((1, n))
        self._load_q = np.zeros((1, n))
        #: Newton iterations of the last solve (of all solved rows after solve_many)
        self.last_iterations = 0

    def _computer(self) -> TimeSeriesCPP:
        computer = TimeSeriesCPP(self.grid)
        computer.change_algorithm(AlgorithmType.NRSing_KLU)
        return computer

    def solve(self, sbus: np.ndarray, v0: np.ndarray, max_iteration: int,
              tolerance_mva: float) -> np.ndarray | None:
        """Newton-Raphson from ``v0`` for injections ``sbus`` [pu]; voltages [pu] or None."""
        np.multiply(sbus.real, -self._base_mva, out=self._load_p[0])
        np.multiply(sbus.imag, -self._base_mva, out=self._load_q[0])
        series = self._series
        series.modify_load_p(self._load_p)
        series.modify_load_q(self._load_q)
        series.compute(v0, max_iteration, tolerance_mva)
        self.last_iterations = int(series.get_row_nb_iter()[0])
        if not series.converged_mask()[0]:
            return None
        v = series.get_voltages()[0].copy()  # a view of the computer's buffer: the next call reuses it
        return v if cmath.isfinite(v.sum()) else None

    def solve_many(self, sbus: np.ndarray, v0: np.ndarray, max_iteration: int,
                   tolerance_mva: float) -> tuple[np.ndarray, int]:
        """Newton-Raphson for each row of ``sbus`` [pu], each from the row before.

        Row 0 starts from ``v0``; the computation stops at the first row that
        does not converge. Returns the voltages ``(n_rows, n_ppci)`` [pu] and
        the number of leading rows solved (the rows after are not valid);
        :attr:`last_iterations` holds their Newton iterations.
        """
        series = self._computer()  # its own: one-row calls keep theirs
        series.modify_load_p(np.ascontiguousarray(sbus.real * -self._base_mva))
        series.modify_load_q(np.ascontiguousarray(sbus.imag * -self._base_mva))
        series.compute(v0, max_iteration, tolerance_mva)
        v = np.array(series.get_voltages())  # own the rows: the computer's buffer goes with it
        ok = np.asarray(series.converged_mask(), dtype=bool) & np.isfinite(v).all(axis=1)
        solved = int(np.argmin(ok)) if not ok.all() else len(ok)
        self.last_iterations = int(np.sum(series.get_row_nb_iter()[:solved]))
        return v, solved
