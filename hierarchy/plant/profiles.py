"""Time series of element injections for a run: SimBench, CSV, synthetic, none.

All series are values for the pandapower ``p_mw`` / ``q_mvar`` columns, in
pandapower's signs: load consumption positive, sgen and gen generation
positive, storage charging positive. pandapower's ``scaling`` column still
applies on top of them in the power flow.

Resampling rule (SimBench and CSV): a source row holds the mean over the
interval that starts at its timestamp (zero-order hold). A run step at
least as long as the source step takes the mean over the step
[t, t + step), which preserves energy; a shorter step takes the linear
interpolation between the two source rows around its start time t.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np
import pandas as pd
import pandapower

from hierarchy.plant.network import rating_mva
from hierarchy.plant.topology import parse_element

__all__ = [
    "SIMBENCH_STEP_MS",
    "SIMBENCH_YEAR",
    "SYNTHETIC_LATITUDE_DEG",
    "Profiles",
    "build_profiles",
    "clear_sky_fraction",
    "load_shape",
    "read_csv_profiles",
    "resample",
    "sgen_kinds",
    "simbench_absolute_values",
    "synthetic_series",
    "wind_capacity_factor",
]

#: Year of the SimBench profiles (a leap year: 366 days of 96 rows, 35,136 rows).
SIMBENCH_YEAR: int = 2016
#: Step of the SimBench profiles [ms] (15 min).
SIMBENCH_STEP_MS: int = 15 * 60_000
#: Series of a run: (table, column) in the order of the Profiles fields.
SERIES: tuple[tuple[str, str], ...] = (
    ("load", "p_mw"), ("load", "q_mvar"), ("sgen", "p_mw"), ("storage", "p_mw"), ("gen", "p_mw"))
_CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "load": ("p_mw", "q_mvar"), "sgen": ("p_mw",), "storage": ("p_mw",), "gen": ("p_mw",)}
_SIMBENCH_CACHE: dict[str, dict[tuple[str, str], pd.DataFrame]] = {}
_SIMBENCH_CACHE_SIZE = 4


@dataclass
class Profiles:
    """Injections per run step, each array (n_steps, n_elements), table row order.

    Attributes
    ----------
    time_ms : numpy.ndarray
        (n_steps,) int64 start of each step [ms] since the run start.
    load_p_mw, load_q_mvar : numpy.ndarray
        Load active [MW] and reactive [Mvar] power, consumption positive.
    sgen_p_mw : numpy.ndarray
        Static generator active power [MW], generation positive.
    storage_p_mw : numpy.ndarray
        Storage active power [MW], charging positive (pandapower sign).
    gen_p_mw : numpy.ndarray
        Generator active power [MW], generation positive.

    Examples
    --------
    >>> import numpy as np
    >>> p = Profiles(np.arange(2) * 900_000, *(np.zeros((2, 1)) for _ in range(5)))
    >>> p.load_p_mw.shape, p.load_p_mw.flags.c_contiguous
    ((2, 1), True)
    """

    time_ms: np.ndarray
    load_p_mw: np.ndarray
    load_q_mvar: np.ndarray
    sgen_p_mw: np.ndarray
    storage_p_mw: np.ndarray
    gen_p_mw: np.ndarray

    def __post_init__(self) -> None:
        self.time_ms = np.ascontiguousarray(self.time_ms, dtype=np.int64)
        if self.time_ms.ndim != 1:
            raise ValueError("Profiles.time_ms must be one-dimensional")
        for field in fields(self)[1:]:
            array = np.ascontiguousarray(getattr(self, field.name), dtype=np.float64)
            if array.ndim != 2 or array.shape[0] != self.time_ms.shape[0]:
                raise ValueError(
                    f"Profiles.{field.name} must be (n_steps={self.time_ms.shape[0]}, n_elements), "
                    f"got {array.shape}")
            setattr(self, field.name, array)


def build_profiles(net: pandapower.pandapowerNet, source: str, start: datetime, step_ms: int,
                   n_steps: int, seed: int, path: str | None = None) -> Profiles:
    """Injection profiles of every load, sgen, storage and gen for a run.

    Parameters
    ----------
    net : pandapower.pandapowerNet
    source : {"simbench", "synthetic", "csv", "none"}
        ``simbench``: the grid's own 2016 profiles (a run in another year
        reads 2016 at the same calendar date and time of day, i.e. by
        day-of-year in the 2016 calendar; a run past 31 Dec wraps to
        1 Jan). ``synthetic``: seeded shapes (:func:`synthetic_series`).
        ``csv``: the file at ``path`` (:func:`read_csv_profiles`). ``none``:
        the table values held constant.
    start : datetime.datetime
        Run start (naive local time; a tzinfo is dropped).
    step_ms : int
        Run step [ms], > 0.
    n_steps : int
        Number of steps, >= 1.
    seed : int
        Seed of the synthetic source.
    path : str, optional
        CSV file (source ``csv``).

    Returns
    -------
    Profiles
        Elements without a series in the source keep their table value.

    Raises
    ------
    ValueError
        Unknown source, bad step or length, a net without SimBench
        profiles, a CSV error (see :func:`read_csv_profiles`).
    """
    if int(step_ms) != step_ms or step_ms <= 0 or int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"time: step_ms={step_ms} and n_steps={n_steps} must be positive integers")
    step_ms, n_steps = int(step_ms), int(n_steps)
    start = start.replace(tzinfo=None)
    series = {key: _constant(net, key, n_steps) for key in SERIES}
    if source == "simbench":
        series.update(_simbench_series(net, start, step_ms, n_steps))
    elif source == "synthetic":
        series.update(synthetic_series(net, start, step_ms, n_steps, seed))
    elif source == "csv":
        if path is None:
            raise ValueError("profiles.path: a CSV path is required for source 'csv'")
        series.update(read_csv_profiles(net, path, start, step_ms, n_steps))
    elif source != "none":
        raise ValueError(
            f"profiles.source: unknown source {source!r}; valid: 'simbench', 'synthetic', 'csv', 'none'")
    time_ms = np.arange(n_steps, dtype=np.int64) * step_ms
    return Profiles(time_ms, *(series[key] for key in SERIES))


def _constant(net: pandapower.pandapowerNet, key: tuple[str, str], n_steps: int) -> np.ndarray:
    table, column = key
    frame = net[table] if table in net else pd.DataFrame()
    values = frame[column].to_numpy(float) if column in frame else np.zeros(len(frame))
    return np.tile(np.nan_to_num(values), (n_steps, 1))


def resample(values: np.ndarray, source_step_ms: int, offset_ms: int, step_ms: int,
             n_steps: int, wrap: bool) -> np.ndarray:
    """Resample rows of a regular series to the run steps (rule in the module doc).

    Parameters
    ----------
    values : numpy.ndarray
        (n_rows, n_columns) source rows, row i at ``i * source_step_ms``.
    source_step_ms : int
        Source step [ms].
    offset_ms : int
        Run start [ms] after the time of row 0, >= 0.
    step_ms, n_steps : int
        Run step [ms] and number of steps.
    wrap : bool
        True: the series repeats after its last row (a year of profiles);
        False: a run past the last row is an error.

    Returns
    -------
    numpy.ndarray
        (n_steps, n_columns) float64.

    Raises
    ------
    ValueError
        ``wrap`` is False and the series is too short for the run.

    Examples
    --------
    >>> resample(np.array([[1.0], [3.0], [5.0], [7.0]]), 900_000, 0, 1_800_000, 2, False)[:, 0]
    array([2., 6.])
    """
    values = np.asarray(values, dtype=np.float64)
    n_rows = values.shape[0]
    span_ms = n_rows * source_step_ms
    if step_ms >= source_step_ms:
        end_ms = offset_ms + n_steps * step_ms
        if not wrap and end_ms > span_ms:
            raise ValueError(f"series of {n_rows} rows is too short for the run: it ends "
                             f"{(end_ms - span_ms) / 60_000:g} min before the run does")
        if offset_ms % source_step_ms == 0 and step_ms % source_step_ms == 0:
            per_step = step_ms // source_step_ms
            rows = (offset_ms // source_step_ms + np.arange(n_steps * per_step)) % n_rows
            return values[rows].reshape(n_steps, per_step, -1).mean(axis=1)
        cumulative = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
        edges_ms = offset_ms + np.arange(n_steps + 1, dtype=np.int64) * step_ms
        laps, within_ms = np.divmod(edges_ms, span_ms)
        rows, rest_ms = np.divmod(within_ms, source_step_ms)
        integral = (laps[:, None] * cumulative[-1] + cumulative[rows]
                    + (rest_ms / source_step_ms)[:, None] * values[np.minimum(rows, n_rows - 1)])
        return np.diff(integral, axis=0) / (step_ms / source_step_ms)
    times_ms = offset_ms + np.arange(n_steps, dtype=np.int64) * step_ms
    rows, rest_ms = np.divmod(times_ms, source_step_ms)
    needs_next = rows + (rest_ms > 0)
    if not wrap and needs_next.max() > n_rows - 1:
        raise ValueError(f"series of {n_rows} rows is too short for the run")
    fraction = (rest_ms / source_step_ms)[:, None]
    return (1.0 - fraction) * values[rows % n_rows] + fraction * values[(rows + 1) % n_rows]


def _fingerprint(net: pandapower.pandapowerNet) -> str:
    digest = hashlib.sha1()
    for table in ("load", "sgen", "gen", "storage"):
        frame = net[table]
        for column in ("profile", "p_mw", "q_mvar"):
            if column in frame:
                digest.update(pd.util.hash_pandas_object(frame[column], index=True).to_numpy())
    for name, frame in sorted(net.profiles.items()):
        digest.update(name.encode())
        if len(frame):
            digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy())
    return digest.hexdigest()


def simbench_absolute_values(net: pandapower.pandapowerNet) -> dict[tuple[str, str], pd.DataFrame]:
    """``simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)``, cached.

    The cache key is a digest of the element tables' ``profile``, ``p_mw``,
    ``q_mvar`` and of ``net.profiles``, so an edited net is never served
    stale values. Do not modify the returned frames.

    Raises
    ------
    ValueError
        The net has no SimBench profiles.
    """
    import simbench

    if not isinstance(net.get("profiles"), dict) or not len(net.profiles.get("load", ())):
        raise ValueError("profiles.source: 'simbench' needs a SimBench grid (net.profiles is missing)")
    key = _fingerprint(net)
    if key not in _SIMBENCH_CACHE:
        if len(_SIMBENCH_CACHE) >= _SIMBENCH_CACHE_SIZE:
            _SIMBENCH_CACHE.pop(next(iter(_SIMBENCH_CACHE)))
        _SIMBENCH_CACHE[key] = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
    return _SIMBENCH_CACHE[key]


def _simbench_series(net: pandapower.pandapowerNet, start: datetime, step_ms: int,
                     n_steps: int) -> dict[tuple[str, str], np.ndarray]:
    absolute = simbench_absolute_values(net)
    offset_ms = (start.replace(year=SIMBENCH_YEAR) - datetime(SIMBENCH_YEAR, 1, 1)) // pd.Timedelta(1, "ms")
    out = {}
    for key in SERIES:
        frame = absolute.get(key)
        table_index = net[key[0]].index
        if frame is None or frame.shape[0] == 0 or len(table_index) == 0:
            continue
        values = frame.reindex(columns=table_index).to_numpy(float)
        resampled = resample(values, SIMBENCH_STEP_MS, int(offset_ms), step_ms, n_steps, wrap=True)
        constant = _constant(net, key, n_steps)
        out[key] = np.where(np.isnan(resampled), constant, resampled)
    return out


def read_csv_profiles(net: pandapower.pandapowerNet, path: str, start: datetime, step_ms: int,
                      n_steps: int) -> dict[tuple[str, str], np.ndarray]:
    """Series from a CSV file, resampled to the run steps.

    Format: a ``time`` column -- datetimes (``2016-06-01 00:15``) or offsets
    from the run start (``0min``, ``15min``), evenly spaced -- and one
    column per series named after the element, ``load/3`` (its ``p_mw``)
    or ``load/3:q_mvar``; absolute values [MW, Mvar], pandapower signs.
    Series not in the file keep their table value. No wrap-around.

    Raises
    ------
    ValueError
        Naming the column or row: no ``time`` column, unparsable or unevenly
        spaced times, an unknown column or element, a non-numeric or missing
        value, a file that starts after or ends before the run.
    """
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"profiles.path: cannot read CSV {path!r}: {err}") from err
    if "time" not in frame.columns:
        raise ValueError(f"profiles csv {path!r}: no 'time' column; columns: {list(frame.columns)}")
    first_ms, source_step_ms = _csv_time(frame["time"], start)
    if first_ms > 0:
        raise ValueError(f"profiles csv, column 'time': the file starts {first_ms / 60_000:g} min "
                         "after the run start")
    out: dict[tuple[str, str], np.ndarray] = {}
    for column in frame.columns.drop("time"):
        table, index, quantity = _csv_target(net, column)
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(f"profiles csv, column {column!r}, row {bad[0]}: "
                             f"value {frame[column].iloc[bad[0]]!r} is not a number")
        try:
            series = resample(values[:, None], source_step_ms, -first_ms, step_ms, n_steps, wrap=False)
        except ValueError as err:
            raise ValueError(f"profiles csv, column {column!r}: {err}") from err
        target = out.setdefault((table, quantity), _constant(net, (table, quantity), n_steps))
        target[:, net[table].index.get_loc(index)] = series[:, 0]
    return out


def _csv_time(column: pd.Series, start: datetime) -> tuple[int, int]:
    """(first row's time after the run start [ms], step [ms]) of a CSV time column."""
    if pd.api.types.is_numeric_dtype(column) or column.isna().any():
        raise ValueError("profiles csv, column 'time': every row needs a datetime "
                         "('2016-06-01 00:15') or an offset with a unit ('15min')")
    text = column.astype(str).str.strip()
    try:
        offsets_ms = pd.to_timedelta(text) // pd.Timedelta(1, "ms")
    except ValueError:
        try:
            times = pd.to_datetime(text)
        except (ValueError, TypeError) as err:
            raise ValueError(f"profiles csv, column 'time': cannot parse times: {err}") from err
        offsets_ms = (times - pd.Timestamp(start)) // pd.Timedelta(1, "ms")
    offsets_ms = offsets_ms.to_numpy(np.int64)
    if offsets_ms.size < 2:
        raise ValueError("profiles csv, column 'time': at least two rows are needed")
    steps_ms = np.diff(offsets_ms)
    bad = np.flatnonzero(steps_ms != steps_ms[0])
    if steps_ms[0] <= 0 or bad.size:
        row = int(bad[0]) + 1 if bad.size else 1
        raise ValueError(f"profiles csv, column 'time', row {row}: time {column.iloc[row]!r} breaks "
                         f"the even spacing of {steps_ms[0] / 60_000:g} min (gap or disorder)")
    return int(offsets_ms[0]), int(steps_ms[0])


def _csv_target(net: pandapower.pandapowerNet, column: str) -> tuple[str, int, str]:
    """(table, index, quantity) named by a CSV column ``table/index[:quantity]``."""
    element, _, quantity = str(column).partition(":")
    quantity = quantity or "p_mw"
    try:
        table, index = parse_element(element)
    except ValueError as err:
        raise ValueError(f"profiles csv, column {column!r}: {err}") from err
    if quantity not in _CSV_COLUMNS.get(table, ()):
        valid = [f"{t}/N:{q}" for t, qs in _CSV_COLUMNS.items() for q in qs]
        raise ValueError(f"profiles csv, column {column!r}: no series of that kind; valid: {valid}")
    if table not in net or index not in net[table].index:
        raise ValueError(f"profiles csv, column {column!r}: element {element} is not in the grid")
    return table, index, quantity


# --- synthetic source -------------------------------------------------------

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
