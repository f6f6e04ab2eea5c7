"""Moved to :mod:`hierarchy.outputs.compare` (``hierarchy.outputs.compare_runs``).

Kept so that code written against the 0.1 documentation
(``hierarchy.compare.compare_runs``) keeps working; it warns once.
"""
import warnings

from hierarchy.outputs.compare import compare_runs, run_folders, sweep_values

__all__ = ["compare_runs", "run_folders", "sweep_values"]

warnings.warn("hierarchy.compare moved to hierarchy.outputs.compare", DeprecationWarning, stacklevel=2)
