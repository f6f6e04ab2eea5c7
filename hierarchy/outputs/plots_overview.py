"""The one-page overview of a run: key figures above the run's plots.

``overview.png`` puts together, on one page: a header with the run's key
figures (period, energy, voltage, loading, frequency, market, batteries),
read from the timeseries tables; the one-line diagram
(:mod:`hierarchy.outputs.plots_grid`) across the page; and the time-series
plots (:mod:`hierarchy.outputs.plots`) two to a row. The plots are the
pixels already drawn for their own files, so the page costs no drawing
beyond its header.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hierarchy.kernel.durations import format_duration
from hierarchy.outputs.plot_base import PLOT_DPI, merge_equal_columns, render, usable

__all__ = ["key_figures", "header", "compose", "shrink", "GAP_PX", "SCALE"]

#: white between and around the plots [px]
GAP_PX = 12
#: the plots on the page, at this fraction of their own size (a page of about 2000 px
#: across: whole on a screen, the plots' text still legible; each plot's own file has it all)
SCALE = 2 / 3


def _span(frame: pd.DataFrame) -> tuple[str, float]:
    """The period of a time-indexed table as text, and its step [h]."""
    index = frame.index
    step = pd.Timedelta(np.median(np.diff(index.to_numpy()))) if len(index) > 1 else pd.Timedelta(0)
    end = index[-1] + step
    return f"{index[0]:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}", step / pd.Timedelta(1, "h")


def _energy(frames, step_h: float) -> list[str]:
    balance = usable(frames.get("system_balance_mw"))
    if balance is None:
        return []
    mwh = balance.sum() * step_h
    names = (("load_mw", "load"), ("generation_mw", "generation"), ("import_mw", "import"),
             ("export_mw", "export"), ("losses_mw", "losses"), ("curtailed_mw", "curtailed"),
             ("not_served_mw", "not served"))
    return ["energy [MWh]"] + [f"  {label} {mwh[column]:,.2f}" for column, label in names
                               if column in mwh and (mwh[column] > 0 or column == "load_mw")]


def _grid(frames, v_band_pu: tuple[float, float], step_h: float) -> list[str]:
    lines = []
    vm = usable(frames.get("bus_vm_pu"))
    if vm is not None:
        low, high = vm.min(), vm.max()
        outside = ((vm < v_band_pu[0]) | (vm > v_band_pu[1])).to_numpy().sum() * step_h
        lines += ["voltage [pu]",
                  f"  lowest {low.min():.4f} at {low.idxmin()}, {vm[low.idxmin()].idxmin():%Y-%m-%d %H:%M}",
                  f"  highest {high.max():.4f} at {high.idxmax()}, {vm[high.idxmax()].idxmax():%Y-%m-%d %H:%M}",
                  f"  {outside:,.2f} bus-hours outside {v_band_pu[0]:g}-{v_band_pu[1]:g}"]
    loading = usable(frames.get("line_loading_percent"))
    if loading is not None:
        peak = loading.max()
        line = peak.idxmax()
        lines += ["line loading [%]",
                  f"  highest {peak.max():.1f} on {line}, {loading[line].idxmax():%Y-%m-%d %H:%M}",
                  f"  {(loading > 100.0).to_numpy().sum() * step_h:,.2f} line-hours above 100"]
    return lines


def _frequency(frames) -> list[str]:
    frequency = usable(frames.get("area_frequency_hz"))
    if frequency is None:
        return []
    lines = ["frequency [Hz]"]
    low, high = frequency.min(), frequency.max()
    if float((high - low).max()) < 1e-9:
        return lines + [f"  constant at {float(low.iloc[0]):g} in every area"]
    islands = merge_equal_columns(frequency)
    for name in islands.columns[:4]:
        nadir_at = islands[name].idxmin()
        lines += [f"  {name}:", f"    nadir {islands[name].min():.3f} at {nadir_at:%Y-%m-%d %H:%M:%S}",
                  f"    highest {islands[name].max():.3f}"]
    if islands.shape[1] > 4:
        lines.append(f"  ... {islands.shape[1] - 4} more islands")
    return lines


def _events(frames) -> list[str]:
    events = frames.get("events")
    if events is None or not len(events) or "kind" not in events:
        return []
    lines = [f"events ({len(events)})"]
    for _, event in events.head(6).iterrows():
        lines.append(f"  {event['time']:%Y-%m-%d %H:%M:%S} {event['kind']} {event['target']} "
                     f"{event.get('detail', '')}".rstrip()[:60])
    if len(events) > 6:
        lines.append(f"  ... {len(events) - 6} more (events.parquet)")
    return lines


def _market(frames) -> list[str]:
    lines = []
    price = usable(frames.get("market_price"))
    if price is not None:
        values = price.to_numpy(dtype=float)
        lines += ["market [per MWh]", f"  {len(price)} intervals, mean price {np.nanmean(values):.2f}",
                  f"  lowest {np.nanmin(values):.2f}, highest {np.nanmax(values):.2f}"]
    soc = usable(frames.get("battery_soc"))
    if soc is not None:
        values = soc.to_numpy(dtype=float)
        span = f"{np.nanmin(values):.2f}-{np.nanmax(values):.2f}"
        lines += ["batteries", f"  {soc.shape[1]}, state of charge {span} pu"]
    return lines


def key_figures(frames, v_band_pu: tuple[float, float] = (0.95, 1.05)) -> list[list[str]]:
    """The header's text, in columns: period and energy; voltage and loading; frequency;
    market, batteries and events. Read from the timeseries tables and the event table
    (``frames["events"]``)."""
    base = usable(frames.get("bus_vm_pu"))
    if base is None:
        return []
    period, step_h = _span(base)
    step = format_duration(round(step_h * 3_600_000)) if step_h else "-"
    first = [f"{period}", f"{len(base):,} steps of {step}"] + _energy(frames, step_h)
    return [column for column in (first, _grid(frames, v_band_pu, step_h), _frequency(frames),
                                  _market(frames) + _events(frames)) if column]


def header(title: str, columns: list[list[str]], width_px: int) -> np.ndarray:
    """The page's header: its title and the key figures in columns, as RGB pixels
    ``width_px`` wide (drawn at the plots' scale, then shrunk with them)."""
    rows = max((len(c) for c in columns), default=0)
    height_in = 0.8 + 0.27 * rows
    figure = Figure(figsize=(width_px / PLOT_DPI / SCALE, height_in), dpi=PLOT_DPI)
    figure.text(0.01, 1 - 0.15 / height_in, title, fontsize=20, fontweight="bold", va="top")
    for k, column in enumerate(columns):
        figure.text(0.01 + k / max(len(columns), 1), 1 - 0.65 / height_in, "\n".join(column),
                    va="top", fontsize=12.5, family="monospace", linespacing=1.3)
    return shrink(render(figure))


def shrink(pixels: np.ndarray, scale: float = SCALE) -> np.ndarray:
    """RGB pixels resized to ``scale`` of their size (area-averaging)."""
    from PIL import Image

    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BOX))


def _pad(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    out = np.full((height, width, 3), 255, dtype=np.uint8)
    out[:pixels.shape[0], :pixels.shape[1]] = pixels[:height, :width]
    return out


def compose(top: np.ndarray, wide: list[np.ndarray], tiles: list[np.ndarray]) -> np.ndarray:
    """The page: ``top``, then each of ``wide`` across the page, then ``tiles`` two to a row.

    Every image is RGB pixels; the page is as wide as two tiles (or the widest
    image) with :data:`GAP_PX` of white between and around them.
    """
    tile_w = max((t.shape[1] for t in tiles), default=0)
    width = max([2 * tile_w + GAP_PX] + [w.shape[1] for w in wide] + [top.shape[1]])
    parts = [_pad(top, top.shape[0], width)]
    parts += [_pad(image, image.shape[0], width) for image in wide]
    for k in range(0, len(tiles), 2):
        pair = tiles[k:k + 2]
        height = max(t.shape[0] for t in pair)
        row = [_pad(pair[0], height, tile_w), np.full((height, GAP_PX, 3), 255, np.uint8)]
        row.append(_pad(pair[1], height, width - tile_w - GAP_PX) if len(pair) > 1
                   else np.full((height, width - tile_w - GAP_PX, 3), 255, np.uint8))
        parts.append(np.hstack(row))
    gap = np.full((GAP_PX, width, 3), 255, np.uint8)
    page = [gap]
    for part in parts:
        page += [part, gap]
    return np.vstack(page)
