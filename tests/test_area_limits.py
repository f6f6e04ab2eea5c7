"""The areas keep their setpoints within the bounds the market's security check sends.

By hand: a dispatchable unit raised to 0.4 MW is held at 0.4 MW however the
balancing would move it; a lowered one at most its bound; a flexible load
bounded at −1.5 MW consumes at most 1.5 MW, shared by consumption; a
coordinator without bounds is untouched (the same action object).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from area_control.base import AreaState
from area_control.coordinators import ScheduleTracking
from area_control.limits import bounded_setpoints, security_bounds
from hierarchy.messages import AreaMeasurement, Award, UnitGroupInfo, UnitStatus

NAN = math.nan


def _info(group, kind, units, p_max):
    n = len(units)
    one = np.ones(n)
    return UnitGroupInfo(group, "a", kind, tuple(units), one, True, 0 * one, np.asarray(p_max, float),
                         0 * one, 50 * one, 0 * one)


def _status(group, units, p_mw, p_max):
    n = len(units)
    return UnitStatus(group, "a", tuple(units), np.asarray(p_mw, float), np.zeros(n), np.zeros(n),
                      np.asarray(p_max, float), np.full(n, NAN), 0)


def test_bounds_by_hand():
    groups = {"chp": _info("chp", "dispatchable", ["sgen/1", "sgen/2"], [1.0, 1.0]),
              "ka": _info("ka", "flexible_load", ["load/1", "load/2"], [0.0, 0.0])}
    statuses = {"chp": _status("chp", ["sgen/1", "sgen/2"], [0.1, 0.9], [1.0, 1.0]),
                "ka": _status("ka", ["load/1", "load/2"], [-1.0, -3.0], [0.0, 0.0])}
    bounds = {"a/chp/sgen/1": (0.4, NAN), "a/chp/sgen/2": (NAN, 0.5), "a/ka": (-1.5, NAN)}
    out = bounded_setpoints("a", groups, statuses, bounds, {"chp": np.array([0.0, 0.8])})
    assert out["chp"].tolist() == [0.4, 0.5]
    assert out["ka"].tolist() == pytest.approx([-0.375, -1.125])
    # tighter of a setpoint the area already sent and the bound
    out = bounded_setpoints("a", groups, statuses, bounds, {"ka": np.array([-0.2, NAN])})
    assert out["ka"].tolist() == pytest.approx([-0.2, -1.125])
    assert security_bounds({"a/x": Award("a/x", 1.0, 50.0, 0)}) == {}


def test_schedule_tracking_holds_a_raised_unit_against_its_balancing():
    info = _info("chp", "dispatchable", ["sgen/1"], [1.0])
    coordinator = ScheduleTracking("a", [info], ScheduleTracking.defaults)
    state = AreaState("a", 50.0, 3_600_000, time_ms=0, bounded_awards=True,
                      units={"chp": _status("chp", ["sgen/1"], [1.0], [1.0])},
                      measurement=AreaMeasurement("a", 5.0, 10.0, 0.0, 50.0, 0))
    state.awards[0] = {"a/chp/sgen/1": Award("a/chp/sgen/1", 1.0, 60.0, 0, "a")}
    free = coordinator.control(state)
    assert free.p_set_mw["chp"][0] < 1.0  # exporting 5 MW above schedule: the unit is turned down
    state.awards[0] = {"a/chp/sgen/1": Award("a/chp/sgen/1", 1.0, 60.0, 0, "a", 0, 1.0, NAN)}
    held = coordinator.control(state)
    assert held.p_set_mw["chp"].tolist() == [1.0]
    assert held.ace_mw == free.ace_mw
