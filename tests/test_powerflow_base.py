"""The fast power flow on grids whose power base ``net.sn_mva`` is not 1 MVA.

pandapower solves in per unit of ``net.sn_mva``; no result in MW, Mvar, kA
or percent may depend on it. References: ``pandapower.runpp(
lightsim2grid=False)`` on a copy with the same injections (its own result
extraction), and the same grid solved on a 1 MVA base. The parity tests of
``test_powerflow.py`` run on 1 MVA bases only, where a per-unit factor
applied twice is invisible: line and transformer loadings came out
``sn_mva`` times too high (100 times on the two-area grid) and no test saw it.

Both solvers stop at a mismatch of ``tolerance_mva`` in per unit of
``sn_mva``, 100 times more MVA on a 100 MVA base; the comparisons here solve
to 1e-10 pu on both sides.
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
from tests.test_powerflow import _stacked, assert_matches_runpp, injections

TOLERANCE_PU = 1e-10


def _cigre(sn_mva: float) -> pp.pandapowerNet:
    """CIGRE MV with all its DERs (two 110/20 kV transformers, storage) on a ``sn_mva`` base."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pn.create_cigre_network_mv(with_der="all")
    net.sn_mva = sn_mva
    return net


def _case118() -> pp.pandapowerNet:
    """IEEE 118-bus case: 100 MVA base, 13 transformers, 53 voltage-controlled gens."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pn.case118()


def _runpp(net: pp.pandapowerNet) -> pp.pandapowerNet:
    ref = copy.deepcopy(net)
    pp.runpp(ref, lightsim2grid=False, numba=False, tolerance_mva=TOLERANCE_PU)
    return ref


@pytest.mark.parametrize("make", [lambda: _cigre(100.0), lambda: _cigre(0.5), _case118],
                         ids=["cigre_mv_100_mva", "cigre_mv_0.5_mva", "case118"])
def test_results_match_runpp_on_a_base_other_than_1_mva(make) -> None:
    """Voltages, line and transformer flows and loadings, ext_grid supply, losses."""
    net = make()
    assert net.sn_mva != 1.0 and len(net.trafo)
    flow = PowerFlow(net, tolerance_mva=TOLERANCE_PU)
    assert flow.solve(*injections(net))
    assert_matches_runpp(flow, _runpp(net))
    assert flow.n_fallbacks == 0
    assert np.nanmax(flow.line_loading_percent) < 150.0  # plausible, not sn_mva times too high


def test_results_do_not_depend_on_the_power_base() -> None:
    """The same grid and injections on a 1, a 10 and a 100 MVA base: equal results."""
    results = {}
    for sn_mva in (1.0, 10.0, 100.0):
        net = _cigre(sn_mva)
        flow = PowerFlow(net, tolerance_mva=TOLERANCE_PU / sn_mva)  # the same MVA mismatch
        assert flow.solve(*injections(net))
        results[sn_mva] = {name: getattr(flow, name) for name in (*RESULTS, "losses_mw")}
    for sn_mva in (10.0, 100.0):
        for name, value in results[1.0].items():
            np.testing.assert_allclose(results[sn_mva][name], value, rtol=0, atol=1e-7,
                                       err_msg=f"{name} at {sn_mva} MVA")


def test_solve_many_matches_runpp_on_a_100_mva_base() -> None:
    """The block path (lightsim2grid's time-series computer, results a block at a time)."""
    net = _cigre(100.0)
    flow = PowerFlow(net, tolerance_mva=TOLERANCE_PU)
    load_p, load_q, *others = injections(net)
    factors = np.array([0.6, 1.0, 1.4])
    out = flow.solve_many(_stacked(factors[:, None] * load_p, factors[:, None] * load_q,
                                   *(np.broadcast_to(a, (3, a.size)) for a in others[:2]),
                                   *others[2:]))
    assert out["converged"].all() and flow.n_fallbacks == 0
    for k, factor in enumerate(factors):
        step = copy.deepcopy(net)
        step.load["p_mw"] *= factor
        step.load["q_mvar"] *= factor
        ref = _runpp(step)
        for name, (table, column) in RESULTS.items():
            theirs = ref[f"res_{table}"][column].to_numpy(float)
            np.testing.assert_allclose(out[name][k], theirs, rtol=0, atol=1e-6,
                                       err_msg=f"{name}, load x{factor}")
