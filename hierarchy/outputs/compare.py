"""Side-by-side comparison of finished runs.

:func:`compare_runs` reads each run folder written by ``hiergrid run``
(DESIGN.md, "Outputs (v1 contract)"): its ``summary.json``, flattened to
dotted keys, becomes one column of a table of key figures, and a few of its
``timeseries/*.parquet`` tables are overlaid in plots (voltage band,
frequency, market price).

Runs that start at the same time are overlaid on the calendar; runs that
start at different times (June against December, say) are overlaid on the
time since their start [h].

This module imports neither pandapower nor any tier.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hierarchy.outputs.files import flatten, read_parquet, write_text_atomic
from hierarchy.outputs.plots import (
    format_time_axis,
    legend,
    new_figure,
    save_figure,
    step_post,
    time_values,
    usable,
)

__all__ = ["compare_runs", "run_labels", "read_summary", "run_folders", "sweep_values"]

SUMMARY_FILE = "summary.json"
TIMESERIES_FOLDER = "timeseries"
#: the table :func:`hierarchy.sweep.run_sweep` writes into a sweep folder
SWEEP_TABLE = "sweep.parquet"
LINESTYLES = ("-", "--", ":", "-.")

# draws one run's table on the axes: (axes, x, table, colour, run label)
Drawer = Callable[[Axes, np.ndarray, pd.DataFrame, str, str], None]


def run_labels(run_dirs: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Column names for runs: the folder name, or ``parent/name`` where two
    runs share a folder name."""
    paths = [Path(run_dir) for run_dir in run_dirs]
    names = [path.name for path in paths]
    labels = [f"{path.parent.name}/{path.name}" if names.count(path.name) > 1 else path.name
              for path in paths]
    if len(set(labels)) < len(labels):
        raise ValueError(f"compare_runs: runs cannot be told apart by folder name: {labels}")
    return labels


def read_summary(run_dir: str | os.PathLike[str]) -> dict[str, object]:
    """A run's ``summary.json``, flattened to dotted keys (``energy.load_mwh``).

    Raises
    ------
    FileNotFoundError
        If the folder holds no ``summary.json`` (a run that failed or is
        still running); the message names the folder.
    """
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"compare_runs: {path} does not exist (run not finished?)")
    return flatten(json.loads(path.read_text(encoding="utf-8")))


def sweep_values(folder: str | os.PathLike[str]) -> pd.DataFrame | None:
    """A sweep folder's runs and their varied values (index ``run_id``;
    columns the varied key paths and ``status``), or None for a run folder."""
    path = Path(folder) / SWEEP_TABLE
    if not path.is_file():
        return None
    table = read_parquet(path).set_index("run_id")
    return table.loc[:, :"status"]


def run_folders(folders: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
    """The run folders to compare: each folder given, or for a sweep folder
    (one holding ``sweep.parquet``) the folders of its runs.

    Returns
    -------
    tuple of two lists of pathlib.Path
        The run folders that hold a ``summary.json``, in the order given
        (a sweep's in run order), and the runs of sweeps left out because
        they have none (failed before they started).

    Raises
    ------
    FileNotFoundError
        If a folder does not exist, or a folder given as a run folder holds
        no ``summary.json``; the message names it.
    """
    found: list[Path] = []
    missing: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
        runs = sweep_values(folder)
        if runs is None:
            read_summary(folder)  # raises, naming the folder, if there is none
            found.append(folder)
            continue
        for run_id in runs.index:
            has_summary = (folder / run_id / SUMMARY_FILE).is_file()
            (found if has_summary else missing).append(folder / run_id)
    return found, missing


def _read_timeseries(run_dir: Path, name: str) -> pd.DataFrame | None:
    path = run_dir / TIMESERIES_FOLDER / f"{name}.parquet"
    return usable(read_parquet(path)) if path.is_file() else None


def _x_axes(tables: dict[str, pd.DataFrame]) -> tuple[dict[str, np.ndarray], str, pd.Index | None]:
    """x values per run, the x label and the index that formats the axis
    (``None`` when the runs are aligned on hours since their start)."""
    starts = {table.index[0] for table in tables.values()}
    if len(starts) == 1:
        first = next(iter(tables.values()))
        xs = {run: time_values(table.index)[0] for run, table in tables.items()}
        return xs, time_values(first.index)[1], first.index
    xs = {run: ((table.index - table.index[0]) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
          for run, table in tables.items()}
    return xs, "time since start [h]", None


def _overlay(tables: dict[str, pd.DataFrame | None], title: str, ylabel: str,
             draw: Drawer) -> Figure | None:
    tables = {run: table for run, table in tables.items() if table is not None}
    if not tables:
        return None
    xs, xlabel, index = _x_axes(tables)
    figure, (ax,) = new_figure(title, ylabel)
    for i, (run, table) in enumerate(tables.items()):
        draw(ax, xs[run], table, f"C{i % 10}", run)
    if index is None:
        ax.set_xlabel(xlabel)
    else:
        format_time_axis(ax, index, xlabel)
    legend(ax)
    return figure


def _draw_voltage_band(ax: Axes, x: np.ndarray, table: pd.DataFrame, colour: str, run: str) -> None:
    ax.plot(x, table.max(axis=1).to_numpy(), color=colour, lw=1.2, label=f"{run} max")
    ax.plot(x, table.min(axis=1).to_numpy(), color=colour, lw=1.2, ls="--", label=f"{run} min")


def _draw_per_column(step: bool) -> Drawer:
    def draw(ax: Axes, x: np.ndarray, table: pd.DataFrame, colour: str, run: str) -> None:
        for j, column in enumerate(table.columns):
            label = run if table.shape[1] == 1 else f"{run}: {column}"
            style = {"color": colour, "ls": LINESTYLES[j % len(LINESTYLES)], "lw": 1.2,
                     "label": label}
            values = table[column].to_numpy(dtype=float)
            if step:
                step_post(ax, x, values, **style)
            else:
                ax.plot(x, values, **style)
    return draw


def _write_overlays(run_dirs: list[Path], labels: list[str], plot_dir: Path) -> list[Path]:
    def tables(name: str) -> dict[str, pd.DataFrame | None]:
        return {label: _read_timeseries(run_dir, name) for label, run_dir in zip(labels, run_dirs)}

    voltage_title = "bus voltage: max (solid) and min (dashed) over buses"
    figures = {
        "voltage_band.png": lambda: _overlay(tables("bus_vm_pu"), voltage_title,
                                             "voltage magnitude [pu]", _draw_voltage_band),
        "frequency.png": lambda: _overlay(tables("area_frequency_hz"), "area frequency",
                                          "frequency [Hz]", _draw_per_column(step=False)),
        "market_price.png": lambda: _overlay(tables("market_price"), "market clearing price",
                                             "price [currency/MWh]", _draw_per_column(step=True)),
    }
    written = []
    for name, build in figures.items():
        figure = build()
        if figure is not None:
            written.append(save_figure(figure, plot_dir / name))
    return written


def compare_runs(run_dirs: list[Path], out_dir: Path) -> pd.DataFrame:
    """Compare finished runs: a table of their key figures and overlay plots.

    Parameters
    ----------
    run_dirs : list of pathlib.Path
        Run folders, each holding ``summary.json`` and, optionally,
        ``timeseries/bus_vm_pu.parquet``, ``area_frequency_hz.parquet`` and
        ``market_price.parquet``.
    out_dir : pathlib.Path
        Receives ``compare.csv`` and ``plots/voltage_band.png``,
        ``plots/frequency.png`` and ``plots/market_price.png`` (a plot whose
        tables no run has is skipped).

    Returns
    -------
    pandas.DataFrame
        Rows: the flattened summary keys (``energy.load_mwh``, in the order
        they first appear), index named ``key``; columns: one per run, named
        by :func:`run_labels`. A key a run lacks, or a ``null`` in its
        summary, is NaN.

    Raises
    ------
    FileNotFoundError
        If a run folder holds no ``summary.json``.
    """
    run_dirs = [Path(run_dir) for run_dir in run_dirs]
    labels = run_labels(run_dirs)
    summaries = [read_summary(run_dir) for run_dir in run_dirs]
    keys = list(dict.fromkeys(key for summary in summaries for key in summary))
    table = pd.DataFrame({label: [summary.get(key) for key in keys]
                          for label, summary in zip(labels, summaries)},
                         index=pd.Index(keys, name="key"))
    write_text_atomic(Path(out_dir) / "compare.csv", table.to_csv())
    _write_overlays(run_dirs, labels, Path(out_dir) / "plots")
    return table
