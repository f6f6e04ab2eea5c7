"""The plant's security check against pandapower itself.

* the voltages and loadings of a schedule equal ``pandapower.runpp`` on the
  same injections (1e-6);
* the sensitivities (finite differences of the check's power flow) equal
  central differences of ``pandapower.runpp`` (loading and voltage), and
  the voltage ones the Jacobian-based ``PowerFlow.voltage_sensitivity``;
* the check follows the plant's topology (a line taken out).
"""
from __future__ import annotations

import copy
import warnings
from datetime import datetime

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from hierarchy.plant.plant import INJECTION_TABLES, Plant
from hierarchy.plant.powerflow import PowerFlow
from hierarchy.plant.profiles import build_profiles
from hierarchy.plant.security import GridCheck


@pytest.fixture(scope="module")
def plant():
    net = pn.create_cigre_network_mv(with_der="all")
    profiles = build_profiles(net, "none", datetime(2016, 6, 1), 900_000, 1, 0)
    return Plant(net, profiles)


def _injections(net, scale: float = 1.0):
    """Generation-positive P and Q of every element, loads scaled by ``scale``."""
    p = {t: INJECTION_TABLES[t] * net[t]["p_mw"].to_numpy(float) for t in INJECTION_TABLES}
    q = {t: INJECTION_TABLES[t] * (net[t]["q_mvar"].to_numpy(float) if "q_mvar" in net[t] else np.zeros(len(net[t])))
         for t in INJECTION_TABLES}
    p["load"] = p["load"] * scale
    q["load"] = q["load"] * scale
    q["gen"] = np.zeros(len(net.gen))
    return p, q


def _runpp(net, p, q):
    """pandapower's own power flow on a copy with these injections."""
    net = copy.deepcopy(net)
    for table, sign in INJECTION_TABLES.items():
        net[table]["p_mw"] = sign * p[table]
        if table != "gen":
            net[table]["q_mvar"] = sign * q[table]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.runpp(net, lightsim2grid=False, numba=False, tolerance_mva=1e-10)
    return net


def _value(net, name: str) -> float:
    element, kind = name.split()
    table, index = element.split("/")
    if kind == "loading":
        return float(net[f"res_{table}"].at[int(index), "loading_percent"])
    return float(net.res_bus.at[int(index), "vm_pu"])


def test_schedule_values_equal_runpp(plant):
    check = GridCheck(plant, (0.95, 1.05), 60.0, {("line", 0): 40.0})
    p, q = _injections(plant.net, 1.3)
    found = check.assess(p, q)
    reference = _runpp(plant.net, p, q)
    assert found.converged and len(found.names) == len(plant.net.line) + len(plant.net.trafo) + 2 * len(plant.net.bus)
    for name, value in zip(found.names, found.value):
        assert value == pytest.approx(_value(reference, name), abs=1e-6), name
    limits = dict(zip(found.names, found.limit))
    assert limits["line/0 loading"] == 40.0 and limits["line/3 loading"] == 60.0
    violated = {found.names[c] for c in found.violated()}
    by_hand = {n for n in found.names if n.endswith("loading") and _value(reference, n) > limits[n]}
    by_hand |= {n for n, s in zip(found.names, found.sign) if n.endswith("voltage") and
                (s < 0 and _value(reference, n) < 0.95 or s > 0 and _value(reference, n) > 1.05)}
    assert violated == by_hand and "line/0 loading" in violated


def test_sensitivities_equal_central_differences_of_runpp(plant):
    """A pattern: loads 3 and 5 (R4, R6 on feeder 1), 1 MW shared 40/60."""
    check = GridCheck(plant)
    p, q = _injections(plant.net)
    pattern = {"load": np.zeros(len(plant.net.load))}
    pattern["load"][[2, 4]] = [0.4, 0.6]
    found = check.assess(p, q, [pattern], step_mw=0.01)
    step = 0.05
    up = _runpp(plant.net, {**p, "load": p["load"] + step * pattern["load"]}, q)
    down = _runpp(plant.net, {**p, "load": p["load"] - step * pattern["load"]}, q)
    for name, sensitivity in zip(found.names, found.sensitivity[:, 0]):
        central = (_value(up, name) - _value(down, name)) / (2 * step)
        assert sensitivity == pytest.approx(central, rel=2e-2, abs=2e-4), name
    column = dict(zip(found.names, found.sensitivity[:, 0]))
    assert column["line/0 loading"] < -1.0  # injecting at the feeder unloads its head


def test_voltage_sensitivity_equals_the_jacobian(plant):
    """dV/dP of 1 MW injected at bus 5 (load 3's bus), against PowerFlow.voltage_sensitivity."""
    check = GridCheck(plant)
    p, q = _injections(plant.net)
    pattern = {"load": np.zeros(len(plant.net.load))}
    pattern["load"][3] = 1.0
    found = check.assess(p, q, [pattern], step_mw=0.001)
    flow = PowerFlow(plant.net)
    pp_p = {t: INJECTION_TABLES[t] * p[t] for t in p}
    pp_q = {t: INJECTION_TABLES[t] * q[t] for t in q}
    assert flow.solve(pp_p["load"], pp_q["load"], pp_p["sgen"], pp_q["sgen"], pp_p["storage"],
                      pp_q["storage"], pp_p["gen"])
    buses = np.arange(len(plant.net.bus))
    dv_dp, _ = flow.voltage_sensitivity(buses)
    bus5 = int(np.flatnonzero(plant.net.bus.index == plant.net.load.bus.iloc[3])[0])
    column = dict(zip(found.names, found.sensitivity[:, 0]))
    for b, label in enumerate(plant.net.bus.index):
        assert column[f"bus/{label} voltage"] == pytest.approx(dv_dp[b, bus5], rel=1e-2, abs=1e-6)
    assert dv_dp[bus5, bus5] > 1e-3


def test_the_check_follows_the_plants_topology(plant):
    check = GridCheck(plant)
    p, q = _injections(plant.net)
    before = check.assess(p, q)
    plant.set_line(3, False)  # line/3 (bus 4 -> 5) out: buses beyond it fed the other way or not at all
    try:
        check.sync()
        after = check.assess(p, q)
        net = copy.deepcopy(plant.net)
        net.line.at[net.line.index[3], "in_service"] = False
        reference = _runpp(net, p, q)
        assert "line/3 loading" in before.names and "line/3 loading" not in after.names
        for name, value in zip(after.names, after.value):
            assert value == pytest.approx(_value(reference, name), abs=1e-6), name
    finally:
        plant.set_line(3, True)
        check.sync()
    assert check.assess(p, q).value == pytest.approx(before.value, abs=1e-9)
