"""Parity of the fast power flow adapter with ``pandapower.runpp``.

Every reference below is pandapower's own Newton-Raphson
(``runpp(net, lightsim2grid=False)``) on an independent copy of the net with
the same injections and topology, so a wrong bus fusion, tap, sign or
result formula in the adapter shows up as a voltage or loading mismatch.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from hierarchy.plant.flow_results import RESULTS
from hierarchy.plant.powerflow import PowerFlow

VM_TOL_PU = 1e-9
LOADING_TOL_PERCENT = 1e-6
POWER_TOL_MW = 1e-7


def injections(net: pp.pandapowerNet) -> tuple[np.ndarray, ...]:
    """The seven solve() arrays, read from the net's tables."""
    return (net.load.p_mw.to_numpy(float), net.load.q_mvar.to_numpy(float),
            net.sgen.p_mw.to_numpy(float), net.sgen.q_mvar.to_numpy(float),
            net.storage.p_mw.to_numpy(float), net.storage.q_mvar.to_numpy(float),
            net.gen.p_mw.to_numpy(float))


def runpp_reference(net: pp.pandapowerNet) -> pp.pandapowerNet:
    """pandapower's own solver on a copy of ``net``."""
    ref = copy.deepcopy(net)
    ref.pop("profiles", None)
    pp.runpp(ref, lightsim2grid=False, numba=False)
    return ref


def assert_matches_runpp(flow: PowerFlow, ref: pp.pandapowerNet) -> None:
    """Bus, line, trafo and ext_grid results equal pandapower's; NaN where it has 0 or NaN."""
    np.testing.assert_array_equal(np.isnan(flow.vm_pu), ref.res_bus.vm_pu.isna().to_numpy())
    np.testing.assert_allclose(flow.vm_pu, ref.res_bus.vm_pu, rtol=0, atol=VM_TOL_PU)
    np.testing.assert_allclose(flow.va_degree, ref.res_bus.va_degree, rtol=0, atol=1e-7)
    for mine, theirs, tol in (
            (flow.line_loading_percent, ref.res_line.loading_percent, LOADING_TOL_PERCENT),
            (flow.line_p_from_mw, ref.res_line.p_from_mw, POWER_TOL_MW),
            (flow.line_p_to_mw, ref.res_line.p_to_mw, POWER_TOL_MW),
            (flow.line_q_from_mvar, ref.res_line.q_from_mvar, POWER_TOL_MW),
            (flow.trafo_p_hv_mw, ref.res_trafo.p_hv_mw, POWER_TOL_MW),
            (flow.trafo_p_lv_mw, ref.res_trafo.p_lv_mw, POWER_TOL_MW),
            (flow.trafo_loading_percent, ref.res_trafo.loading_percent, LOADING_TOL_PERCENT),
            (flow.ext_grid_p_mw, ref.res_ext_grid.p_mw, POWER_TOL_MW),
            (flow.ext_grid_q_mvar, ref.res_ext_grid.q_mvar, POWER_TOL_MW)):
        theirs = theirs.to_numpy(float)
        dead = np.isnan(mine)  # de-energised: pandapower reports 0 or NaN there
        assert np.all(np.isnan(theirs[dead]) | (theirs[dead] == 0))
        np.testing.assert_allclose(mine[~dead], theirs[~dead], rtol=0, atol=tol)
    losses_mw = ref.res_line.pl_mw.sum() + ref.res_trafo.pl_mw.sum()
    assert flow.losses_mw == pytest.approx(losses_mw, abs=POWER_TOL_MW)


@pytest.fixture(scope="module")
def simbench_case() -> tuple[pp.pandapowerNet, dict]:
    """SimBench 1-MV-semiurb--0-sw (117 buses) and its year of absolute profiles, once."""
    simbench = pytest.importorskip("simbench")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = simbench.get_simbench_net("1-MV-semiurb--0-sw")
        profiles = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
    net.pop("profiles", None)
    return net, profiles


def profile_step(case: tuple[pp.pandapowerNet, dict], row: int,
                 sgen_factor: float = 1.0) -> pp.pandapowerNet:
    """A copy of the SimBench net with the injections of profile ``row`` written in."""
    net, profiles = case
    step = copy.deepcopy(net)
    step.load["p_mw"] = profiles[("load", "p_mw")].iloc[row].to_numpy()
    step.load["q_mvar"] = profiles[("load", "q_mvar")].iloc[row].to_numpy()
    step.sgen["p_mw"] = sgen_factor * profiles[("sgen", "p_mw")].iloc[row].to_numpy()
    return step


@pytest.fixture(scope="module")
def cigre_net() -> pp.pandapowerNet:
    return pn.create_cigre_network_mv(with_der="all")


def test_cigre_mv_with_der_matches_runpp(cigre_net: pp.pandapowerNet) -> None:
    flow = PowerFlow(cigre_net)
    assert flow.solve(*injections(cigre_net))
    assert_matches_runpp(flow, runpp_reference(cigre_net))
    np.testing.assert_allclose(flow.vm_pu, flow.reference_vm_pu(), rtol=0, atol=VM_TOL_PU)
    assert flow.n_fallbacks == 0


def test_simbench_profiles_match_runpp(simbench_case: tuple[pp.pandapowerNet, dict]) -> None:
    """~20 injection sets over the year, one model, each equal to runpp."""
    flow = PowerFlow(simbench_case[0])
    n_rows = len(simbench_case[1][("load", "p_mw")])
    rows = np.linspace(0, n_rows - 1, 20).astype(int)
    for k, row in enumerate(rows):
        step = profile_step(simbench_case, row, sgen_factor=3.0 if k % 4 == 3 else 1.0)
        assert flow.solve(*injections(step))
        assert_matches_runpp(flow, runpp_reference(step))
    assert flow.n_solves == len(rows) and flow.n_fallbacks == 0
    assert len(flow._models) == 1  # built once, re-solved with new injections


def test_energy_balance_and_signs(simbench_case: tuple[pp.pandapowerNet, dict]) -> None:
    """ext_grid supply = load - generation + losses (Tellegen), generation positive."""
    step = profile_step(simbench_case, 20000)
    flow = PowerFlow(step)
    assert flow.solve(*injections(step))
    balance_mw = step.load.p_mw.sum() - step.sgen.p_mw.sum() + flow.losses_mw
    assert flow.ext_grid_p_mw.sum() == pytest.approx(balance_mw, abs=1e-9)
    assert flow.losses_mw > 0
    p_import_mw = flow.ext_grid_p_mw.sum()
    load_p = step.load.p_mw.to_numpy() + 1.0 / len(step.load)
    assert flow.solve(load_p, *injections(step)[1:])
    assert flow.ext_grid_p_mw.sum() > p_import_mw + 0.99  # 1 MW more load is supplied


def switch_net() -> pp.pandapowerNet:
    """A 20 kV feeder with closed/open bus-bus switches and open line ends."""
    net = pp.create_empty_network()
    hv, b1, b1a, b2, b3, b4, b5, b6 = (pp.create_bus(net, vn_kv=kv) for kv in
                                       (110, 20, 20, 20, 20, 20, 20, 20))
    pp.create_ext_grid(net, hv, vm_pu=1.02)
    pp.create_transformer(net, hv, b1, "25 MVA 110/20 kV")
    std = "NA2XS2Y 1x185 RM/25 12/20 kV"
    pp.create_line(net, b1a, b2, 2.0, std)
    pp.create_line(net, b2, b3, 3.0, std)
    l34 = pp.create_line(net, b3, b4, 1.5, std)
    l45 = pp.create_line(net, b4, b5, 2.5, std)
    l26 = pp.create_line(net, b2, b6, 4.0, std)
    pp.create_switch(net, b1, b1a, et="b", closed=True)   # busbar coupler, fused
    pp.create_switch(net, b4, b6, et="b", closed=False)   # open tie, ignored
    pp.create_switch(net, b3, l34, et="l", closed=True)
    pp.create_switch(net, b5, l45, et="l", closed=False)  # line 45 open at b5: charging only
    pp.create_switch(net, b6, l26, et="l", closed=True)
    for bus, p_mw in ((b2, 1.2), (b3, 2.0), (b4, 0.8), (b6, 1.5)):
        pp.create_load(net, bus, p_mw=p_mw, q_mvar=0.3 * p_mw)
    pp.create_sgen(net, b3, p_mw=1.0, q_mvar=-0.1)
    pp.create_sgen(net, b5, p_mw=0.5)  # b5 is cut off by the open switch: an island
    pp.create_storage(net, b6, p_mw=0.4, q_mvar=0.0, max_e_mwh=2.0)
    pp.create_gen(net, b4, p_mw=0.6, vm_pu=1.01)  # PV bus
    net.load.at[1, "scaling"] = 0.8
    return net


def test_switches_match_runpp() -> None:
    net = switch_net()
    flow = PowerFlow(net)
    assert flow.solve(*injections(net))
    assert_matches_runpp(flow, runpp_reference(net))
    assert flow.vm_pu[1] == flow.vm_pu[2]  # b1, b1a fused by the closed coupler
    assert np.isnan(flow.vm_pu[6])  # b5 is behind the open line switch
    assert flow.line_q_from_mvar[3] < 0  # open-ended cable: capacitive charging only
    assert flow.line_p_from_mw[3] == pytest.approx(0.0, abs=1e-3)
    assert flow.vm_pu[5] == pytest.approx(1.01, abs=1e-12)  # gen holds its setpoint


def test_tap_change_matches_runpp(simbench_case: tuple[pp.pandapowerNet, dict]) -> None:
    step = profile_step(simbench_case, 5000)
    flow = PowerFlow(step)
    assert flow.solve(*injections(step))
    vm_before = flow.vm_pu.copy()
    flow.set_tap_pos(0, 3)
    flow.set_tap_pos(1, 3)
    assert flow.solve(*injections(step))
    tapped = copy.deepcopy(step)
    tapped.trafo["tap_pos"] = 3
    tapped.trafo["tap_changer_type"] = "Ratio"  # SimBench leaves it empty: runpp ignores taps
    assert_matches_runpp(flow, runpp_reference(tapped))
    assert np.nanmax(np.abs(flow.vm_pu - vm_before)) > 0.01  # hv-side taps move MV voltage


def test_line_outage_matches_runpp(cigre_net: pp.pandapowerNet) -> None:
    flow = PowerFlow(cigre_net)
    assert flow.solve(*injections(cigre_net))
    loading_before = flow.line_loading_percent.copy()
    flow.set_in_service("line", 2, False)
    assert flow.solve(*injections(cigre_net))
    outaged = copy.deepcopy(cigre_net)
    outaged.line.at[outaged.line.index[2], "in_service"] = False
    assert_matches_runpp(flow, runpp_reference(outaged))
    assert np.isnan(flow.line_loading_percent[2])
    assert not np.allclose(flow.line_loading_percent[:2], loading_before[:2])
    flow.set_in_service("line", 2, True)
    assert flow.solve(*injections(cigre_net))
    np.testing.assert_allclose(flow.line_loading_percent, loading_before, atol=1e-9)


def test_isolated_island_is_nan_and_does_not_raise(cigre_net: pp.pandapowerNet) -> None:
    """Feeder 2 (buses 12-14) hangs on trafo 1 alone (tie S1 open): out of service, it is
    an island without slack."""
    net = copy.deepcopy(cigre_net)
    flow = PowerFlow(net)
    flow.set_in_service("trafo", 1, False)
    assert flow.solve(*injections(net))
    island = [12, 13, 14]
    assert np.all(np.isnan(flow.vm_pu[island]))
    assert np.all(np.isfinite(np.delete(flow.vm_pu, island)))
    assert np.all(np.isnan(flow.line_loading_percent[[10, 11]]))
    assert np.isnan(flow.trafo_loading_percent[1])
    net.trafo.at[1, "in_service"] = False
    assert_matches_runpp(flow, runpp_reference(net))
    slow = PowerFlow(net, backend="pandapower")
    assert slow.solve(*injections(net))
    np.testing.assert_array_equal(np.isnan(slow.line_loading_percent),
                                  np.isnan(flow.line_loading_percent))


def test_warm_start_equals_cold_start(simbench_case: tuple[pp.pandapowerNet, dict]) -> None:
    warm = PowerFlow(simbench_case[0])
    for row in (100, 9000, 17000, 26000):
        step = profile_step(simbench_case, row, sgen_factor=2.0)
        assert warm.solve(*injections(step))
    cold = PowerFlow(step)
    assert cold.solve(*injections(step))
    np.testing.assert_allclose(warm.vm_pu, cold.vm_pu, rtol=0, atol=1e-10)
    np.testing.assert_allclose(warm.line_loading_percent, cold.line_loading_percent, atol=1e-8)


@pytest.mark.parametrize("grid", ["cigre", "switches"])
def test_pandapower_backend_equals_lightsim2grid(grid: str, cigre_net: pp.pandapowerNet) -> None:
    net = cigre_net if grid == "cigre" else switch_net()
    fast = PowerFlow(net)
    slow = PowerFlow(net, backend="pandapower")
    args = list(injections(net))
    args[2] = 0.5 * args[2]  # half the DER output
    for flow in (fast, slow):
        flow.set_in_service("line", 2, False)
        assert flow.solve(*args)
    for name in RESULTS:
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=0, atol=1e-7,
                                   err_msg=name)
    assert fast.losses_mw == pytest.approx(slow.losses_mw, abs=1e-9)
    assert slow.n_fallbacks == 0 and fast.n_fallbacks == 0


def test_fallback_to_runpp_when_fast_solver_fails(cigre_net: pp.pandapowerNet,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from hierarchy.plant.network_model import NetworkModel
    flow = PowerFlow(cigre_net)
    monkeypatch.setattr(NetworkModel, "newton", lambda self, sbus, v0: None)
    assert flow.solve(*injections(cigre_net))
    assert flow.n_fallbacks == 1
    assert_matches_runpp(flow, runpp_reference(cigre_net))


def test_unsolvable_returns_false_with_nan(cigre_net: pp.pandapowerNet) -> None:
    flow = PowerFlow(cigre_net, max_iteration=1)
    load_p = 40.0 * cigre_net.load.p_mw.to_numpy()  # far beyond the feeders' capability
    assert not flow.solve(load_p, *injections(cigre_net)[1:])
    assert np.all(np.isnan(flow.vm_pu)) and np.isnan(flow.losses_mw)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # pandapower's init averages 0 slacks
def test_grid_without_slack_returns_false_without_raising(cigre_net: pp.pandapowerNet) -> None:
    net = copy.deepcopy(cigre_net)
    net.ext_grid["in_service"] = False
    for backend in ("lightsim2grid", "pandapower"):
        flow = PowerFlow(net, backend=backend)
        assert not flow.solve(*injections(net))
        assert np.all(np.isnan(flow.vm_pu)) and np.all(np.isnan(flow.line_loading_percent))


def test_bad_input_shapes_and_backend_raise(cigre_net: pp.pandapowerNet) -> None:
    with pytest.raises(ValueError, match="backend"):
        PowerFlow(cigre_net, backend="matpower")
    flow = PowerFlow(cigre_net)
    args = list(injections(cigre_net))
    args[0] = args[0][:-1]
    with pytest.raises(ValueError, match="load"):
        flow.solve(*args)


def test_warm_resolves_keep_one_model_and_grid_solver(
        simbench_case: tuple[pp.pandapowerNet, dict]) -> None:
    """200 profile steps re-solve one compiled model on its kept grid solver, as runpp."""
    net, profiles = simbench_case
    flow = PowerFlow(net)
    load_p, load_q, sgen_p = (profiles[key].to_numpy()[:200] for key in
                              (("load", "p_mw"), ("load", "q_mvar"), ("sgen", "p_mw")))
    _, _, _, sgen_q, storage_p, storage_q, gen_p = injections(net)
    for row in range(200):
        assert flow.solve(load_p[row], load_q[row], sgen_p[row], sgen_q, storage_p, storage_q,
                          gen_p)
    assert flow.n_fallbacks == 0 and len(flow._models) == 1
    assert flow._model.grid_solver is not None
    np.testing.assert_allclose(flow.vm_pu, flow.reference_vm_pu(), rtol=0, atol=VM_TOL_PU)


def _single_call_solver(flow: PowerFlow) -> None:
    """Make ``flow`` solve through lightsim2grid's one-call Newton (no kept grid model)."""
    flow._current_model().grid_solver = None


@pytest.mark.parametrize("grid", ["cigre", "simbench", "example_simple", "example_multivoltage",
                                  "mv_oberrhein"])
def test_grid_solver_equals_one_call_newton(grid: str, cigre_net: pp.pandapowerNet,
                                            simbench_case: tuple[pp.pandapowerNet, dict]) -> None:
    """The kept grid model (series branches + bus shunts) gives the Newton solution of the ppci.

    Covers a 150° HV/MV phase shift (SimBench), PV generators, shunts,
    switches and a transformer with iron losses (``example_simple``), and
    three-winding transformers, wards, an impedance and three PV generators
    (``example_multivoltage``), two slack buses (``mv_oberrhein``): voltages
    equal the one-call solver's (the same algorithm) to 1e-12 pu and
    ``runpp``'s to the solver tolerance.
    """
    if grid == "cigre":
        net = cigre_net
    elif grid == "simbench":
        net = profile_step(simbench_case, 4000)
    else:
        net = getattr(pn, grid)()
    kept, one_call = PowerFlow(net), PowerFlow(net)
    _single_call_solver(one_call)
    for scale in (1.0, 0.5, 1.3):
        args = list(injections(net))
        args[0] = scale * args[0]
        assert kept.solve(*args) and one_call.solve(*args)
        assert kept._model.grid_solver is not None and one_call._model.grid_solver is None
        np.testing.assert_allclose(kept.vm_pu, one_call.vm_pu, rtol=0, atol=1e-12)
        np.testing.assert_allclose(kept.va_degree, one_call.va_degree, rtol=0, atol=1e-10)
    # runpp stops at its own last iterate: within what a 1e-8 pu mismatch allows
    np.testing.assert_allclose(kept.vm_pu, kept.reference_vm_pu(), rtol=0, atol=1e-7)
    assert kept.n_fallbacks == 0


def test_models_the_grid_solver_cannot_hold_use_one_call_newton(
        cigre_net: pp.pandapowerNet) -> None:
    """An asymmetric branch (rft ≠ rtf) or distributed slack keep the one-call solver."""
    net = copy.deepcopy(cigre_net)
    pp.create_impedance(net, from_bus=4, to_bus=8, rft_pu=0.01, xft_pu=0.02, rtf_pu=0.03,
                        xtf_pu=0.05, sn_mva=10.0)
    flow = PowerFlow(net)
    assert flow.solve(*injections(net))
    assert flow._model.grid_solver is None
    ref = runpp_reference(net)
    np.testing.assert_allclose(flow.vm_pu, ref.res_bus.vm_pu, rtol=0, atol=VM_TOL_PU)
    losses_mw = sum(ref[f"res_{t}"].pl_mw.sum() for t in ("line", "trafo", "impedance"))
    assert flow.losses_mw == pytest.approx(losses_mw, abs=POWER_TOL_MW)
    net = pn.example_simple()  # no ext_grid: its gen takes the slack (distributed slack)
    net.ext_grid["in_service"] = False
    flow = PowerFlow(net)
    flow.set_slack_weights(np.ones(len(net.gen)))
    assert flow.solve(*injections(net))
    assert flow._model.grid_solver is None


def _stacked(load_p, load_q, sgen_p, sgen_q, storage_p, storage_q, gen_p) -> np.ndarray:
    """Rows of stacked element powers P + jQ for ``PowerFlow.solve_many``."""
    n = load_p.shape[0]
    return np.concatenate([load_p + 1j * load_q, sgen_p + 1j * sgen_q,
                           np.broadcast_to(storage_p + 1j * storage_q, (n, storage_p.shape[-1])),
                           np.broadcast_to(gen_p + 0j, (n, gen_p.shape[-1]))], axis=1)


@pytest.mark.parametrize("grid", ["simbench", "mv_oberrhein"])
def test_solve_many_equals_solving_row_by_row(grid: str,
                                              simbench_case: tuple[pp.pandapowerNet, dict]) -> None:
    """A batch of profile rows gives what solve() gives row by row, also through a failed row.

    Row 5 asks 40× the load: no solver finds a solution there (NaN, not
    converged), and the rows after it recover, as in a step-by-step run.
    ``mv_oberrhein`` (two slack buses) has no grid solver: every row takes
    the one-by-one path.
    """
    if grid == "simbench":
        net, profiles = simbench_case
        load_p, load_q, sgen_p = (profiles[key].to_numpy()[:60].copy() for key in
                                  (("load", "p_mw"), ("load", "q_mvar"), ("sgen", "p_mw")))
    else:
        net = pn.mv_oberrhein()
        scale = np.linspace(0.3, 1.0, 12)[:, None]
        load_p, load_q, sgen_p = (scale * net[t][c].to_numpy(float)
                                  for t, c in (("load", "p_mw"), ("load", "q_mvar"), ("sgen", "p_mw")))
    load_p[5] *= 40.0
    _, _, _, sgen_q, storage_p, storage_q, gen_p = injections(net)
    sgen_q = np.broadcast_to(sgen_q, sgen_p.shape)
    batch, single = PowerFlow(net, max_iteration=6), PowerFlow(net, max_iteration=6)
    result = batch.solve_many(_stacked(load_p, load_q, sgen_p, sgen_q, storage_p, storage_q, gen_p))
    for row in range(load_p.shape[0]):
        converged = single.solve(load_p[row], load_q[row], sgen_p[row], sgen_q[row], storage_p,
                                 storage_q, gen_p)
        assert result["converged"][row] == converged
        for name in RESULTS:
            np.testing.assert_allclose(result[name][row], getattr(single, name), rtol=0, atol=1e-9,
                                       err_msg=f"{name} row {row}")
        assert result["losses_mw"][row] == pytest.approx(single.losses_mw, abs=1e-9, nan_ok=True)
    assert not result["converged"][5] and result["converged"][6:].all()
    assert batch.n_solves == single.n_solves
    np.testing.assert_allclose(batch.vm_pu, single.vm_pu, rtol=0, atol=1e-12)
