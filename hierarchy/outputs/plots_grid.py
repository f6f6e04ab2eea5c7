"""One-line diagram of the grid at its worst moments: voltage and loading.

Two panels on the grid's drawing (:class:`hierarchy.plant.geometry.GridGeometry`,
recorded from the net when the plots are made):

* **voltage**: every bus coloured by its voltage [pu] at the step where a
  bus is farthest from 1 pu (diverging colours, blue low, red high, light
  grey at 1 pu; the band limits marked on the colour bar); buses outside the band
  ringed; the extreme bus named;
* **loading**: every line and transformer coloured by its loading [%] at the
  step of the highest loading (0 % light, 100 % dark red, beyond it purple);
  the most loaded branch named.

The ext_grid is a black square, storage a black triangle, generators (gen)
a black diamond. This module imports neither pandapower nor any tier.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hierarchy.outputs.plot_base import title_of, usable

__all__ = ["plot_grid", "worst_voltage_step", "worst_loading_step", "loading_colours",
           "GRID_FIGSIZE_IN"]

#: a grid with at most this many buses (branches) gets every one labelled
LABEL_ALL = 30
#: size of the two-panel figure [in]: as wide as two time-series plots side by side
GRID_FIGSIZE_IN = (20.0, 8.0)


def loading_colours(top_percent: float) -> LinearSegmentedColormap:
    """Colours of 0 … ``top_percent`` loading: light to dark red up to 100 %, violet to
    purple above it (an overload never looks like a high loading)."""
    cut = 100.0 / max(top_percent, 100.0)
    stops = [(0.0, "#fee8c8"), (0.5 * cut, "#fc8d59"), (cut, "#990000")]
    if cut < 1.0:
        stops += [(min(cut + 1e-6, 1.0), "#c2a5cf"), (1.0, "#40004b")]
    return LinearSegmentedColormap.from_list("loading", stops)


def _row_max(values: np.ndarray) -> np.ndarray:
    """Largest finite value of each row; −inf for a row without one."""
    finite = np.where(np.isfinite(values), values, -np.inf)
    return finite.max(axis=1) if finite.shape[1] else np.full(finite.shape[0], -np.inf)


def worst_voltage_step(bus_vm_pu: pd.DataFrame) -> int | None:
    """Row of the step whose most extreme bus voltage is farthest from 1 pu (None: no data)."""
    farthest = _row_max(np.abs(bus_vm_pu.to_numpy(dtype=float) - 1.0))
    return int(np.argmax(farthest)) if np.isfinite(farthest).any() else None


def worst_loading_step(*loading_percent: pd.DataFrame) -> int | None:
    """Row of the step with the highest loading over the tables (same rows; None: no data)."""
    highest = np.max([_row_max(frame.to_numpy(dtype=float)) for frame in loading_percent], axis=0)
    return int(np.argmax(highest)) if np.isfinite(highest).any() else None


def _when(index: pd.Index, row: int) -> str:
    moment = index[row]
    return moment.strftime("%Y-%m-%d %H:%M:%S") if isinstance(moment, pd.Timestamp) else str(moment)


def _frame(ax: Axes, geometry) -> None:
    """Equal axes without ticks around the whole grid (the data limits fill the panel)."""
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.update_datalim(geometry.bus_xy)
    ax.margins(0.03 if len(geometry.bus_names) > LABEL_ALL else 0.08)  # room for the labels
    ax.autoscale_view()
    ax.text(0.99, 0.01, f"layout: {geometry.layout}", transform=ax.transAxes, ha="right",
            va="bottom", fontsize="x-small", color="0.4")


def _segments(geometry, ends: np.ndarray) -> np.ndarray:
    return geometry.bus_xy[ends] if ends.size else np.zeros((0, 2, 2))


def _markers(ax: Axes, geometry) -> list[Line2D]:
    """ext_grid, storage and gen markers; their legend handles."""
    handles = []
    for positions, marker, label in ((geometry.ext_grid_buses, "s", "ext_grid"),
                                     (geometry.device_buses.get("storage", np.zeros(0, int)), "^",
                                      "storage"),
                                     (geometry.device_buses.get("gen", np.zeros(0, int)), "D", "gen")):
        if len(positions):
            xy = geometry.bus_xy[positions]
            few = len(positions) <= 20  # many (a battery at every substation): small, not hiding buses
            ax.scatter(xy[:, 0], xy[:, 1], marker=marker, s=70 if few else 22, facecolor="none",
                       edgecolor="black", linewidths=1.4 if few else 0.7, zorder=4)
            handles.append(Line2D([], [], ls="none", marker=marker, mfc="none", mec="black",
                                  ms=8, label=f"{label} ({len(positions)})"))
    return handles


def _open(geometry) -> np.ndarray:
    """Per branch (lines, then transformers): open (out of service or switched off)."""
    n_trafo = len(geometry.trafo_names)
    line_open = geometry.line_open if len(geometry.line_open) else np.zeros(len(geometry.line_names), bool)
    return np.concatenate([line_open, np.zeros(n_trafo, bool)])


def _open_lines(ax: Axes, segments: np.ndarray) -> Line2D | None:
    """Open lines as thin dashes; their legend handle (None if there are none)."""
    if not len(segments):
        return None
    ax.add_collection(LineCollection(segments, colors="0.55", linewidths=1.0,
                                     linestyles=(0, (3, 3)), zorder=1))
    return Line2D([], [], color="0.55", lw=1.0, ls=(0, (3, 3)),
                  label=f"open line ({len(segments)})")


def _name(ax: Axes, xy: np.ndarray, text: str) -> None:
    ax.annotate(text, xy=xy, xytext=(12, 12), textcoords="offset points", fontsize="small",
                arrowprops={"arrowstyle": "-", "color": "black", "lw": 0.8}, zorder=6,
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.6", "alpha": 0.9})


def _voltage_panel(figure: Figure, ax: Axes, geometry, bus_vm_pu: pd.DataFrame,
                   v_band_pu: tuple[float, float]) -> None:
    row = worst_voltage_step(bus_vm_pu)
    vm = bus_vm_pu.iloc[row].reindex(list(geometry.bus_names)).to_numpy(dtype=float)
    closed = ~_open(geometry)
    branches = np.concatenate([_segments(geometry, geometry.line_ends),
                               _segments(geometry, geometry.trafo_ends)])
    ax.add_collection(LineCollection(branches[closed], colors="0.55", linewidths=1.0, zorder=1))
    _open_lines(ax, branches[~closed])
    half = max(float(np.nanmax(np.abs(vm - 1.0))), v_band_pu[1] - 1.0, 1.0 - v_band_pu[0]) * 1.05
    norm = TwoSlopeNorm(vcenter=1.0, vmin=1.0 - half, vmax=1.0 + half)
    live = np.isfinite(vm)
    xy = geometry.bus_xy
    dots = ax.scatter(xy[live, 0], xy[live, 1], c=vm[live], cmap="coolwarm", norm=norm, s=36,
                      edgecolors="0.3", linewidths=0.4, zorder=3)
    outside = live & ((vm < v_band_pu[0]) | (vm > v_band_pu[1]))
    ax.scatter(xy[outside, 0], xy[outside, 1], s=110, facecolor="none", edgecolor="black",
               linewidths=1.2, zorder=2)
    ax.scatter(xy[~live, 0], xy[~live, 1], s=40, marker="x", color="0.4", zorder=3)
    bar = figure.colorbar(dots, ax=ax, shrink=0.85, pad=0.01)
    bar.set_label("voltage magnitude [pu]")
    for limit in v_band_pu:
        bar.ax.axhline(limit, color="black", ls="--", lw=1.2)
    worst = int(np.nanargmax(np.abs(vm - 1.0)))
    if len(vm) <= LABEL_ALL:  # a small grid: every bus named with its voltage
        for k in np.flatnonzero(live):
            if k != worst:
                ax.annotate(f"{geometry.bus_names[k]}\n{vm[k]:.4f}", xy[k], xytext=(6, 6),
                            textcoords="offset points", fontsize="x-small", color="0.25")
    _name(ax, xy[worst], f"{geometry.bus_names[worst]}: {vm[worst]:.4f} pu")
    handles = _markers(ax, geometry)
    if (~closed).any():
        handles.append(Line2D([], [], color="0.55", lw=1.0, ls=(0, (3, 3)),
                              label=f"open line ({int((~closed).sum())})"))
    handles.append(Line2D([], [], ls="none", marker="o", mfc="none", mec="black", ms=10,
                          label=f"outside {v_band_pu[0]:g}–{v_band_pu[1]:g} pu ({int(outside.sum())})"))
    if (~live).any():
        handles.append(Line2D([], [], ls="none", marker="x", color="0.4", ms=7,
                              label=f"de-energised ({int((~live).sum())})"))
    ax.legend(handles=handles, loc="upper left", fontsize="small", framealpha=0.9)
    ax.set_title(f"bus voltage at its worst step, {_when(bus_vm_pu.index, row)}\n"
                 f"(the step whose extreme bus is farthest from 1 pu)", fontsize="medium")
    _frame(ax, geometry)


def _loading_panel(figure: Figure, ax: Axes, geometry, tables: list[pd.DataFrame]) -> None:
    row = worst_loading_step(*tables)
    names = list(geometry.line_names) + list(geometry.trafo_names)
    values = pd.concat([table.iloc[row] for table in tables]).reindex(names).to_numpy(dtype=float)
    index = tables[0].index
    segments = np.concatenate([_segments(geometry, geometry.line_ends),
                               _segments(geometry, geometry.trafo_ends)])
    top = max(100.0, float(np.nanmax(values))) if np.isfinite(values).any() else 100.0
    n_lines = len(geometry.line_names)
    closed = ~_open(geometry) & np.isfinite(values)
    styles = np.array(["solid"] * n_lines + ["dotted"] * (len(names) - n_lines), dtype=object)
    lines = LineCollection(segments[closed], array=values[closed], cmap=loading_colours(top),
                           linewidths=3.2, linestyles=list(styles[closed]), zorder=2)
    lines.set_clim(0.0, top)
    ax.add_collection(lines)
    open_handle = _open_lines(ax, segments[~closed])
    xy = geometry.bus_xy
    ax.scatter(xy[:, 0], xy[:, 1], s=9, color="0.35", zorder=3)
    bar = figure.colorbar(lines, ax=ax, shrink=0.85, pad=0.01)
    bar.set_label("loading [% of rating]")
    bar.ax.axhline(100.0, color="black", ls="--", lw=1.2)
    worst = int(np.nanargmax(np.where(np.isfinite(values), values, -1.0)))
    if len(names) <= LABEL_ALL:  # a small grid: every branch named with its loading
        for k in np.flatnonzero(closed):
            if k != worst:
                ax.annotate(f"{names[k]}: {values[k]:.1f} %", segments[k].mean(axis=0),
                            ha="center", va="center", fontsize="x-small", color="0.25",
                            bbox={"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.7})
    _name(ax, segments[worst].mean(axis=0), f"{names[worst]}: {values[worst]:.1f} %")
    handles = _markers(ax, geometry) + ([open_handle] if open_handle is not None else [])
    if len(names) > n_lines:
        handles.append(Line2D([], [], color="0.3", ls="dotted", lw=2.5, label="transformer"))
    ax.legend(handles=handles, loc="upper left", fontsize="small", framealpha=0.9)
    ax.set_title(f"line and transformer loading at its worst step, {_when(index, row)}",
                 fontsize="medium")
    _frame(ax, geometry)


def plot_grid(geometry, bus_vm_pu: pd.DataFrame | None,
              line_loading_percent: pd.DataFrame | None = None,
              trafo_loading_percent: pd.DataFrame | None = None, *,
              v_band_pu: tuple[float, float] = (0.95, 1.05), title: str = "") -> Figure | None:
    """The one-line diagram at the worst voltage step and at the worst loading step.

    Parameters
    ----------
    geometry : GridGeometry or None
        The grid's drawing (:func:`hierarchy.plant.geometry.grid_geometry`).
    bus_vm_pu, line_loading_percent, trafo_loading_percent : pandas.DataFrame or None
        Timeseries tables (a column per ``bus/N``, ``line/N``, ``trafo/N``).
    v_band_pu : tuple of float
        Voltage band [pu] marked on the colour bar; buses outside it are ringed.

    Returns
    -------
    matplotlib.figure.Figure or None
        None without a geometry or without voltages.
    """
    vm = usable(bus_vm_pu)
    if geometry is None or vm is None or len(geometry.bus_names) == 0:
        return None
    tables = [frame for frame in (usable(line_loading_percent), usable(trafo_loading_percent))
              if frame is not None and len(frame) == len(vm)]
    figure = Figure(figsize=GRID_FIGSIZE_IN if tables else (10.0, 8.0), layout="constrained")
    axes = figure.subplots(1, 2 if tables else 1, squeeze=False)[0]
    figure.suptitle(title_of(title, f"the grid at its worst ({len(geometry.bus_names)} buses)"),
                    fontsize="large")
    _voltage_panel(figure, axes[0], geometry, vm, v_band_pu)
    if tables:
        _loading_panel(figure, axes[1], geometry, tables)
    return figure
