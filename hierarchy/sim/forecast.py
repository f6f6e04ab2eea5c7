"""The forecast service: what the areas expect of their loads, PV and wind when they bid.

A forecast is made of the run's own profiles (the truth) per profile kind
(``load``, ``pv``, ``wind``; sgens classified by
:func:`hierarchy.plant.profiles.sgen_kinds`), by the method the scenario's
``forecast.<kind>.method`` names:

* ``persistence`` (default): the value at the last step before the forecast
  is issued. With every kind on persistence the areas bid from their latest
  measurements, as they always have, and the service is only used to report
  the forecast error;
* ``perfect``: the mean of the profile over the delivery interval;
* ``noisy``: the mean of ``truth · max(1 + ε, 0)`` over the interval, with
  ε a seeded stationary AR(1) series per kind and market stage
  (:func:`ar1_relative_errors`): relative standard deviation ``std_pu``
  (``day_ahead_std_pu`` for the day-ahead stage), lag-1 autocorrelation
  ``autocorrelation`` between values one hour apart. One series per kind
  for the whole grid: weather errors are shared across a feeder.

Generation of other kinds (hydro, biomass, gens) that no unit group
controls follows its profile (a schedule its operator knows). Forecasts do
not foresee events (load steps, trips). The forecast of an interval reaches
the area without a link: the service is outside the three tiers, like a
weather service.

Reference for the error model: the first-order autoregressive model, G. E.
P. Box, G. M. Jenkins, G. C. Reinsel, *Time Series Analysis*, 4th ed.,
Wiley, 2008, ch. 3 (autoregressive processes); its use for wind and load
forecast errors in reserve studies: R. Doherty, M. O'Malley, "A new approach
to quantify reserve demand in systems with significant installed wind
capacity", IEEE Trans. Power Systems 20(2), 2005.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hierarchy.messages import DAY_AHEAD, REAL_TIME, Forecast

__all__ = ["KINDS", "METHODS", "ForecastService", "ar1_relative_errors", "build_forecast"]

#: profile kinds a forecast method is chosen for
KINDS = ("load", "pv", "wind")
#: forecast methods
METHODS = ("persistence", "perfect", "noisy")
_STAGES = (REAL_TIME, DAY_AHEAD)
_MS_PER_HOUR = 3_600_000


def ar1_relative_errors(n: int, std_pu: float, autocorrelation: float,
                        rng: np.random.Generator) -> np.ndarray:
    """A stationary AR(1) series: ``e_k = ρ·e_(k−1) + √(1 − ρ²)·σ·ξ_k``, ``e_0 ~ N(0, σ²)``.

    Parameters
    ----------
    n : int
        Length.
    std_pu : float
        Standard deviation σ of every value [pu] (>= 0).
    autocorrelation : float
        Lag-1 autocorrelation ρ, ``0 <= ρ < 1``.
    rng : numpy.random.Generator
        Source of the standard normal ξ.

    Returns
    -------
    ndarray
        ``(n,)`` values, each N(0, σ²), with correlation ρ^j at lag j.

    Examples
    --------
    >>> e = ar1_relative_errors(200_000, 0.1, 0.8, np.random.default_rng(1))
    >>> round(float(e.std()), 2), round(float(np.corrcoef(e[:-1], e[1:])[0, 1]), 2)
    (0.1, 0.8)
    """
    if not 0.0 <= autocorrelation < 1.0:
        raise ValueError(f"autocorrelation must lie in [0, 1), got {autocorrelation}")
    shocks = rng.standard_normal(n) * std_pu
    if n == 0:
        return shocks
    from scipy.signal import lfilter

    shocks[1:] *= np.sqrt(1.0 - autocorrelation ** 2)
    return lfilter([1.0], [1.0, -autocorrelation], shocks)


@dataclass(frozen=True)
class _Column:
    """One forecast quantity: an area's share of a profile kind for one target."""

    area: int
    target: str  # a group id, "load" or "other_generation"
    kind: str  # load, pv, wind or other


class ForecastService:
    """Forecasts of every area's loads, renewable groups and other generation.

    Parameters
    ----------
    truth_mw : ndarray
        ``(n_steps, n_columns)`` profile values of the columns [MW]
        (consumption positive for load columns, generation positive else).
    columns : list of _Column
        What each column is.
    area_ids : list of str
        Area ids by index.
    methods : dict
        Kind -> ``(method, std_pu, day_ahead_std_pu, autocorrelation)``.
    step_ms : int
        Physics step [ms].
    seed : int
        The run's seed.
    """

    def __init__(self, truth_mw: np.ndarray, columns: list, area_ids: list[str], methods: dict,
                 step_ms: int, seed: int):
        self.truth_mw = np.asarray(truth_mw, dtype=float)
        self.columns = list(columns)
        self.area_ids = list(area_ids)
        self.methods = dict(methods)
        self.step_ms = int(step_ms)
        self.n_steps = self.truth_mw.shape[0]
        #: True when every kind is persistence: the areas bid from measurements
        self.persistence_only = all(m[0] == "persistence" for m in self.methods.values())
        kinds = [c.kind for c in self.columns]
        self._persistent = np.array([self._method(k) == "persistence" for k in kinds], dtype=bool)
        #: each column's kind as a position in KINDS (other kinds: len(KINDS), never noisy)
        self._kind_of = np.array([KINDS.index(k) if k in KINDS else len(KINDS) for k in kinds], dtype=int)
        self._factor = {stage: self._factors(stage, seed) for stage in _STAGES}
        # a column adds to its kind's whole-grid figure; flexible loads are in their area's load
        self._kind_mask = np.array([[c.kind == k and (k != "load" or c.target == "load") for k in KINDS]
                                    for c in self.columns], dtype=float).reshape(len(self.columns), len(KINDS))
        self._integrals: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def _method(self, kind: str) -> str:
        return self.methods[kind][0] if kind in self.methods else "perfect"

    def _factors(self, stage: str, seed: int) -> np.ndarray:
        """``(n_steps, len(KINDS) + 1)`` multipliers ``max(1 + ε, 0)`` of the truth per kind (1: exact)."""
        factor = np.ones((self.n_steps, len(KINDS) + 1))
        step_h = self.step_ms / _MS_PER_HOUR
        for k, kind in enumerate(KINDS):
            method, std_pu, day_ahead_std_pu, autocorrelation = self.methods.get(
                kind, ("perfect", 0.0, 0.0, 0.0))
            if method != "noisy":
                continue
            rng = np.random.default_rng([seed, 16, k, _STAGES.index(stage)])
            std = day_ahead_std_pu if stage == DAY_AHEAD else std_pu
            errors = ar1_relative_errors(self.n_steps, std, autocorrelation ** step_h, rng)
            factor[:, k] = np.maximum(1.0 + errors, 0.0)
        return factor

    # ------------------------------------------------------------ forecasts
    def values(self, start_ms: int, length_ms: int, issued_ms: int, stage: str) -> np.ndarray:
        """Forecast of every column over ``[start_ms, start_ms + length_ms)`` issued then [MW]."""
        mean = self._means(("columns", stage), np.array([start_ms]), length_ms)[0]
        if self._persistent.any():
            mean = np.where(self._persistent, self.truth_mw[self._last_step(issued_ms)], mean)
        return mean

    def actual(self, start_ms: int, length_ms: int) -> np.ndarray:
        """Mean of every column's profile over the interval [MW]."""
        return self._means(("columns", None), np.array([start_ms]), length_ms)[0]

    def for_area(self, area: int, start_ms: int, length_ms: int, issued_ms: int,
                 stage: str) -> Forecast:
        """The :class:`~hierarchy.messages.Forecast` of one area for one interval."""
        values = self.values(start_ms, length_ms, issued_ms, stage)
        groups: dict[str, float] = {}
        load_mw = other_mw = 0.0
        for column, value in zip(self.columns, values.tolist()):
            if column.area != area:
                continue
            if column.target == "load":
                load_mw += value
            elif column.target == "other_generation":
                other_mw += value
            else:
                groups[column.target] = groups.get(column.target, 0.0) + value
        return Forecast(self.area_ids[area], int(start_ms), int(length_ms), groups, load_mw, other_mw,
                        int(issued_ms), stage)

    def by_kind(self, starts_ms, length_ms: int, issued_ms, stage: str) -> tuple[np.ndarray, np.ndarray]:
        """Whole-grid forecast and actual per kind (:data:`KINDS`) [MW] of intervals of one length.

        ``starts_ms`` and ``issued_ms`` are arrays (one row per interval in
        the results, ``(n, len(KINDS))``) or numbers (one row, ``(len(KINDS),)``).
        """
        starts, issued = np.atleast_1d(starts_ms).astype(np.int64), np.atleast_1d(issued_ms).astype(np.int64)
        forecast = self._means(("kinds", stage), starts, length_ms)
        if self._persistent.any():
            persistent = self._kind_mask * self._persistent[:, None]
            forecast = forecast + self.truth_mw[self._last_step(issued)] @ persistent
        actual = self._means(("kinds", None), starts, length_ms)
        return (forecast, actual) if np.ndim(starts_ms) else (forecast[0], actual[0])

    def _last_step(self, issued_ms):
        """The last step that started before the issue time (persistence)."""
        return np.clip((np.asarray(issued_ms) - 1) // self.step_ms, 0, self.n_steps - 1)

    def _means(self, key: tuple, starts_ms: np.ndarray, length_ms: int) -> np.ndarray:
        """``(n, m)`` means of a series over ``[start, start + length)`` (within the run), from
        its running integral: exact for the step-wise profile, one lookup per interval."""
        running, series = self._integral(key)
        end_ms = self.n_steps * self.step_ms
        a = np.minimum(starts_ms, end_ms)
        b = np.minimum(starts_ms + length_ms, end_ms)

        def integral(t_ms):  # [MW·steps] up to t
            k = t_ms // self.step_ms
            return running[k] + series[k] * ((t_ms - k * self.step_ms) / self.step_ms)[:, None]

        span = (b - a) / self.step_ms
        inside = span > 0
        out = np.empty((starts_ms.size, series.shape[1]))
        out[inside] = (integral(b[inside]) - integral(a[inside])) / span[inside, None]
        out[~inside] = series[self.n_steps - 1]  # an interval after the run: its last value
        return out

    def _integral(self, key: tuple) -> tuple[np.ndarray, np.ndarray]:
        """Running integral ``(n_steps + 1, m)`` [MW·steps] and the series padded with a zero row,
        of the forecast (``key = (level, stage)``; stage None: the truth) per column or per kind
        (the kinds' non-persistent columns only), made once."""
        if key not in self._integrals:
            level, stage = key
            series = self.truth_mw if stage is None else self.truth_mw * self._factor[stage][:, self._kind_of]
            if level == "kinds":
                mask = self._kind_mask if stage is None else self._kind_mask * ~self._persistent[:, None]
                series = series @ mask
            padded = np.vstack([series, np.zeros((1, series.shape[1]))])
            running = np.zeros_like(padded)
            np.cumsum(series, axis=0, out=running[1:])
            self._integrals[key] = (running, padded)
        return self._integrals[key]


def build_forecast(rt, config) -> ForecastService:
    """The forecast service of a wired run (``config``: the scenario's ``forecast`` section)."""
    from hierarchy.plant.profiles import sgen_kinds

    net, profiles = rt.plant.net, rt.plant.profiles
    area_of_load = rt.export_matrices["load_area"]
    is_pv, is_wind = sgen_kinds(net.sgen["type"]) if len(net.sgen) else (np.zeros(0, bool),) * 2
    sgen_kind = np.where(is_pv, "pv", np.where(is_wind, "wind", "other"))
    columns: dict[_Column, int] = {}  # column -> its position
    parts: dict[str, list] = {"load": [], "sgen": [], "gen": []}  # (position, column)

    def column(area: int, target: str, kind: str) -> int:
        return columns.setdefault(_Column(int(area), target, kind), len(columns))

    for position, area in enumerate(area_of_load):
        parts["load"].append((position, column(area, "load", "load")))
    for group in rt.groups:
        if group.kind not in ("renewable", "flexible_load") or group.table not in ("sgen", "load"):
            continue
        for area, rows in group.by_area.items():
            for row in rows:
                position = int(group.positions[row])
                kind = "load" if group.table == "load" else sgen_kind[position]
                parts[group.table].append((position, column(area, group.id, kind)))
    for table, (positions, areas) in rt.uncontrolled_gen.items():
        for position, area in zip(positions.tolist(), areas.tolist()):
            kind = sgen_kind[position] if table == "sgen" else "other"
            parts[table].append((position, column(area, "other_generation", kind)))
    series = {"load": profiles.load_p_mw, "sgen": profiles.sgen_p_mw, "gen": profiles.gen_p_mw}
    truth = np.zeros((profiles.time_ms.size, len(columns)))
    for table, pairs in parts.items():
        if pairs:
            one_hot = np.zeros((series[table].shape[1], len(columns)))
            for position, col in pairs:
                one_hot[position, col] = 1.0
            truth += series[table] @ one_hot
    methods = {kind: (getattr(config, kind).method, getattr(config, kind).std_pu,
                      getattr(config, kind).day_ahead_std_pu, getattr(config, kind).autocorrelation)
               for kind in KINDS}
    return ForecastService(truth, list(columns), [a.id for a in rt.areas], methods, rt.step_ms,
                           rt.scenario.seed)
