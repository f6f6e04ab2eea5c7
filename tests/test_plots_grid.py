"""One-line diagram, frequency marks and the overview page (issue 17).

References: the grid's own data read straight from pandapower (geodata,
switches), hand-built tables whose worst steps and extremes are known, and
the pixel arithmetic of the page.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandapower.networks as pn
import pandas as pd

from hierarchy.outputs import plots
from hierarchy.outputs.plots_grid import (
    plot_grid,
    worst_loading_step,
    worst_voltage_step,
)
from hierarchy.outputs.plots_overview import GAP_PX, compose, key_figures
from hierarchy.plant.geometry import GridGeometry, grid_geometry


def _tiny() -> GridGeometry:
    """Four buses in a row (0-1-2-3), a transformer 0-1, lines 1-2 and 2-3 (the last open)."""
    return GridGeometry(
        bus_names=("bus/0", "bus/1", "bus/2", "bus/3"),
        bus_xy=np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]), layout="test",
        line_names=("line/0", "line/1"), line_ends=np.array([[1, 2], [2, 3]]),
        trafo_names=("trafo/0",), trafo_ends=np.array([[0, 1]]),
        ext_grid_buses=np.array([0]), line_open=np.array([False, True]),
        device_buses={"storage": np.array([3])}, vn_kv=np.array([110.0, 20.0, 20.0, 20.0]))


def _tables():
    time = pd.date_range("2016-06-01", periods=4, freq="15min", name="time")
    vm = pd.DataFrame([[1.0, 1.01, 1.02, 1.03], [1.0, 0.99, 0.93, 0.97],  # row 1: 0.93, farthest
                       [1.0, 1.0, 1.06, 1.0], [1.0, 1.0, 1.0, 1.0]],
                      index=time, columns=["bus/0", "bus/1", "bus/2", "bus/3"])
    lines = pd.DataFrame([[10.0, 5.0], [20.0, 5.0], [30.0, 5.0], [95.0, 5.0]], index=time,
                         columns=["line/0", "line/1"])
    trafo = pd.DataFrame({"trafo/0": [50.0, 120.0, 60.0, 40.0]}, index=time)  # row 1: 120 %
    return vm, lines, trafo


def test_worst_steps_are_the_farthest_voltage_and_the_highest_loading():
    vm, lines, trafo = _tables()
    assert worst_voltage_step(vm) == 1  # |0.93 - 1| = 0.07 beats |1.06 - 1| = 0.06
    assert worst_loading_step(lines) == 3
    assert worst_loading_step(lines, trafo) == 1
    assert worst_voltage_step(vm * np.nan) is None


def test_grid_colours_are_the_worst_steps_values():
    vm, lines, trafo = _tables()
    figure = plot_grid(_tiny(), vm, lines, trafo, v_band_pu=(0.95, 1.05), title="t")
    voltage_ax, loading_ax = figure.axes[:2]  # (their colour bars come after them)
    coloured = [c for c in voltage_ax.collections if c.get_array() is not None]
    np.testing.assert_allclose(coloured[0].get_array(), vm.iloc[1].to_numpy())
    branches = [c for c in loading_ax.collections if c.get_array() is not None]
    # the open line/1 is drawn dashed, without a colour; line/0 and the transformer at row 1
    np.testing.assert_allclose(branches[0].get_array(), [20.0, 120.0])
    texts = " ".join(t.get_text() for ax in (voltage_ax, loading_ax) for t in ax.texts)
    assert "bus/2: 0.9300 pu" in texts and "trafo/0: 120.0 %" in texts
    assert "2016-06-01 00:15:00" in voltage_ax.get_title()
    assert plot_grid(None, vm, lines) is None and plot_grid(_tiny(), None) is None


def test_geometry_is_the_nets_geodata_and_its_open_switches():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pn.create_cigre_network_mv(with_der="all")
    geometry = grid_geometry(net)
    expected = np.array([json.loads(text)["coordinates"] for text in net.bus["geo"]])
    assert geometry.layout == "geodata"
    np.testing.assert_array_equal(geometry.bus_xy, expected)  # not longitude/latitude: unscaled
    open_lines = set(net.switch.element[(net.switch.et == "l") & ~net.switch.closed])
    assert set(np.flatnonzero(geometry.line_open)) == {net.line.index.get_loc(i) for i in open_lines}
    assert len(open_lines) >= 1
    np.testing.assert_array_equal(geometry.line_ends[:, 0],
                                  [net.bus.index.get_loc(b) for b in net.line.from_bus])
    assert geometry.device_buses["storage"].size == len(net.storage)


def test_geometry_without_geodata_is_a_layout_of_distinct_points():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = pn.create_cigre_network_mv(with_der="all")
    net.bus["geo"] = None
    geometry = grid_geometry(net)
    assert geometry.layout.startswith("generic")
    assert np.all(np.isfinite(geometry.bus_xy))
    assert len(np.unique(geometry.bus_xy.round(9), axis=0)) == len(net.bus)


def test_frequency_plot_marks_the_nadir_and_draws_one_line_per_island():
    time = pd.date_range("2024-01-15 08:00", periods=50, freq="100ms", name="time")
    dip = 50.0 - 0.05 * np.sin(np.linspace(0, np.pi, 50)) ** 2
    frame = pd.DataFrame({"west": dip, "east": dip, "island": np.full(50, 49.9)}, index=time)
    events = pd.DataFrame({"time": [time[3]], "kind": ["load_step"], "target": ["load/2"],
                           "detail": ["+10 MW"]})
    ax = plots.plot_frequency(frame, events=events).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "west, east (one island)" in labels and "island" in labels
    (mark,) = [line for line in ax.get_lines() if line.get_label().startswith("nadir")]
    assert mark.get_ydata()[0] == dip.min()
    assert pd.Timestamp(mark.get_xdata()[0]) == time[int(np.argmin(dip))]
    assert "load_step load/2 +10 MW" in " ".join(t.get_text() for t in ax.texts)
    flat = plots.plot_frequency(frame[["island"]]).axes[0]
    assert not [line for line in flat.get_lines() if line.get_label().startswith("nadir")]


def test_overview_page_and_key_figures():
    top = np.zeros((50, 3000, 3), np.uint8)
    wide = np.zeros((100, 3000, 3), np.uint8)
    tiles = [np.zeros((675, 1500, 3), np.uint8), np.zeros((1080, 1500, 3), np.uint8),
             np.zeros((675, 1500, 3), np.uint8)]
    page = compose(top, [wide], tiles)
    # rows: header, wide, pair (as tall as its taller), single; a gap above, between, below
    assert page.shape == (50 + 100 + 1080 + 675 + 5 * GAP_PX, 2 * 1500 + GAP_PX, 3)
    time = pd.date_range("2016-06-01", periods=4, freq="15min", name="time")
    balance = pd.DataFrame({"load_mw": [1.0, 2.0, 3.0, 4.0], "generation_mw": [4.0] * 4,
                            "losses_mw": [0.1] * 4}, index=time)
    vm, lines, _ = _tables()
    columns = key_figures({"bus_vm_pu": vm, "system_balance_mw": balance,
                           "line_loading_percent": lines})
    text = "\n".join(line for column in columns for line in column)
    assert "load 2.50" in text  # (1 + 2 + 3 + 4) MW x 0.25 h
    assert "generation 4.00" in text and "losses 0.10" in text
    assert "lowest 0.9300 at bus/2" in text and "highest 95.0 on line/0" in text
    assert "4 steps of 15min" in text
