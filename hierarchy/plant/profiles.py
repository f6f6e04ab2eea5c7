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

The synthetic shapes live in :mod:`hierarchy.plant.synthetic` (re-exported here).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime

import numpy as np
import pandas as pd
import pandapower

from hierarchy.plant.network import cache_dir, read_cache, write_cache
from hierarchy.plant.synthetic import (
    SYNTHETIC_LATITUDE_DEG, clear_sky_fraction, load_shape, sgen_kinds, synthetic_series,
    wind_capacity_factor)
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
    "hold_simbench_values",
    "simbench_absolute_values",
    "simbench_offset_ms",
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
    values = _SIMBENCH_CACHE.get(key)
    if values is None:
        file = cache_dir() / f"simbench-profiles-{simbench.__version__}-{key}.pkl"
        values = read_cache(file)  # (the key covers every input of the computation)
        if not isinstance(values, dict):
            values = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
            write_cache(file, values)
        if _SIMBENCH_CACHE_SIZE > 0:
            while len(_SIMBENCH_CACHE) >= _SIMBENCH_CACHE_SIZE:
                _SIMBENCH_CACHE.pop(next(iter(_SIMBENCH_CACHE)))
            _SIMBENCH_CACHE[key] = values
    return values


def hold_simbench_values(count: int) -> None:
    """How many nets' SimBench values :func:`simbench_absolute_values` keeps in memory.

    Repeated runs in one process (notebooks, tests, sweep workers) reuse
    them (default: 4 nets). A process that makes one run (``hiergrid run``)
    holds none: they are read from the on-disk cache once, and the run does
    not carry them (94 MB on SimBench ``1-MV-semiurb--0-sw``) to its end.

    Parameters
    ----------
    count : int
        Nets to keep, >= 0; the oldest ones beyond it are dropped now.
    """
    global _SIMBENCH_CACHE_SIZE
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count}")
    _SIMBENCH_CACHE_SIZE = int(count)
    while len(_SIMBENCH_CACHE) > _SIMBENCH_CACHE_SIZE:
        _SIMBENCH_CACHE.pop(next(iter(_SIMBENCH_CACHE)))


def simbench_offset_ms(start: datetime) -> int:
    """Where a run starting at ``start`` reads the SimBench year [ms after 2016-01-01]:
    the same calendar date and time of day in 2016."""
    return int((start.replace(year=SIMBENCH_YEAR) - datetime(SIMBENCH_YEAR, 1, 1))
               // pd.Timedelta(1, "ms"))


def _simbench_series(net: pandapower.pandapowerNet, start: datetime, step_ms: int,
                     n_steps: int) -> dict[tuple[str, str], np.ndarray]:
    absolute = simbench_absolute_values(net)
    offset_ms = simbench_offset_ms(start)
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
