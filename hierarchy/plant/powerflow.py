"""Fast, warm-started AC power flow on a fixed pandapower network.

:class:`PowerFlow` is the plant's one power flow: it holds the element
powers of the next solve and solves them, fast path first, pandapower
after. One solve, top to bottom:

1. the network model of the present topology and taps, compiled once and
   cached (:func:`~hierarchy.plant.network_model.compile_model`, with the
   islands' slack tagged first by :mod:`hierarchy.plant.slack`);
2. the bus injections from the element powers and lightsim2grid's
   compiled Newton-Raphson from the last solution
   (:meth:`NetworkModel.newton <hierarchy.plant.network_model.NetworkModel.newton>`;
   island by island where islands share their slack), then from a cold
   start;
3. the results (:class:`~hierarchy.plant.flow_results.FlowResults`): bus
   voltages at once, branch flows and loadings when first read, and the
   gens' shares of a distributed slack (:mod:`hierarchy.plant.slack`);
4. where the fast path has no solution: ``pandapower.runpp``
   (:func:`~hierarchy.plant.slack.runpp_with_slack`), its result tables
   read back.

Because the admittance matrix and injections are pandapower's, results
equal ``pandapower.runpp(net, lightsim2grid=False)`` to the solver
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
"""
from __future__ import annotations

import cmath
import copy
import logging
from collections import OrderedDict

import numpy as np
import pandas as pd
import pandapower as pp

from hierarchy.plant.flow_results import FlowResults
from hierarchy.plant.network_model import (
    P_SIGN, Q_TABLES, NetworkModel, compile_model, fast_path_unsupported)
from hierarchy.plant.slack import gen_slack_from_results, runpp_with_slack

__all__ = ["PowerFlow", "BACKENDS"]

logger = logging.getLogger(__name__)

BACKENDS = ("lightsim2grid", "pandapower")
_SWITCHABLE = ("line", "trafo", "load", "sgen", "storage", "gen")
_MODEL_CACHE_SIZE = 32


class PowerFlow(FlowResults):
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
        Bus voltage magnitude [pu] and angle [degree] of the last solve, per
        bus row; its other results (line and trafo flows [MW], [Mvar] and
        loadings [%], ext_grid supply, ``losses_mw``, ``gen_slack_p_mw``,
        all NaN where de-energised) are those of
        :class:`~hierarchy.plant.flow_results.FlowResults`.
    n_solves, n_fallbacks : int
        Solves requested; solves the fast backend passed to ``runpp``.
    n_iterations : int
        Newton-Raphson iterations of the fast backend (the island-by-island
        solver of distributed slack does not report its own).
    n_model_changes : int
        Network models (topology, taps) taken up by solves.

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

    def __init__(self, net: pp.pandapowerNet, backend: str = "lightsim2grid",
                 tolerance_mva: float = 1e-8, max_iteration: int = 10) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        memo = {id(net["profiles"]): None} if "profiles" in net else {}
        self._net = copy.deepcopy(net, memo)
        self._net.pop("profiles", None)
        reason = fast_path_unsupported(self._net) if backend == "lightsim2grid" else None
        if reason is not None:
            logger.warning("lightsim2grid backend cannot model %s; using pandapower", reason)
            backend = "pandapower"
        super().__init__(self._net)
        self.backend = backend
        self.tolerance_mva = tolerance_mva
        self.max_iteration = max_iteration
        self._n_rows = {table: len(self._net[table]) for table in P_SIGN}
        # stacked element powers P + jQ [MW + jMvar] (load, sgen, storage, gen), one
        # buffer refilled in place by each solve; gen Q stays 0 (solved by the power flow)
        stops = np.cumsum(list(self._n_rows.values()))
        self._spans = [(t, int(b - n), int(b), (n,)) for (t, n), b in zip(self._n_rows.items(), stops)]
        self._s_mva = np.concatenate([self._net[t]["p_mw"].to_numpy(dtype=float) + 1j * (
            self._net[t]["q_mvar"].to_numpy(dtype=float) if t in Q_TABLES else 0.0) for t in P_SIGN])
        self._p_mw, self._q_mvar = self._s_mva.real, self._s_mva.imag  # views
        self._models: OrderedDict[bytes, NetworkModel] = OrderedDict()
        self._model: NetworkModel | None = None
        self._gen_weight: np.ndarray | None = None  # distributed slack (set_slack_weights)
        gen = self._net.gen  # the gens' own reference flags (islands re-tag theirs)
        self._own_slack = (gen["slack"].to_numpy(dtype=bool).copy() if "slack" in gen
                           else np.zeros(len(gen), dtype=bool))
        self._v_last: np.ndarray | None = None  # ppci voltages of the last solve on _model
        self.n_model_changes = 0
        self.n_solves = 0
        self.n_fallbacks = 0
        self.n_iterations = 0

    # ------------------------------------------------------------------ a solve
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
        """Solve the element powers in the buffer: fast path, else ``runpp``."""
        self.n_solves += 1
        if self.backend == "lightsim2grid" and self._solve_fast():
            return True
        if self.backend == "lightsim2grid":
            self.n_fallbacks += 1
        return self._solve_pandapower()

    def _solve_fast(self) -> bool:
        """The compiled model's Newton-Raphson, warm then cold; False if neither solves."""
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
        self._hold_solution(model.results, v, sbus)
        if model.slack is None:
            self.gen_slack_p_mw = np.zeros(self._n_rows["gen"])
        else:
            self.gen_slack_p_mw = model.slack.gen_share_mw(v, sbus)
        return True

    def _current_model(self) -> NetworkModel:
        """The network model of the present topology and taps, from the cache or compiled."""
        if self._model is not None:
            return self._model
        net = self._net
        key = b"".join(net[t]["in_service"].to_numpy(dtype=bool).tobytes() for t in _SWITCHABLE)
        key += net.trafo["tap_pos"].to_numpy(dtype=float).tobytes()
        if key not in self._models:
            self._models[key] = compile_model(net, self._gen_weight, self.tolerance_mva,
                                              self.max_iteration, self._own_slack)
            if len(self._models) > _MODEL_CACHE_SIZE:
                self._models.popitem(last=False)
        self._model = self._models[key]
        self._v_last = None
        self.n_model_changes += 1
        return self._model

    def _warm_start(self, model: NetworkModel, sbus: np.ndarray) -> np.ndarray:
        """The last solution, or after a change of model the last bus voltages in the new
        model's frame, a cold start where not known [pu]
        (:meth:`~hierarchy.plant.network_model.NetworkModel.start_from`)."""
        if self._v_last is not None:
            return model.apply_setpoints(self._v_last.copy())
        return model.start_from(sbus, self._v_bus)

    def _solve_pandapower(self) -> bool:
        """``pandapower.runpp`` with its own solver, warm from the last results."""
        net = self._net
        self._write_injections(net)
        warm = bool(np.isfinite(self._v_bus).any()) and len(net.res_bus) == len(net.bus)
        for init in (("results", "auto") if warm else ("auto",)):
            try:
                runpp_with_slack(net, self._gen_weight, self._own_slack, lightsim2grid=False,
                                 numba=False, init=init,
                                 tolerance_mva=self.tolerance_mva, max_iteration=self.max_iteration)
            except (pp.LoadflowNotConverged, UserWarning):
                continue
            self._read_pandapower_results(net)
            if self._gen_weight is not None:
                self.gen_slack_p_mw = gen_slack_from_results(net)
            self._v_last = None
            return True
        self._reset_results()
        return False

    def _write_injections(self, net: pp.pandapowerNet) -> None:
        """The element powers of the buffer into the net's tables."""
        offset = 0
        for table in P_SIGN:
            n = len(net[table])
            net[table]["p_mw"] = self._p_mw[offset:offset + n].copy()  # not a view of the buffer
            if table in Q_TABLES:
                net[table]["q_mvar"] = self._q_mvar[offset:offset + n].copy()
            offset += n

    # ------------------------------------------------------------ many solves
    def solve_many(self, s_mva: np.ndarray) -> dict[str, np.ndarray]:
        """Solve one power flow per row of element powers, each warm from the row before.

        The same Newton iterates as :meth:`solve` called row by row, run by
        lightsim2grid's time-series computer in one call where the model
        allows (:class:`~hierarchy.plant.grid_solver.GridSolver`); a row it
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
            One row per solve: every name of
            :data:`~hierarchy.plant.flow_results.RESULTS`, ``losses_mw`` and
            ``gen_slack_p_mw``, and ``converged`` (bool). The instance is left
            holding the last row's solution.
        """
        s_mva = np.nan_to_num(np.asarray(s_mva, dtype=complex), nan=0.0)
        s_mva[:, self._spans[-1][1]:] = s_mva[:, self._spans[-1][1]:].real  # gen rows: P only
        n_rows = s_mva.shape[0]
        out = self._empty_rows(n_rows)
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
        sbus = model.sbus_many(s_mva)
        v, solved = model.grid_solver.solve_many(sbus, self._warm_start(model, sbus[0]),
                                                 self.max_iteration, self.tolerance_mva)
        self.n_iterations += model.grid_solver.last_iterations
        if not solved:
            return 0
        v, sbus = v[:solved], sbus[:solved]
        model.results.write_rows(out, first, v, sbus)
        out["converged"][first:first + solved] = True
        self.n_solves += solved
        self._s_mva[:] = s_mva[solved - 1]
        self._v_last = v[-1].copy()
        self._hold_solution(model.results, self._v_last, sbus[-1])
        self.gen_slack_p_mw = np.zeros(self._n_rows["gen"])
        return solved

    # ------------------------------------------------------- network changes
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
            [1]_ (:mod:`hierarchy.plant.slack`); the shares are in
            :attr:`gen_slack_p_mw` [MW].
        """
        self._gen_weight = None if gen_weight is None else np.asarray(gen_weight, dtype=float).copy()
        self._models.clear()
        self._model = None

    # ------------------------------------------------------------- read-outs
    @property
    def network(self) -> pp.pandapowerNet:
        """The network as this power flow solves it: its own copy, whose
        ``in_service`` flags and tap positions follow :meth:`set_in_service`
        and :meth:`set_tap_pos`. Read it; change it only through those methods."""
        return self._net

    @property
    def slack_weights(self) -> np.ndarray | None:
        """The distributed-slack weight per gen row [MW/pu] of
        :meth:`set_slack_weights` (None: off)."""
        return self._gen_weight

    def voltage_sensitivity(self, bus_positions: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """How bus voltages answer injections, at the last solution.

        Returns ``(dv_dp, dv_dq)``: row ``i``, column ``j`` is the change of
        |V| [pu] at the net's bus ``bus_positions[i]`` per MW (Mvar) injected
        at ``bus_positions[j]``, from the power flow's Jacobian
        (:meth:`~hierarchy.plant.network_model.NetworkModel.voltage_sensitivity`).
        None where it is not known: no solution by the fast path, or a slack
        shared among generators. :attr:`n_model_changes` tells when the
        network model (topology, taps) it belongs to was replaced.
        """
        model = self._model
        if model is None or self._v_last is None or model.slack is not None:
            return None
        dv_dp, dv_dq = model.voltage_sensitivity(self._v_last, model.bus_ppci[bus_positions])
        return dv_dp / model.base_mva, dv_dq / model.base_mva

    def reference_vm_pu(self) -> np.ndarray:
        """Voltage magnitudes [pu] from ``pandapower.runpp(lightsim2grid=False)``.

        Runs on a copy with the last injections, topology and taps; with
        distributed slack, island by island (``distributed_slack=True``).
        """
        net = copy.deepcopy(self._net)
        self._write_injections(net)
        runpp_with_slack(net, self._gen_weight, self._own_slack, lightsim2grid=False,
                         numba=False, tolerance_mva=self.tolerance_mva)
        return net.res_bus["vm_pu"].to_numpy(dtype=float)
