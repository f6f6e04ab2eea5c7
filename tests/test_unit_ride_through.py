"""IEEE 1547-2018 trip, enter-service delay and ramp (Tables 11–13, 19; clause 4.10.3)."""
import numpy as np
import pytest

from unit_control.ride_through import RideThrough, enter_service_ramp_fraction


def _connected_history(rt, vm_pu, f_hz, n_steps, step_s, f0_hz=50.0):
    """Connection state seen by the step starting at k·step_s, for k = 0..n_steps-1."""
    history = []
    for _ in range(n_steps):
        history.append(bool(rt.connected()[0]))
        rt.advance(np.array([vm_pu]), np.array([f_hz]), f0_hz, step_s)
    return history


@pytest.mark.parametrize("category, vm_pu, clearing_s", [
    ("II", 1.15, 2.0),    # OV1 1.10 pu / 2 s
    ("III", 1.15, 13.0),  # OV1 1.10 pu / 13 s
    ("I", 0.60, 2.0),     # UV1 0.70 pu / 2 s
    ("II", 0.60, 10.0),   # UV1 0.70 pu / 10 s
    ("III", 0.85, 21.0),  # UV1 0.88 pu / 21 s
    ("III", 0.45, 2.0),   # UV2 0.50 pu / 2 s
    ("II", 1.25, 0.2),    # OV2 1.20 pu / 0.16 s, seen from the next 0.1 s step
])
def test_voltage_trip_after_clearing_time_not_before(category, vm_pu, clearing_s):
    step_s = 0.1
    history = _connected_history(RideThrough(1, {"category": category}), vm_pu, 50.0,
                                 int(round(clearing_s / step_s)) + 5, step_s)
    first_tripped = history.index(False)
    assert first_tripped == int(round(clearing_s / step_s))
    assert all(history[:first_tripped]) and not any(history[first_tripped:])


def test_no_trip_inside_continuous_region():
    history = _connected_history(RideThrough(1, {"category": "II"}), 1.095, 50.0, 100, 60.0)
    assert all(history)


def test_frequency_thresholds_scaled_to_50_hz():
    # OF2 = 50 + 2·50/60 = 51.667 Hz / 0.16 s; OF1 = 51.0 Hz / 300 s; UF1 = 48.75 Hz / 300 s
    assert _connected_history(RideThrough(1, {}), 1.0, 51.7, 3, 0.1) == [True, True, False]
    history = _connected_history(RideThrough(1, {}), 1.0, 51.6, 7, 60.0)
    assert history == [True] * 5 + [False] * 2
    assert all(_connected_history(RideThrough(1, {}), 1.0, 48.8, 10, 60.0))
    assert not all(_connected_history(RideThrough(1, {}), 1.0, 48.7, 10, 60.0))


def test_reconnect_after_enter_service_delay_not_before():
    rt = RideThrough(1, {"category": "II"})
    rt.advance(np.array([1.3]), np.array([50.0]), 50.0, 1.0)
    assert not rt.connected()[0]
    history = _connected_history(rt, 1.0, 50.0, 305, 1.0)
    assert history.index(True) == 300 and all(history[300:])


def test_leaving_enter_service_window_restarts_delay():
    rt = RideThrough(1, {"category": "II"})
    rt.advance(np.array([1.3]), np.array([50.0]), 50.0, 1.0)
    _connected_history(rt, 1.0, 50.0, 200, 1.0)
    _connected_history(rt, 1.07, 50.0, 1, 1.0)          # above 1.05 pu: outside the window
    history = _connected_history(rt, 1.0, 50.0, 305, 1.0)
    assert history.index(True) == 300


def test_output_ramps_over_300_s_after_reconnect():
    rt = RideThrough(1, {"es_delay_s": 10.0})
    rt.advance(np.array([1.3]), np.array([50.0]), 50.0, 1.0)
    _connected_history(rt, 1.0, 50.0, 10, 1.0)
    assert rt.connected()[0]
    fractions = []
    for _ in range(400):
        fractions.append(rt.p_fraction(1.0)[0])
        rt.advance(np.array([1.0]), np.array([50.0]), 50.0, 1.0)
    assert sum(fractions[:300]) == pytest.approx(150.0)     # energy of a linear 300 s ramp
    assert fractions[0] == pytest.approx(0.5 / 300) and fractions[-1] == 1.0


def test_ramp_fraction_closed_form():
    # mean of min(1, t/300) over [200, 500]: (300² − 200²)/600 + 200 = 283.33 → /300
    assert enter_service_ramp_fraction(np.array([200.0]), 300.0, 300.0)[0] == pytest.approx(283.3333 / 300, 1e-5)


def test_overrides_and_unknown_settings():
    rt = RideThrough(1, {"category": "II", "ov1_pu": 1.08, "ov1_s": 5.0})
    assert _connected_history(rt, 1.09, 50.0, 7, 1.0) == [True] * 5 + [False] * 2
    with pytest.raises(ValueError, match="ride_through.ov3_pu"):
        RideThrough(1, {"ov3_pu": 1.3})
    with pytest.raises(ValueError, match="category"):
        RideThrough(1, {"category": "IV"})
