"""Plots of the market: clearing prices, day-ahead against intraday prices, forecast errors, the security check.

Input are the tables of the output contract (``market_price``, ``market_day_ahead_price``,
``market_trades``, ``market_forecast_mw``,
``market_day_ahead_forecast_mw``, ``market_security``,
``market_redispatch_mw``); a missing or empty one gives no plot.
Built like :mod:`hierarchy.outputs.plots` (``Figure`` objects, no pyplot).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hierarchy.outputs.plot_base import (
    MAX_BINNED_LINES,
    MAX_LINES,
    bin_note,
    bin_width,
    centres,
    format_time_axis,
    legend,
    new_figure,
    plot_binned,
    plot_series,
    step_post,
    time_values,
    title_of,
    usable,
)

__all__ = ["plot_market_price", "plot_market_stages", "plot_forecast_error", "plot_market_security",
           "price_axis_top"]

KINDS = ("load", "pv", "wind")
#: Market price plot: a price this many 10-90 % spreads above the median is a spike ...
SPIKE_SPREADS = 5.0
#: ... and spikes are left off scale when they are at most this share of the prices.
SPIKE_MAX_SHARE = 0.2


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


def _mark_off_scale(ax: Axes, x: np.ndarray, frame: pd.DataFrame, top: float,
                    centred: bool = False) -> None:
    """A triangle at the top edge over each interval (or bin, ``centred`` at ``x``) whose
    price is above ``top``."""
    values = frame.to_numpy(dtype=float)
    if len(x) > 1 and not centred:  # over the middle of the (step-post) interval
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
    unit = "bin" if centred else "interval"
    ax.annotate(f"▲ {n_spikes} {unit}{'s' if n_spikes != 1 else ''} off scale, up to {peak:g}",
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
    width = bin_width(frame.index)  # a year of hourly prices: bins, or the steps fill the axes
    figure, (ax,) = new_figure(title_of(title, "market clearing price"), "price [currency/MWh]")
    if width is None:
        plot_series(ax, x, frame, step=True)
    else:
        plot_binned(ax, frame, width, max_lines=MAX_BINNED_LINES)
    top = price_axis_top(frame.to_numpy()) if frame.shape[1] <= MAX_LINES else None
    if top is not None:
        bottom = min(float(np.nanmin(frame.to_numpy(dtype=float))), 0.0)
        ax.set_ylim(bottom - 0.05 * (top - bottom), top)
        if width is None:
            _mark_off_scale(ax, x, frame, top)
        else:  # each bin holding a spike
            highest = frame.resample(width).max()
            _mark_off_scale(ax, centres(highest.index, width), highest, top, centred=True)
    format_time_axis(ax, frame.index, f"{xlabel} (delivery interval start)" + bin_note(width))
    legend(ax)
    return figure


def plot_market_stages(day_ahead_price: pd.DataFrame | None, market_price: pd.DataFrame | None,
                       trades: pd.DataFrame | None = None, *, title: str = "") -> Figure | None:
    """Day-ahead price and the per-interval price [currency/MWh] per delivery interval, with
    each continuous trade at its delivery interval (dot size by quantity); ``None`` without a
    day-ahead stage and without trades. Spikes are left off scale as in ``market_price.png``,
    each price line's marked in its colour."""
    day_ahead, real_time = usable(day_ahead_price), usable(market_price)
    has_trades = trades is not None and len(trades) > 0
    if day_ahead is None and not has_trades:
        return None
    figure, (ax,) = new_figure(title_of(title, "day-ahead and intraday prices"), "price [currency/MWh]")
    drawn = []
    if has_trades:
        x = time_values(pd.DatetimeIndex(trades["delivery"]))[0] + np.timedelta64(30, "m")
        size = 4.0 + 30.0 * trades["quantity_mw"].to_numpy(float) / max(trades["quantity_mw"].max(), 1e-9)
        ax.scatter(x, trades["price"].to_numpy(float), s=size, color="C2", alpha=0.35, lw=0,
                   label="intraday trades")
        drawn.append(trades["price"].to_numpy(float))
    for frame, label, colour in ((day_ahead, "day-ahead", "C0"), (real_time, "intraday (mean of trades)"
                                                                  if has_trades else "per-interval", "C3")):
        if frame is None:
            continue
        values = frame.mean(axis=1).to_numpy(float)
        step_post(ax, time_values(frame.index)[0], values, color=colour, lw=1.4, label=label)
        drawn.append(values)
    top = price_axis_top(np.concatenate(drawn))
    reference = day_ahead if day_ahead is not None else real_time
    if top is not None and reference is not None:
        bottom = min(float(np.nanmin(np.concatenate(drawn))), 0.0)
        ax.set_ylim(bottom - 0.05 * (top - bottom), top)
        # both price lines (in the order drawn: their colours), on the union of their intervals
        lines = pd.concat([f.mean(axis=1) for f in (day_ahead, real_time) if f is not None], axis=1)
        _mark_off_scale(ax, time_values(lines.index)[0], lines, top)
    index = (reference if reference is not None else pd.DataFrame(index=pd.DatetimeIndex(trades["delivery"]))).index
    format_time_axis(ax, index, f"{time_values(index)[1]} (delivery interval start)")
    legend(ax)
    return figure


def plot_forecast_error(forecast_mw: pd.DataFrame | None, day_ahead_forecast_mw: pd.DataFrame | None = None,
                        *, title: str = "") -> Figure | None:
    """Forecast minus actual of each profile kind, whole grid [MW]: one panel per kind, the
    per-interval forecast as a line, the day-ahead one dashed."""
    frame = usable(forecast_mw)
    if frame is None:
        return None
    day_ahead = usable(day_ahead_forecast_mw)
    figure, axes = new_figure(title_of(title, "forecast error (forecast − actual)"), "error [MW]",
                              nrows=len(KINDS))
    width = bin_width(frame.index)
    for ax, kind in zip(axes, KINDS):
        for table, label, colour, style in ((frame, "per-interval", "C0", {}),
                                            (day_ahead, "day-ahead", "C1", {"ls": "--"})):
            if table is None or kind not in table:
                continue
            error = (table[kind] - table[f"{kind}_actual"]).to_frame(f"{kind}, {label}")
            if width is None:
                step_post(ax, time_values(error.index)[0], error.iloc[:, 0].to_numpy(float),
                          label=error.columns[0], color=colour, **style)
            else:  # a long run: bin mean and min-max band
                plot_binned(ax, error, width, {error.columns[0]: colour}, **style)
        ax.axhline(0.0, color="0.3", lw=0.8)
        legend(ax)
    note = "" if width is None else bin_note(width)
    format_time_axis(axes[-1], frame.index, f"{time_values(frame.index)[1]} (delivery interval start){note}")
    return figure


def plot_market_security(market_security: pd.DataFrame | None,
                         market_redispatch_mw: pd.DataFrame | None, *, title: str = "") -> Figure | None:
    """The market's security check per interval: the redispatch by participant [MW]
    (stacked, up positive) and the limits violated before and left after."""
    security, moves = usable(market_security), usable(market_redispatch_mw)
    if security is None:
        return None
    x, xlabel = time_values(security.index)
    figure, (top, bottom) = new_figure(title_of(title, "market security check"), "", nrows=2)
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
