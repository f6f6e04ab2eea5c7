"""Flexible load (constant elasticity, shedding) and tap changer (deadband, delay, no hunting)."""
import numpy as np
import pytest

from unit_control import laws
from unit_control.conformance import make_observation
from unit_control.load import FlexibleLoad
from unit_control.oltc import TapChanger


def _load(n_units=1, **params):
    return FlexibleLoad(np.full(n_units, 2.0), {**FlexibleLoad.defaults, **params})


def test_constant_elasticity_response():
    load = _load(n_units=4, elasticity=-0.2, bid_price=100.0)
    cmd = load.step(make_observation(4, p_avail_mw=-1.0, q_base_mvar=-0.3,
                                     price_per_mwh=[100.0, 200.0, 50.0, np.nan]))
    expected = -np.array([1.0, 2.0**-0.2, 0.5**-0.2, 1.0])
    np.testing.assert_allclose(cmd.p_mw, expected)
    np.testing.assert_allclose(cmd.q_mvar / cmd.p_mw, 0.3)     # power factor kept


def test_shedding_on_price_and_on_setpoint():
    load = _load(n_units=3, elasticity=0.0, shed_price=1000.0, shed_fraction=0.4)
    cmd = load.step(make_observation(3, p_avail_mw=-2.0, price_per_mwh=[1500.0, 100.0, 100.0],
                                     p_set_mw=[np.nan, -1.5, -0.1]))
    # price above shed_price: 60 % stays; setpoint −1.5 MW; setpoint −0.1 MW floored at 60 % of 2 MW
    np.testing.assert_allclose(cmd.p_mw, [-1.2, -1.5, -1.2])
    cap = load.capability(make_observation(3, p_avail_mw=-2.0))
    np.testing.assert_allclose(cap.p_max_mw, -1.2)


def test_load_rejects_positive_elasticity():
    with pytest.raises(ValueError, match="elasticity"):
        _load(elasticity=0.3)


def _oltc(**params):
    return TapChanger(np.array([40.0]), {**TapChanger.defaults, **params})


def _tap_history(oltc, vm_pu, n_steps, step_s=1.0):
    history = []
    for _ in range(n_steps):
        obs = make_observation(1, step_s=step_s, vm_pu=vm_pu)
        command = oltc.step(obs)
        oltc.advance(obs, command)
        history.append(float(command.tap_pos[0]))
    return history


def test_tap_moves_after_delay_and_at_most_once_per_delay():
    history = _tap_history(_oltc(delay_s=30.0), 0.95, 95)
    moves = [k for k in range(1, 95) if history[k] != history[k - 1]]
    assert history[0] == 0.0 and moves == [30, 60, 90]
    assert history[-1] == -3.0     # direction −1: lower tap raises the voltage


def test_tap_limits_band_and_direction():
    assert _tap_history(_oltc(delay_s=0.0, tap_min=-2), 0.9, 10)[-1] == -2.0
    assert set(_tap_history(_oltc(delay_s=0.0), 1.009, 10)) == {0.0}
    assert _tap_history(_oltc(delay_s=0.0, direction=1), 1.05, 3) == [0.0, -1.0, -2.0]
    assert _tap_history(_oltc(delay_s=0.0, direction=-1), 1.05, 3) == [0.0, 1.0, 2.0]


def test_short_excursion_does_not_move_tap():
    oltc = _oltc(delay_s=30.0)
    _tap_history(oltc, 0.95, 20)
    _tap_history(oltc, 1.0, 1)
    assert set(_tap_history(oltc, 0.95, 25)) == {0.0}


def test_no_hunting_with_volt_var_in_the_loop():
    """Toy feeder: vm = 0.94 − 0.0125·tap + 0.05·Q_pu, volt-var (cat B) solved to a fixed point."""
    oltc = _oltc(delay_s=30.0, deadband_pu=0.01)
    taps = []
    for _ in range(600):
        tap = float(oltc.step(make_observation(1, step_s=1.0, vm_pu=1.0)).tap_pos[0])
        vm_pu = 1.0
        for _ in range(50):
            q_pu = laws.volt_var_q_pu(np.array([vm_pu]), *laws.VOLT_VAR_CAT_B)[0]
            vm_pu = 0.5 * vm_pu + 0.5 * (0.94 - 0.0125 * tap + 0.05 * q_pu)
        obs = make_observation(1, step_s=1.0, vm_pu=vm_pu)
        oltc.advance(obs, oltc.step(obs))
        taps.append(tap)
    changes = np.diff(taps)[np.diff(taps) != 0]
    assert np.all(changes == -1.0)                  # one direction only: no hunting
    assert abs(vm_pu - 1.0) <= 0.01 + 1e-9          # ends in the band
    assert taps[-1] == taps[-100]                   # and stays
