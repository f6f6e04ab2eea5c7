"""Many runs of one scenario: sweep files and their runs on Dask workers.

* :mod:`~hierarchy.sweep.spec`: a sweep file (base scenario, keys to vary)
  expanded into runs, each checked before any starts;
* :mod:`~hierarchy.sweep.run`: :func:`~hierarchy.sweep.run.run_sweep` on
  local workers or a cluster, one row per run.
"""
