"""Compiled network model for the fast power flow (pandapower's ppci).

One :class:`_Model` holds the network of one topology and tap state as
pandapower's converter (``_pd2ppc``) builds it [1]_: admittance matrices
(MATPOWER ``makeYbus`` [2]_), the map from stacked element powers to the
bus injection vector, slack/PV/PQ bus sets, a factorised DC power flow for
cold starts and lightsim2grid's compiled Newton-Raphson [3]_, run on a
lightsim2grid grid model of the same admittance matrix that is kept between
solves (:class:`_GridSolver`: the Jacobian's sparsity is analysed once per
topology, not once per solve). Used only by
:class:`hierarchy.plant.powerflow.PowerFlow`. Sign conventions follow
pandapower: loads and storage consume with ``p_mw > 0``, sgens and gens
generate with ``p_mw > 0``.

References
----------
.. [1] L. Thurner et al., "pandapower — An Open-Source Python Tool for
   Convenient Modeling, Analysis, and Optimization of Electric Power
   Systems", IEEE Trans. Power Syst. 33(6), 2018, doi:10.1109/TPWRS.2018.2829021
.. [2] R. D. Zimmerman et al., "MATPOWER: Steady-State Operations, Planning,
   and Analysis Tools", IEEE Trans. Power Syst. 26(1), 2011,
   doi:10.1109/TPWRS.2010.2051168 (Ybus, Sbus, branch flow definitions).
.. [3] B. Donnot, "LightSim2grid: a c++ backend for grid2op",
   https://github.com/Grid2Op/lightSim2Grid (2020).
"""
from __future__ import annotations

import cmath
import warnings
from typing import Any

import numpy as np
import pandapower as pp
from lightsim2grid.algorithm import NRSing_KLU
from lightsim2grid.lightsim2grid_cpp import AlgorithmType
from lightsim2grid.network import init_from_matpower
from lightsim2grid.timeSerie import TimeSeriesCPP
from pandapower.auxiliary import _init_runpp_options
from pandapower.pd2ppc import _pd2ppc
from pandapower.pf.create_jacobian import _create_J_without_numba
from pandapower.pf.ppci_variables import _get_pf_variables_from_ppci
from pandapower.pypower.idx_brch import (
    BR_R, BR_R_ASYM, BR_STATUS, BR_X, BR_X_ASYM, F_BUS, SHIFT, T_BUS, TAP)
from pandapower.pypower.idx_bus import BASE_KV, GS
from pandapower.pypower.makeBdc import makeBdc
from pandapower.pypower.makeSbus import makeSbus
from pandapower.pypower.makeYbus import makeYbus
from scipy import sparse
from scipy.sparse.linalg import splu

from hierarchy.plant.slack import IslandSolver

__all__: list[str] = []

_P_SIGN = {"load": -1.0, "sgen": 1.0, "storage": -1.0, "gen": 1.0}
_Q_TABLES = ("load", "sgen", "storage")
_SQRT3 = np.sqrt(3.0)
_NAN_COMPLEX = complex(np.nan, np.nan)

_PP_OPTIONS: dict[str, Any] = dict(
    algorithm="nr", calculate_voltage_angles=True, init="dc", max_iteration=10,
    tolerance_mva=1e-8, trafo_model="t", trafo_loading="current", enforce_p_lims=False,
    enforce_q_lims=False, check_connectivity=True, voltage_depend_loads=True,
    numba=False, lightsim2grid=False)


def _injection_matrices(net: pp.pandapowerNet, n_ppci: int,
                        base_mva: float) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Map stacked element P [MW] and Q [Mvar] (load, sgen, storage, gen) to Sbus [pu].

    Signs make generation positive; ``scaling`` and pandapower's in-service
    selection (``_is_elements``, after the connectivity check) are applied.
    """
    lookup, is_el = net._pd2ppc_lookups["bus"], net["_is_elements"]
    rows, cols, vals, with_q = [], [], [], []
    offset = 0
    for table, sign in _P_SIGN.items():
        tab = net[table]
        if len(tab):
            ppci_bus = lookup[tab["bus"].to_numpy()]
            active = np.flatnonzero(np.asarray(is_el[table], dtype=bool) & (ppci_bus < n_ppci))
            rows.append(ppci_bus[active])
            cols.append(active + offset)
            vals.append(sign * tab["scaling"].to_numpy(dtype=float)[active] / base_mva)
            with_q.append(np.full(len(active), table in _Q_TABLES))
        offset += len(tab)
    row, col, val = (np.concatenate(a) if a else np.zeros(0, int) for a in (rows, cols, vals))
    q = np.concatenate(with_q) if with_q else np.zeros(0, bool)
    shape = (n_ppci, offset)
    return (sparse.csr_matrix((val, (row, col)), shape=shape),
            sparse.csr_matrix((val[q], (row[q], col[q])), shape=shape))


def _fast_path_unsupported(net: pp.pandapowerNet) -> str | None:
    """Return why the compiled path cannot reproduce ``runpp``, or None."""
    load = net.load
    zip_cols = ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent", "const_i_q_percent")
    if len(load) and any(np.any(load[c].to_numpy(dtype=float) != 0) for c in zip_cols if c in load):
        return "voltage-dependent (ZIP) loads"
    for table in ("dcline", "svc", "tcsc", "ssc", "vsc", "vsc_stacked", "vsc_bipolar"):
        if table in net and len(net[table]) and net[table]["in_service"].any():
            return f"in-service {table} elements"
    return None


class _Model:
    """Compiled network for one topology and tap state (pandapower's ppci)."""

    def __init__(self, net: pp.pandapowerNet, tolerance_mva: float, max_iteration: int,
                 gen_weight: np.ndarray | None = None) -> None:
        self.tolerance_mva = tolerance_mva
        self.max_iteration = max_iteration
        _init_runpp_options(net, **_PP_OPTIONS)
        net._pd2ppc_lookups = {key: np.array([], dtype=np.int64) for key in (
            "bus", "bus_dc", "ext_grid", "gen", "branch", "branch_dc")}
        _, ppci = _pd2ppc(net)
        base_mva, bus, gen, branch, *_, ref, pv, pq, _, _, v0, _ = (
            _get_pf_variables_from_ppci(ppci))
        self.base_mva = float(base_mva)
        self.n_ppci = bus.shape[0]
        ybus, yf, yt = makeYbus(base_mva, bus, branch)
        self.ybus, self.yf, self.yt = ybus.tocsc(), yf.tocsr(), yt.tocsr()
        self.ref, self.pv, self.pq = (np.asarray(a, dtype=np.int32) for a in (ref, pv, pq))
        self.slack_weights = np.zeros(self.n_ppci)
        self.slack_weights[self.ref] = 1.0 / max(len(self.ref), 1)
        self.sbus_fixed = makeSbus(base_mva, bus, gen)  # wards etc.; controllable parts are 0
        self.v_set = v0.copy()
        self._vm_set_pv = np.abs(self.v_set[self.pv])
        self._v_set_ref = self.v_set[self.ref]
        self.vm_init_pu = float(np.mean(np.abs(v0[np.r_[self.ref, self.pv]])))
        self.f_bus = branch[:, F_BUS].real.astype(np.int64)
        self.t_bus = branch[:, T_BUS].real.astype(np.int64)
        self.f_bus_ext = np.append(self.f_bus, self.n_ppci)
        self.t_bus_ext = np.append(self.t_bus, self.n_ppci)
        self.kv_f = np.append(bus[self.f_bus, BASE_KV], np.nan)
        self.kv_t = np.append(bus[self.t_bus, BASE_KV], np.nan)
        self._map_elements(net, ppci)
        self._prepare_dc_start(bus, branch)
        self._prepare_branch_results()
        self.solver = NRSing_KLU()
        self._map_slack(net, gen_weight)
        self.last_iterations = 0
        self.grid_solver = _GridSolver.build(self, bus, branch)

    def _map_slack(self, net: pp.pandapowerNet, gen_weight: np.ndarray | None) -> None:
        """Island-by-island solver where islands without ext_grid share their slack."""
        self.islands = None
        self.gen_weight = np.zeros(len(net.gen)) if gen_weight is None else np.asarray(
            net.gen["slack_weight"].to_numpy(dtype=float) if "slack_weight" in net.gen else gen_weight)
        is_gen = np.asarray(net["_is_elements"].get("gen", np.zeros(len(net.gen), bool)), dtype=bool)
        gen_bus = net._pd2ppc_lookups["bus"][net.gen["bus"].to_numpy(np.int64)] if len(net.gen) else (
            np.zeros(0, np.int64))
        self.gen_bus_ppci = np.where(is_gen & (gen_bus < self.n_ppci), gen_bus, self.n_ppci)
        on = self.gen_bus_ppci < self.n_ppci
        self.bus_weight = np.bincount(self.gen_bus_ppci[on], weights=self.gen_weight[on],
                                      minlength=self.n_ppci)[:self.n_ppci]
        if np.any(self.bus_weight > 0):
            self.islands = IslandSolver(self.ybus, self.ref, self.pv, self.pq, self.bus_weight)

    def _map_elements(self, net: pp.pandapowerNet, ppci: dict) -> None:
        """Lookups pandapower row -> ppci index (the sentinel n_ppci / n_branch: none)."""
        lookup = net._pd2ppc_lookups["bus"]
        self.bus_ppci = np.minimum(lookup[net.bus.index.to_numpy()], self.n_ppci)
        self.all_buses_in_ppci = bool(np.all(self.bus_ppci < self.n_ppci))
        self.inj_p, self.inj_q = _injection_matrices(net, self.n_ppci, self.base_mva)
        self._inj_complex = sparse.csr_matrix(self.inj_p, dtype=complex)
        branch_is = ppci["internal"]["branch_is"]
        branch_pos = np.where(branch_is, np.cumsum(branch_is) - 1, len(self.f_bus))
        rows = net._pd2ppc_lookups["branch"]
        self.line_br = branch_pos[slice(*rows.get("line", (0, 0)))]
        self.trafo_br = branch_pos[slice(*rows.get("trafo", (0, 0)))]
        line, trafo = net.line, net.trafo
        self.line_i_max_ka = (line["max_i_ka"] * line["df"] * line["parallel"]).to_numpy(float)
        self.trafo_vn_kv = trafo[["vn_hv_kv", "vn_lv_kv"]].to_numpy(dtype=float)
        self.trafo_sn_mva = (trafo["sn_mva"] * trafo["parallel"] * trafo["df"]).to_numpy(float)
        eg_bus = lookup[net.ext_grid["bus"].to_numpy(dtype=np.int64)]
        eg_on = np.asarray(net["_is_elements"].get("ext_grid", []), dtype=bool)
        self.ext_grid_bus = np.where(eg_on & (eg_bus < self.n_ppci), eg_bus, self.n_ppci)
        self.ext_grid_share = np.bincount(self.ext_grid_bus, minlength=self.n_ppci + 1)[
            self.ext_grid_bus].astype(float)  # ext_grids on one bus share its supply

    def _prepare_dc_start(self, bus: np.ndarray, branch: np.ndarray) -> None:
        """Factorise the DC power flow B matrix (MATPOWER ``dcpf``) for cold starts."""
        self.pvpq = np.r_[self.pv, self.pq].astype(np.int64)
        if len(self.pvpq) == 0:
            self._dc_lu = None
            return
        b_bus, _, p_bus_inj, _, _ = makeBdc(bus, branch, return_csr=False)
        b_bus = sparse.csr_matrix(b_bus)
        va_ref = np.angle(self.v_set[self.ref])
        self._dc_lu = splu(b_bus[self.pvpq][:, self.pvpq].tocsc())
        self._dc_offset = (-np.asarray(p_bus_inj).ravel()[self.pvpq]
                           - bus[self.pvpq, GS] / self.base_mva
                           - b_bus[self.pvpq][:, self.ref] @ va_ref)

    def sbus(self, s_mva: np.ndarray) -> np.ndarray:
        """Complex bus injection [pu] from stacked element powers ``P + jQ`` [MW + jMvar].

        ``s_mva`` holds no reactive power in the gen rows (gens' Q is solved),
        so one complex product equals ``inj_p @ P + 1j * (inj_q @ Q)``.
        """
        return self.sbus_fixed + self._inj_complex @ s_mva

    def cold_start(self, sbus: np.ndarray) -> np.ndarray:
        """DC-power-flow angles with flat magnitudes, setpoints at PV and slack [pu]."""
        va = np.zeros(self.n_ppci)
        va[self.ref] = np.angle(self.v_set[self.ref])
        if self._dc_lu is not None:
            va[self.pvpq] = self._dc_lu.solve(sbus.real[self.pvpq] + self._dc_offset)
        return self.apply_setpoints(self.vm_init_pu * np.exp(1j * va))

    def apply_setpoints(self, v: np.ndarray) -> np.ndarray:
        """Set |V| of PV buses and the complex V of slack buses to their setpoints."""
        if self._vm_set_pv.size:
            v_pv = v[self.pv]
            v[self.pv] = self._vm_set_pv * np.exp(1j * np.arctan2(v_pv.imag, v_pv.real))
        v[self.ref] = self._v_set_ref
        return v

    def voltage_sensitivity(self, v: np.ndarray, buses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """∂|V|/∂P and ∂|V|/∂Q [pu/pu] among ``buses`` at the solution ``v``.

        Row ``i``, column ``j``: how much the voltage magnitude of ``buses[i]``
        moves per unit of active (reactive) power injected at ``buses[j]``,
        from the power flow's Jacobian at ``v`` (the linearised Newton step
        ``J·[Δθ; Δ|V|] = [ΔP; ΔQ]``). Slack buses hold their voltage and take
        any injection; PV buses hold |V| and take reactive power; a bus
        ``n_ppci`` (de-energised) neither moves nor is moved: those rows and
        columns are zero.
        """
        pvpq, pq = self.pvpq, self.pq.astype(np.int64)
        # pandapower's own Jacobian, unknowns [θ at PV and PQ buses, |V| at PQ buses]
        jac = _create_J_without_numba(self.ybus, v, self.ref, pvpq, pq, self.slack_weights,
                                      False).tocsc()
        n = buses.size
        row_p = np.full(self.n_ppci + 1, -1)  # ppci bus -> its P equation (-1: none)
        row_p[pvpq] = np.arange(pvpq.size)
        row_q = np.full(self.n_ppci + 1, -1)  # ppci bus -> its Q equation and |V| unknown
        row_q[pq] = pvpq.size + np.arange(pq.size)
        rhs = np.zeros((jac.shape[0], 2 * n))
        for column, rows in enumerate((row_p[buses], row_q[buses])):
            has = rows >= 0
            rhs[rows[has], column * n + np.flatnonzero(has)] = 1.0
        dx = splu(jac).solve(rhs) if jac.shape[0] else rhs
        vm_rows = row_q[buses]
        out = np.zeros((n, 2 * n))
        has = vm_rows >= 0
        out[has] = dx[vm_rows[has]]
        return out[:, :n], out[:, n:]

    def newton(self, sbus: np.ndarray, v0: np.ndarray) -> np.ndarray | None:
        """Newton-Raphson from ``v0``; the complex voltages [pu] or None.

        :attr:`last_iterations` holds the Newton iterations it took (0 where
        the island-by-island solver ran, which does not report them).
        """
        self.last_iterations = 0
        if not self.ref.size:
            return None
        if self.islands is not None:
            return self.islands.solve(sbus, v0, self.max_iteration, self.tolerance_mva)
        if self.grid_solver is not None:
            v = self.grid_solver.solve(sbus, v0, self.max_iteration, self.tolerance_mva)
            self.last_iterations = self.grid_solver.last_iterations
            return v
        ok = self.solver.solve(self.ybus, v0, sbus, self.ref, self.slack_weights, self.pv,
                               self.pq, self.max_iteration, self.tolerance_mva)
        self.last_iterations = int(self.solver.get_nb_iter())
        if not ok:
            return None
        v = self.solver.get_V()
        return v if cmath.isfinite(v.sum()) else None  # a NaN or inf makes the sum non-finite

    def bus_voltages(self, v: np.ndarray) -> np.ndarray:
        """Complex voltage [pu] per row of the net's bus table (NaN where de-energised),
        from ppci voltages ``(..., n_ppci)``."""
        if self.all_buses_in_ppci:
            return v.take(self.bus_ppci, axis=-1)
        nan = np.full(v.shape[:-1] + (1,), _NAN_COMPLEX)  # index n_ppci marks de-energised buses
        return np.concatenate([v, nan], axis=-1).take(self.bus_ppci, axis=-1)

    def branch_results(self, v: np.ndarray, sbus: np.ndarray) -> dict[str, Any]:
        """Element results of a solution, as pandapower's ``results_branch`` [1]_.

        Parameters
        ----------
        v : ndarray
            Solved complex bus voltages [pu], per ppci bus: shape ``(n_ppci,)``,
            or ``(n_steps, n_ppci)`` for several solutions at once.
        sbus : ndarray
            Complex bus injections [pu] the solution was found for, same shape.

        Returns
        -------
        dict
            ``line_p_from_mw``, ``line_q_from_mvar``, ``line_p_to_mw`` [MW],
            [Mvar] into the line at each end, ``line_loading_percent`` [%],
            ``trafo_p_hv_mw``, ``trafo_p_lv_mw`` [MW], ``trafo_loading_percent``
            [%] (current-based), ``ext_grid_p_mw``, ``ext_grid_q_mvar`` [MW],
            [Mvar] (supply into the grid positive) and ``losses_mw`` [MW];
            NaN where de-energised. Per solution along the last axis: a
            float for ``losses_mw`` of one solution, else one row per solution.
        """
        if v.ndim == 1:  # one solution (each physics step): a kept buffer, NaN at the sentinel
            v_ext = self._v_ext
            v_ext[:-1] = v
        else:
            v_ext = np.concatenate([v, np.full(v.shape[:-1] + (1,), _NAN_COMPLEX)], axis=-1)
        # branch-end and ext_grid bus currents [pu·base_mva] in one product
        i_all = np.ascontiguousarray((self._y_results @ v.T).T)  # rows of solutions, C order
        n_ends = self._ft_bus.size
        i_ft = i_all[..., :n_ends]
        s_ft = v_ext.take(self._ft_bus, axis=-1) * np.conj(i_ft)  # [MVA]; NaN at the sentinels
        i_ka = np.abs(i_ft) * self._ka_per_pu_ft  # |S|/(√3·|V|·kV) = |I|; NaN at the sentinels
        p_ft, q_ft = s_ft.real, s_ft.imag
        losses = p_ft.take(self._branch_ends, axis=-1).sum(axis=-1)
        out: dict[str, Any] = {"losses_mw": float(losses) if v.ndim == 1 else losses}
        n_from = self.f_bus_ext.size
        f_br, t_br = self.line_br, self.line_br + n_from
        out["line_p_from_mw"] = p_ft.take(f_br, axis=-1)
        out["line_q_from_mvar"] = q_ft.take(f_br, axis=-1)
        out["line_p_to_mw"] = p_ft.take(t_br, axis=-1)
        out["line_loading_percent"] = np.maximum(i_ka.take(f_br, axis=-1),
                                                 i_ka.take(t_br, axis=-1)) * self._line_percent_per_ka
        f_br, t_br = self.trafo_br, self.trafo_br + n_from
        out["trafo_p_hv_mw"] = p_ft.take(f_br, axis=-1)
        out["trafo_p_lv_mw"] = p_ft.take(t_br, axis=-1)
        out["trafo_loading_percent"] = np.maximum(
            i_ka.take(f_br, axis=-1) * self._trafo_percent_per_ka[0],
            i_ka.take(t_br, axis=-1) * self._trafo_percent_per_ka[1])
        # slack power only at ext_grid buses; their Ybus rows summed in the same order
        s_slack = (v_ext.take(self.ext_grid_bus, axis=-1) * np.conj(i_all[..., n_ends:])
                   - sbus.take(self._ext_grid_bus_safe, axis=-1) * self.base_mva)
        s_slack /= self.ext_grid_share
        out["ext_grid_p_mw"], out["ext_grid_q_mvar"] = s_slack.real, s_slack.imag
        return out

    def _prepare_branch_results(self) -> None:
        """Stacked branch admittance rows for :meth:`branch_results`.

        ``[Yf; 0; Yt; 0]`` gives the from- and to-end flows in one product;
        the zero rows line up with the NaN sentinel voltage (index
        ``n_ppci``), so that de-energised branches and ext_grids read NaN.
        """
        zero = sparse.csr_matrix((1, self.n_ppci), dtype=complex)
        self._ft_bus = np.r_[self.f_bus_ext, self.t_bus_ext]
        n_from = self.f_bus_ext.size
        self._branch_ends = np.r_[0:n_from - 1, n_from:2 * n_from - 1]  # all but the sentinels
        # kA per pu of current at each end, √3·kV in the denominator; NaN at the sentinels
        self._ka_per_pu_ft = self.base_mva / (np.r_[self.kv_f, self.kv_t] * _SQRT3)
        self._line_percent_per_ka = 100.0 / self.line_i_max_ka
        self._trafo_percent_per_ka = self.trafo_vn_kv.T * _SQRT3 * 100.0 / self.trafo_sn_mva
        self._ext_grid_bus_safe = np.minimum(self.ext_grid_bus, max(self.n_ppci - 1, 0))
        on = (self.ext_grid_bus < self.n_ppci).astype(float)
        rows = sparse.csr_matrix(self.ybus)[self._ext_grid_bus_safe] if self.n_ppci else zero
        # [Yf; 0; Yt; 0; ext_grid rows of Ybus] · base_mva: every current results need, at once
        self._y_results = sparse.vstack([self.yf, zero, self.yt, zero, sparse.diags(on) @ rows],
                                        format="csr") * self.base_mva
        self._y_results.sort_indices()
        self._v_ext = np.full(self.n_ppci + 1, _NAN_COMPLEX)


class _GridSolver:
    """Newton-Raphson on a lightsim2grid grid model kept between solves [3]_.

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
    ext_grids), the one :class:`_Model` calls directly. Not used with
    distributed slack.
    """

    @classmethod
    def build(cls, model: "_Model", bus: np.ndarray, branch: np.ndarray) -> "_GridSolver | None":
        """The grid solver of a model, or None where it cannot be exact.

        None with distributed slack, with asymmetric series impedances (not
        a MATPOWER branch), or if the grid model's admittance matrix differs
        from the model's (checked once here).
        """
        if model.islands is not None or model.ref.size == 0 or model.n_ppci == 0:
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


def _injection_columns(table: str) -> tuple[str, ...]:
    return ("p_mw", "q_mvar") if table in _Q_TABLES else ("p_mw",)


def _energised(table: Any, result: Any, vm_columns: tuple[str, str]) -> np.ndarray:
    """In service with both terminal voltages known in pandapower's result table."""
    on = table["in_service"].to_numpy(dtype=bool)
    for column in vm_columns:
        on &= np.isfinite(result[column].to_numpy(dtype=float))
    return on


class _BranchResult:
    """A branch/slack result computed only when read after a fast solve.

    Inside the fixed-point loop only bus voltages are needed; flows,
    loadings and slack power are computed once per read solution.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if obj._pending is not None:
            obj._compute_branch_results()
        return obj._results[self.name]

    def __set__(self, obj: Any, value: Any) -> None:
        obj._results[self.name] = value
