"""Compiled network model of the fast power flow, and its Newton-Raphson solve.

One :class:`NetworkModel` holds the network of one topology and tap state
as pandapower's converter (``_pd2ppc``) builds it [1]_ (bus fusion over
closed bus-bus switches, auxiliary buses at open line/trafo switches,
islands without slack set out of service, transformer model, taps, shunts,
wards): admittance matrices (MATPOWER ``makeYbus`` [2]_), the map from
stacked element powers to the bus injection vector, slack/PV/PQ bus sets, a
factorised DC power flow for cold starts, and the Newton-Raphson that
solves it: lightsim2grid's compiled one [3]_, run on a lightsim2grid grid
model of the same admittance matrix that is kept between solves
(:class:`~hierarchy.plant.grid_solver.GridSolver`: the Jacobian's sparsity is analysed once per
topology, not once per solve), or island by island where islands share
their slack (:class:`~hierarchy.plant.slack.IslandSlack`). Its element
results come from :class:`~hierarchy.plant.flow_results.BranchResults`.
:func:`compile_model` builds it for the present state of a net. Used by
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
from typing import Any

import numpy as np
import pandapower as pp
from lightsim2grid.algorithm import NRSing_KLU
from pandapower.auxiliary import _init_runpp_options
from pandapower.pd2ppc import _pd2ppc
from pandapower.pf.create_jacobian import _create_J_without_numba
from pandapower.pf.ppci_variables import _get_pf_variables_from_ppci
from pandapower.pypower.idx_bus import GS
from pandapower.pypower.makeBdc import makeBdc
from pandapower.pypower.makeSbus import makeSbus
from pandapower.pypower.makeYbus import makeYbus
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from hierarchy.plant.flow_results import BranchResults
from hierarchy.plant.grid_solver import GridSolver
from hierarchy.plant.slack import IslandSlack, assign_island_slack

__all__ = ["P_SIGN", "Q_TABLES", "NetworkModel", "compile_model", "fast_path_unsupported"]


#: the stacked element order of the injections, with the sign that makes generation positive
P_SIGN = {"load": -1.0, "sgen": 1.0, "storage": -1.0, "gen": 1.0}
#: the tables whose reactive power is an injection (a gen's is solved)
Q_TABLES = ("load", "sgen", "storage")
_NAN_COMPLEX = complex(np.nan, np.nan)
#: an island's frame turn [rad] below which its known voltages start as they are
_TURN_MIN_RAD = 1e-9

_PP_OPTIONS: dict[str, Any] = dict(
    algorithm="nr", calculate_voltage_angles=True, init="dc", max_iteration=10,
    tolerance_mva=1e-8, trafo_model="t", trafo_loading="current", enforce_p_lims=False,
    enforce_q_lims=False, check_connectivity=True, voltage_depend_loads=True,
    numba=False, lightsim2grid=False)


def fast_path_unsupported(net: pp.pandapowerNet) -> str | None:
    """Return why the compiled path cannot reproduce ``runpp``, or None."""
    load = net.load
    zip_cols = ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent", "const_i_q_percent")
    if len(load) and any(np.any(load[c].to_numpy(dtype=float) != 0) for c in zip_cols if c in load):
        return "voltage-dependent (ZIP) loads"
    for table in ("dcline", "svc", "tcsc", "ssc", "vsc", "vsc_stacked", "vsc_bipolar"):
        if table in net and len(net[table]) and net[table]["in_service"].any():
            return f"in-service {table} elements"
    return None


def compile_model(net: pp.pandapowerNet, gen_weight: np.ndarray | None, tolerance_mva: float,
                  max_iteration: int, own_slack: np.ndarray | None = None) -> "NetworkModel":
    """The network model of ``net``'s present topology and taps.

    With gen weights (distributed slack), the islands without ext_grid get
    their reference gen and slack weights first
    (:func:`~hierarchy.plant.slack.assign_island_slack`, written into
    ``net.gen``; the other gens get their own ``slack`` flags ``own_slack``
    back, default: ``net.gen.slack`` as it is). The model is compiled with
    every element power at 0 (the injections enter through its injection
    matrix at each solve); the net's powers are restored after.

    Raises
    ------
    UserWarning
        pandapower's "No reference bus is available" (no slack at all).
    """
    if gen_weight is not None:
        assign_island_slack(net, gen_weight, own_slack)
    columns = [(t, c) for t in P_SIGN for c in (("p_mw", "q_mvar") if t in Q_TABLES else ("p_mw",))]
    saved = {(t, c): net[t][c].copy() for t, c in columns}
    try:
        for table, column in columns:
            net[table][column] = 0.0
        return NetworkModel(net, tolerance_mva, max_iteration, gen_weight)
    finally:
        for (table, column), values in saved.items():
            net[table][column] = values


def _injection_matrix(net: pp.pandapowerNet, n_ppci: int, base_mva: float) -> sparse.csr_matrix:
    """Map stacked element powers ``P + jQ`` [MW + jMvar] (load, sgen, storage, gen) to Sbus [pu].

    Signs make generation positive; ``scaling`` and pandapower's in-service
    selection (``_is_elements``, after the connectivity check) are applied.
    The gens' rows carry no reactive power (it is solved), so one complex
    matrix of the active-power map serves P and Q.
    """
    lookup, is_el = net._pd2ppc_lookups["bus"], net["_is_elements"]
    rows, cols, vals = [], [], []
    offset = 0
    for table, sign in P_SIGN.items():
        tab = net[table]
        if len(tab):
            ppci_bus = lookup[tab["bus"].to_numpy()]
            active = np.flatnonzero(np.asarray(is_el[table], dtype=bool) & (ppci_bus < n_ppci))
            rows.append(ppci_bus[active])
            cols.append(active + offset)
            vals.append(sign * tab["scaling"].to_numpy(dtype=float)[active] / base_mva)
        offset += len(tab)
    row, col, val = (np.concatenate(a) if a else np.zeros(0, int) for a in (rows, cols, vals))
    p_map = sparse.csr_matrix((val, (row, col)), shape=(n_ppci, offset))
    return sparse.csr_matrix(p_map, dtype=complex)


class NetworkModel:
    """Compiled network for one topology and tap state (pandapower's ppci), and its solve.

    Parameters
    ----------
    net : pandapowerNet
        The net, with every element power at 0 (see :func:`compile_model`);
        ``_pd2ppc`` leaves its lookups in it.
    tolerance_mva : float
        Newton-Raphson mismatch tolerance [pu of ``net.sn_mva``].
    max_iteration : int
        Newton-Raphson iteration limit.
    gen_weight : ndarray or None
        Distributed slack weights per gen row [MW/pu] (None: off).

    Attributes
    ----------
    results : BranchResults
        Element results of this model's solutions.
    slack : IslandSlack or None
        The islands' distributed slack (None: every island has its own
        ext_grid or slack gen, or none and is de-energised).
    grid_solver : GridSolver or None
        The kept lightsim2grid grid model, where it is exact.
    """

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
        self.ybus = ybus.tocsc()
        self.ref, self.pv, self.pq = (np.asarray(a, dtype=np.int32) for a in (ref, pv, pq))
        self.slack_weights = np.zeros(self.n_ppci)
        self.slack_weights[self.ref] = 1.0 / max(len(self.ref), 1)
        self.sbus_fixed = makeSbus(base_mva, bus, gen)  # wards etc.; controllable parts are 0
        self.v_set = v0.copy()
        self._vm_set_pv = np.abs(self.v_set[self.pv])
        self._v_set_ref = self.v_set[self.ref]
        self.vm_init_pu = float(np.mean(np.abs(v0[np.r_[self.ref, self.pv]])))
        # pandapower bus row -> ppci bus (the sentinel n_ppci: de-energised)
        self.bus_ppci = np.minimum(net._pd2ppc_lookups["bus"][net.bus.index.to_numpy()], self.n_ppci)
        self._injection = _injection_matrix(net, self.n_ppci, self.base_mva)
        self._prepare_dc_start(bus, branch)
        self._island_reference = self._island_references()
        self.results = BranchResults(net, ppci, bus, branch, self.ybus, yf.tocsr(), yt.tocsr(),
                                     self.base_mva, self.bus_ppci)
        self.slack = IslandSlack.build(net, self.ybus, self.ref, self.pv, self.pq, self.base_mva,
                                       gen_weight)
        self.solver = NRSing_KLU()
        self.last_iterations = 0
        self.grid_solver = GridSolver.build(self, bus, branch)

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

    def _island_references(self) -> np.ndarray:
        """The angle reference of each ppci bus's island: its first slack bus
        (``n_ppci`` where the island has none: it is not solved)."""
        if self.n_ppci == 0:
            return np.zeros(0, dtype=np.int64)
        n_islands, label = connected_components(abs(self.ybus) > 0, directed=False)
        reference = np.full(n_islands, self.n_ppci, dtype=np.int64)
        reference[label[self.ref[::-1]]] = self.ref[::-1]  # the first of several wins
        return reference[label]

    def sbus(self, s_mva: np.ndarray) -> np.ndarray:
        """Complex bus injection [pu] from stacked element powers ``P + jQ`` [MW + jMvar].

        ``s_mva`` holds no reactive power in the gen rows (gens' Q is solved),
        so one complex product equals ``inj_p @ P + 1j * (inj_q @ Q)``.
        """
        return self.sbus_fixed + self._injection @ s_mva

    def sbus_many(self, s_mva: np.ndarray) -> np.ndarray:
        """:meth:`sbus` of each row of ``s_mva`` ``(n_rows, n)``: ``(n_rows, n_ppci)`` [pu]."""
        return self.sbus_fixed + (self._injection @ s_mva.T).T

    def cold_start(self, sbus: np.ndarray) -> np.ndarray:
        """DC-power-flow angles with flat magnitudes, setpoints at PV and slack [pu]."""
        va = np.zeros(self.n_ppci)
        va[self.ref] = np.angle(self.v_set[self.ref])
        if self._dc_lu is not None:
            va[self.pvpq] = self._dc_lu.solve(sbus.real[self.pvpq] + self._dc_offset)
        return self.apply_setpoints(self.vm_init_pu * np.exp(1j * va))

    def start_from(self, sbus: np.ndarray, v_bus: np.ndarray) -> np.ndarray:
        """A start for this model's first solve from the bus voltages of another's [pu].

        Parameters
        ----------
        sbus : ndarray
            Bus injections of the solve [pu], per ppci bus.
        v_bus : ndarray
            Complex voltage [pu] per row of the net's bus table, NaN where
            not known: the last solution, of the model before a topology or
            tap change.

        Returns
        -------
        ndarray
            The known voltages, each island's turned about the origin so that
            its reference bus is at its setpoint angle (:meth:`_frame_turn`);
            :meth:`cold_start` where a bus's voltage is not known; the
            setpoints of :meth:`apply_setpoints`.

        Notes
        -----
        A part of the grid cut off becomes an island with a reference of
        its own (the gen of :func:`~hierarchy.plant.slack.assign_island_slack`).
        Its known angles were measured from the old reference, tens of
        degrees away across transformer phase shifts; taken as they are,
        they would meet the new reference's setpoint angle and the
        cold-start angles of buses not known before (auxiliary buses of open
        switches) in one starting point, from which Newton-Raphson can
        converge to the low-voltage solution of the power flow equations.
        """
        v0 = self.cold_start(sbus)
        v_known = np.full(self.n_ppci + 1, _NAN_COMPLEX)  # the sentinel n_ppci: de-energised
        known = np.isfinite(v_bus)
        v_known[self.bus_ppci[known]] = v_bus[known]
        v_known = v_known[:-1]
        has = np.isfinite(v_known)
        turn = self._frame_turn(v0, v_known)
        turned = has & (np.abs(turn) > _TURN_MIN_RAD)  # frames that agree: voltages as they are
        v0[has] = v_known[has]
        v0[turned] *= np.exp(1j * turn[turned])
        return self.apply_setpoints(v0)

    def _frame_turn(self, v_cold: np.ndarray, v_known: np.ndarray) -> np.ndarray:
        """Angle [rad] per ppci bus that turns the known voltages of its island into
        this model's frame: from the reference bus's known angle to its setpoint
        angle; where the reference's voltage is not known, the mean angle from
        the island's known voltages to their cold start ``v_cold``."""
        reference = self._island_reference
        v_set = np.append(self.v_set, _NAN_COMPLEX)
        turn = np.angle(v_set[reference]) - np.angle(np.append(v_known, _NAN_COMPLEX)[reference])
        pairs = np.nan_to_num(v_cold * np.conj(v_known))  # 0 where not known
        pairs /= np.where(pairs != 0, np.abs(pairs), 1.0)
        n_bins = self.n_ppci + 1
        mean = (np.bincount(reference, pairs.real, n_bins)
                + 1j * np.bincount(reference, pairs.imag, n_bins))
        return np.where(np.isnan(turn), np.angle(mean[reference]), turn)

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
        if self.slack is not None:
            return self.slack.solve(sbus, v0, self.max_iteration, self.tolerance_mva)
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
