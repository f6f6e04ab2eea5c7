"""Battery policy: setpoint and price following, SOC bounds, efficiencies, droop."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unit_control.battery import Battery
from unit_control.conformance import make_observation


def _battery(**params):
    return Battery(np.array([1.0]), {**Battery.defaults, "capacity_mwh": 2.0, **params})


def _run(battery, p_set_mw, step_s=3600.0, **obs_kwargs):
    obs = make_observation(1, step_s=step_s, p_set_mw=p_set_mw, **obs_kwargs)
    command = battery.step(obs)
    battery.advance(obs, command)
    return float(command.p_mw[0])


def test_setpoint_sequence_hand_worked():
    battery = _battery(soc_init=0.5, eta_charge=0.9, eta_discharge=0.8)
    assert _run(battery, -0.5) == -0.5          # stores 0.5·0.9 = 0.45 MWh
    assert battery.soc[0] == pytest.approx(0.725)
    assert _run(battery, 0.4) == 0.4            # draws 0.4/0.8 = 0.5 MWh
    assert battery.soc[0] == pytest.approx(0.475)


def test_discharge_limited_by_soc_lands_on_soc_min():
    battery = _battery(soc_init=0.3, soc_min=0.2, eta_discharge=0.8)
    # at most (0.3 − 0.2)·2 MWh·0.8 = 0.16 MW over one hour
    assert _run(battery, 1.0) == pytest.approx(0.16)
    assert battery.soc[0] == pytest.approx(0.2)
    assert _run(battery, 1.0) == pytest.approx(0.0)
    assert battery.capability(make_observation(1, step_s=3600.0)).p_max_mw[0] == pytest.approx(0.0)


def test_price_rule_and_capability():
    battery = _battery(soc_init=0.5, price_charge=40.0, price_discharge=120.0)
    assert _run(battery, np.nan, step_s=60.0, price_per_mwh=30.0) == -1.0
    assert _run(battery, np.nan, step_s=60.0, price_per_mwh=80.0) == 0.0
    assert _run(battery, np.nan, step_s=60.0, price_per_mwh=130.0) == 1.0
    assert _run(battery, np.nan, step_s=60.0) == 0.0          # no price, no setpoint: idle
    cap = battery.capability(make_observation(1, step_s=60.0))
    assert cap.p_min_mw[0] == -1.0 and cap.p_max_mw[0] == 1.0
    assert cap.energy_mwh[0] == pytest.approx(battery.soc[0] * 2.0)


def test_droop_response():
    battery = _battery(droop=0.05)
    # −(1 MW/(0.05·50 Hz))·(−0.1 Hz) = +0.04 MW
    assert _run(battery, 0.0, step_s=1.0, f_hz=49.9) == pytest.approx(0.04)


@pytest.mark.parametrize("params, message", [
    ({"soc_init": 1.3}, "soc_init: \\[1.3\\] is outside"),
    ({"soc_min": 0.6, "soc_max": 0.5, "soc_init": 0.55}, "soc_min"),
    ({"eta_charge": 0.0}, "eta_charge"),
    ({"capacity_mwh": -1.0}, "capacity_mwh"),
])
def test_invalid_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        _battery(**params)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.floats(-5.0, 5.0), min_size=1, max_size=30),
       st.floats(0.0, 0.4), st.floats(0.6, 1.0), st.floats(0.5, 1.0), st.floats(0.5, 1.0),
       st.sampled_from([1.0, 60.0, 900.0, 3600.0]))
def test_soc_never_leaves_bounds(setpoints, soc_min, soc_max, eta_charge, eta_discharge, step_s):
    battery = Battery(np.array([1.0, 2.0]), {**Battery.defaults, "soc_min": soc_min, "soc_max": soc_max,
                                              "soc_init": 0.5, "eta_charge": eta_charge,
                                              "eta_discharge": eta_discharge})
    for p_set_mw in setpoints:
        obs = make_observation(2, step_s=step_s, p_set_mw=p_set_mw)
        command = battery.step(obs)
        assert np.all(np.abs(command.p_mw) <= battery.p_max_mw + 1e-12)
        expected = battery.soc + np.where(command.p_mw < 0, -command.p_mw * eta_charge,
                                          -command.p_mw / eta_discharge) * step_s / 3600.0 / battery.capacity_mwh
        battery.advance(obs, command)
        assert np.all(battery.soc >= soc_min - 1e-12) and np.all(battery.soc <= soc_max + 1e-12)
        np.testing.assert_allclose(battery.soc, expected, atol=1e-9)   # clipping only removes rounding


def test_limits_follow_the_soc_after_advance_and_after_it_is_replaced():
    """The SOC limits computed in advance for the next step are those a fresh battery
    at the same SOC gives; assigning a new ``soc`` is seen at once."""
    params = {**Battery.defaults, "capacity_mwh": 1.0, "p_max_mw": 4.0, "soc_init": 0.5,
              "eta_charge": 1.0, "eta_discharge": 1.0}
    battery = Battery(np.array([4.0]), params)
    obs = make_observation(1, step_s=900.0, p_set_mw=2.0)
    battery.advance(obs, battery.step(obs))  # 2 MW over 15 min: 0.5 MWh out
    assert battery.soc[0] == pytest.approx(0.0)
    fresh = Battery(np.array([4.0]), {**params, "soc_init": float(battery.soc[0])})
    assert battery.capability(obs).p_max_mw.tolist() == fresh.capability(obs).p_max_mw.tolist()
    assert battery.step(obs).p_mw[0] == pytest.approx(0.0)  # empty: nothing to discharge
    battery.soc = np.array([1.0])
    assert battery.capability(obs).p_max_mw[0] == pytest.approx(4.0)  # 1 MWh in 15 min: 4 MW
    assert battery.step(obs).p_mw[0] == pytest.approx(2.0)
