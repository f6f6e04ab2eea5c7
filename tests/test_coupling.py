"""Control from outside, without the extras: stepped runs, the ``external`` policies (issue 19).

* A run advanced in increments (:class:`SteppedRun`), paused inside instants
  at every tier's turn, gives the numbers of the same run made in one go
  (``hierarchy.run``), bit for bit: the coupling adds nothing to a run.
* ``unit_control.external.External`` against hand-worked cases (the 3-4-5
  triangle for the apparent-power limit); a group left alone runs as if no
  group held its elements (the plant applies the profile).
* ``area_control.external.ExternalCoordinator`` with nothing held is ``none``.
* The core install imports neither Gymnasium nor mosaik, and their modules
  say what to install when the package is missing.
"""
from __future__ import annotations

import copy
import subprocess
import sys
import warnings

import numpy as np
import pytest

import hierarchy
from hierarchy.coupling.stepper import Order, SteppedRun
from hierarchy.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS, assert_same_results, quickstart_dict
from unit_control.conformance import make_observation
from unit_control.external import External

def _run(source):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hierarchy.run(copy.deepcopy(source), write=False)


@pytest.mark.parametrize("name", ["quickstart.yaml", "microgrid_island.yaml"])
def test_a_run_stepped_from_outside_equals_the_run_in_one_go(name):
    """Irregular increments, to instants and into them at each tier's turn (seeded)."""
    scenario = load_scenario(SCENARIOS / name)
    reference = _run(scenario)
    stepped = SteppedRun(scenario)
    rng = np.random.default_rng(19)
    orders = list(Order)
    pauses = 0
    while stepped.now_ms < stepped.end_ms:
        until = min(stepped.now_ms + int(rng.integers(0, stepped.rt.step_ms * 3)), stepped.end_ms)
        before = orders[int(rng.integers(len(orders) + 1)) - 1] if rng.random() < 0.7 else None
        stepped.advance(until, before=before if until < stepped.end_ms else None)
        pauses += 1
    assert stepped.done and pauses > 20
    assert_same_results(reference, stepped.result())


def test_advance_refuses_the_past_and_beyond_the_end():
    stepped = SteppedRun(load_scenario(quickstart_dict()))
    stepped.advance(3_600_000)
    with pytest.raises(ValueError, match="the run is at 3600000 ms"):
        stepped.advance(1_000)
    with pytest.raises(ValueError, match="ends at 86400000 ms"):
        stepped.advance(stepped.end_ms + 1)
    assert stepped.steps_done == 4  # 00:00 to 00:45; the 01:00 step is not before 01:00
    stepped.advance(3_600_000, before=Order.AREA)
    assert stepped.steps_done == 5


# ---------------------------------------------------------------- External
def _external(rating, p_limit="rating"):
    return External(np.asarray(rating, dtype=float), {"rating_mw": None, "h_s": 0.0, "p_limit": p_limit})


def test_external_profile_limit_curtails_a_source_and_sheds_a_load():
    pv = _external([1.0, 1.0, 1.0], "profile")
    pv.hold([0.9, -0.2, 0.6], [0.0, 0.0, 0.9])
    command = pv.step(make_observation(3, p_avail_mw=[0.6, 0.6, 0.6]))
    assert command.p_mw.tolist() == [0.6, 0.0, 0.6]  # at most what the sun gives, never below 0
    # P = 0.6 of 1 MVA leaves Q = 0.8 (3-4-5): the 0.9 asked for is cut to it
    assert command.q_mvar[2] == pytest.approx(0.8, abs=1e-15)
    load = _external([2.0, 2.0], "profile")
    load.hold([-0.7, 0.3], [0.0, 0.0])
    assert load.step(make_observation(2, p_avail_mw=-0.5)).p_mw.tolist() == [-0.5, 0.0]


def test_external_rating_limit_and_units_left_alone():
    hub = _external([1.0, 1.0, 1.0])
    hub.hold([1.5, -1.5, np.nan], [0.3, np.nan, 0.2])
    command = hub.step(make_observation(3, p_avail_mw=[0.0, 0.0, 0.7], q_base_mvar=[0.0, 0.05, 0.1]))
    assert command.p_mw.tolist() == [1.0, -1.0, 0.7]  # within ±rating; NaN: the profile
    assert command.q_mvar.tolist() == [0.0, 0.05, 0.2]  # no room at full P; NaN: the profile's Q
    cap = hub.capability(make_observation(3))
    assert cap.p_min_mw.tolist() == [-1.0] * 3 and cap.p_max_mw.tolist() == [1.0] * 3
    assert np.isnan(cap.energy_mwh).all()


def test_external_checks_what_it_is_given():
    with pytest.raises(ValueError, match="^p_limit: 'sideways' is not one of rating, profile"):
        _external([1.0], "sideways")
    with pytest.raises(ValueError, match="^rating_mw: .* give rating_mw"):
        _external([np.nan])
    with pytest.raises(ValueError, match="p_mw: expected 2 values"):
        _external([1.0, 1.0]).hold([1.0], [0.0, 0.0])


def test_a_group_left_alone_runs_as_if_no_group_held_its_elements():
    """Reference: the same scenario without the group, whose PV the plant runs on its profile."""
    alone = quickstart_dict()
    alone["units"][0].update(policy="external", params={"p_limit": "profile"})
    without = quickstart_dict()
    del without["units"][0]
    first, second = _run(alone), _run(without)
    np.testing.assert_allclose(first.frame("bus_vm_pu"), second.frame("bus_vm_pu"), rtol=0, atol=1e-9)
    pv = [c for c in first.frame("unit_p_mw").columns if c.startswith("sgen/") and int(c[5:]) < 8]
    assert len(pv) == 8 and first.frame("unit_p_mw")[pv].to_numpy().max() > 0.01
    np.testing.assert_array_equal(first.frame("unit_q_mvar")[pv], 0.0)
    assert first.summary["energy"]["curtailed_mwh"] == pytest.approx(0.0, abs=1e-12)


def test_an_area_with_nothing_held_is_an_area_with_no_coordinator():
    held = quickstart_dict()
    held["areas"][0]["coordinator"]["policy"] = "external"
    none = quickstart_dict()
    none["areas"][0]["coordinator"]["policy"] = "none"
    assert_same_results(_run(held), _run(none))


def test_external_groups_take_no_setpoints_and_areas_check_what_they_hold():
    data = quickstart_dict()
    data["units"][2].update(policy="external", params={})
    stepped = SteppedRun(load_scenario(data))
    assert not stepped.unit_group("batteries").takes_setpoints  # it follows the outside
    area = stepped.area("north")
    assert area.coordinator.groups["batteries"].takes_setpoints is False
    data["areas"][0]["coordinator"]["policy"] = "external"
    coordinator = SteppedRun(load_scenario(data)).area("north").coordinator
    with pytest.raises(ValueError, match="no unit group 'wind' in area 'north'"):
        coordinator.hold({"wind": [1.0]})
    with pytest.raises(ValueError, match="chp: expected 2 setpoints"):
        coordinator.hold({"chp": [0.1]})
    coordinator.hold({"chp": [0.1, 0.2]})
    assert coordinator.held_mw["chp"].tolist() == [0.1, 0.2]


# ---------------------------------------------------------------- extras
def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


def test_the_core_imports_neither_gymnasium_nor_mosaik():
    done = _python(
        "import sys, hierarchy, hierarchy.api, hierarchy.cli, hierarchy.coupling, "
        "hierarchy.coupling.stepper, hierarchy.coupling.reward, hierarchy.sim.build, "
        "unit_control.external, area_control.external\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('gymnasium', 'mosaik', 'mosaik_api_v3')))")
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


@pytest.mark.parametrize("blocked, module, extra", [
    ("gymnasium", "hierarchy.gym_env", "rl"),
    ("mosaik_api_v3", "hierarchy.coupling.mosaik_sim", "cosim"),
])
def test_without_the_extra_the_adapter_says_what_to_install(blocked, module, extra):
    done = _python(f"import sys; sys.modules[{blocked!r}] = None\n"
                   f"try:\n    import {module}\nexcept ImportError as exc:\n    print(exc)")
    assert f'pip install -e ".[{extra}]"' in done.stdout, done.stdout + done.stderr
