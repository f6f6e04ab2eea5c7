"""Plots of one run's timeseries: voltage band, line loading, net export,
frequency and battery state of charge; :func:`make_plots` writes them with
the one-line diagram (:mod:`hierarchy.outputs.plots_grid`), the market's
plots (:mod:`hierarchy.outputs.plots_market`: clearing price, security
check, market stages, forecast errors) and the one-page overview
(:mod:`hierarchy.outputs.plots_overview`).

Input are the wide tables of the output contract (DESIGN.md, "Outputs (v1
contract)"): a DatetimeIndex and one column per element (``bus/3``) or per
area id. A table that is missing, empty or all NaN gives no plot, never an
error. Long runs are drawn from time bins (:mod:`hierarchy.outputs.plot_base`).

Each ``plot_*`` function returns its Figure (or ``None`` when there is
nothing to draw), so callers and tests can inspect what is drawn.

This module imports neither pandapower nor any tier.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hierarchy.outputs.plot_base import (  # noqa: F401 - re-exported: compare.py and tests use them
    MAX_BINNED_LINES,
    MAX_LINES,
    MAX_POINTS,
    TOP_LINES,
    bin_note,
    bin_width,
    binned,
    centres,
    envelope,
    format_time_axis,
    legend,
    merge_equal_columns,
    new_figure,
    plot_binned,
    plot_series,
    render,
    save_figure,
    save_pixels,
    step_post,
    time_values,
    title_of,
    usable,
)
from hierarchy.outputs.plots_market import (  # re-exported: the clearing price's plot is public here
    plot_forecast_error,
    plot_market_price,
    plot_market_security,
    plot_market_stages,
    price_axis_top,
)

__all__ = [
    "make_plots", "plot_voltage_band", "plot_line_loading", "plot_net_export",
    "plot_frequency", "plot_market_price", "plot_battery_soc", "frequency_marks",
    "price_axis_top", "usable", "new_figure", "time_values", "format_time_axis", "step_post",
    "legend", "plot_series", "save_figure", "bin_width", "binned", "envelope",
]

#: Frequency plot: more rows than this are drawn from time bins (fewer are drawn as they are).
FREQUENCY_MAX_POINTS = 20_000


def plot_voltage_band(bus_vm_pu: pd.DataFrame | None, *,
                      v_band_pu: tuple[float, float] = (0.95, 1.05),
                      title: str = "") -> Figure | None:
    """Min, mean and max bus voltage [pu] over time with the band limits."""
    frame = usable(bus_vm_pu)
    if frame is None:
        return None
    _, xlabel = time_values(frame.index)
    width = bin_width(frame.index)
    figure, (ax,) = new_figure(title_of(title, f"bus voltage ({frame.shape[1]} buses)"),
                               "voltage magnitude [pu]")
    x, low, mean, high = envelope(frame, width)
    ax.fill_between(x, low, high, color="tab:blue", alpha=0.2, label="range over buses")
    ax.plot(x, high, color="tab:red", lw=1.0, label=f"max (peak at {frame.max().idxmax()})")
    ax.plot(x, mean, color="tab:blue", lw=1.4, label="mean")
    ax.plot(x, low, color="tab:purple", lw=1.0, label=f"min (lowest at {frame.min().idxmin()})")
    for i, limit_pu in enumerate(v_band_pu):
        ax.axhline(limit_pu, color="black", ls="--", lw=1.0,
                   label=f"limits {v_band_pu[0]:g} / {v_band_pu[1]:g} pu" if i == 0 else None)
    format_time_axis(ax, frame.index, xlabel + bin_note(width, "lowest, mean and highest"))
    legend(ax)
    return figure


def plot_line_loading(line_loading_percent: pd.DataFrame | None, *, title: str = "",
                      top_n: int = TOP_LINES,
                      limits_percent: Mapping[str, float] | None = None) -> Figure | None:
    """Max and mean line loading [%], the 100 % rating and the top lines; each line with a
    limit of its own (``limits_percent``, line -> % of rating: the market's security check)
    drawn too, its limit dashed in its colour."""
    frame = usable(line_loading_percent)
    if frame is None:
        return None
    _, xlabel = time_values(frame.index)
    width = bin_width(frame.index)
    figure, (ax,) = new_figure(title_of(title, f"line loading ({frame.shape[1]} lines)"),
                               "loading [% of rating]")
    x, _, mean, high = envelope(frame, width)
    top_lines = frame if width is None else frame.resample(width).max()
    ax.fill_between(x, mean, high, color="0.6", alpha=0.25, label="mean to max over lines")
    ax.plot(x, high, color="black", lw=1.6, label="max over lines")
    ax.plot(x, mean, color="0.4", lw=1.2, ls="-.", label="mean over lines")
    limited = {name: float(v) for name, v in (limits_percent or {}).items() if name in frame}
    peaks = frame.max().sort_values(ascending=False).head(max(top_n - len(limited), 0))
    peaks = pd.concat([frame.max()[list(limited)], peaks.drop(list(limited), errors="ignore")])
    for i, (name, peak) in enumerate(peaks.items()):
        emphasis = {"lw": 1.3, "zorder": 3} if name in limited else {"lw": 0.9}
        ax.plot(x, top_lines[name].to_numpy(), alpha=0.9, color=f"C{i % 10}",
                label=f"{name} (peak {peak:.0f} %)", **emphasis)
        if name in limited:
            ax.axhline(limited[name], color=f"C{i % 10}", ls="--", lw=1.0,
                       label=f"{name} security limit ({limited[name]:g} %)")
    ax.axhline(100.0, color="tab:red", ls="--", lw=1.2, label="rating (100 %)")
    ax.set_ylim(0.0, max(110.0, 1.05 * np.nanmax(high)))
    format_time_axis(ax, frame.index, xlabel + bin_note(width, "max and top lines as highest, "
                                                                "mean as mean"))
    legend(ax)
    return figure


def plot_net_export(net_export_mw: pd.DataFrame | None, schedule_mw: pd.DataFrame | None = None,
                    ace_mw: pd.DataFrame | None = None, *, title: str = "") -> Figure | None:
    """Each area's net export [MW] against its market schedule (steps); the
    area control error [MW] below when given. Export positive."""
    frame = usable(net_export_mw)
    if frame is None:
        return None
    schedule, ace = usable(schedule_mw), usable(ace_mw)
    x, xlabel = time_values(frame.index)
    width = bin_width(frame.index)
    figure, axes = new_figure(title_of(title, "area net export"), "net export [MW]",
                              nrows=1 if ace is None else 2)
    colours = {area: f"C{i % 10}" for i, area in enumerate(frame.columns)}
    if width is not None:
        _plot_net_export_binned(axes, frame, schedule, ace, colours, width)
        format_time_axis(axes[-1], frame.index, xlabel + bin_note(width))
        return figure
    for area in frame.columns:
        axes[0].plot(x, frame[area].to_numpy(), color=colours[area], lw=1.3,
                     label=f"{area} net export")
    for area in [] if schedule is None else schedule.columns:
        schedule_x, _ = time_values(schedule.index)
        step_post(axes[0], schedule_x, schedule[area].to_numpy(dtype=float), ls="--", lw=1.3,
                  color=colours.get(area, "black"), label=f"{area} schedule")
    axes[0].axhline(0.0, color="black", lw=0.6)
    legend(axes[0])
    if ace is not None:
        ace_x, _ = time_values(ace.index)
        for area in ace.columns:
            axes[1].plot(ace_x, ace[area].to_numpy(), color=colours.get(area, "black"), lw=1.1,
                         label=f"{area} ACE")
        axes[1].axhline(0.0, color="black", lw=0.6)
        axes[1].set_ylabel("area control error [MW]")
        legend(axes[1])
    format_time_axis(axes[-1], frame.index, xlabel)
    return figure


def _plot_net_export_binned(axes: list[Axes], frame: pd.DataFrame, schedule: pd.DataFrame | None,
                            ace: pd.DataFrame | None, colours: Mapping[str, str],
                            width: pd.Timedelta) -> None:
    """:func:`plot_net_export` of a long run: bin means (with their min-max bands for a few
    areas: beyond, overlapping bands hide the lines), schedules as bin means."""
    bands = frame.shape[1] <= MAX_BINNED_LINES
    plot_binned(axes[0], frame, width, colours, suffix=" net export", band_each=bands,
                max_lines=MAX_LINES, lw=1.3)
    if schedule is not None:
        mean = schedule.resample(width).mean()
        x = centres(mean.index, width)
        for area in schedule.columns:
            axes[0].plot(x, mean[area].to_numpy(dtype=float), ls="--", lw=1.3,
                         color=colours.get(area, "black"), label=f"{area} schedule")
    axes[0].axhline(0.0, color="black", lw=0.6)
    legend(axes[0])
    if ace is not None:
        plot_binned(axes[1], ace, width, colours, suffix=" ACE", band_each=bands,
                    max_lines=MAX_LINES, lw=1.1)
        axes[1].axhline(0.0, color="black", lw=0.6)
        axes[1].set_ylabel("area control error [MW]")
        legend(axes[1])


def frequency_marks(frame: pd.DataFrame, nominal_hz: float) -> list[tuple[str, str, float, object]]:
    """What the frequency plot marks: (column, ``nadir`` or ``zenith``, value [Hz], time).

    Every column that moves gets its nadir (lowest value, first time); its
    zenith too where the rise above nominal is the larger excursion.
    """
    marks = []
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=float)
        if not np.isfinite(values).any() or np.nanmax(values) - np.nanmin(values) < 1e-9:
            continue
        low, high = int(np.nanargmin(values)), int(np.nanargmax(values))
        marks.append((name, "nadir", float(values[low]), frame.index[low]))
        if values[high] - nominal_hz > nominal_hz - values[low]:
            marks.append((name, "zenith", float(values[high]), frame.index[high]))
    return marks


def _moment(time: object, span: pd.Timedelta | None) -> str:
    """A time for a label: the time of day to 0.1 s within a day's run, else date and time."""
    if not isinstance(time, pd.Timestamp):
        return str(time)
    if span is not None and span <= pd.Timedelta("1D"):
        return time.strftime("%H:%M:%S.%f")[:-5]
    return time.strftime("%Y-%m-%d %H:%M:%S")


#: scenario events that change the grid: marked on the frequency plot
GRID_EVENTS = ("load_step", "unit_trip", "line_outage", "line_restore")


def _mark_events(ax: Axes, events: pd.DataFrame | None, span: pd.Timedelta | None) -> None:
    """A dotted vertical line at each grid event, labelled at the top (the first ten)."""
    if events is None or not len(events) or "kind" not in events:
        return
    rows = events[events["kind"].isin(GRID_EVENTS)]
    edge = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for k, (_, event) in enumerate(rows.iterrows()):
        x = time_values(pd.Index([event["time"]]))[0][0]
        ax.axvline(x, color="0.35", ls=":", lw=1.0, zorder=0)
        if k < 10:
            text = f"{event['kind']} {event['target']} {event.get('detail', '')}".strip()
            ax.text(x, 0.02 + 0.06 * (k % 3), f" {text}", transform=edge, fontsize="x-small",
                    color="0.25", va="bottom")


def plot_frequency(area_frequency_hz: pd.DataFrame | None, *, title: str = "",
                   events: pd.DataFrame | None = None) -> Figure | None:
    """Each island's frequency [Hz] with the nominal frequency (50 or 60 Hz, whichever is
    nearer the data); the nadir of each marked (:func:`frequency_marks`), the scenario's
    grid events (``events``: the run's event table) as dotted lines.

    Areas of one island have one frequency: they are drawn as one line.
    """
    frame = usable(area_frequency_hz)
    if frame is None:
        return None
    frame = merge_equal_columns(frame)
    x, xlabel = time_values(frame.index)
    # a dip lasts seconds: drawn from every sample as long as that is cheap, else each
    # island as its bin mean with its own min-max band (the band reaches the nadir)
    width = bin_width(frame.index) if len(frame) > FREQUENCY_MAX_POINTS else None
    figure, (ax,) = new_figure(title_of(title, "area frequency"), "frequency [Hz]")
    if width is None:
        plot_series(ax, x, frame)
    else:
        plot_binned(ax, frame, width)
    nominal_hz = 50.0 if abs(np.nanmedian(frame.to_numpy()) - 50.0) < 5.0 else 60.0
    ax.axhline(nominal_hz, color="black", ls="--", lw=0.9, label=f"nominal {nominal_hz:g} Hz")
    span = frame.index.max() - frame.index.min() if isinstance(frame.index, pd.DatetimeIndex) else None
    marks = frequency_marks(frame, nominal_hz)
    for k, (name, kind, value, time) in enumerate(marks):
        ax.plot(time_values(pd.Index([time]))[0], [value], ls="none", ms=9, mec="black",
                marker="v" if kind == "nadir" else "^", color="tab:red", zorder=5,
                label=f"{kind} {value:.3f} Hz at {_moment(time, span)}" + (
                    f" ({name})" if frame.shape[1] > 1 else ""))
    if not marks:
        ax.annotate(f"constant at {np.nanmedian(frame.to_numpy()):g} Hz: no frequency "
                    "dynamics in this run", xy=(0.01, 0.97), xycoords="axes fraction",
                    va="top", fontsize="small")
    ax.margins(y=0.12)
    _mark_events(ax, events, span)
    format_time_axis(ax, frame.index, xlabel + bin_note(width))
    legend(ax)
    return figure


def plot_battery_soc(battery_soc: pd.DataFrame | None, *, title: str = "") -> Figure | None:
    """State of charge of each battery [pu of capacity]."""
    frame = usable(battery_soc)
    if frame is None:
        return None
    x, xlabel = time_values(frame.index)
    width = bin_width(frame.index)
    figure, (ax,) = new_figure(title_of(title, "battery state of charge"),
                               "state of charge [pu of capacity]")
    plot_series(ax, x, frame, width=width)
    ax.set_ylim(-0.02, 1.02)
    format_time_axis(ax, frame.index,
                     xlabel + bin_note(width, "lines = mean, band = min-max of all"))
    legend(ax)
    return figure


def make_plots(frames: Mapping[str, pd.DataFrame], out_dir: str | os.PathLike[str], *,
               v_band_pu: tuple[float, float] = (0.95, 1.05), title: str = "",
               geometry=None, line_limits_percent: Mapping[str, float] | None = None) -> list[Path]:
    """Write the standard plots of one run as PNG files, and their one-page overview.

    Parameters
    ----------
    frames : Mapping of str to pandas.DataFrame
        Timeseries tables by contract name (``bus_vm_pu``,
        ``line_loading_percent``, ``trafo_loading_percent``,
        ``area_net_export_mw``, ``area_schedule_mw``, ``area_ace_mw``,
        ``area_frequency_hz``, ``market_price``, ``battery_soc``,
        ``system_balance_mw``, ``market_security`` and ``market_redispatch_mw`` of the
        security check, the market stages' tables); any may be missing or empty.
    out_dir : str or PathLike
        Folder for the PNGs; created if missing.
    v_band_pu : tuple of float, optional
        Lower and upper voltage limit [pu] drawn on the voltage plots
        (default 0.95 / 1.05 pu: ANSI C84.1 range A, service voltage).
    title : str, optional
        Put before every plot title (e.g. the scenario name).
    geometry : GridGeometry, optional
        The grid's drawing (:func:`hierarchy.plant.geometry.grid_geometry`):
        with it, the one-line diagram ``grid.png``.
    line_limits_percent : Mapping of str to float, optional
        Line -> loading limit [% of rating] of the market's security check
        (``market.security.branch_limits_percent``), drawn on the line plot.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order ``voltage_band``, ``line_loading``,
        ``net_export``, ``frequency``, ``market_price``, ``battery_soc``,
        ``market_security``, ``market_stages`` (day-ahead and intraday prices),
        ``forecast_error`` (:mod:`hierarchy.outputs.plots_market`), ``grid``,
        ``overview``, skipping those without data.
    """
    from hierarchy.outputs.plots_grid import plot_grid
    from hierarchy.outputs.plots_overview import compose, header, key_figures, shrink

    get = frames.get
    builders: dict[str, Callable[[], Figure | None]] = {
        "voltage_band.png": lambda: plot_voltage_band(get("bus_vm_pu"), v_band_pu=v_band_pu,
                                                      title=title),
        "line_loading.png": lambda: plot_line_loading(get("line_loading_percent"), title=title,
                                                      limits_percent=line_limits_percent),
        "net_export.png": lambda: plot_net_export(get("area_net_export_mw"),
                                                  get("area_schedule_mw"), get("area_ace_mw"),
                                                  title=title),
        "frequency.png": lambda: plot_frequency(get("area_frequency_hz"), title=title,
                                                events=get("events")),
        "market_price.png": lambda: plot_market_price(get("market_price"), title=title),
        "battery_soc.png": lambda: plot_battery_soc(get("battery_soc"), title=title),
        "market_security.png": lambda: plot_market_security(
            get("market_security"), get("market_redispatch_mw"), title=title),
        "market_stages.png": lambda: plot_market_stages(
            get("market_day_ahead_price"), get("market_price"), get("market_trades"), title=title),
        "forecast_error.png": lambda: plot_forecast_error(
            get("market_forecast_mw"), get("market_day_ahead_forecast_mw"), title=title),
        "grid.png": lambda: plot_grid(geometry, get("bus_vm_pu"), get("line_loading_percent"),
                                      get("trafo_loading_percent"), v_band_pu=v_band_pu,
                                      title=title),
    }
    written, drawn = [], {}
    for name, build in builders.items():
        figure = build()  # one figure alive at a time; its pixels are kept for the overview
        if figure is not None:
            drawn[name] = render(figure)
            written.append(save_pixels(drawn[name], Path(out_dir) / name))
    if drawn:
        drawn = {name: shrink(pixels) for name, pixels in drawn.items()}
        grid = drawn.pop("grid.png", None)
        tiles = list(drawn.values())
        wide = [grid] if grid is not None and grid.shape[1] > max(t.shape[1] for t in tiles) else []
        tiles += [grid] if grid is not None and not wide else []
        width = max([2 * max(t.shape[1] for t in tiles)] + [w.shape[1] for w in wide])
        top = header(f"{title or 'run'}: overview", key_figures(frames, v_band_pu), width)
        written.append(save_pixels(compose(top, wide, tiles), Path(out_dir) / "overview.png"))
    return written
