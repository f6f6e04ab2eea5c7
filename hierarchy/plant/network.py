"""Load a pandapower network: built-in, SimBench, or a pandapower JSON file.

Every net that :func:`load_net` returns has been normalised the same way:

* numeric columns stored with ``object`` dtype (SimBench ships many, e.g.
  ``sgen.min_p_mw``, ``load.max_q_mvar``, ``ext_grid.sn_mva``) are cast to
  numbers, since they break lightsim2grid's converter (see DESIGN.md,
  "Known pitfalls");
* every ``load``, ``sgen``, ``storage`` and ``gen`` row has a finite rating
  ``sn_mva`` [MVA] (rule in :func:`fill_ratings`).

This module, like the rest of ``hierarchy.plant``, is the only place that
imports pandapower and simbench.
"""
from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import inspect
import numbers
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandapower
import pandapower.networks

__all__ = [
    "RATED_TABLES",
    "cast_numeric_columns",
    "element_names",
    "fill_ratings",
    "load_net",
    "network_function_names",
    "rating_mva",
]

#: Element tables that must carry a finite rating ``sn_mva`` [MVA].
RATED_TABLES: tuple[str, ...] = ("load", "sgen", "storage", "gen")

#: Column-name endings (pandapower's unit suffixes) that mark a numeric column.
_NUMERIC_SUFFIXES: tuple[str, ...] = (
    "_mw", "_mvar", "_mva", "_mwh", "_pu", "_kv", "_ka", "_ohm", "_percent",
    "_degree", "_km", "_per_km", "_per_day", "_hz", "_s",
)
#: Numeric columns whose names carry no unit suffix.
_NUMERIC_NAMES: frozenset[str] = frozenset(
    {"slack_weight", "scaling", "parallel", "df", "autoTapSetp", "tap_pos", "voltLvl"}
)
#: Public callables of ``pandapower.networks`` that do not build a network.
_NOT_NETWORKS: frozenset[str] = frozenset({"sorted_from_json"})


def network_function_names() -> list[str]:
    """Names of the network-building functions of ``pandapower.networks``.

    Returns
    -------
    list of str
        Sorted public function names defined in a ``pandapower.networks``
        sub-module (``create_cigre_network_mv``, ``case14``, ``mv_oberrhein``
        ...), without helpers re-exported there (``create_bus``, ``runpp``).
    """
    names = []
    for name, obj in vars(pandapower.networks).items():
        module = getattr(obj, "__module__", "") or ""
        if (inspect.isfunction(obj) and not name.startswith("_")
                and module.startswith("pandapower.networks.")
                and name not in _NOT_NETWORKS):
            names.append(name)
    return sorted(names)


def load_net(
    source: str,
    *,
    code: str | None = None,
    name: str | None = None,
    options: Mapping | None = None,
    path: str | os.PathLike | None = None,
) -> pandapower.pandapowerNet:
    """Load and normalise a network.

    Parameters
    ----------
    source : {"pandapower", "simbench", "file"}
        ``pandapower``: ``getattr(pandapower.networks, name)(**options)``;
        ``simbench``: ``simbench.get_simbench_net(code)`` with its profiles
        (cached in-process, each call returns an independent deep copy);
        ``file``: ``pandapower.from_json(path)``.
    code : str, optional
        SimBench code, e.g. ``"1-MV-semiurb--0-sw"`` (source ``simbench``).
    name : str, optional
        Function of ``pandapower.networks`` (source ``pandapower``).
    options : Mapping, optional
        Keyword arguments of that function (source ``pandapower``).
    path : str or os.PathLike, optional
        pandapower JSON file (source ``file``).

    Returns
    -------
    pandapower.pandapowerNet
        The net, with numeric columns cast (:func:`cast_numeric_columns`)
        and ratings filled (:func:`fill_ratings`).

    Raises
    ------
    ValueError
        Unknown source, missing argument, unknown network name or SimBench
        code (with close matches), bad options, unreadable file.

    References
    ----------
    Meinecke et al., "SimBench -- A Benchmark Dataset of Electric Power
    Systems to Compare Innovative Solutions Based on Power Flow Analysis",
    Energies 13(12), 3290, 2020. doi:10.3390/en13123290
    """
    if source == "pandapower":
        net = _load_pandapower(name, options or {})
    elif source == "simbench":
        if not code:
            raise ValueError("grid.code: a SimBench code is required for source 'simbench'")
        return copy.deepcopy(_load_simbench_cached(code))
    elif source == "file":
        net = _load_file(path)
    else:
        raise ValueError(
            f"grid.source: unknown source {source!r}; valid: 'pandapower', 'simbench', 'file'")
    cast_numeric_columns(net)
    fill_ratings(net)
    return net


def _load_pandapower(name: str | None, options: Mapping) -> pandapower.pandapowerNet:
    valid = network_function_names()
    if name not in valid:
        close = difflib.get_close_matches(str(name), valid, n=5, cutoff=0.5)
        raise ValueError(
            f"grid.name: {name!r} is not a pandapower.networks network function; "
            f"close matches: {close or 'none'}")
    try:
        return getattr(pandapower.networks, name)(**dict(options))
    except (TypeError, ValueError, KeyError) as err:  # the name is checked: the options are wrong
        raise ValueError(f"grid.options: invalid options for pandapower.networks.{name}: {err}") from err


def cache_dir() -> Path:
    """Folder of hiergrid's on-disk cache: ``$HIERGRID_CACHE`` or ``~/.cache/hiergrid``."""
    return Path(os.environ.get("HIERGRID_CACHE", Path.home() / ".cache" / "hiergrid"))


@functools.lru_cache(maxsize=4)
def _load_simbench_cached(code: str) -> pandapower.pandapowerNet:
    """SimBench net for ``code``, normalised; shared, never hand it out uncopied.

    ``simbench.get_simbench_net`` parses CSV files for seconds; the
    normalised net is kept as a pickle in :func:`cache_dir`, keyed by the
    code and the simbench and pandapower versions, and written atomically.
    """
    import simbench  # imported here: it takes a while and only this source needs it

    file = cache_dir() / (f"simbench-{simbench.__version__}-pp{pandapower.__version__}-"
                          f"{code}.pickle")
    net = read_cache(file)
    if net is not None:
        return net
    net = _load_simbench(code)
    write_cache(file, net)
    return net


def _load_simbench(code: str) -> pandapower.pandapowerNet:
    import simbench

    codes = simbench.collect_all_simbench_codes()
    if code not in codes:
        close = difflib.get_close_matches(code, codes, n=5, cutoff=0.6)
        raise ValueError(f"grid.code: unknown SimBench code {code!r}; close matches: {close or 'none'}")
    net = simbench.get_simbench_net(code)
    cast_numeric_columns(net)
    fill_ratings(net, profile_peaks_mw=_simbench_profile_peaks(net))
    return net


def _simbench_profile_peaks(net: pandapower.pandapowerNet) -> dict[str, pd.Series]:
    """Peak |P| [MW] of each element over the SimBench year, per table."""
    from hierarchy.plant.profiles import simbench_absolute_values

    absolute = simbench_absolute_values(net)
    return {table: frame.abs().max(axis=0) for (table, column), frame in absolute.items()
            if column == "p_mw" and frame.shape[1] > 0}


def _load_file(path: str | os.PathLike | None) -> pandapower.pandapowerNet:
    if path is None:
        raise ValueError("grid.path: a pandapower JSON path is required for source 'file'")
    if not os.path.isfile(path):
        raise ValueError(f"grid.path: no such file {os.fspath(path)!r}")
    with open(path, "rb") as handle:
        content = handle.read()
    # parsing a large JSON net takes most of a second; the parsed net is kept
    # as a pickle keyed by the file's content and the pandapower version
    cached = cache_dir() / (f"file-{hashlib.sha256(content).hexdigest()[:24]}-"
                            f"pp{pandapower.__version__}.pickle")
    net = read_cache(cached)
    if net is not None:
        return net
    try:
        net = pandapower.from_json(os.fspath(path))
    except Exception as err:  # noqa: BLE001 - any file: pandapower raises UserWarning, AttributeError ...
        raise ValueError(f"grid.path: {os.fspath(path)!r} is not a pandapower JSON net: {err}") from err
    if not isinstance(net, pandapower.pandapowerNet) or "bus" not in net or net.bus.empty:
        raise ValueError(f"grid.path: {os.fspath(path)!r} is not a pandapower JSON net with buses")
    write_cache(cached, net)
    return net


def read_cache(file: Path) -> Any:
    """What is pickled in ``file`` (a net, profile values), or None (missing,
    unreadable, or from other versions)."""
    try:
        with open(file, "rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None


def write_cache(file: Path, net: Any) -> None:
    """Pickle ``net`` (or any value) to ``file`` atomically; a read-only cache folder is no error."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=file.parent, delete=False) as handle:
            pickle.dump(net, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, file)
    except OSError:
        pass


def _is_numeric_name(column: str) -> bool:
    return column in _NUMERIC_NAMES or column.endswith(_NUMERIC_SUFFIXES)


def cast_numeric_columns(net: pandapower.pandapowerNet) -> None:
    """Cast object-dtype numeric columns of every table to numbers, in place.

    An ``object`` column is numeric when its name is a numeric one (a
    pandapower unit suffix such as ``_mw``, ``_mvar``, ``_mva``, ``_pu``,
    ``_percent``, or one of ``slack_weight``, ``scaling``, ``voltLvl`` ...),
    or when all of its non-missing values are numbers (not bools). A column
    with no values at all becomes float (NaN) only when its name is
    numeric, so empty text columns (``name``, ``profile``) stay text.

    Raises
    ------
    ValueError
        A numerically named column holds a value that is not a number; the
        message names ``table.column``.
    """
    for table, frame in net.items():
        if not isinstance(frame, pd.DataFrame) or table.startswith("_"):
            continue
        for column in frame.columns[frame.dtypes == object]:
            values = frame[column].dropna()
            all_numbers = len(values) > 0 and all(
                isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values)
            if not (all_numbers or _is_numeric_name(str(column))):
                continue
            try:
                cast = pd.to_numeric(frame[column], errors="raise")
            except (ValueError, TypeError) as err:
                raise ValueError(f"{table}.{column}: column should be numeric: {err}") from err
            frame[column] = cast if all_numbers and cast.dtype.kind in "iuf" else cast.astype(float)


def rating_mva(frame: pd.DataFrame, profile_peak_mw: pd.Series | None = None) -> np.ndarray:
    """Rating [MVA] of each row of an element table, filled where missing.

    Rule: a row's ``sn_mva`` is kept where it is finite and positive;
    otherwise the rating is the largest of its apparent power at the table
    operating point, sqrt(p_mw² + q_mvar²), its P limits |min_p_mw| and
    |max_p_mw|, and its profile peak max_t |p_mw(t)| when given. A row with
    none of these (all zero or missing) gets 0.0 -- a zero rating that unit
    policies must refuse to control.

    Parameters
    ----------
    frame : pandas.DataFrame
        A ``load``, ``sgen``, ``storage`` or ``gen`` table.
    profile_peak_mw : pandas.Series, optional
        Peak |P| [MW] per row index over the element's profile.

    Returns
    -------
    numpy.ndarray
        Finite, non-negative ratings [MVA], in table row order.
    """
    n_rows = len(frame)

    def column(name: str) -> np.ndarray:
        if name not in frame:
            return np.zeros(n_rows)
        return np.nan_to_num(np.abs(pd.to_numeric(frame[name], errors="coerce").to_numpy(float)),
                             nan=0.0, posinf=0.0)

    candidates = [np.hypot(column("p_mw"), column("q_mvar")), column("min_p_mw"), column("max_p_mw")]
    if profile_peak_mw is not None:
        candidates.append(np.nan_to_num(
            profile_peak_mw.reindex(frame.index).to_numpy(float), nan=0.0, posinf=0.0))
    filled = np.max(np.vstack(candidates), axis=0) if n_rows else np.zeros(0)
    given = column("sn_mva") if "sn_mva" in frame else np.full(n_rows, np.nan)
    keep = np.isfinite(given) & (given > 0)
    return np.where(keep, given, filled)


def fill_ratings(net: pandapower.pandapowerNet,
                 profile_peaks_mw: Mapping[str, pd.Series] | None = None) -> None:
    """Give every row of the ``RATED_TABLES`` a finite ``sn_mva``, in place.

    See :func:`rating_mva` for the rule; ``profile_peaks_mw`` maps a table
    name to its per-row profile peak |P| [MW].
    """
    peaks = profile_peaks_mw or {}
    for table in RATED_TABLES:
        if table in net and isinstance(net[table], pd.DataFrame):
            frame = net[table]
            frame["sn_mva"] = rating_mva(frame, peaks.get(table))


def element_names(net: pandapower.pandapowerNet, table: str) -> list[str]:
    """Element names ``"table/index"`` in table row order.

    Examples
    --------
    >>> import pandapower.networks as pn
    >>> element_names(pn.create_cigre_network_mv(with_der="all"), "storage")
    ['storage/0', 'storage/1']
    """
    if table not in net or not isinstance(net[table], pd.DataFrame):
        raise ValueError(f"unknown table {table!r}")
    return [f"{table}/{int(index)}" for index in net[table].index]
