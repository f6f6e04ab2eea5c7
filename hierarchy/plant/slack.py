"""Islands and their slack: who balances each island's power flow (DESIGN.md "Frequency").

In an island that holds no ext_grid the imbalance of the power flow is
shared by the island's droop units in proportion to their weights
``P_rated / R`` [MW/pu], as pandapower's ``distributed_slack`` does: one
gen per such island is tagged as the angle reference (``gen.slack``), every
weighted gen carries ``gen.slack_weight`` (:func:`assign_island_slack`,
before the network is compiled). pandapower solves one slack variable for
the whole network, so islands are solved one by one here. On the compiled
network model (:class:`IslandSlack`): the ext_grid islands together with
lightsim2grid's single-slack Newton-Raphson, each distributed island with
its distributed-slack Newton-Raphson (NR_KLU), the weighted buses passed as
its slack buses (lightsim2grid's rule), and each gen's share of the slack
from the solution. With ``pandapower.runpp`` (:func:`runpp_with_slack`):
island by island on copies of the net (:func:`runpp_islands`), the shares
read from its ``res_gen`` (:func:`gen_slack_from_results`).

References
----------
.. [1] P. Kundur, *Power System Stability and Control*, 1994, sec. 11.1
   (load sharing by droop).
.. [2] pandapower, "Distributed slack", https://pandapower.readthedocs.io
   (``runpp(distributed_slack=True)``, ``slack_weight``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandapower as pp
from lightsim2grid.algorithm import NR_KLU, NRSing_KLU
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from hierarchy.plant.topology import islands as topology_islands

__all__ = ["assign_island_slack", "IslandSlack", "runpp_with_slack", "runpp_islands",
           "gen_slack_from_results"]


def assign_island_slack(net: pp.pandapowerNet, gen_weight: np.ndarray,
                        own_slack: np.ndarray | None = None) -> list[np.ndarray]:
    """Tag the reference gen and the slack weights of every island without ext_grid.

    Parameters
    ----------
    net : pandapowerNet
        Modified in place: ``gen.slack`` (the largest-weight in-service gen
        of each island without an in-service ext_grid, else ``own_slack``)
        and ``gen.slack_weight`` (``gen_weight`` there, 0 elsewhere).
    gen_weight : ndarray
        Weight per gen row, ``P_rated / R`` [MW/pu]; 0 for gens without droop.
    own_slack : ndarray of bool, optional
        The gens' own ``slack`` flags, as the net came (default: its
        ``gen.slack`` now). Pass them where an earlier call may have tagged
        the net: a gen tagged while its island was cut off must not stay a
        reference once the island is reconnected to an ext_grid (its bus
        would be held at the island's angle, across the transformer phase
        shifts between them).

    Returns
    -------
    list of ndarray
        The bus indices of the islands with distributed slack.
    """
    gen = net.gen
    weight = np.where(gen["in_service"].to_numpy(bool), np.asarray(gen_weight, float), 0.0)
    eg_bus = set(net.ext_grid.bus[net.ext_grid.in_service.astype(bool)].astype(int))
    gen_bus = gen["bus"].to_numpy(np.int64)
    if own_slack is None:
        own_slack = gen["slack"].to_numpy(bool) if "slack" in gen else np.zeros(len(gen), bool)
    slack = np.array(own_slack, dtype=bool)  # a copy
    slack_weight = np.zeros(len(gen))
    found = []
    for buses in topology_islands(net):
        if eg_bus.intersection(buses.tolist()):
            continue
        rows = np.flatnonzero(np.isin(gen_bus, buses) & (weight > 0))
        if rows.size == 0:
            continue
        slack[np.isin(gen_bus, buses)] = False
        slack[rows[np.argmax(weight[rows])]] = True
        slack_weight[rows] = weight[rows]
        found.append(buses)
    gen["slack"] = slack
    gen["slack_weight"] = slack_weight
    return found


@dataclass
class _Part:
    """One solve: ppci bus positions and the solver's index sets on them."""

    buses: np.ndarray
    ybus: sparse.csc_matrix
    ref: np.ndarray
    weights: np.ndarray
    pv: np.ndarray
    pq: np.ndarray
    solver: object


class IslandSlack:
    """Distributed slack of one compiled network model (pandapower's ppci).

    Newton-Raphson island by island, with distributed slack where weighted,
    and each gen's share of its island's slack. Built by :meth:`build`.

    Parameters
    ----------
    ybus : sparse matrix
        Bus admittance matrix of the compiled network [pu].
    ref, pv, pq : ndarray
        pandapower's bus type sets (ppci positions).
    bus_weight : ndarray
        Slack weight per ppci bus (> 0 only at weighted gens of islands
        without ext_grid).
    gen_bus_ppci : ndarray
        ppci bus per gen row (``n_ppci``: not in the model).
    gen_weight : ndarray
        Slack weight per gen row [MW/pu] (``gen.slack_weight``).
    base_mva : float
        Power base [MVA].
    """

    @classmethod
    def build(cls, net: pp.pandapowerNet, ybus: sparse.csc_matrix, ref: np.ndarray,
              pv: np.ndarray, pq: np.ndarray, base_mva: float,
              gen_weight: np.ndarray | None) -> "IslandSlack | None":
        """The distributed slack of ``net`` as just converted by ``_pd2ppc`` (after
        :func:`assign_island_slack`), or None where no island shares its slack.

        ``gen_weight`` None: distributed slack off. Otherwise the weights are the
        ``gen.slack_weight`` that :func:`assign_island_slack` wrote.
        """
        if gen_weight is None:
            return None
        n_ppci = ybus.shape[0]
        gen_weight = np.asarray(net.gen["slack_weight"].to_numpy(dtype=float)
                                if "slack_weight" in net.gen else gen_weight)
        is_gen = np.asarray(net["_is_elements"].get("gen", np.zeros(len(net.gen), bool)), dtype=bool)
        gen_bus = net._pd2ppc_lookups["bus"][net.gen["bus"].to_numpy(np.int64)] if len(net.gen) else (
            np.zeros(0, np.int64))
        gen_bus_ppci = np.where(is_gen & (gen_bus < n_ppci), gen_bus, n_ppci)
        on = gen_bus_ppci < n_ppci
        bus_weight = np.bincount(gen_bus_ppci[on], weights=gen_weight[on],
                                 minlength=n_ppci)[:n_ppci]
        if not np.any(bus_weight > 0):
            return None
        return cls(ybus, ref, pv, pq, bus_weight, gen_bus_ppci, gen_weight, base_mva)

    def __init__(self, ybus: sparse.csc_matrix, ref: np.ndarray, pv: np.ndarray, pq: np.ndarray,
                 bus_weight: np.ndarray, gen_bus_ppci: np.ndarray, gen_weight: np.ndarray,
                 base_mva: float) -> None:
        n = ybus.shape[0]
        _, label = connected_components(abs(ybus) > 0, directed=False)
        self.ybus = ybus
        self.bus_weight = bus_weight
        self.gen_bus_ppci, self.gen_weight, self.base_mva = gen_bus_ppci, gen_weight, base_mva
        self.parts: list[_Part] = []
        single = np.zeros(n, bool)
        for island in np.unique(label):
            members = label == island
            if np.any(bus_weight[members] > 0):
                self.parts.append(self._part(ybus, members, ref, pv, pq, bus_weight, NR_KLU()))
            else:
                single |= members
        if np.any(single) and np.any(single[ref]):
            self.parts.append(self._part(ybus, single, ref, pv, pq, None, NRSing_KLU()))

    @staticmethod
    def _part(ybus, members, ref, pv, pq, bus_weight, solver) -> _Part:
        buses = np.flatnonzero(members)
        local = np.full(members.size, -1, dtype=np.int64)
        local[buses] = np.arange(buses.size)

        def inside(index_set):
            index_set = np.asarray(index_set, dtype=np.int64)
            return local[index_set[members[index_set]]]

        ref_l, pv_l, pq_l = inside(ref), inside(pv), inside(pq)
        weights = np.zeros(buses.size)
        if bus_weight is None:
            weights[ref_l] = 1.0 / max(ref_l.size, 1)
        else:
            weights = bus_weight[buses] / bus_weight[buses].sum()
            weighted = np.flatnonzero(weights > 0)
            ref_l = np.r_[ref_l, np.setdiff1d(weighted, ref_l)]
            pv_l = np.setdiff1d(pv_l, weighted)
        return _Part(buses, ybus[buses][:, buses].tocsc(), ref_l.astype(np.int32), weights,
                     np.sort(pv_l).astype(np.int32), np.sort(pq_l).astype(np.int32), solver)

    def solve(self, sbus: np.ndarray, v0: np.ndarray, max_iteration: int,
              tolerance_mva: float) -> np.ndarray | None:
        """Solve every island from ``v0`` [pu] (each island's angles measured from its
        own reference: :meth:`NetworkModel.start_from
        <hierarchy.plant.network_model.NetworkModel.start_from>`); the complex
        voltages [pu] or None."""
        v = np.full(v0.shape, np.nan, dtype=complex)
        for part in self.parts:
            solver = part.solver
            v_start = np.asarray(v0, dtype=complex).take(part.buses)  # a copy
            ok = solver.solve(part.ybus, v_start, sbus.take(part.buses), part.ref, part.weights,
                              part.pv, part.pq, max_iteration, tolerance_mva)
            if not ok:
                return None
            v_part = solver.get_V()
            if not np.all(np.isfinite(v_part)):
                return None
            v[part.buses] = v_part
        return v

    def gen_share_mw(self, v: np.ndarray, sbus: np.ndarray) -> np.ndarray:
        """Each weighted gen's part of the distributed slack [MW] (generation positive),
        at the solution ``v`` [pu] of injections ``sbus`` [pu].

        The active mismatch at a weighted bus is its share of the island's
        slack; gens on one bus split it by their weights.
        """
        gen_bus_ppci, gen_weight = self.gen_bus_ppci, self.gen_weight
        mismatch_mw = np.real(v * np.conj(self.ybus @ v) - sbus) * self.base_mva
        n = sbus.size
        on = (gen_bus_ppci < n) & (gen_weight > 0)
        share = np.zeros(gen_weight.size)
        bus = gen_bus_ppci[on]
        total = np.bincount(bus, weights=gen_weight[on], minlength=n)
        share[on] = mismatch_mw[bus] * gen_weight[on] / np.where(total[bus] > 0, total[bus], 1.0)
        share[on] = np.where(self.bus_weight[bus] > 0, share[on], 0.0)
        return share


def runpp_with_slack(net: pp.pandapowerNet, gen_weight: np.ndarray | None,
                     own_slack: np.ndarray | None = None, **options) -> None:
    """``pandapower.runpp``; with gen weights, island by island with distributed slack.

    Parameters
    ----------
    net : pandapowerNet
        Solved in place (results in its ``res_*`` tables; with weights, its
        ``gen.slack`` and ``gen.slack_weight`` are set by
        :func:`assign_island_slack`).
    gen_weight : ndarray or None
        Weight per gen row [MW/pu], or None: one ``runpp`` of the whole net.
    own_slack : ndarray of bool, optional
        The gens' own ``slack`` flags (see :func:`assign_island_slack`).
    **options
        Passed to ``pandapower.runpp``.
    """
    if gen_weight is None:
        pp.runpp(net, **options)
        return
    assign_island_slack(net, gen_weight, own_slack)
    runpp_islands(net, **options)


def gen_slack_from_results(net: pp.pandapowerNet) -> np.ndarray:
    """Each gen's part of the distributed slack [MW] after :func:`runpp_with_slack`
    with weights: its solved output minus its setpoint where weighted, else 0."""
    solved = np.nan_to_num(net.res_gen["p_mw"].to_numpy(dtype=float) - net.gen["p_mw"].to_numpy(float))
    return np.where(net.gen["slack_weight"].to_numpy(float) > 0, solved, 0.0)


def runpp_islands(net: pp.pandapowerNet, **options) -> None:
    """``pandapower.runpp`` island by island, results written back to ``net``.

    pandapower's distributed slack handles one island at a time; each island
    is solved on a copy in which the ext_grids and gens of every other
    island are out of service, so that pandapower finds the other islands
    unsupplied (``distributed_slack`` where the island has weighted gens),
    and its rows of ``res_bus``, ``res_line``, ``res_trafo``,
    ``res_ext_grid`` and ``res_gen`` are copied back. All islands start from
    the same results. (Taking the other islands' buses out of service
    instead breaks ``init="results"`` in pandapower 3.x: on the CIGRE MV
    microgrid cut off at line 0 the main island then converges to 0.15 pu.)

    Raises
    ------
    pandapower.LoadflowNotConverged
        If an island does not converge.
    """
    weighted = set(net.gen.bus[net.gen.get("slack_weight", 0) > 0].astype(int)) if len(net.gen) else set()
    solved = []  # every island from the same results (``init="results"``), then written back
    for buses in topology_islands(net):
        part = copy.deepcopy(net)
        for table in ("ext_grid", "gen"):
            outside = ~part[table]["bus"].isin(buses).to_numpy()
            part[table].loc[outside, "in_service"] = False
        pp.runpp(part, distributed_slack=bool(weighted.intersection(buses.tolist())), **options)
        solved.append((buses, part))
    for number, (buses, part) in enumerate(solved):
        if number == 0:
            for table in ("res_bus", "res_line", "res_trafo", "res_ext_grid", "res_gen", "res_trafo3w",
                          "res_impedance"):
                if table in part:
                    net[table] = part[table].copy()
        else:
            _copy_island_rows(net, part, buses)


def _copy_island_rows(net, part, buses: np.ndarray) -> None:
    columns = {"res_bus": None, "res_line": "from_bus", "res_trafo": "hv_bus",
               "res_ext_grid": "bus", "res_gen": "bus"}
    for table, bus_column in columns.items():
        if table not in part or not len(part[table]):
            continue
        element = net[table[4:]]
        index = element.index if bus_column is None else element.index[element[bus_column].isin(buses)]
        if bus_column is None:
            index = element.index[element.index.isin(buses)]
        net[table].loc[index] = part[table].loc[index]
