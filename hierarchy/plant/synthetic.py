"""Synthetic, seeded time series of loads, PV and wind (``profiles.source: synthetic``).

Shapes, not data: a double-peak daily load shape, a clear-sky PV bell
with daily clearness and per-step cloud noise, and wind from a power curve
driven by an AR(1) speed. Values are for pandapower's ``p_mw`` / ``q_mvar``
columns in pandapower's signs (load consumption positive, sgen generation
positive), as :mod:`hierarchy.plant.profiles` documents.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pandapower

from hierarchy.plant.network import rating_mva

__all__ = [
    "SYNTHETIC_LATITUDE_DEG",
    "clear_sky_fraction",
    "load_shape",
    "sgen_kinds",
    "synthetic_series",
    "wind_capacity_factor",
]

#: Latitude of the synthetic sun [deg north]: central Germany, SimBench's region.
SYNTHETIC_LATITUDE_DEG: float = 51.0
#: Wind: mean and standard deviation of the speed [m/s], AR(1) time constant [ms].
_WIND_MEAN_M_PER_S, _WIND_STD_M_PER_S, _WIND_TAU_MS = 7.0, 3.0, 6 * 3_600_000
#: Power curve speeds [m/s]: cut-in, rated, cut-out.
_CUT_IN_M_PER_S, _RATED_M_PER_S, _CUT_OUT_M_PER_S = 3.0, 12.0, 25.0


def load_shape(hour_of_day: np.ndarray) -> np.ndarray:
    """Daily double-peak load factor [pu of the table P]: 0.45 base, peaks near 08:00 and 19:00.

    The evening peak reaches 1.0 pu; a shape in the spirit of the BDEW
    H0 household standard load profile (not a reproduction of it).
    """
    def bump(center_h: float, width_h: float) -> np.ndarray:
        distance_h = (hour_of_day - center_h + 12.0) % 24.0 - 12.0
        return np.exp(-0.5 * (distance_h / width_h) ** 2)

    return 0.45 + 0.3 * bump(8.0, 1.5) + 0.55 * bump(19.0, 2.0)


def clear_sky_fraction(hour_of_day: np.ndarray, day_of_year: np.ndarray,
                       latitude_deg: float = SYNTHETIC_LATITUDE_DEG) -> np.ndarray:
    """Sine of the sun's elevation, clipped to [0, 1]: a bell from sunrise to sunset [pu].

    Solar time is taken as clock time. Declination by Cooper (1969) and
    elevation by Duffie & Beckman, *Solar Engineering of Thermal
    Processes*, 4th ed., Wiley 2013, eqs. 1.6.1a and 1.6.5;
    doi:10.1002/9781118671603.
    """
    declination = np.radians(23.45) * np.sin(2.0 * np.pi * (284.0 + day_of_year) / 365.0)
    hour_angle = np.radians(15.0 * (hour_of_day - 12.0))
    latitude = np.radians(latitude_deg)
    sin_elevation = (np.sin(latitude) * np.sin(declination)
                     + np.cos(latitude) * np.cos(declination) * np.cos(hour_angle))
    return np.clip(sin_elevation, 0.0, 1.0)


def wind_capacity_factor(speed_m_per_s: np.ndarray) -> np.ndarray:
    """Power-curve capacity factor [pu]: cubic from cut-in (3 m/s) to rated (12 m/s), 0 past 25 m/s."""
    ramp = (speed_m_per_s - _CUT_IN_M_PER_S) / (_RATED_M_PER_S - _CUT_IN_M_PER_S)
    factor = np.clip(ramp, 0.0, 1.0) ** 3
    return np.where(speed_m_per_s >= _CUT_OUT_M_PER_S, 0.0, factor)


def sgen_kinds(types: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(is_pv, is_wind) masks of sgens by their ``type``.

    Wind: ``type`` contains "wind" (any case) or the token "WT" or "WP"
    (CIGRE's wind park, SimBench's rule too). PV: otherwise, ``type``
    contains "pv" (any case), or is SimBench's ``lv_RES`` (aggregated
    low-voltage renewables, whose SimBench profiles are PV-shaped: zero at
    night).
    """
    text = types.fillna("").astype(str)
    is_wind = (text.str.contains("wind", case=False)
               | text.str.contains(r"(?:^|[^A-Za-z])W[TP](?:$|[^A-Za-z])", regex=True))
    is_pv = (text.str.contains("pv", case=False) | (text == "lv_RES")) & ~is_wind
    return is_pv.to_numpy(bool), is_wind.to_numpy(bool)


def synthetic_series(net: pandapower.pandapowerNet, start: datetime, step_ms: int, n_steps: int,
                     seed: int) -> dict[tuple[str, str], np.ndarray]:
    """Seeded synthetic series (``numpy.random.default_rng(seed)``).

    Loads: table P and Q × :func:`load_shape` × (1 + 3 % Gaussian noise).
    PV sgens: rating × :func:`clear_sky_fraction` × cloud factor (a daily
    clearness ~ Beta(4, 1.5) shared by all PV, times 1 + 10 % noise per step
    and unit, clipped to [0, 1]). Wind sgens: rating ×
    :func:`wind_capacity_factor` of an AR(1) speed per unit (mean 7 m/s,
    std 3 m/s, time constant 6 h). Other sgens: table P clipped to
    [0, rating]. Storage: 0. Gens: table P (left to the caller's default).
    """
    rng = np.random.default_rng(seed)
    times = np.datetime64(start, "ms") + np.arange(n_steps) * np.timedelta64(step_ms, "ms")
    days = times.astype("datetime64[D]")
    hour_of_day = (times - days) / np.timedelta64(1, "h")
    day_of_year = (days - times.astype("datetime64[Y]")).astype(np.int64) + 1
    day_number = (days - days[0]).astype(np.int64)

    load = net.load
    factor = load_shape(hour_of_day)[:, None] * np.clip(
        1.0 + 0.03 * rng.standard_normal((n_steps, len(load))), 0.0, None)
    out = {("load", "p_mw"): factor * load.p_mw.to_numpy(float),
           ("load", "q_mvar"): factor * load.q_mvar.to_numpy(float)}

    sgen = net.sgen
    rating = rating_mva(sgen)
    types = sgen["type"] if "type" in sgen else pd.Series([""] * len(sgen), index=sgen.index)
    is_pv, is_wind = sgen_kinds(types)
    p_mw = np.tile(np.clip(np.nan_to_num(sgen.p_mw.to_numpy(float)), 0.0, rating), (n_steps, 1))
    clearness = rng.beta(4.0, 1.5, size=int(day_number[-1]) + 1)[day_number]
    cloud = np.clip(clearness[:, None] * (1.0 + 0.1 * rng.standard_normal((n_steps, is_pv.sum()))),
                    0.0, 1.0)
    p_mw[:, is_pv] = rating[is_pv] * clear_sky_fraction(hour_of_day, day_of_year)[:, None] * cloud
    speed = _wind_speed(rng, step_ms, n_steps, int(is_wind.sum()))
    p_mw[:, is_wind] = rating[is_wind] * wind_capacity_factor(speed)
    out[("sgen", "p_mw")] = p_mw
    out[("storage", "p_mw")] = np.zeros((n_steps, len(net.storage)))
    return out


def _wind_speed(rng: np.random.Generator, step_ms: int, n_steps: int, n_units: int) -> np.ndarray:
    """Stationary AR(1) wind speeds [m/s], (n_steps, n_units), clipped at 0."""
    from scipy.signal import lfilter

    phi = np.exp(-step_ms / _WIND_TAU_MS)
    shocks = rng.standard_normal((n_steps, n_units))
    shocks[0] *= _WIND_STD_M_PER_S
    shocks[1:] *= _WIND_STD_M_PER_S * np.sqrt(1.0 - phi**2)
    anomaly = lfilter([1.0], [1.0, -phi], shocks, axis=0)
    return np.maximum(_WIND_MEAN_M_PER_S + anomaly, 0.0)
