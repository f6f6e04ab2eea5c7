"""Element results of the power flow: from a compiled solution or from ``runpp``.

:class:`BranchResults` turns the ppci voltages of one network model into
pandapower's element results, as its ``results_branch`` [1]_ does with the
MATPOWER branch flows [2]_: bus voltages per row of the net's bus table,
line and transformer flows and current loadings, ext_grid supply, losses;
its per-unit factors and stacked admittance rows are computed once per
network model. :class:`FlowResults` holds the results of the last solution
as attributes (the base of :class:`~hierarchy.plant.powerflow.PowerFlow`):
bus voltages at once, branch and ext_grid results of a compiled solution
only when first read, and the same attributes read from pandapower's result
tables after a ``runpp``. Sign conventions follow pandapower: flows into
the branch at each end positive, ext_grid supply into the grid positive.

References
----------
.. [1] L. Thurner et al., "pandapower — An Open-Source Python Tool for
   Convenient Modeling, Analysis, and Optimization of Electric Power
   Systems", IEEE Trans. Power Syst. 33(6), 2018, doi:10.1109/TPWRS.2018.2829021
.. [2] R. D. Zimmerman et al., "MATPOWER: Steady-State Operations, Planning,
   and Analysis Tools", IEEE Trans. Power Syst. 26(1), 2011,
   doi:10.1109/TPWRS.2010.2051168 (Ybus, Sbus, branch flow definitions).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandapower as pp
from pandapower.pypower.idx_brch import F_BUS, T_BUS
from pandapower.pypower.idx_bus import BASE_KV
from scipy import sparse

__all__ = ["RESULTS", "BranchResults", "FlowResults"]

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
#: solutions whose branch results :meth:`BranchResults.write_rows` computes at once: the
#: temporaries of a whole block of a large grid would not stay in the cache (9,099
#: buses: 1.2 ms per solution in blocks of 200, 0.3 ms in blocks of 16)
_RESULT_ROWS = 16
_SQRT3 = np.sqrt(3.0)
_NAN_COMPLEX = complex(np.nan, np.nan)


class BranchResults:
    """Element results of the solutions of one compiled network model (ppci).

    Parameters
    ----------
    net : pandapowerNet
        The net just converted by ``_pd2ppc`` (its ``_pd2ppc_lookups`` and
        ``_is_elements`` belong to ``ppci``).
    ppci : dict
        pandapower's internal case; ``bus`` and ``branch`` its matrices.
    bus, branch : ndarray
        ppci bus and branch matrices (MATPOWER columns).
    ybus, yf, yt : sparse matrix
        Bus and branch-end admittance matrices [pu] (``makeYbus``).
    base_mva : float
        Power base [MVA].
    bus_ppci : ndarray
        ppci bus per row of the net's bus table (``n_ppci``: de-energised).
    """

    def __init__(self, net: pp.pandapowerNet, ppci: dict, bus: np.ndarray, branch: np.ndarray,
                 ybus: sparse.csc_matrix, yf: sparse.csr_matrix, yt: sparse.csr_matrix,
                 base_mva: float, bus_ppci: np.ndarray) -> None:
        self.base_mva = base_mva
        self.n_ppci = n_ppci = bus.shape[0]
        self.bus_ppci = bus_ppci
        self.all_buses_in_ppci = bool(np.all(bus_ppci < n_ppci))
        f_bus = branch[:, F_BUS].real.astype(np.int64)
        t_bus = branch[:, T_BUS].real.astype(np.int64)
        f_bus_ext, t_bus_ext = np.append(f_bus, n_ppci), np.append(t_bus, n_ppci)
        kv_f = np.append(bus[f_bus, BASE_KV], np.nan)
        kv_t = np.append(bus[t_bus, BASE_KV], np.nan)
        # pandapower row -> ppci branch / bus (the sentinels n_branch, n_ppci: none)
        branch_is = ppci["internal"]["branch_is"]
        branch_pos = np.where(branch_is, np.cumsum(branch_is) - 1, len(f_bus))
        rows = net._pd2ppc_lookups["branch"]
        self.line_br = branch_pos[slice(*rows.get("line", (0, 0)))]
        self.trafo_br = branch_pos[slice(*rows.get("trafo", (0, 0)))]
        line, trafo = net.line, net.trafo
        line_i_max_ka = (line["max_i_ka"] * line["df"] * line["parallel"]).to_numpy(float)
        trafo_vn_kv = trafo[["vn_hv_kv", "vn_lv_kv"]].to_numpy(dtype=float)
        trafo_sn_mva = (trafo["sn_mva"] * trafo["parallel"] * trafo["df"]).to_numpy(float)
        eg_bus = net._pd2ppc_lookups["bus"][net.ext_grid["bus"].to_numpy(dtype=np.int64)]
        eg_on = np.asarray(net["_is_elements"].get("ext_grid", []), dtype=bool)
        self.ext_grid_bus = np.where(eg_on & (eg_bus < n_ppci), eg_bus, n_ppci)
        self.ext_grid_share = np.bincount(self.ext_grid_bus, minlength=n_ppci + 1)[
            self.ext_grid_bus].astype(float)  # ext_grids on one bus share its supply
        # kA per MVA-scaled current (pu current · base_mva, as the stacked admittance
        # rows give it) at each end: 1/(√3·kV); NaN at the sentinels
        self._ft_bus = np.r_[f_bus_ext, t_bus_ext]
        self._n_from = n_from = f_bus_ext.size
        self._branch_ends = np.r_[0:n_from - 1, n_from:2 * n_from - 1]  # all but the sentinels
        self._ka_per_mva_ft = 1.0 / (np.r_[kv_f, kv_t] * _SQRT3)
        self._line_percent_per_ka = 100.0 / line_i_max_ka
        self._trafo_percent_per_ka = trafo_vn_kv.T * _SQRT3 * 100.0 / trafo_sn_mva
        self._ext_grid_bus_safe = np.minimum(self.ext_grid_bus, max(n_ppci - 1, 0))
        self._y_results = self._stacked_admittance(ybus, yf, yt)
        self._v_ext = np.full(n_ppci + 1, _NAN_COMPLEX)

    def _stacked_admittance(self, ybus: sparse.csc_matrix, yf: sparse.csr_matrix,
                            yt: sparse.csr_matrix) -> sparse.csr_matrix:
        """``[Yf; 0; Yt; 0; ext_grid rows of Ybus] · base_mva``: every current, at once.

        ``[Yf; 0; Yt; 0]`` gives the from- and to-end flows in one product;
        the zero rows line up with the NaN sentinel voltage (index
        ``n_ppci``), so that de-energised branches and ext_grids read NaN.
        """
        zero = sparse.csr_matrix((1, self.n_ppci), dtype=complex)
        on = (self.ext_grid_bus < self.n_ppci).astype(float)
        rows = sparse.csr_matrix(ybus)[self._ext_grid_bus_safe] if self.n_ppci else zero
        y_results = sparse.vstack([yf, zero, yt, zero, sparse.diags(on) @ rows],
                                  format="csr") * self.base_mva
        y_results.sort_indices()
        return y_results

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
        # |I| [kA] = |I| [pu] · base_mva / (√3·kV): i_ft already carries base_mva
        i_ka = np.abs(i_ft) * self._ka_per_mva_ft  # NaN at the sentinels
        p_ft, q_ft = s_ft.real, s_ft.imag
        losses = p_ft.take(self._branch_ends, axis=-1).sum(axis=-1)
        out: dict[str, Any] = {"losses_mw": float(losses) if v.ndim == 1 else losses}
        n_from = self._n_from
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

    def write_rows(self, out: dict[str, np.ndarray], first: int, v: np.ndarray,
                   sbus: np.ndarray) -> None:
        """Bus and element results of solutions ``v``, ``sbus`` ``(n, n_ppci)`` [pu]
        into rows ``first`` … ``first + n - 1`` of ``out`` (:meth:`FlowResults._empty_rows`)."""
        solved = v.shape[0]
        for start in range(0, solved, _RESULT_ROWS):  # a few rows at a time: see _RESULT_ROWS
            stop = min(start + _RESULT_ROWS, solved)
            part, done = slice(start, stop), slice(first + start, first + stop)
            v_bus = self.bus_voltages(v[part])
            out["vm_pu"][done] = np.abs(v_bus)
            out["va_degree"][done] = np.degrees(np.arctan2(v_bus.imag, v_bus.real))
            for name, value in self.branch_results(v[part], sbus[part]).items():
                out[name][done] = value


class _LazyResult:
    """A branch/slack result of :class:`FlowResults`, computed only when read after a
    compiled solve.

    Inside the fixed-point loop only bus voltages are needed; flows,
    loadings and slack power are computed once per read solution.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if obj._pending is not None:
            obj._compute_pending()
        return obj._results[self.name]

    def __set__(self, obj: Any, value: Any) -> None:
        obj._results[self.name] = value


class FlowResults:
    """The results of the last power flow solution, as attributes.

    Parameters
    ----------
    net : pandapowerNet
        The net solved (the sizes of its bus, line, trafo, ext_grid and gen
        tables).

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
        Total active losses [MW]: the sum over all branches (lines, trafos,
        impedances, switch branches).
    gen_slack_p_mw : ndarray
        Each gen's share of a distributed slack [MW] (generation positive;
        set by the solver, see :mod:`hierarchy.plant.slack`).

    Notes
    -----
    Array order is the row order of the net's tables; NaN for de-energised
    buses, branches and ext_grids (out of service, or in an island without
    slack).
    """

    # branch and slack results, computed lazily after a compiled solve
    line_p_from_mw = _LazyResult()
    line_q_from_mvar = _LazyResult()
    line_p_to_mw = _LazyResult()
    line_loading_percent = _LazyResult()
    trafo_p_hv_mw = _LazyResult()
    trafo_p_lv_mw = _LazyResult()
    trafo_loading_percent = _LazyResult()
    ext_grid_p_mw = _LazyResult()
    ext_grid_q_mvar = _LazyResult()
    losses_mw = _LazyResult()

    def __init__(self, net: pp.pandapowerNet) -> None:
        self._result_rows = {table: len(net[table])
                             for table in ("bus", "line", "trafo", "ext_grid", "gen")}
        self._results: dict[str, Any] = {}
        self._pending: tuple | None = None  # (BranchResults, v, sbus) not yet computed
        self.gen_slack_p_mw = np.zeros(self._result_rows["gen"])
        self._reset_results()

    def _hold_solution(self, extractor: BranchResults, v: np.ndarray, sbus: np.ndarray) -> None:
        """A compiled solution's bus results now; branch and slack results when first read."""
        v_bus = extractor.bus_voltages(v)
        self._v_bus = v_bus
        self.vm_pu = np.abs(v_bus)
        self.va_degree = np.degrees(np.arctan2(v_bus.imag, v_bus.real))  # as np.angle
        self._pending = (extractor, v, sbus)

    def _compute_pending(self) -> None:
        extractor, v, sbus = self._pending
        self._pending = None
        for name, value in extractor.branch_results(v, sbus).items():
            setattr(self, name, value)

    def _read_pandapower_results(self, net: pp.pandapowerNet) -> None:
        """The results of a ``runpp`` on ``net``; NaN where pandapower leaves a
        de-energised element's 0."""
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
        """All results NaN (no solution)."""
        self._pending = None
        for name, (table, _) in RESULTS.items():
            setattr(self, name, np.full(self._result_rows[table], np.nan))
        self.losses_mw = np.nan
        self._v_bus = np.full(self._result_rows["bus"], np.nan, dtype=complex)

    def _empty_rows(self, n_rows: int) -> dict[str, np.ndarray]:
        """A table for ``n_rows`` solutions: every name of :data:`RESULTS`, ``losses_mw``
        (NaN), ``gen_slack_p_mw`` (0) and ``converged`` (False), one row per solution."""
        out = {name: np.full((n_rows, self._result_rows[table]), np.nan)
               for name, (table, _) in RESULTS.items()}
        out["losses_mw"] = np.full(n_rows, np.nan)
        out["gen_slack_p_mw"] = np.zeros((n_rows, self._result_rows["gen"]))
        out["converged"] = np.zeros(n_rows, dtype=bool)
        return out

    def _store_row(self, out: dict[str, np.ndarray], row: int, converged: bool) -> None:
        """The present results into row ``row`` of a table of :meth:`_empty_rows`."""
        for name in RESULTS:
            out[name][row] = getattr(self, name)
        out["losses_mw"][row] = self.losses_mw
        out["gen_slack_p_mw"][row] = self.gen_slack_p_mw
        out["converged"][row] = converged


def _energised(table: Any, result: Any, vm_columns: tuple[str, str]) -> np.ndarray:
    """In service with both terminal voltages known in pandapower's result table."""
    on = table["in_service"].to_numpy(dtype=bool)
    for column in vm_columns:
        on &= np.isfinite(result[column].to_numpy(dtype=float))
    return on
