"""Elements added to a network from the scenario, and their injection series.

The scenario's ``add`` section (:mod:`hierarchy.scenario.additions`) creates
elements with pandapower's own create functions (``pandapower.create_sgen``,
``create_storage``, ``create_gen``, ``create_load``), so that every column
gets pandapower's defaults and dtypes. The series of an added element is
computed here and appended to the run's :class:`~hierarchy.plant.profiles.Profiles`
(added rows come last in their table, as pandapower appends them):

* ``constant``: the element's ``p_mw`` (and ``q_mvar``) at every step;
* a CSV column [MW, pandapower's sign] times a scale, resampled like
  ``profiles.path`` (the rule of :mod:`hierarchy.plant.profiles`);
* a SimBench profile by name: its relative values times the element's
  ``p_mw`` (loads: ``<name>_pload`` × ``p_mw`` and ``<name>_qload`` ×
  ``q_mvar``), as :func:`simbench.get_absolute_values` scales SimBench's own
  elements;
* a copy of another element's series times a scale (active power; a load
  copied onto a load brings its reactive power too).

Errors are ``ValueError`` whose message starts with the key they concern
(``columns.max_e_mwh: ...``, ``profile.simbench: ...``), for the builder to
report at ``add[i].<key>``.
"""
from __future__ import annotations

import difflib
import inspect
import math
from dataclasses import replace
from datetime import datetime

import numpy as np
import pandapower
import pandas as pd

from hierarchy.plant.network import rating_mva
from hierarchy.plant.profiles import (
    SIMBENCH_STEP_MS,
    Profiles,
    _csv_time,
    resample,
    simbench_offset_ms,
)

__all__ = ["create_elements", "column_names", "constant_series", "csv_series", "simbench_series",
           "copy_series", "extend_profiles", "fill_added_ratings"]

#: pandapower's create function of each table elements can be added to
CREATE = {"sgen": pandapower.create_sgen, "storage": pandapower.create_storage,
          "gen": pandapower.create_gen, "load": pandapower.create_load}
#: the Profiles attributes of each table: (active, reactive or None)
_SERIES = {"load": ("load_p_mw", "load_q_mvar"), "sgen": ("sgen_p_mw", None),
           "storage": ("storage_p_mw", None), "gen": ("gen_p_mw", None)}
#: columns with bounds pandapower does not check: (lowest, highest, strict lower bound)
_BOUNDS = {"sn_mva": (0.0, math.inf, True), "max_e_mwh": (0.0, math.inf, True),
           "min_e_mwh": (0.0, math.inf, False), "soc_percent": (0.0, 100.0, False),
           "scaling": (0.0, math.inf, False), "vm_pu": (0.0, math.inf, True)}
#: parameters of the create functions that are not columns one sets
_NOT_COLUMNS = ("net", "bus", "name", "index", "kwargs", "id_q_capability_characteristic",
                "curve_style", "generator_type")


def column_names(net: pandapower.pandapowerNet, table: str) -> list[str]:
    """Columns ``add[].columns`` may set in ``table``: parameters of pandapower's
    create function and the columns the grid's table already has (SimBench's
    ``subnet``, ``voltLvl`` ...), less ``bus``, ``name``, ``index`` and ``profile``."""
    params = [name for name in inspect.signature(CREATE[table]).parameters
              if name not in _NOT_COLUMNS]
    extra = [str(c) for c in net[table].columns if str(c) not in params
             and str(c) not in ("bus", "name", "profile")]
    return params + extra


def _check_columns(net: pandapower.pandapowerNet, table: str, columns: dict) -> dict:
    """``columns`` checked against the table and its create function; storage p_mw 0 by default."""
    valid = column_names(net, table)
    signature = inspect.signature(CREATE[table]).parameters
    for key, value in columns.items():
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise ValueError(f"columns.{key}: not a column of {table}; {hint}valid: {', '.join(valid)}")
        default = signature[key].default if key in signature else None
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"columns.{key}: expected true or false; got {value!r}")
        numeric = (isinstance(default, (int, float)) and not isinstance(default, bool)) or (
            key in net[table] and pd.api.types.is_numeric_dtype(net[table][key])
            and not pd.api.types.is_bool_dtype(net[table][key]))
        if numeric and (isinstance(value, (bool, str))):
            raise ValueError(f"columns.{key}: expected a number; got {value!r}")
        if key in _BOUNDS and isinstance(value, (int, float)):
            low, high, strict = _BOUNDS[key]
            if value < low or (strict and value == low) or value > high:
                words = f"greater than {low:g}" if strict else f"at least {low:g}"
                words += f" and at most {high:g}" if math.isfinite(high) else ""
                raise ValueError(f"columns.{key}: must be {words}; got {value!r}")
    filled = {"p_mw": 0.0, **columns} if table == "storage" else dict(columns)
    for name, parameter in signature.items():
        if name not in _NOT_COLUMNS and parameter.default is inspect.Parameter.empty \
                and name not in filled:
            raise ValueError(f"columns.{name}: required for a {table} "
                             f"(pandapower.create_{table})")
    if table == "storage" and filled.get("min_e_mwh", 0.0) > filled["max_e_mwh"]:
        raise ValueError(f"columns.min_e_mwh: {filled['min_e_mwh']!r} is above max_e_mwh "
                         f"{filled['max_e_mwh']!r}")
    return filled


def create_elements(net: pandapower.pandapowerNet, table: str, buses: list[int], name: str,
                    columns: dict) -> np.ndarray:
    """Create one element of ``table`` per bus with pandapower's create function.

    Parameters
    ----------
    net : pandapower.pandapowerNet
        Edited in place.
    table : {"sgen", "storage", "gen", "load"}
    buses : list of int
        Bus indices (``net.bus.index``), one element each, in this order.
    name : str
        The elements' ``name`` column.
    columns : dict
        Column values, pandapower's units and signs (``p_mw``, ``sn_mva``,
        ``max_e_mwh`` ...); a storage's ``p_mw`` defaults to 0.

    Returns
    -------
    numpy.ndarray
        Positions of the new rows in ``net[table]`` (they come last).

    Raises
    ------
    ValueError
        ``columns.<key>: ...`` for an unknown column, a value of the wrong
        type or out of bounds, a required column missing.
    """
    values = _check_columns(net, table, columns)
    first = len(net[table])
    for bus in buses:
        CREATE[table](net, bus=int(bus), name=name, **values)
    return np.arange(first, len(net[table]))


# ---------------------------------------------------------------- series
def constant_series(net: pandapower.pandapowerNet, table: str, positions: np.ndarray,
                    n_steps: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The ``p_mw`` (and a load's ``q_mvar``) of each element at every step [MW, Mvar]."""
    frame = net[table].iloc[positions]
    p_mw = np.tile(np.nan_to_num(frame["p_mw"].to_numpy(float)), (n_steps, 1))
    if table != "load":
        return p_mw, None
    return p_mw, np.tile(np.nan_to_num(frame["q_mvar"].to_numpy(float)), (n_steps, 1))


def csv_series(path: str, column: str, start: datetime, step_ms: int, n_steps: int) -> np.ndarray:
    """One CSV column resampled to the run steps, ``(n_steps,)`` [its unit].

    Raises
    ------
    ValueError
        ``profile.csv: ...`` (unreadable file, bad ``time`` column, a file too
        short for the run) or ``profile.column: ...`` (no such column, a value
        that is not a number).
    """
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ValueError(f"profile.csv: cannot read CSV {path!r}: {err}") from err
    if "time" not in frame.columns:
        raise ValueError(f"profile.csv: {path!r} has no 'time' column; columns: {list(frame.columns)}")
    if column not in frame.columns or column == "time":
        names = [c for c in frame.columns if c != "time"]
        raise ValueError(f"profile.column: no column {column!r} in {path!r}; columns: {names}")
    try:
        first_ms, source_step_ms = _csv_time(frame["time"], start)
    except ValueError as err:
        raise ValueError(f"profile.csv: {err}") from err
    if first_ms > 0:
        raise ValueError(f"profile.csv: the file starts {first_ms / 60_000:g} min after the run start")
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"profile.column: row {bad[0]} of {column!r} holds "
                         f"{frame[column].iloc[bad[0]]!r}, not a number")
    try:
        return resample(values[:, None], source_step_ms, -first_ms, step_ms, n_steps, wrap=False)[:, 0]
    except ValueError as err:
        raise ValueError(f"profile.csv: column {column!r}: {err}") from err


def _relative_profiles(net: pandapower.pandapowerNet, table: str) -> pd.DataFrame:
    """SimBench's relative profiles for ``table`` (``net.profiles``), a column per profile."""
    profiles = net.get("profiles")
    if not isinstance(profiles, dict) or not len(profiles.get("load", ())):
        raise ValueError("profile.simbench: the grid has no SimBench profiles (net.profiles): use "
                         "grid.source simbench or a file saved from a SimBench net")
    if table in ("sgen", "gen"):
        parts = [profiles[key] for key in ("renewables", "powerplants") if key in profiles]
        return pd.concat([part.drop(columns="time", errors="ignore") for part in parts], axis=1)
    return profiles.get(table, pd.DataFrame()).drop(columns="time", errors="ignore")


def simbench_series(net: pandapower.pandapowerNet, table: str, profile: str,
                    positions: np.ndarray, start: datetime, step_ms: int,
                    n_steps: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A SimBench profile times each element's ``p_mw`` (loads also ``q_mvar``) [MW, Mvar].

    Read at the run's calendar date and time in SimBench's year (2016), 15-min
    rows resampled to the run steps, wrapping after 31 December.
    """
    relative = _relative_profiles(net, table)
    suffixes = ("_pload", "_qload") if table == "load" else ("", None)
    if profile + suffixes[0] not in relative.columns:
        names = sorted({c.removesuffix("_pload").removesuffix("_qload") for c in relative.columns})
        close = difflib.get_close_matches(profile, names, n=5, cutoff=0.5)
        raise ValueError(f"profile.simbench: no {table} profile {profile!r} in this grid; "
                         f"close matches: {close or 'none'}; profiles: {', '.join(names[:30])}"
                         f"{' ...' if len(names) > 30 else ''}")
    frame = net[table].iloc[positions]
    offset_ms = simbench_offset_ms(start)
    out = []
    for suffix, column in zip(suffixes, ("p_mw", "q_mvar")):
        if suffix is None:
            out.append(None)
            continue
        rows = relative[profile + suffix].to_numpy(float)[:, None]
        pu = resample(rows, SIMBENCH_STEP_MS, offset_ms, step_ms, n_steps, wrap=True)
        out.append(pu * np.nan_to_num(frame[column].to_numpy(float))[None, :])
    return out[0], out[1]


def copy_series(profiles: Profiles, net: pandapower.pandapowerNet, source: tuple[str, int],
                table: str, n_elements: int, scale: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The series of element ``source`` (table, index) times ``scale``, once per element.

    Raises
    ------
    ValueError
        ``profile.copy: ...`` when the element is not in the grid.
    """
    source_table, index = source
    if index not in net[source_table].index:
        raise ValueError(f"profile.copy: {source_table}/{index} is not in the grid")
    position = int(net[source_table].index.get_loc(index))
    p_name, q_name = _SERIES[source_table]
    if position >= getattr(profiles, p_name).shape[1]:
        raise ValueError(f"profile.copy: {source_table}/{index} is added by this entry; copy an "
                         "element of the grid or one added before")
    p_mw = np.repeat(scale * getattr(profiles, p_name)[:, position:position + 1], n_elements, axis=1)
    if table != "load":
        return p_mw, None
    if q_name is None:  # a load copying a generator: its reactive power stays constant
        return p_mw, None
    return p_mw, np.repeat(scale * getattr(profiles, q_name)[:, position:position + 1],
                           n_elements, axis=1)


def extend_profiles(profiles: Profiles, table: str, p_mw: np.ndarray,
                    q_mvar: np.ndarray | None = None) -> Profiles:
    """``profiles`` with the series of elements appended to ``table``, ``(n_steps, k)``."""
    p_name, q_name = _SERIES[table]
    changes = {p_name: np.hstack([getattr(profiles, p_name), p_mw])}
    if q_name is not None:
        q = q_mvar if q_mvar is not None else np.zeros_like(p_mw)
        changes[q_name] = np.hstack([getattr(profiles, q_name), q])
    return replace(profiles, **changes)


def fill_added_ratings(net: pandapower.pandapowerNet, table: str, positions: np.ndarray,
                       p_mw: np.ndarray) -> None:
    """Give added elements without ``sn_mva`` a rating, by the rule of
    :func:`~hierarchy.plant.network.rating_mva` with their series' peak |P|."""
    frame = net[table].iloc[positions]
    peak = pd.Series(np.abs(p_mw).max(axis=0) if p_mw.size else 0.0, index=frame.index)
    column = net[table].columns.get_loc("sn_mva")
    net[table].iloc[positions, column] = rating_mva(frame, peak)
