"""Control laws against IEEE 1547-2018 tables, hand-worked cases and closed forms."""
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from unit_control import laws


@pytest.mark.parametrize("curve, points", [
    (laws.VOLT_VAR_CAT_A, [(0.90, 0.25), (1.00, 0.0), (1.10, -0.25)]),      # Table 8, cat A
    (laws.VOLT_VAR_CAT_B, [(0.92, 0.44), (0.98, 0.0), (1.02, 0.0), (1.08, -0.44)]),  # Table 8, cat B
])
def test_volt_var_hits_table_8_points(curve, points):
    v_pu, q_pu = np.array(points).T
    np.testing.assert_allclose(laws.volt_var_q_pu(v_pu, *curve), q_pu, atol=1e-12)


def test_volt_var_cat_b_slopes_and_held_ends():
    v_pu = np.array([0.80, 0.92, 0.95, 1.00, 1.05, 1.08, 1.30])
    q_pu = laws.volt_var_q_pu(v_pu, *laws.VOLT_VAR_CAT_B)
    # slope 0.44 pu / 0.06 pu on each side, held outside [V1, V4]
    expected = [0.44, 0.44, 0.44 - 0.03 * 0.44 / 0.06, 0.0, -0.03 * 0.44 / 0.06, -0.44, -0.44]
    np.testing.assert_allclose(q_pu, expected, atol=1e-12)


def test_volt_var_cat_a_slope():
    q_pu = laws.volt_var_q_pu(np.array([0.95, 1.05]), *laws.VOLT_VAR_CAT_A)
    np.testing.assert_allclose(q_pu, [0.125, -0.125])


def test_volt_var_rejects_decreasing_points():
    with pytest.raises(ValueError, match="non-decreasing"):
        laws.volt_var_q_pu(np.array([1.0]), [1.1, 1.0, 0.95, 0.9], [0.4, 0, 0, -0.4])


def test_volt_watt_table_10():
    v_pu = np.array([0.9, 1.06, 1.07, 1.08, 1.10, 1.2])
    # 1.0 up to 1.06, slope (1 − 0.2)/0.04 = 20 pu/pu, P2 = 0.2 held above 1.10
    np.testing.assert_allclose(laws.volt_watt_p_pu(v_pu), [1.0, 1.0, 0.8, 0.6, 0.2, 0.2], atol=1e-12)


def _fw(f_hz, f0_hz=60.0, p_pre=0.5):
    return float(laws.freq_watt_p_mw(np.array([f_hz]), f0_hz, np.array([p_pre]), np.array([1.0]),
                                     np.array([1.0]), 0.036, 0.05, 0.0)[0])


def test_freq_watt_table_24_over_and_under_frequency():
    # over: P = P_pre − (f − f0 − db)/(f0·k); f0·k = 3 Hz at 60 Hz
    assert _fw(60.336) == pytest.approx(0.5 - 0.3 / 3.0)
    assert _fw(63.0) == pytest.approx(0.0)             # held at P_min
    # under: P = P_pre + (f0 − db − f)/(f0·k), limited to P_avail
    assert _fw(59.664) == pytest.approx(0.5 + 0.3 / 3.0)
    assert _fw(55.0) == pytest.approx(1.0)
    # inside the deadband and at its edges: unchanged
    for f_hz in (59.964, 59.99, 60.0, 60.02, 60.036):
        assert _fw(f_hz) == pytest.approx(0.5)


def test_freq_watt_slope_at_50_hz_scales_with_rating():
    p_mw = laws.freq_watt_p_mw(np.array([50.536]), 50.0, np.array([5.0]), np.array([10.0]),
                               np.array([10.0]))
    assert p_mw[0] == pytest.approx(5.0 - 10.0 * 0.5 / 2.5)


def test_const_pf():
    q = laws.const_pf_q_mvar(np.array([1.0, 2.0]), np.array([0.9, -0.9]))
    tan_phi = math.sqrt(1 - 0.81) / 0.9
    np.testing.assert_allclose(q, [tan_phi, -2 * tan_phi])
    with pytest.raises(ValueError, match="pf"):
        laws.const_pf_q_mvar(np.array([1.0]), 1.2)


def test_soc_sequence_hand_worked():
    capacity_mwh, eta_c, eta_d = np.array([4.0]), 0.9, 0.8
    soc = np.array([0.5])
    soc = laws.soc_next(soc, np.array([-2.0]), 1800.0, capacity_mwh, eta_c, eta_d)  # +2·0.5·0.9 = 0.9 MWh
    assert soc[0] == pytest.approx(0.725)
    soc = laws.soc_next(soc, np.array([1.0]), 3600.0, capacity_mwh, eta_c, eta_d)  # −1/0.8 = 1.25 MWh
    assert soc[0] == pytest.approx(0.4125)
    soc = laws.soc_next(soc, np.array([0.0]), 3600.0, capacity_mwh, eta_c, eta_d)
    assert soc[0] == pytest.approx(0.4125)


def test_battery_limits_hand_worked():
    p_min, p_max = laws.battery_p_limits_mw(np.array([0.2, 0.85]), 3600.0, np.array([4.0, 4.0]),
                                            0.1, 0.9, 0.9, 0.8, np.array([1.0, 1.0]))
    # unit 0: discharge (0.2−0.1)·4·0.8 = 0.32 MW; charge limited by rating
    # unit 1: charge (0.9−0.85)·4/0.9 = 0.2222 MW; discharge by rating
    np.testing.assert_allclose(p_max, [0.32, 1.0])
    np.testing.assert_allclose(p_min, [-1.0, -0.05 * 4 / 0.9])
    soc_end = laws.soc_next(np.array([0.2, 0.85]), np.array([p_max[0], p_min[1]]), 3600.0, 4.0, 0.9, 0.8)
    np.testing.assert_allclose(soc_end, [0.1, 0.9])


def test_ramp_limited_trajectory():
    p_mw, trajectory = np.array([0.0]), []
    for _ in range(6):
        p_mw = laws.ramp_limit_mw(np.array([10.0]), p_mw, 2.0, 60.0)
        trajectory.append(float(p_mw[0]))
    assert trajectory == [2.0, 4.0, 6.0, 8.0, 10.0, 10.0]
    assert laws.ramp_limit_mw(np.array([-3.0]), np.array([5.0]), np.inf, 1.0)[0] == -3.0


def test_governor_matches_ode_solution():
    rating, droop, f0, t_s, p_ref, delta_f = 100.0, 0.05, 50.0, 2.0, 50.0, -0.1
    gain = rating / (droop * f0)

    def rhs(_t, p):
        return (p_ref - gain * delta_f - p) / t_s

    reference = solve_ivp(rhs, (0.0, 5.0), [50.0], t_eval=np.arange(1, 51) * 0.1, rtol=1e-10, atol=1e-10).y[0]
    p_mw, trajectory = np.array([50.0]), []
    for _ in range(50):
        p_mw = laws.governor_step_mw(p_mw, np.array([p_ref]), np.array([delta_f]), np.array([rating]),
                                     droop, f0, t_s, 0.1)
        trajectory.append(p_mw[0])
    np.testing.assert_allclose(trajectory, reference, rtol=1e-7)
    one_step = laws.governor_step_mw(np.array([50.0]), np.array([p_ref]), np.array([delta_f]),
                                     np.array([rating]), droop, f0, t_s, 5.0)
    assert one_step[0] == pytest.approx(trajectory[-1], rel=1e-12)


def test_governor_steady_state_textbook_droop():
    # 500 MW unit, 5 % droop, 50 Hz: −0.1 Hz gives +500/(0.05·50)·0.1 = +20 MW
    p_mw = laws.governor_step_mw(np.array([300.0]), np.array([300.0]), np.array([-0.1]), np.array([500.0]),
                                 0.05, 50.0, 0.5, 600.0)
    assert p_mw[0] == pytest.approx(320.0)
    no_droop = laws.governor_step_mw(np.array([300.0]), np.array([300.0]), np.array([-0.1]),
                                     np.array([500.0]), np.nan, 50.0, 0.0, 1.0)
    assert no_droop[0] == 300.0


def test_min_up_and_down():
    on = np.array([True, True, False, False])
    time_in_state_s = np.array([1800.0, 3600.0, 100.0, 900.0])
    want = np.array([False, False, True, True])
    result = laws.commit_on(on, time_in_state_s, want, 3600.0, 900.0)
    assert result.tolist() == [True, False, False, True]
    np.testing.assert_allclose(laws.time_in_state_next_s(on, result, time_in_state_s, 60.0),
                               [1860.0, 60.0, 160.0, 60.0])


def test_per_unit_broadcast_and_length_error():
    np.testing.assert_array_equal(laws.per_unit(0.5, 3, "soc_init"), [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="soc_init"):
        laws.per_unit([0.1, 0.2], 3, "soc_init")


def test_per_unit_reads_none_as_nan_and_names_bad_values():
    assert np.isnan(laws.per_unit("none", 2, "droop")).all()
    with pytest.raises(ValueError, match="droop: 'fast'"):
        laws.per_unit("fast", 2, "droop")
