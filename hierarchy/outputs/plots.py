"""Plots of one run's timeseries: voltage band, line loading, net export,
frequency, market price, battery state of charge and the market's security check.

Input are the wide tables of the output contract (DESIGN.md, "Outputs (v1
contract)"): a DatetimeIndex and one column per element (``bus/3``) or per
area id. A table that is missing, empty or all NaN gives no plot, never an
error.

A long run (more than :data:`MAX_POINTS` rows, a year of 15-min steps) is
drawn from time bins so that a figure costs the same for a day or a year:
each series as its bin mean (line) and bin min-max (band), the range over
many series as the bin min of the lowest and bin max of the highest; the x
label names the bin width. Extremes are kept, only their timing is rounded
to the bin.

Figures are built with :class:`matplotlib.figure.Figure` directly, not with
``pyplot``: no global figure state survives a call, nothing has to be closed,
no GUI backend is touched, and PNGs are rendered by Agg. Each ``plot_*``
function returns its Figure (or ``None`` when there is nothing to draw), so
callers and tests can inspect what is drawn; :func:`make_plots` saves them.

This module imports neither pandapower nor any tier.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hierarchy.outputs.files import write_atomic

__all__ = [
    "make_plots", "plot_voltage_band", "plot_line_loading", "plot_net_export",
    "plot_frequency", "plot_market_price", "plot_battery_soc", "plot_market_security",
    "price_axis_top", "usable", "new_figure", "time_values", "format_time_axis", "step_post", "legend", "plot_series",
    "save_figure", "bin_width", "binned", "envelope",
]

PLOT_DPI = 150
FIGSIZE_IN = (10.0, 4.5)
#: More series than this in one axes: draw their min/mean/max band instead.
MAX_LINES = 12
#: More labelled series than this: no legend.
MAX_LEGEND = 10
TOP_LINES = 5
#: A time series with more rows than this is drawn from time bins (see the module docstring).
MAX_POINTS = 1500
#: Bin widths to choose from, the narrowest that gives at most MAX_POINTS bins.
BIN_WIDTHS = ("1s", "10s", "1min", "5min", "15min", "30min", "1h", "2h", "3h", "6h", "12h", "1D",
              "2D", "7D")
#: Market price plot: a price this many 10-90 % spreads above the median is a spike ...
SPIKE_SPREADS = 5.0
#: ... and spikes are left off scale when they are at most this share of the prices.
SPIKE_MAX_SHARE = 0.2


def usable(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """The numeric, time-sorted part of ``frame``; ``None`` if nothing to plot."""
    if frame is None or frame.empty:
        return None
    numeric = frame.select_dtypes("number")
    if numeric.empty or numeric.isna().all().all():
        return None
    return numeric.sort_index()


def time_values(index: pd.Index) -> tuple[np.ndarray, str]:
    """x values and axis label for a time index (tz-aware shown in UTC)."""
    if isinstance(index, pd.DatetimeIndex):
        if index.tz is not None:
            return index.tz_convert("UTC").tz_localize(None).to_numpy(), "time [UTC]"
        return index.to_numpy(), "time"
    return np.asarray(index), "time"


def bin_width(index: pd.Index) -> pd.Timedelta | None:
    """Width of the time bins a long series is drawn from; None: draw every row.

    The narrowest of :data:`BIN_WIDTHS` that gives at most :data:`MAX_POINTS`
    bins over the index's time span (a time index only).
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) <= MAX_POINTS:
        return None
    span = index.max() - index.min()
    for width in map(pd.Timedelta, BIN_WIDTHS):
        if span / width <= MAX_POINTS:
            return width
    return pd.Timedelta(span / MAX_POINTS).ceil("1D")


def _bin_note(width: pd.Timedelta | None, what: str = "line = mean, band = min-max") -> str:
    """What the x label adds for a binned plot ("" when every row is drawn)."""
    if width is None:
        return ""
    seconds = width.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            return f"; {seconds / size:g} {unit} bins: {what}"
    return f"; {width} bins: {what}"


def _centres(index: pd.Index, width: pd.Timedelta | None) -> np.ndarray:
    """x values of rows (or of the middle of each bin when ``width`` is given)."""
    x, _ = time_values(index)
    return x if width is None else x + np.timedelta64(width // 2)


def binned(frame: pd.DataFrame, width: pd.Timedelta) -> tuple[pd.DataFrame, pd.DataFrame,
                                                               pd.DataFrame]:
    """Mean, minimum and maximum of each column over time bins of ``width``."""
    bins = frame.resample(width)
    return bins.mean(), bins.min(), bins.max()


def envelope(frame: pd.DataFrame, width: pd.Timedelta | None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, then min, mean and max over the columns of each row (of each bin:
    lowest minimum, mean of the row means, highest maximum)."""
    low, mean, high = frame.min(axis=1), frame.mean(axis=1), frame.max(axis=1)
    if width is not None:
        low, mean, high = (low.resample(width).min(), mean.resample(width).mean(),
                           high.resample(width).max())
    return _centres(mean.index, width), low.to_numpy(), mean.to_numpy(), high.to_numpy()


def new_figure(title: str, ylabel: str, nrows: int = 1) -> tuple[Figure, list[Axes]]:
    """A titled figure with ``nrows`` axes sharing the time axis."""
    height_in = FIGSIZE_IN[1] if nrows == 1 else 2.0 + 2.6 * nrows
    figure = Figure(figsize=(FIGSIZE_IN[0], height_in), layout="constrained")
    axes = list(np.atleast_1d(figure.subplots(nrows, 1, sharex=True)))
    figure.suptitle(title, fontsize="large")
    for ax in axes:
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    return figure, axes


def format_time_axis(ax: Axes, index: pd.Index, label: str) -> None:
    """Concise date ticks (``AutoDateLocator``) and the x label."""
    if isinstance(index, pd.DatetimeIndex):
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(label)


def step_post(ax: Axes, x: np.ndarray, values: np.ndarray, **style: object) -> None:
    """Step plot of interval values starting at ``x``; the last interval is
    drawn as long as the median interval so that it stays visible."""
    if len(x) > 1:
        steps = np.sort(np.diff(x))
        x = np.append(x, x[-1] + steps[len(steps) // 2])
        values = np.append(values, values[-1])
    ax.step(x, values, where="post", **style)


def legend(ax: Axes) -> None:
    """Legend right of the axes when it has a few labelled series, none otherwise."""
    handles, _ = ax.get_legend_handles_labels()
    if 0 < len(handles) <= MAX_LEGEND:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  borderaxespad=0.0)  # outside: never hides data


def plot_series(ax: Axes, x: np.ndarray, frame: pd.DataFrame, *, step: bool = False,
                width: pd.Timedelta | None = None) -> None:
    """One line per column, or their min-max band and mean when many; with a
    bin ``width``, each line is its bin mean with its bin min-max as a band."""
    if width is not None:
        _plot_binned(ax, frame, width, band_each=False)
        return
    if frame.shape[1] > MAX_LINES:
        low, high = frame.min(axis=1).to_numpy(), frame.max(axis=1).to_numpy()
        ax.fill_between(x, low, high, alpha=0.3, step="post" if step else None,
                        label=f"min-max of {frame.shape[1]} series")
        ax.plot(x, frame.mean(axis=1).to_numpy(), color="black", lw=1.2, label="mean")
        return
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=float)
        if step:
            step_post(ax, x, values, label=str(name))
        else:
            ax.plot(x, values, lw=1.2, label=str(name))


def _plot_binned(ax: Axes, frame: pd.DataFrame, width: pd.Timedelta,
                 colours: Mapping[str, str] | None = None, suffix: str = "", *,
                 band_each: bool = True, **style: object) -> None:
    """Bin mean line of each column with its bin min-max band (``band_each``)
    or one band from the lowest to the highest column; their envelope when many."""
    if frame.shape[1] > MAX_LINES or not band_each:
        x, low, mean_all, high = envelope(frame, width)
        ax.fill_between(x, low, high, color="0.5", alpha=0.3, lw=0.0,
                        label=f"min-max of {frame.shape[1]} series")
        if frame.shape[1] > MAX_LINES:
            ax.plot(x, mean_all, color="black", lw=1.2, label="mean")
            return
    mean, low, high = binned(frame, width)
    x = _centres(mean.index, width)
    for i, name in enumerate(frame.columns):
        colour = (colours or {}).get(name, f"C{i % 10}")
        if band_each:
            ax.fill_between(x, low[name].to_numpy(dtype=float), high[name].to_numpy(dtype=float),
                            color=colour, alpha=0.2, lw=0.0)
        ax.plot(x, mean[name].to_numpy(dtype=float), color=colour, label=f"{name}{suffix}",
                **{"lw": 1.2, **style})


def _title(title: str, what: str) -> str:
    return f"{title}: {what}" if title else what


def plot_voltage_band(bus_vm_pu: pd.DataFrame | None, *,
                      v_band_pu: tuple[float, float] = (0.95, 1.05),
                      title: str = "") -> Figure | None:
    """Min, mean and max bus voltage [pu] over time with the band limits."""
    frame = usable(bus_vm_pu)
    if frame is None:
        return None
    _, xlabel = time_values(frame.index)
    width = bin_width(frame.index)
    figure, (ax,) = new_figure(_title(title, f"bus voltage ({frame.shape[1]} buses)"),
                               "voltage magnitude [pu]")
    x, low, mean, high = envelope(frame, width)
    ax.fill_between(x, low, high, color="tab:blue", alpha=0.2, label="range over buses")
    ax.plot(x, high, color="tab:red", lw=1.0, label=f"max (peak at {frame.max().idxmax()})")
    ax.plot(x, mean, color="tab:blue", lw=1.4, label="mean")
    ax.plot(x, low, color="tab:purple", lw=1.0, label=f"min (lowest at {frame.min().idxmin()})")
    for i, limit_pu in enumerate(v_band_pu):
        ax.axhline(limit_pu, color="black", ls="--", lw=1.0,
                   label=f"limits {v_band_pu[0]:g} / {v_band_pu[1]:g} pu" if i == 0 else None)
    format_time_axis(ax, frame.index, xlabel + _bin_note(width, "lowest, mean and highest"))
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
    figure, (ax,) = new_figure(_title(title, f"line loading ({frame.shape[1]} lines)"),
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
    format_time_axis(ax, frame.index, xlabel + _bin_note(width, "max and top lines as highest, "
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
    figure, axes = new_figure(_title(title, "area net export"), "net export [MW]",
                              nrows=1 if ace is None else 2)
    colours = {area: f"C{i % 10}" for i, area in enumerate(frame.columns)}
    if width is not None:
        _plot_net_export_binned(axes, frame, schedule, ace, colours, width)
        format_time_axis(axes[-1], frame.index, xlabel + _bin_note(width))
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
    """:func:`plot_net_export` of a long run: bin means and bands, schedules as bin means."""
    _plot_binned(axes[0], frame, width, colours, suffix=" net export", lw=1.3)
    if schedule is not None:
        mean = schedule.resample(width).mean()
        x = _centres(mean.index, width)
        for area in schedule.columns:
            axes[0].plot(x, mean[area].to_numpy(dtype=float), ls="--", lw=1.3,
                         color=colours.get(area, "black"), label=f"{area} schedule")
    axes[0].axhline(0.0, color="black", lw=0.6)
    legend(axes[0])
    if ace is not None:
        _plot_binned(axes[1], ace, width, colours, suffix=" ACE", lw=1.1)
        axes[1].axhline(0.0, color="black", lw=0.6)
        axes[1].set_ylabel("area control error [MW]")
        legend(axes[1])


def plot_frequency(area_frequency_hz: pd.DataFrame | None, *, title: str = "") -> Figure | None:
    """Each area's frequency [Hz] with the nominal frequency (50 or 60 Hz,
    whichever is nearer the data)."""
    frame = usable(area_frequency_hz)
    if frame is None:
        return None
    x, xlabel = time_values(frame.index)
    width = bin_width(frame.index)
    figure, (ax,) = new_figure(_title(title, "area frequency"), "frequency [Hz]")
    plot_series(ax, x, frame, width=width)
    nominal_hz = 50.0 if abs(np.nanmedian(frame.to_numpy()) - 50.0) < 5.0 else 60.0
    ax.axhline(nominal_hz, color="black", ls="--", lw=0.9, label=f"nominal {nominal_hz:g} Hz")
    format_time_axis(ax, frame.index,
                     xlabel + _bin_note(width, "lines = mean, band = min-max of all"))
    legend(ax)
    return figure


def price_axis_top(values: np.ndarray) -> float | None:
    """Upper y limit [currency/MWh] that leaves rare price spikes off scale, or None.

    A spike is a price more than :data:`SPIKE_SPREADS` spreads above the
    median, the spread being the 10th-90th percentile range (at least 1 %
    of the median's magnitude, and at least 1): scarcity prices at the cap
    are spikes, an evening peak at twice the base price is not. When no
    more than :data:`SPIKE_MAX_SHARE` of the prices are spikes, the limit is
    the highest other price plus 10 % of the other prices' range; otherwise
    (or without spikes) None: the plot keeps every value on scale.
    """
    finite = np.asarray(values, dtype=float).ravel()
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return None
    median = float(np.median(finite))
    low, high = np.percentile(finite, [10.0, 90.0])
    spread = max(float(high - low), 0.01 * abs(median), 1.0)
    spikes = finite > median + SPIKE_SPREADS * spread
    if not spikes.any() or spikes.mean() > SPIKE_MAX_SHARE:
        return None
    rest = finite[~spikes]
    return float(rest.max() + 0.1 * max(float(rest.max() - min(rest.min(), 0.0)), 1.0))


def _mark_off_scale(ax: Axes, x: np.ndarray, frame: pd.DataFrame, top: float) -> None:
    """A triangle at the top edge over each interval whose price is above ``top``."""
    values = frame.to_numpy(dtype=float)
    if len(x) > 1:  # over the middle of the (step-post) interval
        x = x + np.sort(np.diff(x))[(len(x) - 1) // 2] / 2
    above = np.isfinite(values) & (values > top)
    colors = [line.get_color() for line in ax.get_lines()]
    x_edge = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for k in range(frame.shape[1]):
        rows = np.flatnonzero(above[:, k])
        if rows.size:
            ax.plot(x[rows], np.full(rows.size, 0.985), ls="none", marker="^", ms=7,
                    color=colors[k % len(colors)] if colors else "C3", transform=x_edge,
                    clip_on=False, label="_off scale")
    n_spikes, peak = int(above.any(axis=1).sum()), float(np.nanmax(values))
    ax.annotate(f"▲ {n_spikes} interval{'s' if n_spikes != 1 else ''} off scale, up to {peak:g}",
                xy=(0.01, 0.97), xycoords="axes fraction", va="top", fontsize="small",
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9})


def plot_market_price(market_price: pd.DataFrame | None, *, title: str = "") -> Figure | None:
    """Clearing price per delivery interval [currency/MWh], one step line per
    area (or ``system``).

    Rare spikes (scarcity prices at the price cap) would flatten the rest:
    the y axis then stops above the other prices (:func:`price_axis_top`)
    and each off-scale interval is marked by a triangle at the top edge,
    with their number and the highest price written in the corner.
    """
    frame = usable(market_price)
    if frame is None:
        return None
    x, xlabel = time_values(frame.index)
    figure, (ax,) = new_figure(_title(title, "market clearing price"), "price [currency/MWh]")
    plot_series(ax, x, frame, step=True)
    top = price_axis_top(frame.to_numpy()) if frame.shape[1] <= MAX_LINES else None
    if top is not None:
        bottom = min(float(np.nanmin(frame.to_numpy(dtype=float))), 0.0)
        ax.set_ylim(bottom - 0.05 * (top - bottom), top)
        _mark_off_scale(ax, x, frame, top)
    format_time_axis(ax, frame.index, f"{xlabel} (delivery interval start)")
    legend(ax)
    return figure


def plot_battery_soc(battery_soc: pd.DataFrame | None, *, title: str = "") -> Figure | None:
    """State of charge of each battery [pu of capacity]."""
    frame = usable(battery_soc)
    if frame is None:
        return None
    x, xlabel = time_values(frame.index)
    width = bin_width(frame.index)
    figure, (ax,) = new_figure(_title(title, "battery state of charge"),
                               "state of charge [pu of capacity]")
    plot_series(ax, x, frame, width=width)
    ax.set_ylim(-0.02, 1.02)
    format_time_axis(ax, frame.index,
                     xlabel + _bin_note(width, "lines = mean, band = min-max of all"))
    legend(ax)
    return figure


def plot_market_security(market_security: pd.DataFrame | None,
                         market_redispatch_mw: pd.DataFrame | None, *, title: str = "") -> Figure | None:
    """The market's security check per interval: the redispatch by participant [MW]
    (stacked, up positive) and the limits violated before and left after."""
    security, moves = usable(market_security), usable(market_redispatch_mw)
    if security is None:
        return None
    x, xlabel = time_values(security.index)
    figure, (top, bottom) = new_figure(_title(title, "market security check"), "", nrows=2)
    width = np.median(np.diff(x)) if len(x) > 1 else np.timedelta64(1, "h")
    moved = moves.loc[:, (moves.abs() > 1e-9).any()] if moves is not None else None
    if moved is not None and not moved.empty:
        up, down = np.zeros(len(moved)), np.zeros(len(moved))
        for i, name in enumerate(moved.columns):
            values = moved[name].to_numpy(dtype=float)
            base = np.where(values >= 0, up, down)
            top.bar(moved.index.to_numpy(), values, width=width, bottom=base, align="edge",
                    color=f"C{i % 10}", label=str(name))
            up, down = up + np.maximum(values, 0.0), down + np.minimum(values, 0.0)
        top.axhline(0.0, color="black", lw=0.8)
        low, high = min(float(down.min()), 0.0), max(float(up.max()), 0.0)
        pad = 0.08 * (high - low) if high > low else 1.0
        top.set_ylim(low - pad, high + pad)  # no bar touches the frame
    top.set_ylabel("redispatch [MW]\n(up: more injection)")
    legend(top)
    bottom.bar(x, security["security_violations"].to_numpy(dtype=float), width=width, align="edge",
               color="tab:orange", label="limits violated by the schedule")
    if "security_unresolved" in security:  # narrower, in front: both stay visible
        bottom.bar(x + 0.25 * width, security["security_unresolved"].to_numpy(dtype=float),
                   width=0.5 * width, align="edge", color="tab:red", label="left after the redispatch")
    bottom.set_ylabel("limits violated")
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    legend(bottom)
    format_time_axis(bottom, security.index, xlabel + " (delivery interval start)")
    return figure


def save_figure(figure: Figure, path: str | os.PathLike[str]) -> Path:
    """Save ``figure`` as PNG at :data:`PLOT_DPI`, atomically."""
    write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=PLOT_DPI))
    return Path(path)


def _market_plots():
    from hierarchy.outputs import plots_market  # (it builds on this module)

    return plots_market


def make_plots(frames: Mapping[str, pd.DataFrame], out_dir: str | os.PathLike[str], *,
               v_band_pu: tuple[float, float] = (0.95, 1.05), title: str = "",
               line_limits_percent: Mapping[str, float] | None = None) -> list[Path]:
    """Write the standard plots of one run as PNG files.

    Parameters
    ----------
    frames : Mapping of str to pandas.DataFrame
        Timeseries tables by contract name (``bus_vm_pu``,
        ``line_loading_percent``, ``area_net_export_mw``,
        ``area_schedule_mw``, ``area_ace_mw``, ``area_frequency_hz``,
        ``market_price``, ``battery_soc``, ``market_security`` and
        ``market_redispatch_mw`` of the security check); any may be missing or empty.
    out_dir : str or PathLike
        Folder for the PNGs; created if missing.
    v_band_pu : tuple of float, optional
        Lower and upper voltage limit [pu] drawn on the voltage plot
        (default 0.95 / 1.05 pu: ANSI C84.1 range A, service voltage).
    title : str, optional
        Put before every plot title (e.g. the scenario name).
    line_limits_percent : Mapping of str to float, optional
        Line -> loading limit [% of rating] of the market's security check
        (``market.security.branch_limits_percent``), drawn on the line plot.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order ``voltage_band``, ``line_loading``,
        ``net_export``, ``frequency``, ``market_price``, ``battery_soc``,
        ``market_security``, ``market_stages`` (day-ahead and intraday prices,
        :mod:`hierarchy.outputs.plots_market`), ``forecast_error``, skipping
        those without data.
    """
    get = frames.get
    builders: dict[str, Callable[[], Figure | None]] = {
        "voltage_band.png": lambda: plot_voltage_band(get("bus_vm_pu"), v_band_pu=v_band_pu,
                                                      title=title),
        "line_loading.png": lambda: plot_line_loading(get("line_loading_percent"), title=title,
                                                      limits_percent=line_limits_percent),
        "net_export.png": lambda: plot_net_export(get("area_net_export_mw"),
                                                  get("area_schedule_mw"), get("area_ace_mw"),
                                                  title=title),
        "frequency.png": lambda: plot_frequency(get("area_frequency_hz"), title=title),
        "market_price.png": lambda: plot_market_price(get("market_price"), title=title),
        "battery_soc.png": lambda: plot_battery_soc(get("battery_soc"), title=title),
        "market_security.png": lambda: plot_market_security(get("market_security"),
                                                            get("market_redispatch_mw"), title=title),
        "market_stages.png": lambda: _market_plots().plot_market_stages(
            get("market_day_ahead_price"), get("market_price"), get("market_trades"), title=title),
        "forecast_error.png": lambda: _market_plots().plot_forecast_error(
            get("market_forecast_mw"), get("market_day_ahead_forecast_mw"), title=title),
    }
    written = []
    for name, build in builders.items():
        figure = build()  # one figure alive at a time
        if figure is not None:
            written.append(save_figure(figure, Path(out_dir) / name))
    return written
