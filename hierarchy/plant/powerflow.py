"""Fast, warm-started AC power flow on a fixed pandapower network.

The network model is compiled once (and again only when the topology or a
tap changes) with pandapower's own converter (``_pd2ppc``: bus fusion over
closed bus-bus switches, auxiliary buses at open line/trafo switches,
islands without slack set out of service, transformer model, taps, shunts,
wards). Each step then only rebuilds the bus injection vector from numpy
arrays and runs lightsim2grid's compiled Newton-Raphson (KLU) from the last
solution. Because the admittance matrix and injections are pandapower's,
results equal ``pandapower.runpp(net, lightsim2grid=False)`` to the solver
tolerance. Sign conventions follow pandapower: loads and storage consume
with ``p_mw > 0``, sgens and gens generate with ``p_mw > 0``, an ext_grid
supplying the grid has ``p_mw > 0``.

References
----------
.. [1] L. Thurner et al., "pandapower — An Open-Source Python Tool for
   Convenient Modeling, Analysis, and Optimization of Electric Power
   Systems", IEEE Trans. Power Syst. 33(6), 2018, doi:10.1109/TPWRS.2018.2829021
.. [2] B. Donnot, "LightSim2grid: a c++ backend for grid2op",
   https://github.com/Grid2Op/lightSim2Grid (2020).
.. [3] R. D. Zimmerman et al., "MATPOWER: Steady-State Operations, Planning,
   and Analysis Tools", IEEE Trans. Power Syst. 26(1), 2011,
   doi:10.1109/TPWRS.2010.2051168 (Ybus, Sbus, branch flow definitions).
"""
from __future__ import annotations

import cmath
import copy
import logging
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import pandapower as pp

from hierarchy.plant.ppc_model import (  # noqa: F401 (re-exported for tests)
    _P_SIGN, _PP_OPTIONS, _Q_TABLES, _BranchResult, _Model, _energised,
    _fast_path_unsupported, _injection_columns, _injection_matrices)
from hierarchy.plant.slack import assign_island_slack, gen_slack_share_mw, runpp_islands

__all__ = ["PowerFlow", "BACKENDS", "RESULTS"]

logger = logging.getLogger(__name__)

BACKENDS = ("lightsim2grid", "pandapower")
_SWITCHABLE = ("line", "trafo", "load", "sgen", "storage", "gen")
_MODEL_CACHE_SIZE = 32
#: solutions whose branch results :meth:`PowerFlow.solve_many` computes at once: the
#: temporaries of a whole block of a large grid would not stay in the cache (9,099
#: buses: 1.2 ms per solution in blocks of 200, 0.3 ms in blocks of 16)
_RESULT_ROWS = 16
#: result attribute -> (element table, column of pandapower's result table)
RESULTS: dict[str, tuple[str, str]] = {
    "vm_pu": ("bus", "vm_pu"), "va_degree": ("bus", "va_degree"),
    "line_p_from_mw": ("line", "p_from_mw"), "line_p_to_mw": ("line", "p_to_mw"),
    "line_q_from_mvar": ("line", "q_from_mvar"),
    "line_loading_percent": ("line", "loading_percent"),
    "trafo_p_hv_mw": ("trafo", "p_hv_mw"), "trafo_p_lv_mw": ("trafo", "p_lv_mw"),
    "trafo_loading_percent": ("trafo", "loading_percent"),
    "ext_grid_p_mw": ("ext_grid", "p_mw"), "ext_grid_q_mvar": ("ext_grid", "q_mvar"),
}


class PowerFlow:
    """AC power flow of one pandapower network, re-solved with new injections.

    Parameters
    ----------
    net : pandapowerNet
        The network; the instance works on its own deep copy (without
        ``net.profiles``), so later changes to ``net`` are not seen.
    backend : {"lightsim2grid", "pandapower"}
        ``lightsim2grid``: compiled model with lightsim2grid's KLU
        Newton-Raphson [2]_; ``pandapower``: ``pandapower.runpp`` with its own
        solver on every solve (the reference, slow).
    tolerance_mva : float
        Newton-Raphson mismatch tolerance [pu of ``net.sn_mva``], as ``runpp``.
    max_iteration : int
        Newton-Raphson iteration limit per attempt.

    Attributes
    ----------
    vm_pu, va_degree : ndarray
        Bus voltage magnitude [pu] and angle [degree], per bus row.
    line_p_from_mw, line_p_to_mw, line_q_from_mvar, line_loading_percent : ndarray
        Line flows into the line at each end [MW], [Mvar] and current
        loading [%] of ``max_i_ka * df * parallel``, per line row.
    trafo_p_hv_mw, trafo_p_lv_mw, trafo_loading_percent : ndarray
        Transformer flows [MW] and loading [%] (current-based), per trafo row.
    ext_grid_p_mw, ext_grid_q_mvar : ndarray
        External grid supply [MW], [Mvar] (positive = into the grid).
    losses_mw : float
        Total active losses [MW].
    n_solves, n_fallbacks : int
        Solves requested; solves the fast backend passed to ``runpp``.
    n_iterations : int
        Newton-Raphson iterations of the fast backend (the island-by-island
        solver of distributed slack does not report its own).

    Notes
    -----
    Array order is the row order of the net's tables. Results are NaN for
    de-energised buses, branches and ext_grids (out of service, or in an
    island without slack). ``losses_mw`` is the sum of the active losses of
    all branches (lines, trafos, impedances, switch branches) [1]_.

    Examples
    --------
    >>> import pandapower.networks as pn
    >>> net = pn.example_simple()
    >>> flow = PowerFlow(net)
    >>> flow.solve(net.load.p_mw.values, net.load.q_mvar.values, net.sgen.p_mw.values,
    ...            net.sgen.q_mvar.values, net.storage.p_mw.values,
    ...            net.storage.q_mvar.values, net.gen.p_mw.values)
    True
    >>> bool(abs(flow.vm_pu - flow.reference_vm_pu()).max() < 1e-9)
    True
    """

    # branch and slack results, computed lazily after a fast solve
    line_p_from_mw = _BranchResult()
    line_q_from_mvar = _BranchResult()
    line_p_to_mw = _BranchResult()
    line_loading_percent = _BranchResult()
    trafo_p_hv_mw = _BranchResult()
    trafo_p_lv_mw = _BranchResult()
    trafo_loading_percent = _BranchResult()
    ext_grid_p_mw = _BranchResult()
    ext_grid_q_mvar = _BranchResult()
    losses_mw = _BranchResult()

    def __init__(self, net: pp.pandapowerNet, backend: str = "lightsim2grid",
                 tolerance_mva: float = 1e-8, max_iteration: int = 10) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        memo = {id(net["profiles"]): None} if "profiles" in net else {}
        self._net = copy.deepcopy(net, memo)
        self._net.pop("profiles", None)
        reason = _fast_path_unsupported(self._net) if backend == "lightsim2grid" else None
        if reason is not None:
            logger.warning("lightsim2grid backend cannot model %s; using pandapower", reason)
            backend = "pandapower"
        self.backend = backend
        self.tolerance_mva = tolerance_mva
        self.max_iteration = max_iteration
        self._n_rows = {table: len(self._net[table]) for table in _P_SIGN}
        # stacked element powers P + jQ [MW + jMvar] (load, sgen, storage, gen), one
        # buffer refilled in place by each solve; gen Q stays 0 (solved by the power flow)
        stops = np.cumsum(list(self._n_rows.values()))
        self._spans = [(t, int(b - n), int(b), (n,)) for (t, n), b in zip(self._n_rows.items(), stops)]
        self._s_mva = np.concatenate([self._net[t]["p_mw"].to_numpy(dtype=float) + 1j * (
            self._net[t]["q_mvar"].to_numpy(dtype=float) if t in _Q_TABLES else 0.0) for t in _P_SIGN])
        self._p_mw, self._q_mvar = self._s_mva.real, self._s_mva.imag  # views
        self._results: dict[str, Any] = {}
        self._pending: tuple | None = None
        self._models: OrderedDict[bytes, _Model] = OrderedDict()
        self._model: _Model | None = None
        self._gen_weight: np.ndarray | None = None  # distributed slack (set_slack_weights)
        self.gen_slack_p_mw = np.zeros(self._n_rows["gen"])
        self._v_last: np.ndarray | None = None  # ppci voltages of the last solve on _model
        #: counts the network models (topology, taps) taken up by solves
        self.n_model_changes = 0
        self.n_solves = 0
        self.n_fallbacks = 0
        self.n_iterations = 0
        self._reset_results()

    # ------------------------------------------------------------------ inputs
    def solve(self, load_p_mw: np.ndarray, load_q_mvar: np.ndarray, sgen_p_mw: np.ndarray,
              sgen_q_mvar: np.ndarray, storage_p_mw: np.ndarray, storage_q_mvar: np.ndarray,
              gen_p_mw: np.ndarray) -> bool:
        """Solve the AC power flow for new injections, warm-started.

        Parameters
        ----------
        load_p_mw, load_q_mvar : ndarray
            Load consumption [MW], [Mvar] (consumption positive), per load row.
        sgen_p_mw, sgen_q_mvar : ndarray
            Static generator output [MW], [Mvar] (generation positive).
        storage_p_mw, storage_q_mvar : ndarray
            Storage power [MW], [Mvar] (charging positive, pandapower convention).
        gen_p_mw : ndarray
            Voltage-controlled generator output [MW] (generation positive).

        Returns
        -------
        bool
            True if a solution was found (by the fast path, a cold retry, or
            pandapower's ``runpp`` as fallback). On False all results are NaN.
        """
        parts = zip(self._spans, (load_p_mw, sgen_p_mw, storage_p_mw, gen_p_mw),
                    (load_q_mvar, sgen_q_mvar, storage_q_mvar, None))
        for (table, _, _, shape), p, q in parts:
            if np.shape(p) != shape or (q is not None and np.shape(q) != shape):
                raise ValueError(f"{table} arrays need shape {shape}, got {np.shape(p)}, "
                                 f"{np.shape(q)}")
        return self.solve_unchecked(load_p_mw, load_q_mvar, sgen_p_mw, sgen_q_mvar, storage_p_mw,
                                    storage_q_mvar, gen_p_mw)

    def solve_unchecked(self, load_p_mw: np.ndarray, load_q_mvar: np.ndarray,
                        sgen_p_mw: np.ndarray, sgen_q_mvar: np.ndarray, storage_p_mw: np.ndarray,
                        storage_q_mvar: np.ndarray, gen_p_mw: np.ndarray) -> bool:
        """:meth:`solve` for arrays known to have the tables' shapes (the plant's own,
        at every solve of a run): their shapes are not checked again."""
        p_mw, q_mvar = self._p_mw, self._q_mvar
        (_, a, b, _), (_, c, d, _), (_, e, f, _), (_, g, h, _) = self._spans
        p_mw[a:b], p_mw[c:d], p_mw[e:f], p_mw[g:h] = load_p_mw, sgen_p_mw, storage_p_mw, gen_p_mw
        q_mvar[a:b], q_mvar[c:d], q_mvar[e:f] = load_q_mvar, sgen_q_mvar, storage_q_mvar
        # NaN (a controller with no voltage to act on: on a de-energised bus, or
        # after a failed solve) injects nothing, so that the next solve can recover
        if not cmath.isfinite(self._s_mva.sum()):
            np.nan_to_num(self._s_mva, copy=False, nan=0.0)
        return self._solve_current()

    def _solve_current(self) -> bool:
        self.n_solves += 1
        if self.backend == "lightsim2grid" and self._solve_fast():
            return True
        if self.backend == "lightsim2grid":
            self.n_fallbacks += 1
        return self._solve_pandapower()

    def solve_many(self, s_mva: np.ndarray) -> dict[str, np.ndarray]:
        """Solve one power flow per row of element powers, each warm from the row before.

        The same Newton iterates as :meth:`solve` called row by row, run by
        lightsim2grid's time-series computer in one call where the model
        allows (:class:`~hierarchy.plant.ppc_model._GridSolver`); a row it
        cannot solve, and every row of a model it cannot hold, goes through
        :meth:`solve`'s path (cold retry, then ``runpp``).

        Parameters
        ----------
        s_mva : ndarray
            ``(n_rows, n)`` complex element powers ``P + jQ`` [MW + jMvar] in
            pandapower's signs, stacked as load, sgen, storage, gen rows (the
            gens' Q is ignored: it is solved); NaN injects nothing.

        Returns
        -------
        dict
            One row per solve: every name of :data:`RESULTS`,
            ``losses_mw`` and ``gen_slack_p_mw``, and ``converged`` (bool).
            The instance is left holding the last row's solution.
        """
        s_mva = np.nan_to_num(np.asarray(s_mva, dtype=complex), nan=0.0)
        s_mva[:, self._spans[-1][1]:] = s_mva[:, self._spans[-1][1]:].real  # gen rows: P only
        n_rows = s_mva.shape[0]
        out = {name: np.full((n_rows, len(self._net[table])), np.nan)
               for name, (table, _) in RESULTS.items()}
        out["losses_mw"] = np.full(n_rows, np.nan)
        out["gen_slack_p_mw"] = np.zeros((n_rows, self._n_rows["gen"]))
        out["converged"] = np.zeros(n_rows, dtype=bool)
        row = 0
        while row < n_rows:
            solved = self._solve_rows_fast(s_mva[row:], out, row)
            row += solved
            if row < n_rows:  # not the grid solver's, or it stopped here: one by one
                self._s_mva[:] = s_mva[row]
                self._store_row(out, row, self._solve_current())
                row += 1
        return out

    def _solve_rows_fast(self, s_mva: np.ndarray, out: dict, first: int) -> int:
        """Leading rows solved by the model's grid solver (0 if it has none)."""
        if self.backend != "lightsim2grid":
            return 0
        try:
            model = self._current_model()
        except UserWarning:
            return 0
        if model.grid_solver is None:
            return 0
        sbus = model.sbus_fixed + (model._inj_complex @ s_mva.T).T
        v, solved = model.grid_solver.solve_many(sbus, self._warm_start(model, sbus[0]),
                                                 self.max_iteration, self.tolerance_mva)
        self.n_iterations += model.grid_solver.last_iterations
        if not solved:
            return 0
        v, sbus = v[:solved], sbus[:solved]
        rows = slice(first, first + solved)
        for start in range(0, solved, _RESULT_ROWS):  # a few rows at a time: see _RESULT_ROWS
            stop = min(start + _RESULT_ROWS, solved)
            part, done = slice(start, stop), slice(first + start, first + stop)
            v_bus = model.bus_voltages(v[part])
            out["vm_pu"][done] = np.abs(v_bus)
            out["va_degree"][done] = np.degrees(np.arctan2(v_bus.imag, v_bus.real))
            for name, value in model.branch_results(v[part], sbus[part]).items():
                out[name][done] = value
        out["converged"][rows] = True
        self.n_solves += solved
        self._s_mva[:] = s_mva[solved - 1]
        self._v_last = v[-1].copy()
        self._write_fast_results(model, self._v_last, sbus[-1])
        self.gen_slack_p_mw = np.zeros(self._n_rows["gen"])
        return solved

    def _store_row(self, out: dict, row: int, converged: bool) -> None:
        for name in RESULTS:
            out[name][row] = getattr(self, name)
        out["losses_mw"][row] = self.losses_mw
        out["gen_slack_p_mw"][row] = self.gen_slack_p_mw
        out["converged"][row] = converged

    def set_in_service(self, table: str, position: int, in_service: bool) -> None:
        """Switch an element in or out of service; the model is rebuilt at the next solve.

        Parameters
        ----------
        table : {"line", "trafo", "load", "sgen", "storage", "gen"}
        position : int
            Row position in the table (not the index label).
        in_service : bool
        """
        if table not in _SWITCHABLE:
            raise ValueError(f"table must be one of {_SWITCHABLE}, got {table!r}")
        frame = self._net[table]
        frame.at[frame.index[position], "in_service"] = bool(in_service)
        self._model = None

    def set_tap_pos(self, trafo_position: int, tap_pos: int) -> None:
        """Set a two-winding transformer's tap position [steps]; rebuilt lazily.

        pandapower 3 ignores ``tap_pos`` where ``tap_changer_type`` is empty,
        as in SimBench nets; such a trafo with a ``tap_step_percent`` is
        given ``tap_changer_type = "Ratio"`` here (no change at the neutral
        tap), so that moving the tap acts as its data says.

        Raises
        ------
        ValueError
            If the transformer has neither a tap changer type nor a tap step.
        """
        frame = self._net.trafo
        label = frame.index[trafo_position]
        if pd.isna(frame.at[label, "tap_changer_type"]):
            step_percent = frame.at[label, "tap_step_percent"]
            if pd.isna(step_percent) or step_percent == 0:
                raise ValueError(f"trafo at position {trafo_position} has no tap changer")
            frame["tap_changer_type"] = frame["tap_changer_type"].astype(object)
            frame.at[label, "tap_changer_type"] = "Ratio"
        frame.at[label, "tap_pos"] = tap_pos
        self._model = None

    def set_slack_weights(self, gen_weight: np.ndarray | None) -> None:
        """Share the slack of islands without ext_grid over their gens (distributed slack).

        Parameters
        ----------
        gen_weight : ndarray or None
            Weight per gen row, ``P_rated / R`` [MW/pu] (0: no share); None
            switches distributed slack off (an island without ext_grid or
            slack gen is then de-energised, as in ``runpp``). In every island
            without an in-service ext_grid the largest-weight gen becomes the
            angle reference and the island's imbalance is shared in
            proportion to the weights, as ``runpp(distributed_slack=True)``
            [1]_; the shares are in :attr:`gen_slack_p_mw` [MW].
        """
        self._gen_weight = None if gen_weight is None else np.asarray(gen_weight, dtype=float).copy()
        self._models.clear()
        self._model = None

    def reference_vm_pu(self) -> np.ndarray:
        """Voltage magnitudes [pu] from ``pandapower.runpp(lightsim2grid=False)``.

        Runs on a copy with the last injections, topology and taps; with
        distributed slack, island by island (``distributed_slack=True``).
        """
        net = copy.deepcopy(self._net)
        self._write_injections(net)
        if self._gen_weight is not None:
            assign_island_slack(net, self._gen_weight)
            runpp_islands(net, lightsim2grid=False, numba=False, tolerance_mva=self.tolerance_mva)
        else:
            pp.runpp(net, lightsim2grid=False, numba=False, tolerance_mva=self.tolerance_mva)
        return net.res_bus["vm_pu"].to_numpy(dtype=float)

    # --------------------------------------------------------------- fast path
    def _current_model(self) -> _Model:
        if self._model is not None:
            return self._model
        net = self._net
        key = b"".join(net[t]["in_service"].to_numpy(dtype=bool).tobytes() for t in _SWITCHABLE)
        key += net.trafo["tap_pos"].to_numpy(dtype=float).tobytes()
        if key not in self._models:
            if self._gen_weight is not None:
                assign_island_slack(net, self._gen_weight)
            columns = [(t, c) for t in _P_SIGN for c in _injection_columns(t)]
            saved = {(t, c): net[t][c].copy() for t, c in columns}
            try:
                for table, column in columns:  # injections enter by matrices: compile at 0
                    net[table][column] = 0.0
                self._models[key] = _Model(net, self.tolerance_mva, self.max_iteration,
                                           self._gen_weight)
            finally:
                for (table, column), values in saved.items():
                    net[table][column] = values
            if len(self._models) > _MODEL_CACHE_SIZE:
                self._models.popitem(last=False)
        self._model = self._models[key]
        self._v_last = None
        self.n_model_changes += 1
        return self._model

    def voltage_sensitivity(self, bus_positions: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """How bus voltages answer injections, at the last solution.

        Returns ``(dv_dp, dv_dq)``: row ``i``, column ``j`` is the change of
        |V| [pu] at the net's bus ``bus_positions[i]`` per MW (Mvar) injected
        at ``bus_positions[j]``, from the power flow's Jacobian
        (:meth:`~hierarchy.plant.ppc_model._Model.voltage_sensitivity`).
        None where it is not known: no solution by the fast path, or a slack
        shared among generators. :attr:`n_model_changes` tells when the
        network model (topology, taps) it belongs to was replaced.
        """
        model = self._model
        if model is None or self._v_last is None or model.islands is not None:
            return None
        dv_dp, dv_dq = model.voltage_sensitivity(self._v_last, model.bus_ppci[bus_positions])
        return dv_dp / model.base_mva, dv_dq / model.base_mva

    def _warm_start(self, model: _Model, sbus: np.ndarray) -> np.ndarray:
        if self._v_last is not None:
            return model.apply_setpoints(self._v_last.copy())
        v0 = model.cold_start(sbus)
        known = (model.bus_ppci < model.n_ppci) & np.isfinite(self._v_bus)
        v0[model.bus_ppci[known]] = self._v_bus[known]
        return model.apply_setpoints(v0)

    def _solve_fast(self) -> bool:
        try:
            model = self._current_model()
        except UserWarning:  # pandapower's "No reference bus is available"
            return False
        sbus = model.sbus(self._s_mva)
        v = model.newton(sbus, self._warm_start(model, sbus))
        self.n_iterations += model.last_iterations
        if v is None:
            v = model.newton(sbus, model.cold_start(sbus))
            self.n_iterations += model.last_iterations
        if v is None:
            self._v_last = None
            return False
        self._v_last = v
        self._write_fast_results(model, v, sbus)
        if model.islands is None:
            self.gen_slack_p_mw = np.zeros(self._n_rows["gen"])
        else:
            self.gen_slack_p_mw = gen_slack_share_mw(model.ybus, v, sbus, model.base_mva, model.gen_bus_ppci,
                                                     model.gen_weight, model.bus_weight)
        return True

    def _write_fast_results(self, model: _Model, v: np.ndarray, sbus: np.ndarray) -> None:
        """Bus results now; branch and slack results when first read."""
        v_bus = model.bus_voltages(v)
        self._v_bus = v_bus
        self.vm_pu = np.abs(v_bus)
        self.va_degree = np.degrees(np.arctan2(v_bus.imag, v_bus.real))  # as np.angle
        self._pending = (model, v, sbus)

    def _compute_branch_results(self) -> None:
        """Element results from the ppci solution (:meth:`_Model.branch_results`)."""
        model, v, sbus = self._pending
        self._pending = None
        for name, value in model.branch_results(v, sbus).items():
            setattr(self, name, value)

    # ---------------------------------------------------------- pandapower path
    def _write_injections(self, net: pp.pandapowerNet) -> None:
        offset = 0
        for table in _P_SIGN:
            n = len(net[table])
            net[table]["p_mw"] = self._p_mw[offset:offset + n].copy()  # not a view of the buffer
            if table in _Q_TABLES:
                net[table]["q_mvar"] = self._q_mvar[offset:offset + n].copy()
            offset += n

    def _solve_pandapower(self) -> bool:
        """``pandapower.runpp`` with its own solver, warm from the last results."""
        net = self._net
        self._write_injections(net)
        warm = bool(np.isfinite(self._v_bus).any()) and len(net.res_bus) == len(net.bus)
        for init in (("results", "auto") if warm else ("auto",)):
            try:
                if self._gen_weight is not None:
                    assign_island_slack(net, self._gen_weight)
                    runpp_islands(net, lightsim2grid=False, numba=False, init=init,
                                  tolerance_mva=self.tolerance_mva, max_iteration=self.max_iteration)
                else:
                    pp.runpp(net, lightsim2grid=False, numba=False, init=init,
                             tolerance_mva=self.tolerance_mva, max_iteration=self.max_iteration)
            except (pp.LoadflowNotConverged, UserWarning):
                continue
            self._read_pandapower_results(net)
            if self._gen_weight is not None:
                solved = np.nan_to_num(net.res_gen["p_mw"].to_numpy(dtype=float) - net.gen["p_mw"].to_numpy(float))
                self.gen_slack_p_mw = np.where(net.gen["slack_weight"].to_numpy(float) > 0, solved, 0.0)
            self._v_last = None
            return True
        self._reset_results()
        return False

    def _read_pandapower_results(self, net: pp.pandapowerNet) -> None:
        self._pending = None
        res_bus = net.res_bus
        eg_bus = net.ext_grid["bus"].to_numpy()
        energised = {
            "bus": res_bus["vm_pu"].notna().to_numpy(),
            "line": _energised(net.line, net.res_line, ("vm_from_pu", "vm_to_pu")),
            "trafo": _energised(net.trafo, net.res_trafo, ("vm_hv_pu", "vm_lv_pu")),
            "ext_grid": net.ext_grid["in_service"].to_numpy(dtype=bool)
            & res_bus["vm_pu"].reindex(eg_bus).notna().to_numpy()}
        for name, (table, column) in RESULTS.items():
            values = net[f"res_{table}"][column].to_numpy(dtype=float)
            setattr(self, name, np.where(energised[table], values, np.nan))
        self._v_bus = self.vm_pu * np.exp(1j * np.radians(self.va_degree))
        losses = [net[f"res_{t}"]["pl_mw"].to_numpy(dtype=float)
                  for t in ("line", "trafo", "trafo3w", "impedance") if f"res_{t}" in net]
        self.losses_mw = float(np.nansum(np.concatenate(losses)))

    def _reset_results(self) -> None:
        self._pending = None
        for name, (table, _) in RESULTS.items():
            setattr(self, name, np.full(len(self._net[table]), np.nan))
        self.losses_mw = np.nan
        self._v_bus = np.full(len(self._net.bus), np.nan, dtype=complex)
