"""Generator policy: limits, ramp, droop with governor, min up/down times."""
import math

import numpy as np
import pytest

from unit_control.conformance import make_observation
from unit_control.generator import Generator


def _gen(rating_mw=10.0, **params):
    return Generator(np.array([rating_mw]), {**Generator.defaults, **params})


def _run(gen, step_s=60.0, **obs_kwargs):
    obs = make_observation(1, step_s=step_s, **obs_kwargs)
    command = gen.step(obs)
    gen.advance(obs, command)
    return float(command.p_mw[0])


def test_ramp_limited_trajectory_up_and_down():
    gen = _gen(ramp_mw_per_min=1.0, droop=None, governor_t_s=0.0)
    assert [_run(gen, p_set_mw=5.0) for _ in range(6)] == [1.0, 2.0, 3.0, 4.0, 5.0, 5.0]
    assert [_run(gen, step_s=30.0, p_set_mw=3.0) for _ in range(5)] == [4.5, 4.0, 3.5, 3.0, 3.0]


def test_setpoint_clamped_to_limits():
    gen = _gen(p_min_mw=2.0, p_max_mw=8.0)
    assert _run(gen, p_set_mw=12.0) == pytest.approx(8.0)
    assert _run(gen, p_set_mw=1.0) == pytest.approx(2.0)


def test_follows_schedule_without_setpoint():
    assert _run(_gen(), p_avail_mw=6.0) == pytest.approx(6.0)


def test_droop_steady_state_and_governor_lag():
    gen = _gen(rating_mw=500.0, droop=0.05, governor_t_s=2.0)
    assert _run(gen, step_s=600.0, p_set_mw=300.0) == pytest.approx(300.0)
    # −0.1 Hz for 2 s = T: 300 + 20·(1 − e^−1) MW (500/(0.05·50)·0.1 = 20 MW)
    assert _run(gen, step_s=2.0, p_set_mw=300.0, f_hz=49.9) == pytest.approx(300 + 20 * (1 - math.exp(-1)))
    assert _run(gen, step_s=600.0, p_set_mw=300.0, f_hz=49.9) == pytest.approx(320.0)


def test_min_up_and_min_down_times():
    gen = _gen(on_init=False, p_min_mw=1.0, min_up=300.0, min_down=600.0, droop=None, governor_t_s=0.0)
    outputs = [_run(gen, p_set_mw=4.0)]                      # starts at once (down for ever)
    outputs += [_run(gen, p_set_mw=0.0) for _ in range(6)]   # must run 300 s in all
    outputs += [_run(gen, p_set_mw=4.0) for _ in range(12)]  # must stay down 600 s
    on = [p >= 1.0 for p in outputs]            # a committed unit runs at least at p_min_mw
    assert on == [True] * 5 + [False] * 10 + [True] * 4


def test_capability_reports_ramp_range_and_costs():
    gen = _gen(ramp_mw_per_min=1.0, p_min_mw=1.0, cost={"a": 10.0, "b": 30.0, "c": 0.2})
    _run(gen, p_set_mw=1.0)
    cap = gen.capability(make_observation(1, step_s=120.0))
    assert (cap.p_min_mw[0], cap.p_max_mw[0]) == pytest.approx((1.0, 3.0))
    assert (cap.cost_b_per_mwh[0], cap.cost_c_per_mw2h[0]) == (30.0, 0.2)


@pytest.mark.parametrize("params, key", [({"p_min_mw": 20.0}, "p_min_mw"), ({"droop": -0.1}, "droop"),
                                         ({"offer_blocks": 0}, "offer_blocks"), ({"min_up": -1}, "min_up")])
def test_invalid_parameters_are_named(params, key):
    with pytest.raises(ValueError, match=key):
        _gen(**params)
