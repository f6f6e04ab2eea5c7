"""Writing a run's results folder (DESIGN.md "Outputs (v1 contract)").

Every file is written atomically: no half-written file ever carries its
final name.
"""
from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import yaml

from hierarchy.outputs.files import (
    provenance,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)
from hierarchy.scenario import resolved_dict

__all__ = ["write_results", "start_plots"]


def write_results(result, scenario, raw: bytes, sha256: str,
                  plots_done: Callable[[], None] | None = None) -> None:
    """Write summary, timeseries, events, plots, resolved scenario and provenance.

    ``plots_done``: waits for the plots the caller started with
    :func:`start_plots` (None: no plots); called before the summary is
    written.
    """
    out = Path(result.out_dir)
    (out / "timeseries").mkdir(parents=True, exist_ok=True)
    # two writers: Parquet encoding and compression release the GIL
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda name: write_parquet_atomic(out / "timeseries" / f"{name}.parquet",
                                                        result.frame(name)), result.frame_names))
    write_parquet_atomic(out / "events.parquet", result.events.set_index("time"))
    write_text_atomic(out / "scenario.resolved.yaml",
                      yaml.safe_dump(resolved_dict(scenario), sort_keys=False))
    prov = provenance(sha256, scenario.seed)
    write_json_atomic(out / "provenance.json", prov)
    if plots_done is not None:
        plots_done()
    # the summary goes last: its presence marks a finished results folder
    write_json_atomic(out / "summary.json", result.summary)


def start_plots(frames: dict, folder: Path, title: str, geometry=None,
                line_limits_percent: dict | None = None) -> Callable[[], None]:
    """Start drawing the run's plots; return what waits for them to be written.

    Where the platform forks and no other thread runs (a CLI or notebook
    run, not a Dask worker), the figures are drawn in a child process while
    this one writes the tables: the two take about as long on a year's run.
    Elsewhere they are drawn here, at once. An error of the plots is raised
    by the returned function, as if they had been drawn in place. ``geometry``:
    the grid's drawing for the one-line diagram (:func:`hierarchy.outputs.plots.make_plots`).
    ``line_limits_percent``: the security check's line limits, drawn on the
    line plot.
    """
    from hierarchy.outputs.plots import make_plots

    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        make_plots(frames, folder, title=title, geometry=geometry,
                   line_limits_percent=line_limits_percent)
        return lambda: None
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def draw() -> None:
        try:
            make_plots(frames, folder, title=title, geometry=geometry,
                       line_limits_percent=line_limits_percent)
            send.send(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
            send.send(f"{type(exc).__name__}: {exc}")

    child = context.Process(target=draw, name="hiergrid-plots", daemon=True)
    child.start()
    send.close()

    def wait() -> None:
        child.join()
        error = receive.recv() if receive.poll() else "the plotting process ended without a word"
        receive.close()
        if error is not None or child.exitcode != 0:
            raise RuntimeError(f"plots: {error or f'exit code {child.exitcode}'}")

    return wait
