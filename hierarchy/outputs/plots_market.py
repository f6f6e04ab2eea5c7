"""Plots of the market: day-ahead against intraday prices, forecast errors, the security check.

Input are the tables of the output contract (``market_day_ahead_price``,
``market_price``, ``market_trades``, ``market_forecast_mw``,
``market_day_ahead_forecast_mw``, ``market_security``,
``market_redispatch_mw``); a missing or empty one gives no plot.
Built like :mod:`hierarchy.outputs.plots` (``Figure`` objects, no pyplot).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hierarchy.outputs.plot_base import (
    bin_note,
    bin_width,
    format_time_axis,
    legend,
    new_figure,
    plot_binned,
    step_post,
    time_values,
    title_of,
    usable,
)
from hierarchy.outputs.plots import _mark_off_scale, price_axis_top

__all__ = ["plot_market_stages", "plot_forecast_error", "plot_market_security"]

KINDS = ("load", "pv", "wind")


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
