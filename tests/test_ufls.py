"""Under-frequency load shedding: relays at the loads, the last resort.

The two-area 110 kV grid as one island (no ext_grid): at 30 s the east
generator G2 (gen/3, ~80 MW) trips. Primary control alone would settle the
frequency at about −80/β ≈ −0.39 Hz; the first UFLS stage (49.8 Hz, 20 %
of the load, 0.2 s) sheds 72 MW and the frequency recovers above it; the
second stage (49.5 Hz) never sees its threshold. Checked by hand: the shed
MW (20 % of the 360 MW load), the energy not served (shed MW × time), the
relay delay, and the validation messages.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import hierarchy
from hierarchy.plant.frequency_ufls import LoadShedding, UflsStage
from hierarchy.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
LOAD_MW = 360.0  # two_area.json: 4 loads of 90 MW
STAGES = [{"f_hz": 49.8, "fraction": 0.2, "delay": "0.2s"},
          {"f_hz": 49.5, "fraction": 0.1, "delay": "0.2s"}]
TRIP_S, DURATION_S = 30, 120


def _scenario(ufls=STAGES, events=True) -> dict:
    data = yaml.safe_load((ROOT / "scenarios" / "two_area_lfc.yaml").read_text())
    data["grid"]["path"] = str(ROOT / "scenarios" / data["grid"]["path"])
    data.pop("outputs", None)
    data["time"] = {"start": "2024-01-15 08:00", "duration": f"{DURATION_S}s", "step": "1s"}
    data["areas"] = [{"id": "all", "buses": "rest", "load_damping_pu": 1.0,
                      "coordinator": {"policy": "none", "period": "60s"}, "ufls": ufls}]
    data["events"] = [{"at": f"{TRIP_S}s", "kind": "unit_trip", "target": "gen/3"}] if events else []
    return data


@pytest.fixture(scope="module")
def tripped():
    return hierarchy.run(_scenario(), write=False)


def test_first_stage_sheds_its_fraction_and_frequency_recovers(tripped):
    f = tripped.frame("area_frequency_hz")["all"]
    events = tripped.events
    ufls = events[events["kind"] == "ufls"]
    assert len(ufls) == 1  # stage 2 (49.5 Hz) never acts: the nadir stays above it
    assert "stage 1" in ufls["detail"].iloc[0]
    shed_mw = float(ufls["detail"].iloc[0].split("shed ")[1].split(" MW")[0])
    assert shed_mw == pytest.approx(0.2 * LOAD_MW, rel=1e-9)
    assert 49.5 < float(f.min()) < 49.8
    assert float(f.iloc[-1]) > 49.8  # recovered above the stage
    # the relay opens 0.2 s after the first frequency sample below 49.8 Hz
    first_below = f.index[f < 49.8][0]
    assert (ufls["time"].iloc[0] - first_below).total_seconds() == pytest.approx(0.2, abs=1e-9)


def test_energy_not_served_is_shed_mw_times_time(tripped):
    events = tripped.events
    t_shed_s = (events[events["kind"] == "ufls"]["time"].iloc[0]
                - tripped.frame("bus_vm_pu").index[0]).total_seconds()
    shed_mw = 0.2 * LOAD_MW
    steps_after = DURATION_S - int(np.ceil(t_shed_s))  # physics steps (1 s) from the shed on
    expected_mwh = shed_mw * steps_after / 3600.0
    assert tripped.summary["energy"]["not_served_mwh"] == pytest.approx(expected_mwh, rel=1e-9)
    # and the continuous shed MW × time, within one step
    assert expected_mwh == pytest.approx(shed_mw * (DURATION_S - t_shed_s) / 3600.0, abs=shed_mw / 3600)
    balance = tripped.frame("system_balance_mw")
    assert float(balance["not_served_mw"].iloc[: TRIP_S].abs().max()) == 0.0


def test_no_stage_acts_above_its_threshold():
    result = hierarchy.run(_scenario(events=False), write=False)
    assert "ufls" not in set(result.events["kind"])
    assert result.summary["energy"]["not_served_mwh"] == 0.0


def test_relay_unit():
    relays = LoadShedding([[UflsStage(49.0, 0.25, 0.3)], []], np.array([0, 1, 0]))
    f = np.array([48.9, 48.0, 49.1])
    assert relays.step(0.1, f) == [] and relays.pending()  # first sample below: 0 s
    assert relays.step(0.1, f) == []  # 0.1 s
    assert relays.step(0.1, f) == []  # 0.2 s
    trips = relays.step(0.1, f)
    assert [(a, k, rows.tolist()) for a, k, rows in trips] == [(0, 0, [0])]
    assert relays.served.tolist() == [0.75, 1.0, 1.0]  # area 1 has no stages, load 2 above 49 Hz
    assert relays.step(0.1, f) == []  # a stage acts once


@pytest.mark.parametrize("ufls, path, words", [
    ([{"f_hz": 49.0, "fraction": 0.1}, {"f_hz": 49.2, "fraction": 0.1}], "areas[0].ufls[1].f_hz",
     "not below stage 0"),
    ([{"f_hz": 49.0, "fraction": 0.7}, {"f_hz": 48.8, "fraction": 0.5}], "areas[0].ufls[1].fraction",
     "at most 1"),
    ([{"f_hz": 49.0, "fraction": 0.0}], "areas[0].ufls[0].fraction", ""),
    ([{"f_hz": 49.0, "fraction": 0.1, "delay": "soon"}], "areas[0].ufls[0].delay", ""),
])
def test_validation_names_the_key(ufls, path, words):
    with pytest.raises(ScenarioError) as err:
        load_scenario(_scenario(ufls))
    assert path in str(err.value) and words in str(err.value)


def test_threshold_above_nominal_is_rejected():
    data = _scenario([{"f_hz": 50.5, "fraction": 0.1}], events=False)
    data["time"]["duration"] = "2s"
    with pytest.raises(ScenarioError, match=r"areas\[0\]\.ufls\[0\]\.f_hz"):
        hierarchy.run(data, write=False)
