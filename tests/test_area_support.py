"""Voltage and congestion support of an area, the area's SCADA readings, AGC ramps, bias.

* scenario ``congestion_feeder``: without support a feeder line overloads at
  noon and the voltage leaves 0.95-1.05 pu; with it the lines stay within
  100 % and the actions are logged in merit order (batteries, then the PV
  park's curtailment);
* the relief estimates and the merit-order allocation against hand-worked
  numbers;
* ``AreaMeasurement`` min/max voltage and most loaded line against the
  power-flow results of the area's own buses and lines;
* AGC setpoints within ``P ± ramp·period``; the frequency bias with
  ``droop: none``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import hierarchy
from area_control.base import AreaState
from area_control.coordinators import AGC
from area_control.support import Resource, SupportLimits, allocate, relief_step_mw
from hierarchy.messages import AreaMeasurement, UnitGroupInfo, UnitStatus
from hierarchy.scenario import load_scenario
from hierarchy.sim.build import build
from hierarchy.sim.wiring import frequency_bias_mw_per_hz

ROOT = Path(__file__).resolve().parents[1]


def _feeder(support: bool = True) -> dict:
    data = yaml.safe_load((ROOT / "scenarios" / "congestion_feeder.yaml").read_text())
    data["grid"]["path"] = str(ROOT / "scenarios" / data["grid"]["path"])
    data["profiles"]["path"] = str(ROOT / "scenarios" / data["profiles"]["path"])
    data.pop("outputs", None)
    if not support:
        data["areas"][0]["coordinator"] = {"policy": "schedule_tracking", "period": "5min"}
    return data


@pytest.fixture(scope="module")
def runs():
    return {flag: hierarchy.run(_feeder(flag), write=False) for flag in (False, True)}


# ------------------------------------------------------------- scenario
def test_support_keeps_lines_within_their_rating(runs):
    without, with_ = runs[False], runs[True]
    assert without.summary["lines"]["max_loading_percent"] > 105.0
    assert without.summary["lines"]["overload_line_hours"] > 1.0
    assert with_.summary["lines"]["max_loading_percent"] <= 100.0
    assert with_.summary["lines"]["overload_line_hours"] == 0.0
    v_without = without.summary["voltage"]["violation_bus_hours"]
    assert v_without > 5.0
    assert with_.summary["voltage"]["violation_bus_hours"] < 0.1 * v_without
    assert with_.summary["energy"]["curtailed_mwh"] > 0.0
    assert without.summary["energy"]["curtailed_mwh"] == 0.0


def test_actions_are_events_in_merit_order(runs):
    events = runs[True].events
    actions = events[events["kind"] == "area_action"]
    assert len(actions) > 0 and set(actions["target"]) == {"north"}
    assert "area_action" not in set(runs[False].events["kind"])
    battery = actions[actions["detail"].str.startswith("battery")]
    curtail = actions[actions["detail"].str.startswith("curtail")]
    assert battery["time"].min() < curtail["time"].min()  # the free action first
    # curtailment starts only once the batteries charge at their full 2 × 0.5 MW
    before = battery[battery["time"] <= curtail["time"].min()]
    assert "-1.000 MW" in before["detail"].iloc[-1]
    for _, group in actions.groupby("time"):  # within a call, in merit order
        kinds = [d.split()[0] for d in group["detail"]]
        assert kinds == sorted(kinds, key=["battery", "curtail", "redispatch"].index)


# -------------------------------------------------------------- estimates
def _meas(export_mw=5.0, v_lo=1.0, v_hi=1.02, loading=110.0, flow_mw=5.5) -> AreaMeasurement:
    return AreaMeasurement("a", export_mw, 1.0, 0.0, 50.0, 0, v_lo, "bus/1", v_hi, "bus/9",
                           loading, "line/3", flow_mw)


def test_relief_estimates_by_hand():
    line = SupportLimits(max_loading_percent=100.0)  # target 95 %, release below 90 %
    assert relief_step_mw(_meas(), line, 0.0)[0] == pytest.approx(5.5 * (110 - 95) / 110)
    assert relief_step_mw(_meas(export_mw=-5.0), line, 0.0)[0] == pytest.approx(-5.5 * 15 / 110)
    assert relief_step_mw(_meas(loading=92.0), line, 2.0)[0] == 0.0  # inside the hysteresis: hold
    # below 90 %: release half the headroom 5.5·(90 − 60)/60 = 2.75 MW
    assert relief_step_mw(_meas(loading=60.0), line, 2.0)[0] == pytest.approx(-0.5 * 2.75)
    band = SupportLimits(v_min_pu=0.95, v_max_pu=1.05)  # act above 1.045 pu
    # ∂V/∂P ≈ (1.06 − 1.00)/5 MW: 1.06 → 1.045 takes 5·0.015/0.06 = 1.25 MW
    step, reason = relief_step_mw(_meas(v_hi=1.06, loading=50.0), band, 0.0)
    assert step == pytest.approx(1.25) and reason == "bus/9 at 1.0600 pu"
    assert relief_step_mw(_meas(export_mw=-4.0, v_lo=0.94, v_hi=0.98, loading=50.0), band, 0.0)[0] \
        == pytest.approx(-4.0 / 0.04 * 0.015)


def _res(group, kind, base, low, high, cost=0.0):
    one = np.ones(1)
    return Resource(group, kind, np.arange(1), base * one, low * one, high * one, one, cost)


def test_merit_order_allocation():
    resources = [_res("gas", "redispatch", 5.0, 1.0, 8.0, cost=80.0),
                 _res("coal", "redispatch", 5.0, 1.0, 8.0, cost=40.0),
                 _res("pv", "curtail", 2.0, 0.0, 2.0), _res("bat", "battery", 0.0, -1.0, 1.0)]
    down = {r.group: float(a[0]) for r, a in allocate(6.0, resources)}
    assert down == {"bat": 1.0, "pv": 2.0, "gas": 3.0, "coal": 0.0}  # expensive unit down first
    up = [(r.group, float(a[0])) for r, a in allocate(-5.0, resources)]
    assert up == [("bat", -1.0), ("coal", -3.0), ("gas", -1.0)]  # no curtailment; cheap unit up first


# -------------------------------------------------------------- SCADA
def test_area_measurement_reads_the_areas_buses_and_lines():
    rt = build(load_scenario(_feeder()))
    pf = rt.plant.powerflow
    meas = rt.measure_area(0, 0)
    buses = list(range(2, 12))  # feeder 1 below bus 2 (CIGRE MV)
    vm = pf.vm_pu[buses]
    assert meas.vm_min_pu == pytest.approx(vm.min()) and meas.vm_max_pu == pytest.approx(vm.max())
    assert meas.vm_max_bus == f"bus/{buses[int(np.argmax(vm))]}"
    net = rt.plant.net
    lines = np.flatnonzero(net.line.from_bus.isin(buses) | net.line.to_bus.isin(buses))
    top = lines[np.nanargmax(pf.line_loading_percent[lines])]
    assert meas.max_loading_line == f"line/{net.line.index[top]}"
    assert meas.max_loading_percent == pytest.approx(pf.line_loading_percent[top])
    assert meas.max_loading_line_p_mw == pytest.approx(
        max(abs(pf.line_p_from_mw[top]), abs(pf.line_p_to_mw[top])))


# ---------------------------------------------------------------- AGC
def test_agc_setpoints_respect_ramps():
    n = 2
    ramp = np.array([6.0, 30.0])  # MW/min: 0.4 and 2 MW per 4 s period
    info = UnitGroupInfo("g", "a", "dispatchable", ("gen/0", "gen/1"), np.full(n, 100.0), True,
                         np.zeros(n), np.full(n, 100.0), np.zeros(n), np.full(n, 50.0), np.zeros(n),
                         ramp_mw_per_min=ramp)
    agc = AGC("a", [info], {**AGC.defaults, "ki": 1.0, "bias_mw_per_hz": 100.0, "period_s": 4.0})
    p_mw = np.array([50.0, 50.0])
    for k in range(5):  # a large deficit (ACE −30 MW) for several calls; units follow their setpoints
        status = UnitStatus("g", "a", info.unit_ids, p_mw, np.zeros(n), np.zeros(n), np.full(n, 100.0),
                            np.full(n, np.nan), 4000 * k)
        state = AreaState("a", 50.0, 3_600_000, time_ms=4000 * k, units={"g": status},
                          measurement=AreaMeasurement("a", 0.0, 100.0, 0.0, 49.7, 4000 * k))
        target = agc.control(state).p_set_mw["g"]
        assert np.all(np.abs(target - p_mw) <= ramp * 4.0 / 60.0 + 1e-9)
        assert np.all(target >= p_mw)  # both move up, the fast one by its full reach
        assert target[1] - p_mw[1] == pytest.approx(2.0)
        p_mw = target
    # no wind-up: the reference stays inside what the units could reach
    assert agc._p_ref_mw <= float(np.sum(p_mw)) + 1e-9


def test_frequency_bias_with_droop_none():
    data = yaml.safe_load((ROOT / "scenarios" / "two_area_lfc.yaml").read_text())
    data["grid"]["path"] = str(ROOT / "scenarios" / data["grid"]["path"])
    data.pop("outputs", None)
    data["time"]["duration"] = "2s"
    data["events"] = []
    data["units"][1]["params"]["droop"] = "none"  # east generators: no primary response
    rt = build(load_scenario(data))
    for a, rating_mw in enumerate(([200.0, 100.0], [0.0])):
        expected = sum(r / (0.05 * 50.0) for r in rating_mw) + 1.0 * 180.0 / 50.0  # Σ P/(R·f0) + D·P_L/f0
        beta = frequency_bias_mw_per_hz(a, rt.groups, rt.plant.net, rt.area_of_bus, 1.0, 50.0)
        assert beta == pytest.approx(expected, rel=1e-12)
    assert rt.areas[1].coordinator.params["bias_mw_per_hz"] == pytest.approx(180.0 / 50.0)
    rt.groups[1].policy.params["droop"] = "none"  # the string as a user's own policy may keep it
    assert frequency_bias_mw_per_hz(1, rt.groups, rt.plant.net, rt.area_of_bus, 1.0, 50.0) \
        == pytest.approx(180.0 / 50.0)


def test_scada_extremes_skip_nan_take_the_first_of_equals_and_mark_empty_rows():
    from hierarchy.sim.area_meters import nanargs

    rng = np.random.default_rng(3)
    for _ in range(200):
        values = rng.choice([0.97, 1.0, 1.03, np.nan], size=(4, 5))
        index = rng.integers(0, 100, size=(4, 5))
        low, high = nanargs(values, index, low=True)
        for row in range(4):
            finite = np.flatnonzero(np.isfinite(values[row]))
            if not finite.size:
                assert low[row] == high[row] == -1
                continue
            column = values[row]
            first_min = finite[np.argmin(column[finite])]  # argmin: the first of equals
            first_max = finite[np.argmax(column[finite])]
            assert (low[row], high[row]) == (index[row, first_min], index[row, first_max])
