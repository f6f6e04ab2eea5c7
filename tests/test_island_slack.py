"""A feeder cut off and reconnected, with distributed slack, against ``pandapower.runpp``.

The grid of ``scenarios/microgrid_island.yaml``: CIGRE MV, feeder 1 below
line 0 (buses 2-11) with a 2.5 MVA genset whose droop of 5 % gives it the
slack weight 2.5 / 0.05 = 50 MW/pu. References, on copies with the same
injections: ``runpp(distributed_slack=True)`` on the island alone (every
other bus out of service, the genset the island's reference), ``runpp`` on
the rest with its ext_grid, and ``runpp`` on the reconnected grid.

The island is solved as in a run: warm, from the connected grid's solution,
whose angles are measured from the ext_grid across the 110/20 kV
transformers' phase shift. ``test_frequency.py`` checks islands solved
from a cold start only; from this warm start the fast path once converged to
the low-voltage solution (0.05 pu, 224 MW of slack, the island's frequency
at -775 Hz).
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandapower as pp
import pytest

from hierarchy.plant import slack
from hierarchy.plant.network_model import compile_model
from hierarchy.plant.powerflow import PowerFlow
from tests.test_frequency import _island_reference
from tests.test_powerflow import assert_matches_runpp, injections

ROOT = Path(__file__).resolve().parents[1]
WEIGHT = np.array([2.5 / 0.05])  # the genset's P_rated / R [MW/pu]
ISLAND = list(range(2, 12))  # buses below line 0
TOL_MW = 1e-6


def _microgrid(shift_degree: float | None = None) -> pp.pandapowerNet:
    net = pp.from_json(str(ROOT / "scenarios" / "grids" / "cigre_mv_microgrid.json"))
    if shift_degree is not None:
        net.trafo["shift_degree"] = shift_degree
    return net


def _runpp_rest(net: pp.pandapowerNet, island: list[int]) -> pp.pandapowerNet:
    """runpp on the part with the ext_grid (the island's buses out of service)."""
    rest = copy.deepcopy(net)
    rest.bus["in_service"] = ~rest.bus.index.isin(island)
    pp.runpp(rest, lightsim2grid=False, numba=False, tolerance_mva=1e-10)
    return rest


@pytest.mark.parametrize("shift_degree", [None, 0.0, 150.0])  # None: the grid's own (30°)
def test_feeder_cut_off_matches_runpp_with_distributed_slack(shift_degree) -> None:
    net = _microgrid(shift_degree)
    flow = PowerFlow(net)
    flow.set_slack_weights(WEIGHT)
    assert flow.solve(*injections(net))  # connected: the ext_grid takes the slack
    assert not flow.gen_slack_p_mw.any()
    net.line.loc[0, "in_service"] = False
    flow.set_in_service("line", 0, False)
    assert flow.solve(*injections(net))
    assert flow.n_fallbacks == 0  # the fast path solved it

    ref = _island_reference(net, WEIGHT, ISLAND)
    np.testing.assert_allclose(flow.vm_pu[ISLAND], ref.res_bus.vm_pu[ISLAND], rtol=0, atol=1e-8)
    np.testing.assert_allclose(flow.va_degree[ISLAND], ref.res_bus.va_degree[ISLAND], rtol=0,
                               atol=1e-6)
    lines = np.flatnonzero(net.line.from_bus.isin(ISLAND) & net.line.in_service)
    for mine, column in ((flow.line_loading_percent, "loading_percent"),
                         (flow.line_p_from_mw, "p_from_mw"), (flow.line_p_to_mw, "p_to_mw"),
                         (flow.line_q_from_mvar, "q_from_mvar")):
        np.testing.assert_allclose(mine[lines], ref.res_line[column].to_numpy()[lines], rtol=0,
                                   atol=TOL_MW, err_msg=column)
    share_mw = ref.res_gen.p_mw.to_numpy() - net.gen.p_mw.to_numpy()
    np.testing.assert_allclose(flow.gen_slack_p_mw, share_mw, rtol=0, atol=TOL_MW)
    assert 0.5 < share_mw[0] < 3.0  # the lost import, about 1.4 MW, not hundreds

    rest = _runpp_rest(net, ISLAND)
    others = np.setdiff1d(net.bus.index, ISLAND)
    np.testing.assert_allclose(flow.vm_pu[others], rest.res_bus.vm_pu[others], rtol=0, atol=1e-8)
    np.testing.assert_allclose(flow.ext_grid_p_mw, rest.res_ext_grid.p_mw, rtol=0, atol=TOL_MW)
    assert np.isnan(flow.line_loading_percent[0])


@pytest.mark.parametrize("backend", ["lightsim2grid", "pandapower"])
def test_reconnected_feeder_matches_runpp_and_its_gen_is_no_reference(backend) -> None:
    """Cut off first, then reconnected: plain runpp of the whole grid, the genset a PV gen.

    The genset was the island's reference (``gen.slack``); left one after
    the reconnection, it held its bus at the island's angle, 30° away from
    the ext_grid's side of the transformers (loadings over 500 %). The
    topology after reconnection is compiled here for the first time (the
    model of the connected grid is not in the cache yet).
    """
    net = _microgrid()
    flow = PowerFlow(net, backend=backend, tolerance_mva=1e-10)
    flow.set_slack_weights(WEIGHT)
    flow.set_in_service("line", 0, False)
    assert flow.solve(*injections(net))
    assert flow.network.gen.slack.iloc[0]  # the island's reference
    flow.set_in_service("line", 0, True)
    assert flow.solve(*injections(net))
    assert not flow.network.gen.slack.iloc[0]
    ref = copy.deepcopy(net)
    pp.runpp(ref, lightsim2grid=False, numba=False, tolerance_mva=1e-10)
    assert_matches_runpp(flow, ref)
    assert not flow.gen_slack_p_mw.any()


def test_start_with_the_island_reference_unknown_reaches_runpp() -> None:
    """Where the new reference's last voltage is not known, the island's known
    voltages are turned by their mean angle to the cold start; Newton-Raphson
    from there reaches runpp's solution."""
    net = _microgrid()
    flow = PowerFlow(net)
    flow.set_slack_weights(WEIGHT)
    assert flow.solve(*injections(net))
    v_bus = flow.vm_pu * np.exp(1j * np.radians(flow.va_degree))
    v_bus[net.gen.bus.iloc[0]] = np.nan  # the genset's bus: the island's reference
    island = copy.deepcopy(flow.network)
    island.line.loc[0, "in_service"] = False
    model = compile_model(island, WEIGHT, 1e-10, 10)
    sbus = model.sbus(np.concatenate([net.load.p_mw + 1j * net.load.q_mvar,
                                      net.sgen.p_mw + 1j * net.sgen.q_mvar,
                                      net.storage.p_mw + 1j * net.storage.q_mvar, net.gen.p_mw]))
    start = model.start_from(sbus, v_bus)
    ppci = model.bus_ppci[ISLAND]
    cold = model.cold_start(sbus)[ppci]
    assert np.max(np.abs(np.angle(start[ppci] / cold))) < np.radians(2.0)  # not 30°+ apart
    v = model.newton(sbus, start)
    net.line.loc[0, "in_service"] = False
    ref = _island_reference(net, WEIGHT, ISLAND)
    np.testing.assert_allclose(np.abs(v[ppci]), ref.res_bus.vm_pu[ISLAND], rtol=0, atol=1e-8)


def test_pandapower_backend_solves_the_islands_warm_step_after_step(monkeypatch) -> None:
    """``grid.solver: pandapower`` with the feeder cut off: each island is
    solved from the last results (``init="results"``) and stays on runpp's
    solution step after step. Until session 7 the first island's results
    were written back before the second was copied (its start all NaN), and
    taking the other island's buses out of service made pandapower 3.x
    converge the main island from its own last results to 0.15 pu at bus 14.
    """
    net = _microgrid()
    flow = PowerFlow(net, backend="pandapower", tolerance_mva=1e-10)
    flow.set_slack_weights(WEIGHT)
    net.line.loc[0, "in_service"] = False
    flow.set_in_service("line", 0, False)
    ref = _island_reference(net, WEIGHT, ISLAND)
    rest = _runpp_rest(net, ISLAND)
    others = np.setdiff1d(net.bus.index, ISLAND)
    calls, runpp = [], pp.runpp
    monkeypatch.setattr(slack.pp, "runpp", lambda part, **options: calls.append(options["init"])
                        or runpp(part, **options))
    for step in range(3):
        assert flow.solve(*injections(net))
        # one runpp per island, warm after the first step: no failed attempt first
        assert calls == ["auto" if step == 0 else "results"] * 2
        calls.clear()
        np.testing.assert_allclose(flow.vm_pu[ISLAND], ref.res_bus.vm_pu[ISLAND], rtol=0, atol=1e-8)
        np.testing.assert_allclose(flow.vm_pu[others], rest.res_bus.vm_pu[others], rtol=0, atol=1e-8)
        np.testing.assert_allclose(flow.ext_grid_p_mw, rest.res_ext_grid.p_mw, rtol=0, atol=TOL_MW)
    assert flow.network.res_bus.vm_pu[others].min() > 0.95
