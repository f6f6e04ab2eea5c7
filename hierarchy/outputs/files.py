"""Result files of a run: atomic writers, Parquet tables, provenance.

Everything a run leaves on disk goes through this module (DESIGN.md,
"Outputs (v1 contract)"): ``summary.json``, ``provenance.json``, the
resolved scenario and the ``timeseries/*.parquet`` tables.

Every writer is atomic: the content goes to a temporary file in the same
folder, is flushed and ``fsync``-ed, and only then takes the final name with
:func:`os.replace` (an atomic rename on POSIX and Windows). A reader, a
crashed run or a full disk can therefore never leave a half-written file
under the final name: the name holds either the old file or the complete
new one. The pattern is the one of SQLite's and Git's lock files; see also
T. Ts'o, "Don't fear the fsync!" (2009) for why the ``fsync`` comes before
the rename.

Parquet is read with :func:`pyarrow.parquet.read_table`, never with
:func:`pandas.read_parquet`: with pandas 2.3 and pyarrow 25/26 the latter
leaves arrow threads that abort the interpreter at exit in about a third of
processes (DESIGN.md, "Known pitfalls").

This module imports neither pandapower nor any tier.

Examples
--------
>>> flatten({"energy": {"load_mwh": 1.5}, "steps": 96})
{'energy.load_mwh': 1.5, 'steps': 96}
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "write_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
    "read_parquet",
    "write_text_atomic",
    "provenance",
    "sha256_file",
    "flatten",
]

#: Distributions whose versions :func:`provenance` records.
PROVENANCE_PACKAGES: tuple[str, ...] = (
    "hiergrid", "simpy", "numpy", "scipy", "pandas", "pandapower", "simbench",
    "lightsim2grid", "pyarrow", "pydantic", "matplotlib",
)

#: Name given to an unnamed DatetimeIndex when a table is written.
TIME_INDEX_NAME = "time"

_CHUNK_BYTES = 1 << 20


@contextlib.contextmanager
def _atomic_binary_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a temporary file that takes the name ``path`` only when complete.

    The temporary file lies in the same folder (so the rename stays on one
    file system), is created with mode ``0o666`` less the umask like any
    ``open``, and is removed again if the body raises.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op on Windows)."""
    if os.name == "nt":
        return
    # Best effort: the file itself is complete and renamed already; some file
    # systems refuse fsync on a folder (EINVAL), which loses only durability.
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> None:
    """Let ``write`` fill a binary file that takes the name ``path`` only once
    complete (temporary file, ``fsync``, :func:`os.replace`).

    Parameters
    ----------
    path : str or PathLike
        Final file name; missing parent folders are created.
    write : callable
        Called once with the open binary file; if it raises, the old file
        under ``path`` (if any) stays as it was and no temporary file is left.
    """
    with _atomic_binary_file(path) as handle:
        write(handle)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Parameters
    ----------
    path : str or PathLike
        Final file name; missing parent folders are created.
    text : str
        Content, written as UTF-8 without newline translation.
    """
    data = text.encode("utf-8")
    write_atomic(path, lambda handle: handle.write(data))


def _jsonable(value: Any, where: str) -> Any:
    """Plain JSON value of ``value``: NaN and ±inf become ``None``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NaT:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return [_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value.tolist())]
    if isinstance(value, (list, tuple)):
        return [_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{where or 'value'}: {type(value).__name__} is not JSON serialisable")


def write_json_atomic(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented, strictly valid JSON to ``path`` atomically.

    NaN and ±inf become ``null`` (JSON, RFC 8259 section 6, has no value for
    them); numpy scalars and arrays become numbers and lists; datetimes
    become ISO 8601 strings; paths become strings.

    Parameters
    ----------
    path : str or PathLike
        Final file name; missing parent folders are created.
    data : Mapping
        Content; keys are written as strings.

    Raises
    ------
    TypeError
        If a value cannot be written; the message names its key path, and
        no file is touched.
    """
    text = json.dumps(_jsonable(data, ""), indent=2, allow_nan=False) + "\n"
    write_text_atomic(path, text)


def write_parquet_atomic(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write ``frame`` with its index to a Parquet file atomically.

    Parameters
    ----------
    path : str or PathLike
        Final file name; missing parent folders are created.
    frame : pandas.DataFrame
        A wide timeseries table: DatetimeIndex, one column per element or
        area. An unnamed DatetimeIndex is written with the name ``"time"``.
        Index, its time zone, column names and their order come back
        unchanged from :func:`read_parquet` (the index frequency does not:
        Parquet does not store it).
    """
    if isinstance(frame.index, pd.DatetimeIndex) and frame.index.name is None:
        frame = frame.rename_axis(TIME_INDEX_NAME)
    table = pa.Table.from_pandas(frame, preserve_index=True)
    write_atomic(path, lambda handle: pq.write_table(table, handle))


def read_parquet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table written by :func:`write_parquet_atomic`.

    Uses :func:`pyarrow.parquet.read_table`, not :func:`pandas.read_parquet`
    (see the module notes: the latter can abort the interpreter at exit).

    Parameters
    ----------
    path : str or PathLike
        Parquet file.

    Returns
    -------
    pandas.DataFrame
        The table, with its index restored.
    """
    return pq.read_table(os.fspath(path)).to_pandas()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 (FIPS 180-4) of a file's bytes, as 64 lowercase hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def provenance(scenario_sha256: str, seed: int) -> dict[str, Any]:
    """What produced a run, for ``provenance.json``.

    Parameters
    ----------
    scenario_sha256 : str
        SHA-256 of the scenario file as given (see :func:`sha256_file`).
    seed : int
        Random seed the run used.

    Returns
    -------
    dict
        ``scenario_sha256``, ``seed``, ``python`` (version), ``implementation``,
        ``platform``, ``packages`` (distribution name -> version, ``None`` if
        not installed), ``command_line`` (``sys.argv``) and ``utc_time``
        (ISO 8601 with ``+00:00``).
    """
    return {
        "scenario_sha256": scenario_sha256,
        "seed": int(seed),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PROVENANCE_PACKAGES},
        "command_line": list(sys.argv),
        "utc_time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def flatten(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into one level with dotted keys.

    Parameters
    ----------
    summary : Mapping
        Nested key figures, e.g. the content of ``summary.json``.
    prefix : str, optional
        Put before every key, joined with a dot.

    Returns
    -------
    dict
        ``{"energy": {"load_mwh": 1}}`` -> ``{"energy.load_mwh": 1}``. Leaves
        that are not mappings (numbers, strings, lists) are kept as they are;
        an empty mapping leaves no key. Order follows ``summary``.

    Raises
    ------
    ValueError
        If two paths give the same dotted key (``{"a.b": 1, "a": {"b": 2}}``).
    """
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        items = flatten(value, name).items() if isinstance(value, Mapping) else [(name, value)]
        for flat_key, flat_value in items:
            if flat_key in flat:
                raise ValueError(f"flatten: key {flat_key!r} occurs twice")
            flat[flat_key] = flat_value
    return flat
