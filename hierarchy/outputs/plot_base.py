"""What every plot of a run shares: figures, time axes, time bins, legends, saving.

A long run (more than :data:`MAX_POINTS` rows, a year of 15-min steps) is
drawn from time bins so that a figure costs the same for a day or a year:
each series as its bin mean (line) and bin min-max (band), the range over
many series as the bin min of the lowest and bin max of the highest; the x
label names the bin width. Extremes are kept, only their timing is rounded
to the bin.

Figures are built with :class:`matplotlib.figure.Figure` directly, not with
``pyplot``: no global figure state survives a call, nothing has to be closed,
no GUI backend is touched, and PNGs are rendered by Agg
(:func:`render`, :func:`save_figure`).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hierarchy.outputs.files import write_atomic

__all__ = [
    "PLOT_DPI", "FIGSIZE_IN", "MAX_LINES", "MAX_BINNED_LINES", "MAX_LEGEND", "TOP_LINES", "MAX_POINTS", "BIN_WIDTHS",
    "usable", "time_values", "bin_width", "bin_note", "centres", "binned", "envelope",
    "new_figure", "format_time_axis", "step_post", "legend", "plot_series", "plot_binned",
    "title_of", "merge_equal_columns", "save_figure", "render", "save_pixels",
]

PLOT_DPI = 150
FIGSIZE_IN = (10.0, 4.5)
#: More series than this in one axes: draw their min/mean/max band instead.
MAX_LINES = 12
#: A binned plot of more series than this draws their band and mean, not each one's bin
#: means (a year of nine daily-cycling batteries is a tangle of lines otherwise).
MAX_BINNED_LINES = 4
#: More labelled series than this: no legend.
MAX_LEGEND = 10
TOP_LINES = 5
#: A time series with more rows than this is drawn from time bins (see the module docstring).
MAX_POINTS = 1500
#: Bin widths to choose from, the narrowest that gives at most MAX_POINTS bins.
BIN_WIDTHS = ("1s", "10s", "1min", "5min", "15min", "30min", "1h", "2h", "3h", "6h", "12h", "1D",
              "2D", "7D")

def usable(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """The numeric, time-sorted part of ``frame``; ``None`` if nothing to plot."""
    if frame is None or frame.empty:
        return None
    numbers = all(dtype.kind in "iuf" for dtype in frame.dtypes)
    numeric = frame if numbers else frame.select_dtypes("number")  # (no copy when all are)
    if numeric.empty or not np.isfinite(numeric.to_numpy(dtype=float)).any():
        return None
    return numeric if numeric.index.is_monotonic_increasing else numeric.sort_index()


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


def bin_note(width: pd.Timedelta | None, what: str = "line = mean, band = min-max") -> str:
    """What the x label adds for a binned plot ("" when every row is drawn)."""
    if width is None:
        return ""
    seconds = width.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            return f"; {seconds / size:g} {unit} bins: {what}"
    return f"; {width} bins: {what}"


def centres(index: pd.Index, width: pd.Timedelta | None) -> np.ndarray:
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
    return centres(mean.index, width), low.to_numpy(), mean.to_numpy(), high.to_numpy()


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
        plot_binned(ax, frame, width, band_each=False, max_lines=MAX_BINNED_LINES)
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


def plot_binned(ax: Axes, frame: pd.DataFrame, width: pd.Timedelta,
                colours: Mapping[str, str] | None = None, suffix: str = "", *,
                band_each: bool = True, max_lines: int = MAX_LINES, **style: object) -> None:
    """Bin mean line of each column with its bin min-max band (``band_each``)
    or one band from the lowest to the highest column; with more than
    ``max_lines`` columns, only that band and the mean over the columns."""
    if frame.shape[1] > max_lines or not band_each:
        x, low, mean_all, high = envelope(frame, width)
        ax.fill_between(x, low, high, color="0.5", alpha=0.3, lw=0.0,
                        label=f"min-max of {frame.shape[1]} series")
        if frame.shape[1] > max_lines:
            ax.plot(x, mean_all, color="black", lw=1.2, label="mean")
            return
    mean, low, high = binned(frame, width)
    x = centres(mean.index, width)
    for i, name in enumerate(frame.columns):
        colour = (colours or {}).get(name, f"C{i % 10}")
        if band_each:
            ax.fill_between(x, low[name].to_numpy(dtype=float), high[name].to_numpy(dtype=float),
                            color=colour, alpha=0.2, lw=0.0)
        ax.plot(x, mean[name].to_numpy(dtype=float), color=colour, label=f"{name}{suffix}",
                **{"lw": 1.2, **style})


def title_of(title: str, what: str) -> str:
    return f"{title}: {what}" if title else what


def merge_equal_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns with the same values (areas of one island) merged into one, named by its areas."""
    groups: list[list[str]] = []
    for name in frame.columns:
        values = frame[name].to_numpy(dtype=float)
        for group in groups:
            if np.array_equal(frame[group[0]].to_numpy(dtype=float), values, equal_nan=True):
                group.append(name)
                break
        else:
            groups.append([name])
    labels = [", ".join(map(str, g)) if len(g) <= 3 else f"{len(g)} areas ({g[0]} ... {g[-1]})"
              for g in groups]
    merged = frame[[g[0] for g in groups]].copy()
    merged.columns = [label + (" (one island)" if len(g) > 1 else "")
                      for label, g in zip(labels, groups)]
    return merged


def save_figure(figure: Figure, path: str | os.PathLike[str]) -> Path:
    """Save ``figure`` as PNG at :data:`PLOT_DPI`, atomically."""
    write_atomic(path, lambda handle: figure.savefig(handle, format="png", dpi=PLOT_DPI))
    return Path(path)


def render(figure: Figure) -> np.ndarray:
    """The figure drawn by Agg at :data:`PLOT_DPI`: ``(height, width, 3)`` uint8 RGB pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure.set_dpi(PLOT_DPI)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.array(canvas.buffer_rgba())[..., :3]


def save_pixels(pixels: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write RGB pixels (:func:`render`) as a PNG at :data:`PLOT_DPI`, atomically."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels))  # uint8 (h, w, 3): RGB
    write_atomic(path, lambda handle: image.save(handle, format="png", dpi=(PLOT_DPI, PLOT_DPI),
                                                 compress_level=1))  # 40 % faster, 15 % larger
    return Path(path)
