"""Inverter policies against IEEE 1547-2018 curves and hand-worked apparent-power limits."""
import math

import numpy as np
import pytest

from unit_control.conformance import make_observation
from unit_control.inverter import ConstPF, Curtail, FreqWatt, VoltVar, VoltWatt


def _make(cls, rating_mw=1.0, n_units=1, **params):
    return cls(np.full(n_units, rating_mw), {**cls.defaults, **params})


def test_volt_var_reactive_priority_reduces_p():
    policy = _make(VoltVar, rating_mw=2.0)
    cmd = policy.step(make_observation(1, vm_pu=0.90, p_avail_mw=2.0))
    assert cmd.q_mvar[0] == pytest.approx(0.88)                       # 0.44 pu of 2 MVA
    assert cmd.p_mw[0] == pytest.approx(math.sqrt(4.0 - 0.88**2))


def test_volt_var_active_priority_limits_q():
    policy = _make(VoltVar, curve="ieee1547_cat_a", priority="active")
    cmd = policy.step(make_observation(1, vm_pu=1.10, p_avail_mw=0.98))
    assert cmd.p_mw[0] == pytest.approx(0.98)
    assert cmd.q_mvar[0] == pytest.approx(-math.sqrt(1 - 0.98**2))     # < 0.25 pu asked


def test_volt_var_custom_curve_and_errors():
    policy = _make(VoltVar, curve={"v": [0.95, 0.99, 1.01, 1.05], "q": [0.3, 0, 0, -0.3]})
    assert policy.step(make_observation(1, vm_pu=1.03, p_avail_mw=0.0)).q_mvar[0] == pytest.approx(-0.15)
    with pytest.raises(ValueError, match="curve"):
        _make(VoltVar, curve="ieee1547_cat_c")
    with pytest.raises(ValueError, match="priority"):
        _make(VoltVar, priority="both")


def test_volt_watt_caps_p():
    policy = _make(VoltWatt, rating_mw=1.0, n_units=3)
    cmd = policy.step(make_observation(3, vm_pu=[1.05, 1.08, 1.12], p_avail_mw=[0.9, 0.9, 0.1]))
    np.testing.assert_allclose(cmd.p_mw, [0.9, 0.6, 0.1])


def test_freq_watt_uses_headroom_below_setpoint():
    policy = _make(FreqWatt, n_units=2)
    cmd = policy.step(make_observation(2, f_hz=[49.8, 50.3], p_avail_mw=1.0, p_set_mw=0.5))
    # f0·k = 2.5 Hz: +(50 − 0.036 − 49.8)/2.5, −(50.3 − 50 − 0.036)/2.5
    np.testing.assert_allclose(cmd.p_mw, [0.5 + 0.164 / 2.5, 0.5 - 0.264 / 2.5])


def test_const_pf_absorbing_within_rating():
    policy = _make(ConstPF, pf=-0.9)
    cmd = policy.step(make_observation(1, p_avail_mw=1.0))
    assert cmd.p_mw[0] == pytest.approx(0.9)
    assert cmd.q_mvar[0] == pytest.approx(-0.9 * math.sqrt(1 - 0.81) / 0.9)
    assert math.hypot(cmd.p_mw[0], cmd.q_mvar[0]) == pytest.approx(1.0)


def test_curtail_follows_cap():
    policy = _make(Curtail, n_units=3)
    cmd = policy.step(make_observation(3, p_avail_mw=[0.8, 0.8, 1.5], p_set_mw=[0.5, np.nan, 2.0]))
    np.testing.assert_allclose(cmd.p_mw, [0.5, 0.8, 1.0])     # rating caps the last one
    np.testing.assert_allclose(cmd.q_mvar, 0.0)


def test_tripped_inverter_outputs_nothing():
    policy = _make(VoltVar, n_units=2, ride_through={"category": "II"})
    high = make_observation(2, step_s=1.0, vm_pu=[1.0, 1.25], p_avail_mw=1.0)
    policy.advance(high, policy.step(high))
    cmd = policy.step(high)
    assert cmd.connected.tolist() == [True, False]
    assert cmd.p_mw[1] == 0.0 and cmd.q_mvar[1] == 0.0 and cmd.p_mw[0] > 0


def test_ride_through_switches():
    assert _make(VoltVar, ride_through=True).ride_through.category == "II"
    assert _make(VoltVar).ride_through is None
    with pytest.raises(ValueError, match="ride_through"):
        _make(VoltVar, ride_through="II")


def _read_only(values):
    array = np.array(values, dtype=float)
    array.setflags(write=False)
    return array


def test_available_power_follows_new_and_rewritten_inputs():
    """Within a step the engine hands every iterate the same read-only p_avail and p_set
    arrays; new arrays (the next step, a new setpoint) and arrays written in place
    between calls are read afresh."""
    policy = VoltVar(np.array([1.0, 1.0]), {**VoltVar.defaults})
    obs = make_observation(2, vm_pu=1.0)
    obs.p_avail_mw, obs.p_set_mw = _read_only([0.8, 0.6]), _read_only([np.nan, 0.3])
    first = policy.step(obs)
    assert first.p_mw.tolist() == [0.8, 0.3]  # Table 8 at 1.0 pu: Q = 0, so P is not cut
    assert policy.step(obs).p_mw.tolist() == [0.8, 0.3]
    obs.p_set_mw = _read_only([0.5, np.nan])  # a new setpoint arrives: a new array
    assert policy.step(obs).p_mw.tolist() == [0.5, 0.6]
    obs.p_avail_mw = np.array([0.2, 0.2])  # writable: read at every call
    assert policy.step(obs).p_mw.tolist() == [0.2, 0.2]
    obs.p_avail_mw[:] = 0.1
    assert policy.step(obs).p_mw.tolist() == [0.1, 0.1]
