"""Are two sets of run outputs equal bit for bit? (for refactorings that must not change results)

Compares every ``*.parquet`` file and every ``summary.json`` found under
two folders, matched by their path relative to each folder: one run
folder each (``hiergrid run ... --out A``), or folders holding several runs
or sweeps. Tables are read with pyarrow and compared with
``pandas.DataFrame.equals`` (exact: same columns, index, dtypes and values,
NaN equal to NaN); summaries are compared as JSON values, exactly, without
the timing keys (``runtime.wall_s``, ``runtime.steps_per_s``; columns of
those names are dropped from tables too, e.g. a sweep's table). Plots,
provenance and logs are not compared.

Prints each differing or missing file with its differing columns or keys
(and the largest absolute difference of a numeric column); exit status 1
on any difference, 0 if all are equal.

Usage (repository root)::

    python bench/compare_runs_exact.py /tmp/before /tmp/after
    python bench/compare_runs_exact.py /tmp/before/quickstart /tmp/after/quickstart
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

#: summary keys (dotted) and table columns that measure time, not results
TIMING_KEYS = ("runtime.wall_s", "runtime.steps_per_s")


def compared_files(root: Path) -> set[Path]:
    """Relative paths of the tables and summaries under ``root``."""
    found = set(root.rglob("*.parquet")) | set(root.rglob("summary.json"))
    return {path.relative_to(root) for path in found}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A JSON value as {dotted key: leaf} (lists keep their order as indices)."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in items:
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def same_leaf(a: Any, b: Any) -> bool:
    """Exact equality; NaN equals NaN; 1 and 1.0 differ (a type change is a change)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def summary_differences(path_a: Path, path_b: Path) -> list[str]:
    flat_a = flatten(json.loads(path_a.read_text()))
    flat_b = flatten(json.loads(path_b.read_text()))
    keys = sorted((set(flat_a) | set(flat_b)) - set(TIMING_KEYS))
    out = []
    for key in keys:
        if key not in flat_a or key not in flat_b:
            out.append(f"{key}: only in {'first' if key in flat_a else 'second'}")
        elif not same_leaf(flat_a[key], flat_b[key]):
            out.append(f"{key}: {flat_a[key]!r} != {flat_b[key]!r}")
    return out


def read_table(path: Path) -> pd.DataFrame:
    frame = pq.read_table(path).to_pandas()
    timing_names = {key.rsplit(".", 1)[-1] for key in TIMING_KEYS}  # wall_s, steps_per_s
    return frame.drop(columns=[c for c in frame.columns
                               if str(c) in TIMING_KEYS or str(c).rsplit(".", 1)[-1] in timing_names])


def table_differences(path_a: Path, path_b: Path) -> list[str]:
    a, b = read_table(path_a), read_table(path_b)
    if a.equals(b):
        return []
    out = []
    if list(a.columns) != list(b.columns):
        out.append(f"columns differ: only first {sorted(map(str, set(a.columns) - set(b.columns)))}, "
                   f"only second {sorted(map(str, set(b.columns) - set(a.columns)))}, "
                   f"order equal: {sorted(map(str, a.columns)) == sorted(map(str, b.columns))}")
    if a.shape[0] != b.shape[0] or not a.index.equals(b.index):
        out.append(f"index differs: {a.shape[0]} and {b.shape[0]} rows")
        return out
    for column in [c for c in a.columns if c in b.columns]:
        col_a, col_b = a[column], b[column]
        if col_a.equals(col_b):
            continue
        detail = f"dtype {col_a.dtype} / {col_b.dtype}"
        if col_a.dtype == col_b.dtype and pd.api.types.is_numeric_dtype(col_a):
            diff = np.abs(col_a.to_numpy(dtype=float) - col_b.to_numpy(dtype=float))
            rows = int(np.count_nonzero(~(diff == 0) & ~(col_a.isna() & col_b.isna()).to_numpy()))
            detail += f", {rows} rows differ, max |diff| {np.nanmax(diff) if rows else 0.0:.3g}"
        out.append(f"column {column!r}: {detail}")
    return out or ["differ (dtypes or index metadata)"]


def compare(root_a: Path, root_b: Path) -> int:
    """Print the differences of two output folders; the number of differing files."""
    files_a, files_b = compared_files(root_a), compared_files(root_b)
    missing = sorted((files_a ^ files_b))
    for top in sorted({rel.parts[0] for rel in missing}):  # a whole run missing: one line
        only = [rel for rel in missing if rel.parts[0] == top]
        where = root_a if only[0] in files_a else root_b
        print(f"{only[0] if len(only) == 1 else top + '/ (' + str(len(only)) + ' files)'}: "
              f"only in {where}")
    n_bad = len(missing)
    for rel in sorted(files_a & files_b):
        check = summary_differences if rel.name == "summary.json" else table_differences
        problems = check(root_a / rel, root_b / rel)
        if problems:
            n_bad += 1
            print(f"{rel}:")
            for line in problems:
                print(f"    {line}")
    print(f"{len(files_a | files_b)} files compared, {n_bad} differ")
    return n_bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", type=Path, help="a run folder, or a folder of runs")
    parser.add_argument("second", type=Path, help="the same, from the code to compare")
    args = parser.parse_args(argv)
    for folder in (args.first, args.second):
        if not folder.is_dir():
            print(f"not a folder: {folder}", file=sys.stderr)
            return 2
    if not compared_files(args.first) and not compared_files(args.second):
        print("no *.parquet or summary.json under either folder", file=sys.stderr)
        return 2
    return 1 if compare(args.first, args.second) else 0


if __name__ == "__main__":
    sys.exit(main())
