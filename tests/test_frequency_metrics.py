"""Frequency figures of the summary (issue 17) against independent references.

* the metric functions on hand-worked piecewise-linear trajectories;
* the summary of runs against ``scipy.integrate.solve_ivp`` of the swing
  equation and first-order governors (DESIGN.md "Frequency"), written out
  here: one area (one island), two areas of one island, and two areas that
  are two islands once their tie line is out (a load step in one leaves the
  other still);
* the settled frequency against the textbook Δf = −ΔP_L/β (Kundur 1994,
  sec. 11.1.6).

The run's losses change a little after a load step (~0.1 MW of 10 MW): the
engine's trajectory differs from the lossless reference by about 1 % of
the deviation, the tolerance used here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.integrate import solve_ivp

import hierarchy
from hierarchy.outputs.frequency_metrics import Disturbance, area_figures, max_rocof, settling

ROOT = Path(__file__).resolve().parents[1]
F0_HZ, STEP_MW, DROOP, H_S, T_GOV_S = 50.0, 10.0, 0.05, 5.0, 0.5
RATING_MW = {"west": np.array([200.0, 100.0]), "east": np.array([200.0, 150.0])}
LOAD_MW = {"west": 180.0, "east": 180.0}


# ------------------------------------------------------------- the functions
def test_rocof_of_a_ramp_is_its_slope_and_a_longer_window_averages():
    t_s = np.array([0.0, 1.0, 2.0, 3.0])
    f_hz = np.array([50.0, 50.0, 49.0, 49.0])  # −1 Hz/s between 1 s and 2 s
    assert max_rocof(t_s, f_hz, 0.5) == pytest.approx((-1.0, 1.5))
    assert max_rocof(t_s, f_hz, 2.0)[0] == pytest.approx(-0.5)  # 1 Hz over any 2 s holding the ramp
    # the window may end between samples: samples at 1 s steps, window 0.25 s
    assert max_rocof(t_s, f_hz, 0.25)[0] == pytest.approx(-1.0)
    assert max_rocof(t_s, f_hz, 0.5, after_s=2.5) == pytest.approx((0.0, 3.0))
    assert max_rocof(t_s[:1], f_hz[:1], 0.5) is None


def test_a_disturbance_window_ends_before_the_next_disturbance():
    """Islanding at 10 s settles at 49.5 Hz; the restore at 20 s jumps back to 50 Hz at its own
    instant. The islanding's settled value is 49.5 Hz, reached when the dip ends (hand-worked)."""
    t_s = np.array([0.0, 10.0, 11.0, 12.0, 19.0, 20.0, 21.0, 30.0])
    f_hz = np.array([50.0, 50.0, 49.2, 49.5, 49.5, 50.0, 50.0, 50.0])
    events = [Disturbance(10.0, "islanding"), Disturbance(20.0, "restore")]
    first, second = area_figures(t_s, f_hz, 0.5, 0.01, events)["disturbances"]
    assert first["settled_hz"] == 49.5 and first["nadir_hz"] == 49.2
    assert first["settling_after_s"] == pytest.approx(2.0 - 0.01 / 0.3)  # 49.49 Hz crossed on the way up
    assert second["before_hz"] == 49.5 and second["settled_hz"] == 50.0  # the last sample before 20 s


def test_settling_interpolates_the_band_edge():
    t_s = np.arange(6.0)
    f_hz = np.array([50.0, 49.8, 49.9, 49.96, 49.98, 49.98])
    settled, after_s = settling(t_s, f_hz, 0.01, start_s=1.0)
    # last outside: 49.96 at 3 s (0.02 from 49.98); the band edge 49.97 is halfway to 4 s
    assert settled == 49.98 and after_s == pytest.approx(3.5 - 1.0)
    assert settling(t_s, np.full(6, 50.0), 0.01, 0.0) == (50.0, 0.0)


# ------------------------------------------------------------- the reference
def _reference(rating_mw: np.ndarray, load_mw: float, step_mw: float, t_end_s: float):
    """Dense solution of Δf and the governed outputs after a load step, from steady state.

    M·dΔf/dt = ΣΔP_j − ΔP_L − D·Δf;  T·dΔP_j/dt = −K_j·Δf − ΔP_j
    with M = Σ2·H·S/f0, K_j = S_j/(R·f0), D = 1.0·P_load/f0 (the load after the step).
    """
    k = rating_mw / (DROOP * F0_HZ)
    m = 2 * H_S * rating_mw.sum() / F0_HZ
    d = 1.0 * (load_mw + step_mw) / F0_HZ

    def rhs(_, x):
        df, dp = x[0], np.asarray(x[1:])
        return [(dp.sum() - step_mw - d * df) / m, *((-k * df - dp) / T_GOV_S)]

    solution = solve_ivp(rhs, (0.0, t_end_s), np.zeros(1 + k.size), dense_output=True,
                         rtol=1e-10, atol=1e-12, max_step=0.01)
    t_s = np.arange(0.0, t_end_s + 1e-9, 0.001)
    return t_s, solution.sol(t_s)[0], -step_mw / (k.sum() + d)


def _expected(t_s, df_hz, window_s=0.5, band_hz=0.01) -> dict:
    """The figures straight from the dense reference (1 ms grid)."""
    lag = round(window_s / 0.001)
    rocof = (df_hz[lag:] - df_hz[:-lag]) / window_s
    outside = np.flatnonzero(np.abs(df_hz - df_hz[-1]) > band_hz)
    return {"nadir_hz": df_hz.min(), "nadir_after_s": t_s[np.argmin(df_hz)],
            "rocof": rocof[np.argmax(np.abs(rocof))], "settled_hz": df_hz[-1],
            "settling_after_s": t_s[outside[-1] + 1] if outside.size else 0.0}


def _check(figures: dict, expected: dict, df_ss_hz: float) -> None:
    """One disturbance's figures (relative to the frequency before it) against the reference."""
    before = figures["before_hz"]
    depth = abs(expected["nadir_hz"])
    assert figures["nadir_hz"] - before == pytest.approx(expected["nadir_hz"], abs=0.015 * depth)
    assert figures["nadir_after_s"] == pytest.approx(expected["nadir_after_s"], abs=0.15)
    assert figures["rocof_max_hz_per_s"] == pytest.approx(expected["rocof"], rel=0.02)
    assert figures["settled_hz"] - before == pytest.approx(expected["settled_hz"], abs=0.015 * depth)
    assert figures["settled_hz"] - before == pytest.approx(df_ss_hz, rel=0.02)
    assert figures["settling_after_s"] == pytest.approx(expected["settling_after_s"], abs=0.3)


def _two_area(duration: str, events: list, areas: list | None = None) -> dict:
    data = yaml.safe_load((ROOT / "scenarios" / "two_area_lfc.yaml").read_text())
    data["grid"]["path"] = str(ROOT / "scenarios" / "grids" / "two_area.json")
    data["time"]["duration"] = duration
    for area in data["areas"]:
        area["coordinator"] = {"policy": "none", "period": "4s"}
    if areas is not None:
        data["areas"] = areas
    data["events"] = events
    data.pop("outputs")
    return data


def _run(data: dict):
    return hierarchy.run(data, write=False)


# ------------------------------------------------------------- runs
def test_single_area_figures_match_solve_ivp_and_see_between_physics_steps():
    """One area, physics every 60 s: the nadir lies between two physics steps."""
    data = _two_area("2min", [{"at": "40s", "kind": "load_step", "target": "load/2",
                               "delta_mw": STEP_MW}],
                     areas=[{"id": "all", "buses": "rest", "load_damping_pu": 1.0,
                             "coordinator": {"policy": "none", "period": "60s"}}])
    data["time"]["step"] = "60s"
    result = _run(data)
    area = result.summary["areas"]["all"]
    (figures,) = area["frequency_disturbances"]
    assert (figures["at_s"], figures["what"]) == (40.0, "load_step load/2 +10 MW")
    t_s, df_hz, df_ss_hz = _reference(np.r_[RATING_MW["west"], RATING_MW["east"]],
                                      LOAD_MW["west"] + LOAD_MW["east"], STEP_MW, 80.0)
    expected = _expected(t_s, df_hz)
    _check(figures, expected, df_ss_hz)
    # the whole-run figures come from the full trajectory: the physics steps (0 s, 60 s)
    # see only the settled state, the trajectory the overshoot below it as well
    physics = result.runtime.recorder.arrays["area_frequency_hz"][:, 0]
    assert area["frequency_min_hz"] == figures["nadir_hz"] == result.frame("area_frequency_hz")["all"].min()
    assert np.nanmin(physics) - area["frequency_min_hz"] == pytest.approx(
        df_ss_hz - expected["nadir_hz"], rel=0.05)
    assert area["frequency_nadir_s"] == pytest.approx(40.0 + figures["nadir_after_s"])
    assert area["frequency_rocof_max_hz_per_s"] == figures["rocof_max_hz_per_s"]
    assert result.summary["frequency"] == {"rocof_window_s": 0.5, "settling_band_hz": 0.01,
                                           "samples": len(result.frame("area_frequency_hz"))}


def test_two_areas_of_one_island_share_its_figures():
    data = _two_area("3min", [{"at": "60s", "kind": "load_step", "target": "load/2",
                               "delta_mw": STEP_MW}])
    result = _run(data)
    west, east = (result.summary["areas"][a]["frequency_disturbances"][0] for a in ("west", "east"))
    assert west == east
    t_s, df_hz, df_ss_hz = _reference(np.r_[RATING_MW["west"], RATING_MW["east"]],
                                      LOAD_MW["west"] + LOAD_MW["east"], STEP_MW, 120.0)
    _check(east, _expected(t_s, df_hz), df_ss_hz)


def test_two_islands_each_follow_their_own_swing_equation():
    """Tie line out at 20 s: two islands; the east load step at 60 s moves only the east."""
    data = _two_area("2min", [{"at": "20s", "kind": "line_outage", "target": "line/6"},
                              {"at": "60s", "kind": "load_step", "target": "load/2",
                               "delta_mw": STEP_MW}])
    result = _run(data)
    areas = result.summary["areas"]
    east_step = areas["east"]["frequency_disturbances"][1]
    t_s, df_hz, df_ss_hz = _reference(RATING_MW["east"], LOAD_MW["east"], STEP_MW, 60.0)
    _check(east_step, _expected(t_s, df_hz), df_ss_hz)
    west_step = areas["west"]["frequency_disturbances"][1]
    for key in ("nadir_hz", "zenith_hz", "settled_hz"):  # (losses of each solve: ~1e-8 Hz)
        assert west_step[key] == pytest.approx(west_step["before_hz"], abs=1e-6)
    assert abs(west_step["rocof_max_hz_per_s"]) < 1e-6 and west_step["settling_after_s"] == 0.0
    # the outage: each island loses its tie flow; west imported it (its frequency falls)
    outage = {a: areas[a]["frequency_disturbances"][0] for a in ("west", "east")}
    assert outage["west"]["nadir_hz"] < outage["west"]["before_hz"]
    assert outage["east"]["zenith_hz"] > outage["east"]["before_hz"]
    assert areas["east"]["frequency_min_hz"] == east_step["nadir_hz"]
