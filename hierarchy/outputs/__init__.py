"""What a run leaves behind, and reading it back.

* :mod:`~hierarchy.outputs.summary`: the key figures of ``summary.json``;
* :mod:`~hierarchy.outputs.files`: atomic writers, Parquet tables,
  provenance; :func:`read_parquet` reads a table back;
* :mod:`~hierarchy.outputs.plots`: the plots of one run;
* :mod:`~hierarchy.outputs.write`: the results folder of one run;
* :mod:`~hierarchy.outputs.compare`: finished runs side by side
  (:func:`compare_runs`).

>>> from hierarchy.outputs import read_parquet  # a results table as a DataFrame
"""
from __future__ import annotations

from hierarchy.outputs.files import flatten, read_parquet

__all__ = ["read_parquet", "flatten", "compare_runs"]


def __getattr__(name: str):
    if name == "compare_runs":  # loaded on use: it draws with matplotlib
        from hierarchy.outputs.compare import compare_runs

        return compare_runs
    raise AttributeError(f"module 'hierarchy.outputs' has no attribute {name!r}")
