"""Frequency figures of a run from its full trajectory: nadir, zenith, RoCoF, settling.

The trajectory of an area is every recorded sample of its frequency: one per
physics step and one per ``frequency.step`` while its island is not settled
(:meth:`hierarchy.sim.recorder.Recorder.frequency_trajectory`). Between
samples it is read as linear in time (the frequency model integrates it
continuously; between physics steps of a settled island it is constant).

* **nadir**, **zenith**: lowest and highest sample, with the first time
  each occurs;
* **RoCoF** over a window w (IEC/ENTSO-E practice measures it over a sliding
  500 ms window): (f(t) − f(t − w)) / w on the piecewise-linear trajectory;
  its largest magnitude over all t is found exactly, among the sample times
  and the sample times plus w;
* **settling** after a disturbance: the settled value is the frequency at the
  end of the disturbance's window (the next disturbance or the end of the
  run); the settling time is when the trajectory last enters the band
  ± ``band_hz`` around it, measured from the disturbance (the band edge
  crossing interpolated between samples).

References
----------
ENTSO-E, "Rate of Change of Frequency (RoCoF) withstand capability",
guidance document for national implementation of network codes, 2018 (RoCoF
over a 500 ms window). Kundur, *Power System Stability and Control*, 1994,
sec. 11.1 (nadir and settling after a load step).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Disturbance", "extreme", "max_rocof", "settling", "disturbance_figures",
           "area_figures"]


@dataclass(frozen=True)
class Disturbance:
    """A change of the grid at ``at_s`` [s after the run start], described by ``what``."""

    at_s: float
    what: str


def _finite(t_s: np.ndarray, f_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(f_hz)
    return t_s[keep], f_hz[keep]


def extreme(t_s: np.ndarray, f_hz: np.ndarray, lowest: bool) -> tuple[float, float] | None:
    """(value [Hz], first time [s]) of the lowest (or highest) finite sample; None if none."""
    t_s, f_hz = _finite(t_s, f_hz)
    if not f_hz.size:
        return None
    k = int(np.argmin(f_hz) if lowest else np.argmax(f_hz))
    return float(f_hz[k]), float(t_s[k])


def max_rocof(t_s: np.ndarray, f_hz: np.ndarray, window_s: float,
              after_s: float = -math.inf, until_s: float = math.inf) -> tuple[float, float] | None:
    """Largest |RoCoF| over a window [Hz/s] and the time its window ends [s].

    RoCoF(t) = (f(t) − f(t − w)) / w with f linear between samples, for the
    window ends t in (``after_s``, ``until_s``] whose window lies inside the
    trajectory. The magnitude is piecewise linear in t, so its largest value
    is at a sample time or a sample time plus w: both are tried.

    Returns
    -------
    (float, float) or None
        Signed RoCoF of largest magnitude [Hz/s] and its window end [s];
        None where no window fits.
    """
    t_s, f_hz = _finite(t_s, f_hz)
    if t_s.size < 2 or window_s <= 0:
        return None
    ends = np.union1d(t_s, t_s + window_s)
    ends = ends[(ends >= t_s[0] + window_s) & (ends <= t_s[-1]) & (ends > after_s) & (ends <= until_s)]
    if not ends.size:
        return None
    rocof = (np.interp(ends, t_s, f_hz) - np.interp(ends - window_s, t_s, f_hz)) / window_s
    k = int(np.argmax(np.abs(rocof)))
    return float(rocof[k]), float(ends[k])


def settling(t_s: np.ndarray, f_hz: np.ndarray, band_hz: float, start_s: float
             ) -> tuple[float, float] | None:
    """Settled value [Hz] and settling time [s after ``start_s``] of a window's trajectory.

    The settled value is the last sample; the settling time is when the
    trajectory enters ± ``band_hz`` around it for good (0 if it never left).
    """
    t_s, f_hz = _finite(t_s, f_hz)
    if not f_hz.size:
        return None
    settled = float(f_hz[-1])
    outside = np.flatnonzero(np.abs(f_hz - settled) > band_hz)
    if not outside.size:
        return settled, 0.0
    k = int(outside[-1])  # the last sample outside; the next one is inside
    edge = settled + math.copysign(band_hz, f_hz[k] - settled)
    fraction = (f_hz[k] - edge) / (f_hz[k] - f_hz[k + 1])
    return settled, float(t_s[k] + fraction * (t_s[k + 1] - t_s[k]) - start_s)


def disturbance_figures(t_s: np.ndarray, f_hz: np.ndarray, disturbance: Disturbance,
                        until_s: float, window_s: float, band_hz: float,
                        include_end: bool = True) -> dict:
    """The frequency figures of one area after one disturbance, up to ``until_s`` [s].

    ``include_end`` False: the window stops just before ``until_s`` (the next
    disturbance, whose own samples belong to its window).

    Keys: ``what``, ``at_s``, ``before_hz`` (the last sample before
    it), ``nadir_hz``, ``nadir_after_s``, ``zenith_hz``, ``zenith_after_s``,
    ``rocof_max_hz_per_s`` (signed, largest magnitude), ``rocof_after_s``
    (end of its window), ``settled_hz``, ``settling_after_s``; None where
    the window holds no finite sample.
    """
    start = disturbance.at_s
    if not include_end:  # the last instant before the next disturbance
        until_s = float(np.nextafter(until_s, -math.inf))
    inside = (t_s >= start) & (t_s <= until_s)
    t_in, f_in = t_s[inside], f_hz[inside]
    before = f_hz[(t_s < start) & np.isfinite(f_hz)]
    low, high = extreme(t_in, f_in, True), extreme(t_in, f_in, False)
    rocof = max_rocof(t_s, f_hz, window_s, after_s=start, until_s=until_s)
    settled = settling(t_in, f_in, band_hz, start)

    return {"what": disturbance.what, "at_s": start,
            "before_hz": float(before[-1]) if before.size else None,
            "nadir_hz": _value(low), "nadir_after_s": _time(low, start),
            "zenith_hz": _value(high), "zenith_after_s": _time(high, start),
            "rocof_max_hz_per_s": _value(rocof), "rocof_after_s": _time(rocof, start),
            "settled_hz": _value(settled),
            "settling_after_s": None if settled is None else settled[1]}


def _value(pair: tuple[float, float] | None) -> float | None:
    return None if pair is None else pair[0]


def _time(pair: tuple[float, float] | None, start_s: float = 0.0) -> float | None:
    return None if pair is None else pair[1] - start_s


def area_figures(t_s: np.ndarray, f_hz: np.ndarray, window_s: float, band_hz: float,
                 disturbances: list[Disturbance]) -> dict:
    """Whole-run frequency figures of one area and those after each disturbance.

    Returns
    -------
    dict
        ``min_hz``, ``max_hz``, ``final_hz`` [Hz]; ``nadir_s``, ``zenith_s``
        (first time of the lowest and highest sample [s], None when the
        frequency never moved); ``rocof_max_hz_per_s`` and ``rocof_max_s``
        (:func:`max_rocof`); ``disturbances`` (:func:`disturbance_figures`
        for each, its window ending just before the next one, or at the end).
    """
    low, high = extreme(t_s, f_hz, True), extreme(t_s, f_hz, False)
    moved = low is not None and high[0] > low[0]
    rocof = max_rocof(t_s, f_hz, window_s) if moved else None
    ends = [d.at_s for d in disturbances[1:]] + [float(t_s[-1]) if t_s.size else 0.0]
    return {
        "min_hz": _value(low), "max_hz": _value(high),
        "final_hz": float(f_hz[-1]) if f_hz.size and np.isfinite(f_hz[-1]) else None,
        "nadir_s": _time(low) if moved else None, "zenith_s": _time(high) if moved else None,
        "rocof_max_hz_per_s": _value(rocof) if moved else (0.0 if low is not None else None),
        "rocof_max_s": _time(rocof),
        "disturbances": [disturbance_figures(t_s, f_hz, d, end, window_s, band_hz,
                                             include_end=k == len(disturbances) - 1)
                         for k, (d, end) in enumerate(zip(disturbances, ends))],
    }
