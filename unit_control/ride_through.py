"""IEEE 1547-2018 trip and enter-service logic, vectorised over a unit group.

:class:`RideThrough` is a small state machine that inverter policies hold
when their ``ride_through`` parameter is set (``ride_through: {category: II}``).
It trips a unit once a voltage or frequency condition has lasted the
clearing time of its trip setting (Tables 11–13, 19), and lets it enter
service again once voltage and frequency have stayed inside the
enter-service window for the enter-service delay (clause 4.10.3, 300 s by
default), after which its output ramps up linearly over 300 s (clause
4.10.3, Table 4).

Timing in a quasi-static simulation: the state moves only in
:meth:`RideThrough.advance`, with the settled measurements of a step held
for that step's duration. A trip or reconnection is therefore seen from
the first step that starts at or after the instant it happens; the physics
step bounds the resolution (a 0.16 s clearing time trips from the next
step). Because :meth:`connected` does not look at the current iterate,
a trip never makes the fixed-point loop oscillate.

Frequency settings are given by the standard for 60 Hz systems; for other
nominal frequencies their offsets from nominal are scaled by ``f0/60``
(50 Hz: OF2 = 50 + 2·50/60 = 51.667 Hz). Every setting may be overridden:
voltages in pu (``ov1_pu``), times in seconds (``ov1_s``), frequency
offsets from nominal in Hz for the simulated system (``of1_delta_hz``,
negative for under-frequency).

References
----------
.. [1] IEEE Std 1547-2018, doi:10.1109/IEEESTD.2018.8332112, clauses 4.10,
   6.4.1, 6.5.1; Tables 11–13 (voltage trip), 19 (frequency trip).

Examples
--------
>>> rt = RideThrough(2, {"category": "II"})
>>> rt.advance(np.array([1.0, 1.15]), np.array([50.0, 50.0]), 50.0, 2.0)
>>> rt.connected().tolist()
[True, False]
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["RideThrough", "TRIP_DEFAULTS", "enter_service_ramp_fraction"]

#: Voltage trip defaults per category: name -> (level [pu], clearing time [s]).
TRIP_DEFAULTS: dict[str, dict[str, tuple[float, float]]] = {
    "I": {"ov2": (1.20, 0.16), "ov1": (1.10, 2.0), "uv1": (0.70, 2.0), "uv2": (0.45, 0.16)},
    "II": {"ov2": (1.20, 0.16), "ov1": (1.10, 2.0), "uv1": (0.70, 10.0), "uv2": (0.45, 0.16)},
    "III": {"ov2": (1.20, 0.16), "ov1": (1.10, 13.0), "uv1": (0.88, 21.0), "uv2": (0.50, 2.0)},
}
#: Frequency trip defaults, all categories: name -> (offset from 60 Hz [Hz], clearing time [s]).
FREQ_TRIP_DEFAULTS_60HZ: dict[str, tuple[float, float]] = {
    "of2": (2.0, 0.16), "of1": (1.2, 300.0), "uf1": (-1.5, 300.0), "uf2": (-3.5, 0.16),
}
_CATEGORIES = {"I": "I", "1": "I", "II": "II", "2": "II", "III": "III", "3": "III"}
_EPS_S = 1e-9


def enter_service_ramp_fraction(time_since_s: np.ndarray, step_s: float,
                                ramp_s: float) -> np.ndarray:
    """Mean over a step of the enter-service ramp ``min(1, t/ramp_s)`` [pu].

    ``time_since_s`` is the time since entering service at the start of the
    step [s]; the mean is taken over ``[t, t + step_s]`` so that the energy
    of a long step is right. ``step_s = 0`` gives the value at ``t``.

    Examples
    --------
    >>> enter_service_ramp_fraction(np.array([0.0, 150.0, 600.0]), 300.0, 300.0).tolist()
    [0.5, 0.875, 1.0]
    """
    t0 = np.asarray(time_since_s, dtype=float)
    if ramp_s <= 0:
        return np.ones_like(t0)
    if step_s <= 0:
        return np.clip(t0 / ramp_s, 0.0, 1.0)
    a = np.minimum(t0, ramp_s)
    b = np.minimum(a + step_s, ramp_s)
    area = (b * b - a * a) / (2.0 * ramp_s) + (a + step_s - b)
    return np.where(t0 >= ramp_s, 1.0, area / step_s)


class RideThrough:
    """Trip and enter-service state machine of a group of inverters.

    Parameters
    ----------
    n_units : int
        Number of units in the group.
    settings : mapping
        ``category`` (``I``, ``II``, ``III``; default ``II``) and optional
        overrides ``{ov2,ov1,uv1,uv2}_pu``, ``{ov2,...}_s``,
        ``{of2,of1,uf1,uf2}_delta_hz``, ``{of2,...}_s`` and ``es_v_min_pu``,
        ``es_v_max_pu``, ``es_f_min_delta_hz``, ``es_f_max_delta_hz``,
        ``es_delay_s``, ``es_ramp_s`` (durations in seconds).

    Raises
    ------
    ValueError
        On an unknown category or setting name.
    """

    def __init__(self, n_units: int, settings: Mapping[str, Any]):
        settings = dict(settings)
        category = _CATEGORIES.get(str(settings.pop("category", "II")).upper())
        if category is None:
            raise ValueError("ride_through.category: must be one of I, II, III")
        self.category = category
        self._voltage = {k: list(v) for k, v in TRIP_DEFAULTS[category].items()}
        self._frequency: dict[str, list[float | None]] = {k: [None, t] for k, (_, t) in FREQ_TRIP_DEFAULTS_60HZ.items()}
        self._enter = {"es_v_min_pu": 0.917, "es_v_max_pu": 1.05, "es_f_min_delta_hz": None,
                       "es_f_max_delta_hz": None, "es_delay_s": 300.0, "es_ramp_s": 300.0}
        for key, value in settings.items():
            self._override(key, float(value))
        self._connected = np.ones(n_units, dtype=bool)
        self._trip_timers_s = np.zeros((8, n_units))
        self._enter_timer_s = np.zeros(n_units)
        self._since_enter_s = np.full(n_units, np.inf)

    def _override(self, key: str, value: float) -> None:
        name, _, field = key.partition("_")
        if key in self._enter:
            self._enter[key] = value
        elif name in self._voltage and field in ("pu", "s"):
            self._voltage[name][0 if field == "pu" else 1] = value
        elif name in self._frequency and field in ("delta_hz", "s"):
            self._frequency[name][0 if field == "delta_hz" else 1] = value
        else:
            raise ValueError(f"ride_through.{key}: unknown setting; valid: category, "
                             f"<ov2|ov1|uv1|uv2>_pu, <of2|of1|uf1|uf2>_delta_hz, <name>_s, "
                             f"{', '.join(self._enter)}")

    def _freq_offset_hz(self, name: str, f0_hz: float) -> float:
        offset = self._frequency[name][0]
        return FREQ_TRIP_DEFAULTS_60HZ[name][0] * f0_hz / 60.0 if offset is None else offset

    def _conditions(self, vm_pu: np.ndarray, f_hz: np.ndarray, f0_hz: float) -> tuple[np.ndarray, np.ndarray]:
        """Trip conditions (8 × n) and their clearing times (8,) [s]."""
        rows, clearing_s = [], []
        for name, (level_pu, time_s) in self._voltage.items():
            rows.append(vm_pu > level_pu if name.startswith("ov") else vm_pu < level_pu)
            clearing_s.append(time_s)
        for name, (_, time_s) in self._frequency.items():
            level_hz = f0_hz + self._freq_offset_hz(name, f0_hz)
            rows.append(f_hz > level_hz if name.startswith("of") else f_hz < level_hz)
            clearing_s.append(time_s)
        return np.array(rows), np.array(clearing_s, dtype=float)

    def _in_enter_window(self, vm_pu: np.ndarray, f_hz: np.ndarray, f0_hz: float) -> np.ndarray:
        es = self._enter
        f_min = es["es_f_min_delta_hz"] if es["es_f_min_delta_hz"] is not None else -0.5 * f0_hz / 60.0
        f_max = es["es_f_max_delta_hz"] if es["es_f_max_delta_hz"] is not None else 0.1 * f0_hz / 60.0
        return ((vm_pu >= es["es_v_min_pu"]) & (vm_pu <= es["es_v_max_pu"])
                & (f_hz >= f0_hz + f_min) & (f_hz <= f0_hz + f_max))

    def connected(self) -> np.ndarray:
        """Whether each unit is in service now (a copy) [bool]."""
        return self._connected.copy()

    def p_fraction(self, step_s: float) -> np.ndarray:
        """Output cap over the coming step from the enter-service ramp [pu]; 0 if tripped."""
        ramp = enter_service_ramp_fraction(self._since_enter_s, step_s, self._enter["es_ramp_s"])
        return np.where(self._connected, ramp, 0.0)

    def advance(self, vm_pu: np.ndarray, f_hz: np.ndarray, f0_hz: float, step_s: float) -> None:
        """Hold ``vm_pu`` [pu] and ``f_hz`` [Hz] for ``step_s`` [s] and move the timers."""
        vm_pu = np.asarray(vm_pu, dtype=float)
        f_hz = np.broadcast_to(np.asarray(f_hz, dtype=float), vm_pu.shape)
        conditions, clearing_s = self._conditions(vm_pu, f_hz, f0_hz)
        was_connected = self._connected
        timers = np.where(conditions & was_connected, self._trip_timers_s + step_s, 0.0)
        trips = was_connected & np.any(timers >= clearing_s[:, None] - _EPS_S, axis=0)
        window = self._in_enter_window(vm_pu, f_hz, f0_hz)
        enter_timer = np.where(~was_connected & window, self._enter_timer_s + step_s, 0.0)
        enters = ~was_connected & (enter_timer >= self._enter["es_delay_s"] - _EPS_S)
        self._since_enter_s = np.where(enters, 0.0, np.where(was_connected, self._since_enter_s + step_s, 0.0))
        self._connected = (was_connected & ~trips) | enters
        self._trip_timers_s = np.where(trips, 0.0, timers)
        self._enter_timer_s = np.where(enters, 0.0, enter_timer)
