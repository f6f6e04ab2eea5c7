"""Unit controllers in running simulations, against independent references.

OLTC tap moves against ``pandapower.runpp`` on the same tap; IEEE 1547
ride-through trip and enter-service timing against a hand-worked timeline;
users' own policies loaded by ``package.module:Class`` (and their errors);
energy not served by flexible loads against a hand calculation; fixed-point
non-convergence written as events; and the ``der_feeder`` scenario for a day.
"""
from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandapower as pp
import pyarrow.parquet as pq
import pytest
import yaml

import hierarchy
from hierarchy.scenario import ScenarioError
from tests.conftest import ROOT, SCENARIOS, importable_module

LOAD_MW = 2.0


def _grid(path: Path, *, tap_side: str = "hv", ext_vm_pu: float = 1.0) -> Path:
    """110/20 kV substation (25 MVA, ±9 × 1.5 % taps) and 20 km of cable to a load and a 1 MVA PV.

    ``tap_changer_type`` is left empty, as in SimBench nets.
    """
    net = pp.create_empty_network()
    hv, lv, far = (pp.create_bus(net, kv) for kv in (110.0, 20.0, 20.0))
    pp.create_ext_grid(net, hv, vm_pu=ext_vm_pu)
    pp.create_transformer(net, hv, lv, "25 MVA 110/20 kV")
    pp.create_line(net, lv, far, 20.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_load(net, far, p_mw=LOAD_MW, q_mvar=0.25 * LOAD_MW)
    pp.create_sgen(net, far, p_mw=0.8, sn_mva=1.0, type="PV")
    net.trafo["tap_side"] = tap_side
    net.trafo["tap_changer_type"] = None
    pp.to_json(net, str(path))
    return path


def _scenario(grid: Path, units: list, *, events: tuple = (), duration: str = "10min",
              step: str = "1min", area_policy: str = "none", area_params: dict | None = None) -> dict:
    return {
        "name": "unit_sim", "seed": 1,
        "grid": {"source": "file", "path": str(grid), "f0_hz": 50},
        "time": {"start": "2016-06-01 12:00", "duration": duration, "step": step},
        "profiles": {"source": "none"},
        "areas": [{"id": "a", "buses": "rest",
                   "coordinator": {"policy": area_policy, "period": step, "params": area_params or {}}}],
        "units": units, "events": list(events), "outputs": {"dir": "unused", "plots": False},
    }


def _run(data: dict, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hierarchy.run(data, write=kwargs.pop("write", False), **kwargs)


def _runpp_vm_pu(grid: Path, tap_pos: int, load_mw: float = LOAD_MW) -> np.ndarray:
    net = pp.from_json(str(grid))
    net.trafo["tap_changer_type"] = "Ratio"
    net.trafo["tap_pos"] = tap_pos
    net.load["p_mw"] = load_mw
    pp.runpp(net, lightsim2grid=False, tolerance_mva=1e-10)
    return net.res_bus["vm_pu"].to_numpy()


# ----------------------------------------------------------------------- OLTC
@pytest.mark.parametrize("tap_side,vm_set_pu", [("hv", 1.03), ("hv", 0.975), ("lv", 1.03)])
def test_oltc_moves_lv_voltage_as_runpp_computes(tmp_path, tap_side, vm_set_pu):
    """The tap settles where runpp first puts the LV bus in the band, and voltages equal runpp there."""
    grid = _grid(tmp_path / "g.json", tap_side=tap_side)
    deadband_pu = 0.006
    units = [{"id": "oltc", "elements": ["trafo/0"], "policy": "oltc",
              "params": {"vm_set_pu": vm_set_pu, "deadband_pu": deadband_pu, "delay_s": 0}}]
    result = _run(_scenario(grid, units, duration="12min"))
    # reference: walk the taps away from 0 with runpp until the LV bus is in the band
    lv_vm = {tap: _runpp_vm_pu(grid, tap)[1] for tap in (0, 1)}
    direction = 1 if lv_vm[1] > lv_vm[0] else -1  # from runpp, not from the wiring
    toward = direction * (1 if vm_set_pu > lv_vm[0] else -1)
    expected = 0
    while abs(lv_vm[expected] - vm_set_pu) > deadband_pu:
        expected += toward
        lv_vm.setdefault(expected, _runpp_vm_pu(grid, expected)[1])
    assert expected != 0 and (direction == -1) == (tap_side == "hv")
    taps = result.events[result.events["kind"] == "tap"]
    assert len(taps) == abs(expected)  # one step at a time, no hunting back
    assert taps["detail"].iloc[-1].endswith(f"-> {expected}")
    vm = result.frame("bus_vm_pu").to_numpy()
    np.testing.assert_allclose(vm[-1], _runpp_vm_pu(grid, expected), atol=1e-6)
    np.testing.assert_allclose(vm[0, 1], lv_vm[0], atol=1e-6)


def test_oltc_on_a_transformer_without_tap_changer_is_a_scenario_error():
    data = yaml.safe_load((SCENARIOS / "quickstart.yaml").read_text())
    data["units"] = [{"id": "oltc", "elements": ["trafo/0"], "policy": "oltc"}]
    with pytest.raises(ScenarioError) as err:
        _run(data)
    assert err.value.path == "units[0].elements" and "no tap changer" in err.value.message


# --------------------------------------------------------------- ride-through
def test_overvoltage_trips_after_clearing_time_and_reconnects_after_delay(tmp_path):
    """IEEE 1547 cat. II: OV1 (1.10 pu, 2 s) trips; 300 s in the window, then a 300 s ramp.

    Timeline (1 min steps): the injection at 10 min lifts the PV bus above
    1.10 pu; the settled step at 10 min holds it for 60 s >= 2 s, so the unit
    is out from the 11 min step. The injection ends at 20 min; the steps at
    20..24 min are in the window, 5 × 60 s = 300 s, so it is back from the
    25 min step, its output capped at the mean of the ramp min(1, t/300 s)
    over the step: 0.1 of rating over [0, 60] s, 0.3 over [60, 120] s.
    """
    grid = _grid(tmp_path / "g.json", ext_vm_pu=1.02)
    units = [{"id": "pv", "elements": ["sgen/0"], "policy": "volt_var",
              "params": {"ride_through": {"category": "II"}}}]
    events = [{"at": "10min", "kind": "load_step", "target": "load/0", "delta_mw": -9.0},
              {"at": "20min", "kind": "load_step", "target": "load/0", "delta_mw": 9.0}]
    result = _run(_scenario(grid, units, events=events, duration="30min"))
    vm = result.frame("bus_vm_pu")["bus/2"].to_numpy()
    assert 1.10 < vm[10] < 1.20 and np.all(vm[:10] < 1.05) and np.all(vm[20:] < 1.05)
    ev = result.events
    minutes = lambda kind: ((ev.loc[ev["kind"] == kind, "time"] - ev["time"].min()).dt.total_seconds()  # noqa: E731
                            // 60 + 10).tolist()  # first event is at 10 min
    assert minutes("trip") == [11] and minutes("reconnect") == [25]
    p_mw = result.frame("unit_p_mw")["sgen/0"].to_numpy()
    assert np.all(p_mw[11:25] == 0.0) and np.all(p_mw[:10] > 0.7)
    np.testing.assert_allclose(p_mw[25:27], [0.1, 0.3], rtol=1e-9)


# ---------------------------------------------------------------- user policies
_USER_MODULE = '''
import math
import numpy as np
from area_control.base import AreaAction, AreaCoordinator
from unit_control import Capability, Command, UnitPolicy

class FixedQ(UnitPolicy):
    """Available P, constant Q in pu of rating."""
    name = "fixed_q"
    tables = ("sgen",)
    defaults = {"rating_mw": None, "h_s": 0.0, "q_pu": 0.1}

    def step(self, obs):
        p_mw = np.clip(obs.p_avail_mw, 0.0, self.rating_mw)
        return Command(p_mw=p_mw, q_mvar=np.full(self.n_units, self.params["q_pu"]) * self.rating_mw)

    def advance(self, obs, command):
        pass

    def capability(self, obs):
        zeros = np.zeros(self.n_units)
        return Capability(zeros, np.clip(obs.p_avail_mw, 0.0, self.rating_mw), zeros + math.nan, zeros, zeros)

class Incomplete(UnitPolicy):
    def step(self, obs):
        return None

class NotAPolicy:
    pass

class CapLoads(AreaCoordinator):
    """Caps every flexible-load group at cap_mw consumption per unit."""
    defaults = {"cap_mw": 1.0}

    def control(self, state):
        caps = {g: np.full(len(info.unit_ids), -self.params["cap_mw"])
                for g, info in self.groups.items() if info.kind == "flexible_load"}
        return AreaAction(caps, math.nan)

    def orders(self, state, interval_start_ms):
        return [], []

    def dispatch(self, state):
        return {}
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    return importable_module(tmp_path, monkeypatch, "user_policies", _USER_MODULE)


def test_user_policy_is_loaded_and_passes_conformance(tmp_path, user_module):
    import importlib

    from unit_control.conformance import check_unit_policy

    check_unit_policy(importlib.import_module(user_module).FixedQ, n_units=3)
    grid = _grid(tmp_path / "g.json")
    units = [{"id": "pv", "elements": ["sgen/0"], "policy": f"{user_module}:FixedQ", "params": {"q_pu": 0.3}}]
    result = _run(_scenario(grid, units, duration="3min"))
    np.testing.assert_allclose(result.frame("unit_q_mvar")["sgen/0"], 0.3)
    np.testing.assert_allclose(result.frame("unit_p_mw")["sgen/0"], 0.8)


@pytest.mark.parametrize("target,words", [
    ("{m}:NotAPolicy", "not a subclass of unit_control.base.UnitPolicy"),
    ("{m}:Incomplete", "does not implement advance, capability"),
    ("{m}:Missing", "has no class 'Missing'"),
    ("no_such_package_x.policies:VoltVar", "cannot import module 'no_such_package_x.policies'"),
])
def test_user_policy_that_does_not_fit_is_a_scenario_error(tmp_path, user_module, target, words):
    grid = _grid(tmp_path / "g.json")
    units = [{"id": "pv", "elements": ["sgen/0"], "policy": target.format(m=user_module)}]
    with pytest.raises(ScenarioError) as err:
        _run(_scenario(grid, units, duration="3min"))
    assert err.value.path == "units[0].policy" and words in err.value.message


def test_user_policy_error_exits_2_with_one_line(tmp_path, user_module):
    grid = _grid(tmp_path / "g.json")
    data = _scenario(grid, [{"id": "pv", "elements": ["sgen/0"], "policy": f"{user_module}:NotAPolicy"}])
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "hierarchy.cli", "run", str(tmp_path / "s.yaml"),
                           "--out", str(tmp_path / "out"), "--quiet"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "units[0].policy:" in lines[0]


# --------------------------------------------------------- flexible-load service
@pytest.mark.parametrize("cap_mw,shed_fraction,served_mw", [
    (1.2, 1.0, 1.2),   # the area's cap binds: 0.8 MW shed
    (0.5, 0.5, 1.0),   # the cap stops at the non-sheddable half: 1.0 MW shed
    (3.0, 1.0, 2.0),   # a cap above the demand sheds nothing
])
def test_flexible_load_not_served_is_what_the_area_shed(tmp_path, user_module, cap_mw, shed_fraction, served_mw):
    """Hand calculation: demand 2 MW; the cap arrives 1 s after the area's call at t = 0,
    so steps 1..9 (of 10, 1 min each) are capped; step 0 is served in full."""
    grid = _grid(tmp_path / "g.json")
    units = [{"id": "flex", "elements": ["load/0"], "policy": "flexible_load",
              "params": {"elasticity": 0.0, "shed_fraction": shed_fraction}}]
    data = _scenario(grid, units, area_policy=f"{user_module}:CapLoads", area_params={"cap_mw": cap_mw})
    result = _run(data)
    energy = result.summary["energy"]
    hours = 1 / 60
    assert energy["not_served_mwh"] == pytest.approx(9 * (LOAD_MW - served_mw) * hours, abs=1e-9)
    assert energy["load_mwh"] == pytest.approx((LOAD_MW + 9 * served_mw) * hours, abs=1e-9)


# ---------------------------------------------------------- fixed-point loop
def test_unsettled_steps_are_written_as_events(tmp_path):
    """With one iteration allowed, volt-var cannot settle at the first step (it starts from Q = 0);
    later steps start where it settled, with constant injections. The step is an event in events.parquet."""
    grid = _grid(tmp_path / "g.json", ext_vm_pu=1.04)
    units = [{"id": "pv", "elements": ["sgen/0"], "policy": "volt_var"}]
    data = _scenario(grid, units, duration="3min")
    data["control"] = {"max_iter": 1}
    result = _run(data, out=tmp_path / "out", write=True)
    events = pq.read_table(tmp_path / "out" / "events.parquet").to_pandas()
    unsettled = events[events["kind"] == "nonconverged"]
    assert len(unsettled) == result.summary["control"]["nonconverged_steps"] == 1
    assert unsettled.index[0] == result.frame("bus_vm_pu").index[0] if "time" not in unsettled else (
        unsettled["time"].iloc[0] == result.frame("bus_vm_pu").index[0])
    assert set(unsettled["target"]) == {"pv"}


# ------------------------------------------------------------------ der_feeder
def test_der_feeder_day_trips_and_reconnects(tmp_path):
    data = yaml.safe_load((SCENARIOS / "der_feeder.yaml").read_text())
    data["time"]["duration"] = "1d"
    result = _run(data)
    ev = result.events.set_index("time")
    start = ev.index.min().normalize()
    trips, back = ev[ev["kind"] == "trip"], ev[ev["kind"] == "reconnect"]
    assert len(trips) > 0 and sorted(trips["target"]) == sorted(back["target"])
    # the over-voltage starts at 12:00 and ends at 12:20; 2 s clearing, 300 s enter-service delay
    assert (trips.index == start + np.timedelta64(12 * 60 + 15, "m")).all()
    assert (back.index >= start + np.timedelta64(12 * 60 + 25, "m")).all()
    tripped = result.frame("unit_p_mw").loc[trips.index[0], list(trips["target"])]
    assert (tripped == 0.0).all()
    assert result.summary["control"]["nonconverged_steps"] == 0
    assert result.summary["voltage"]["max_pu"] > 1.10
