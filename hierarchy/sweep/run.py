"""Parameter sweeps and policy comparisons, on one machine or a Dask cluster.

:func:`run_sweep` reads a sweep file (:mod:`hierarchy.sweep.spec`),
validates every run's scenario, then runs each one as an ordinary run
(:func:`hierarchy.api.run`, its own results folder ``DIR/<run_id>/``) on
`dask.distributed <https://distributed.dask.org>`_ workers: local worker
processes (:class:`distributed.LocalCluster`) or the workers of an existing
scheduler. The runs are independent tasks; each worker writes its run's
folder itself, so on several machines ``DIR`` must be on a file system that
all of them see under the same path (docs/sweeps.md).

``DIR/sweep.parquet`` gets one row per run: ``run_id``, the value of each
varied key (a column named by its key path), ``status`` (``ok`` or
``failed``), ``error`` (the message of a failed run, else empty) and every
number of the run's ``summary.json`` as a column named by its dotted path
(:func:`hierarchy.outputs.flatten`, e.g. ``energy.load_mwh``).

A failing run does not stop the sweep. Started again with the same ``DIR``,
a sweep skips the runs that are complete: their folder holds a
``summary.json`` with ``complete: true`` and a resolved scenario equal to the
one the sweep would run now.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hierarchy.outputs.files import flatten, write_parquet_atomic, write_text_atomic
from hierarchy.scenario import resolved_dict
from hierarchy.sweep.spec import SweepRun, expand_sweep, load_sweep

__all__ = ["run_sweep", "run_one", "SweepOutcome", "sweep_table", "default_workers"]

TABLE_FILE = "sweep.parquet"
#: seconds to wait for a scheduler to answer and for its first worker
CONNECT_TIMEOUT_S = 30.0


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    table : pandas.DataFrame
        The content of ``sweep.parquet``.
    ran : list of str
        Run ids run this time, in run order.
    skipped : list of str
        Run ids found complete in ``DIR`` and not run again.
    interrupted : bool
        True if Ctrl-C stopped the sweep (the table holds the runs finished).
    """

    table: pd.DataFrame
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> list[str]:
        """Run ids whose status is ``failed``."""
        return self.table.loc[self.table["status"] == "failed", "run_id"].tolist()


def default_workers() -> int:
    """Number of cores this process may use (the default of ``--workers``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _numbers(summary: dict[str, Any]) -> dict[str, float | int | None]:
    """The numbers of a summary, flattened to dotted keys (null kept as None)."""
    return {key: value for key, value in flatten(summary).items()
            if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))}


def run_one(run_id: str, mapping: dict[str, Any], base_dir: str, out_dir: str) -> dict[str, Any]:
    """Run one scenario of a sweep into ``out_dir`` (the task a worker runs).

    Parameters
    ----------
    run_id : str
        The run's id, echoed back.
    mapping : dict
        The scenario as a plain mapping.
    base_dir : str
        Folder its relative paths are resolved against (the base scenario's).
    out_dir : str
        Absolute path of the run's results folder.

    Returns
    -------
    dict
        ``run_id``, ``status`` (``ok`` or ``failed``), ``error`` (message or
        ``""``) and ``summary``: the numbers of the run's summary (of what
        was computed up to the failure, for a run that failed while running;
        empty if it failed before).
    """
    from hierarchy.api import run
    from hierarchy.scenario import load_scenario

    try:
        result = run(load_scenario(mapping, base_dir=base_dir), out=out_dir, quiet=True)
    except Exception as exc:  # a failed run is recorded, not raised: the sweep goes on
        partial = getattr(exc, "result", None)
        return {"run_id": run_id, "status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "summary": _numbers(partial.summary) if partial is not None else {}}
    return {"run_id": run_id, "status": "ok", "error": "", "summary": _numbers(result.summary)}


def _complete_summary(run_dir: Path, run: SweepRun) -> dict[str, Any] | None:
    """The summary of a complete run of this scenario in ``run_dir``, else None."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        resolved = yaml.safe_load((run_dir / "scenario.resolved.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if summary.get("complete") is not True or resolved != resolved_dict(run.scenario):
        return None
    return summary


def _value_column(values: list[Any]) -> list[Any]:
    """Varied values as one Parquet-friendly column: numbers, strings or
    booleans as they are, anything else (lists, mappings, mixed) as JSON text."""
    kinds = {bool if isinstance(v, bool) else float if isinstance(v, (int, float)) else
             str if isinstance(v, str) else object for v in values}
    if len(kinds) == 1 and object not in kinds:
        return values
    return [v if isinstance(v, str) else json.dumps(v, default=str) for v in values]


def sweep_table(runs: list[SweepRun], results: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The sweep's table: one row per run with a result, in run order.

    Parameters
    ----------
    runs : list of SweepRun
        All runs of the sweep.
    results : dict
        Run id -> result as returned by :func:`run_one`.
    """
    done = [run for run in runs if run.run_id in results]
    keys = list(runs[0].values) if runs else []
    columns: dict[str, list[Any]] = {"run_id": [run.run_id for run in done]}
    for key in keys:
        columns[key] = _value_column([run.values[key] for run in done])
    columns["status"] = [results[run.run_id]["status"] for run in done]
    columns["error"] = [results[run.run_id]["error"] for run in done]
    names = dict.fromkeys(name for run in done for name in results[run.run_id]["summary"])
    for name in names:
        if name in columns:
            raise ValueError(f"sweep: summary key {name!r} clashes with a column of the table")
        cells = [results[run.run_id]["summary"].get(name) for run in done]
        columns[name] = _number_column(cells)
    return pd.DataFrame(columns)


def _number_column(cells: list[Any]) -> Any:
    """Summary numbers as a column: integers stay integers (nullable ``Int64``)
    where some runs lack them; a missing number is NaN or ``<NA>``."""
    present = [cell for cell in cells if cell is not None]
    if present and all(isinstance(cell, int) for cell in present):
        return pd.array(cells, dtype="Int64")
    return [math.nan if cell is None else float(cell) for cell in cells]


@contextmanager
def _client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: on an existing scheduler, or on local worker processes."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler, timeout=CONNECT_TIMEOUT_S) as client:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except TimeoutError:
                raise ConnectionError(f"no worker joined the scheduler {scheduler} within "
                                      f"{CONNECT_TIMEOUT_S:.0f} s") from None
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def _progress(total: int, initial: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", desc="sweep", file=sys.stderr,
                disable=quiet, dynamic_ncols=True)


def _execute(client: Any, pending: list[SweepRun], out: Path, base_dir: Path,
             results: dict[str, dict[str, Any]], bar: Any) -> None:
    """Submit the pending runs and collect their results as they finish."""
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = {client.submit(run_one, run.run_id, run.mapping, str(base_dir),
                             str(out / run.run_id), key=f"hiergrid-{token}-{run.run_id}",
                             pure=False): run.run_id for run in pending}
    for future in as_completed(futures):
        run_id = futures[future]
        try:
            results[run_id] = future.result()
        except Exception as exc:  # the worker died or the task was lost
            results[run_id] = {"run_id": run_id, "status": "failed",
                               "error": f"{type(exc).__name__}: {exc}", "summary": {}}
        future.release()
        bar.update(1)
        failed = sum(result["status"] == "failed" for result in results.values())
        if failed:
            bar.set_postfix(failed=failed)


def run_sweep(sweep_file: str | os.PathLike[str], out: str | os.PathLike[str], *,
              workers: int | None = None, scheduler: str | None = None,
              quiet: bool = True) -> SweepOutcome:
    """Run every scenario of a sweep and write ``out/sweep.parquet``.

    Parameters
    ----------
    sweep_file : path
        The sweep YAML (:mod:`hierarchy.sweep.spec`).
    out : path
        Sweep folder: each run writes ``out/<run_id>/``; runs already complete
        there are skipped.
    workers : int, optional
        Local worker processes (default: :func:`default_workers`); ignored
        with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``) whose
        workers run the sweep; they must see ``out`` and the scenario's files
        under the same paths.
    quiet : bool
        No progress bar (the bar counts runs, on stderr).

    Returns
    -------
    SweepOutcome

    Raises
    ------
    ScenarioError
        If the sweep file or any run's scenario is invalid (nothing is run).
    ConnectionError, OSError
        If the scheduler cannot be reached or has no workers.
    """
    sweep = load_sweep(sweep_file)
    runs = expand_sweep(sweep)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "sweep.yaml", Path(sweep_file).read_text(encoding="utf-8"))
    results: dict[str, dict[str, Any]] = {}
    for run in runs:
        summary = _complete_summary(out / run.run_id, run)
        if summary is not None:
            results[run.run_id] = {"run_id": run.run_id, "status": "ok", "error": "",
                                   "summary": _numbers(summary)}
    skipped = [run.run_id for run in runs if run.run_id in results]
    pending = [run for run in runs if run.run_id not in results]
    interrupted = False
    if pending:
        n_workers = min(workers or default_workers(), len(pending))
        with _progress(len(runs), len(skipped), quiet) as bar:
            try:
                with _client(n_workers, scheduler) as client:
                    _execute(client, pending, out, sweep.base.parent, results, bar)
            except KeyboardInterrupt:
                interrupted = True
    table = sweep_table(runs, results)
    write_parquet_atomic(out / TABLE_FILE, table)
    ran = [run.run_id for run in pending if run.run_id in results]
    return SweepOutcome(table, ran=ran, skipped=skipped, interrupted=interrupted)
