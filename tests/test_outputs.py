"""Tests of hierarchy.outputs: files, plots and run comparison."""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hierarchy.outputs import compare, plots
from hierarchy.outputs import files as outputs
from hierarchy.outputs.files import (
    flatten,
    provenance,
    read_parquet,
    sha256_file,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)

REPO = Path(__file__).resolve().parents[1]


def synthetic_frames(days: int = 2, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Timeseries tables shaped like a run's: 15 min physics, 1 h market."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2016-06-01", periods=days * 96, freq="15min", name="time")
    hours = (time.hour + time.minute / 60).to_numpy()
    sun = np.clip(np.sin((hours - 6) / 12 * np.pi), 0, None)
    load = 0.6 + 0.3 * np.exp(-((hours - 19) / 2.5) ** 2)
    noise = 0.002 * rng.standard_normal((30, len(time)))
    buses = {f"bus/{i}": 1.0 + 0.0015 * i * (sun - 0.8 * load) + noise[i] for i in range(30)}
    lines = {f"line/{i}": np.abs(100 * (i / 20) * (0.9 * load - 0.6 * sun)) + 5 for i in range(20)}
    net_export = pd.DataFrame({"north": 4 * sun - 3 * load, "south": 3 * load - 4 * sun},
                              index=time)
    hourly = net_export.resample("1h").mean().round(1).rename_axis("time")
    frequency_hz = pd.DataFrame({"north": 50 + 0.02 * rng.standard_normal(len(time)),
                                 "south": 50 + 0.02 * rng.standard_normal(len(time))}, index=time)
    soc = 0.5 + 0.4 * np.cumsum(sun - sun.mean()) / np.abs(np.cumsum(sun - sun.mean())).max()
    hour_index = hourly.index
    price = 40 + 60 * np.exp(-((hour_index.hour - 19) / 2.0) ** 2) - 25 * np.clip(
        np.sin((hour_index.hour - 6) / 12 * np.pi), 0, None)
    return {
        "bus_vm_pu": pd.DataFrame(buses, index=time),
        "line_loading_percent": pd.DataFrame(lines, index=time),
        "area_net_export_mw": net_export,
        "area_schedule_mw": hourly,
        "area_ace_mw": net_export - hourly.reindex(time, method="ffill"),
        "area_frequency_hz": frequency_hz,
        "market_price": pd.DataFrame({"north": price, "south": price + 5}, index=hour_index),
        "battery_soc": pd.DataFrame({"storage/0": soc, "storage/1": 0.8 * soc + 0.1}, index=time),
    }


# ---------------------------------------------------------------- atomic writes

def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_text_write_replaces_and_creates_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "note.txt"
    write_text_atomic(target, "first")
    write_text_atomic(target, "second ü")
    assert target.read_text(encoding="utf-8") == "second ü"
    assert _leftovers(target.parent) == []


def test_failed_text_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.json"
    target.write_text("old")

    def failing_fsync(descriptor: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(target, "new content that never lands")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_parquet_writer_never_touches_final_name_midway(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "bus_vm_pu.parquet"
    target.write_bytes(b"old table")
    seen: dict[str, object] = {}

    def half_writer(table: object, where: object) -> None:
        where.write(b"PAR1 half a table")  # type: ignore[attr-defined]
        seen["target_during_write"] = target.read_bytes()
        seen["written_to"] = Path(where.name)  # type: ignore[attr-defined]
        raise RuntimeError("killed mid-way")

    monkeypatch.setattr(pq, "write_table", half_writer)
    frame = pd.DataFrame({"bus/0": [1.0]}, index=pd.DatetimeIndex(["2016-01-01"], name="time"))
    with pytest.raises(RuntimeError, match="mid-way"):
        write_parquet_atomic(target, frame)
    assert seen["target_during_write"] == b"old table"
    assert seen["written_to"].parent == tmp_path and seen["written_to"] != target
    assert target.read_bytes() == b"old table"
    assert _leftovers(tmp_path) == []


def test_unserialisable_json_names_key_and_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    with pytest.raises(TypeError, match=r"energy\.bad"):
        write_json_atomic(target, {"energy": {"bad": object()}})
    assert not target.exists() and _leftovers(tmp_path) == []


# ---------------------------------------------------------------- json, parquet

def test_json_nan_inf_and_numpy(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    write_json_atomic(target, {
        "nan": float("nan"), "inf": np.float64(np.inf), "minus_inf": -math.inf,
        "f": np.float32(1.5), "i": np.int64(7), "b": np.bool_(True), "arr": np.array([1.0, np.nan]),
        "nested": {"t": (1, np.nan)}, "when": dt.datetime(2016, 6, 1, 12, 30),
        "nat": pd.NaT, "path": Path("x") / "y",
    })

    def reject(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    data = json.loads(target.read_text(), parse_constant=reject)  # strict RFC 8259
    assert data == {"nan": None, "inf": None, "minus_inf": None, "f": 1.5, "i": 7, "b": True,
                    "arr": [1.0, None], "nested": {"t": [1, None]},
                    "when": "2016-06-01T12:30:00", "nat": None, "path": os.path.join("x", "y")}
    assert isinstance(data["i"], int) and isinstance(data["b"], bool)


@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Berlin"])
def test_parquet_round_trip_exact(tmp_path: Path, tz: str | None) -> None:
    index = pd.date_range("2016-03-27 00:00", periods=12, freq="15min", tz=tz, name="time")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(1.0, 0.02, (12, 3)), index=index,
                         columns=["bus/10", "bus/2", "sgen/3"])
    frame.iloc[4, 1] = np.nan
    path = tmp_path / "timeseries" / "bus_vm_pu.parquet"
    write_parquet_atomic(path, frame)
    back = read_parquet(path)
    pd.testing.assert_frame_equal(back, frame, check_freq=False, check_exact=True)
    assert list(back.columns) == ["bus/10", "bus/2", "sgen/3"]
    assert back.index.name == "time" and str(back.index.tz) == str(tz)


def test_parquet_unnamed_time_index_becomes_time(tmp_path: Path) -> None:
    index = pd.to_datetime(["2016-01-01", "2016-01-02"])
    frame = pd.DataFrame({"north": [50.0, 49.9]}, index=index)
    write_parquet_atomic(tmp_path / "f.parquet", frame)
    back = read_parquet(tmp_path / "f.parquet")
    assert back.index.name == "time" and frame.index.name is None  # caller's frame untouched
    np.testing.assert_array_equal(back.index.to_numpy(), frame.index.to_numpy())


def test_read_parquet_exits_cleanly_repeatedly(tmp_path: Path) -> None:
    """DESIGN.md pitfall: pandas.read_parquet aborts ~1/3 of interpreters at exit."""
    path = tmp_path / "t.parquet"
    write_parquet_atomic(path, synthetic_frames(days=1)["bus_vm_pu"])
    code = ("from hierarchy.outputs import read_parquet\n"
            f"assert read_parquet({str(path)!r}).shape == (96, 30)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    statuses = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               timeout=60).returncode for _ in range(4)]
    assert statuses == [0, 0, 0, 0]


# ---------------------------------------------------------------- small helpers

def test_sha256_file_fips_vector_and_chunking(tmp_path: Path) -> None:
    (tmp_path / "abc").write_bytes(b"abc")  # FIPS 180-2, appendix B.1
    assert sha256_file(tmp_path / "abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    (tmp_path / "million_a").write_bytes(b"a" * 1_000_000)  # FIPS 180-2, appendix B.3
    assert sha256_file(tmp_path / "million_a") == (
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")


def test_flatten() -> None:
    summary = {"steps": 96, "energy": {"load_mwh": 1.5, "losses_mwh": 0.1},
               "areas": {"north": {"frequency_min_hz": 49.9}, "empty": {}}, "tags": [1, 2]}
    assert flatten(summary) == {"steps": 96, "energy.load_mwh": 1.5, "energy.losses_mwh": 0.1,
                                "areas.north.frequency_min_hz": 49.9, "tags": [1, 2]}
    assert flatten({"a": {"b": 1}}, prefix="run") == {"run.a.b": 1}
    assert list(flatten(summary)) == ["steps", "energy.load_mwh", "energy.losses_mwh",
                                      "areas.north.frequency_min_hz", "tags"]
    with pytest.raises(ValueError, match="a.b"):
        flatten({"a.b": 1, "a": {"b": 2}})


def test_provenance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = provenance("0" * 64, 1)["packages"]
    assert set(full) >= {"hiergrid", "simpy", "numpy", "scipy", "pandas", "pandapower", "simbench",
                         "lightsim2grid", "pyarrow", "pydantic", "matplotlib"}
    assert full["pyarrow"] == pa.__version__
    monkeypatch.setattr(outputs, "PROVENANCE_PACKAGES", ("numpy", "pandas", "no-such-dist-xyz"))
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    record = provenance("ab" * 32, np.int64(7))
    assert {"scenario_sha256", "seed", "python", "platform", "packages", "command_line",
            "utc_time"} <= set(record)
    assert record["packages"] == {"numpy": np.__version__, "pandas": pd.__version__,
                                  "no-such-dist-xyz": None}
    assert record["python"] == ".".join(map(str, sys.version_info[:3]))
    assert record["seed"] == 7 and record["scenario_sha256"] == "ab" * 32
    assert record["command_line"] == sys.argv
    when = dt.datetime.fromisoformat(record["utc_time"])
    assert when.utcoffset() == dt.timedelta(0)
    assert before <= when <= dt.datetime.now(dt.timezone.utc)
    write_json_atomic(tmp_path / "provenance.json", record)  # serialisable as is


# ---------------------------------------------------------------- plots

def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_make_plots_writes_all_pngs(tmp_path: Path) -> None:
    written = plots.make_plots(synthetic_frames(), tmp_path / "plots", title="demo")
    assert [p.name for p in written] == ["voltage_band.png", "line_loading.png", "net_export.png",
                                         "frequency.png", "market_price.png", "battery_soc.png",
                                         "overview.png"]
    for path in written[:-1]:
        assert path.stat().st_size > 20_000
        width_px, height_px = _png_size(path)
        assert width_px == 1500 and height_px >= 675  # 10 in x 150 dpi
    # the overview: two plots to a row at 2/3 of their size, 12 px apart; three rows and a header
    width_px, height_px = _png_size(written[-1])
    assert width_px == 2 * 1000 + 12 and height_px > 3 * 450
    assert _leftovers(tmp_path / "plots") == []


def test_make_plots_skips_missing_empty_and_nan(tmp_path: Path) -> None:
    frames = synthetic_frames(days=1)
    partial = {"bus_vm_pu": frames["bus_vm_pu"],
               "line_loading_percent": pd.DataFrame(),
               "area_frequency_hz": frames["area_frequency_hz"] * np.nan,
               "market_price": frames["market_price"].iloc[:0],
               "area_net_export_mw": frames["area_net_export_mw"]}  # no schedule, no ACE
    written = plots.make_plots(partial, tmp_path)
    assert sorted(p.name for p in written) == ["net_export.png", "overview.png", "voltage_band.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net_export.png", "overview.png",
                                                          "voltage_band.png"]
    assert plots.make_plots({}, tmp_path / "none") == []


def test_voltage_band_draws_min_max_mean_and_limits() -> None:
    frame = synthetic_frames(days=1)["bus_vm_pu"]
    figure = plots.plot_voltage_band(frame, v_band_pu=(0.9, 1.1))
    ax = figure.axes[0]
    by_label = {line.get_label().split(" ")[0]: line for line in ax.get_lines()}
    np.testing.assert_allclose(by_label["max"].get_ydata(), frame.to_numpy().max(axis=1))
    np.testing.assert_allclose(by_label["min"].get_ydata(), frame.to_numpy().min(axis=1))
    np.testing.assert_allclose(by_label["mean"].get_ydata(), frame.to_numpy().mean(axis=1))
    limits = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
    assert limits == [0.9, 1.1]
    assert "[pu]" in ax.get_ylabel()


def test_line_loading_top_lines_by_peak() -> None:
    frame = synthetic_frames(days=1)["line_loading_percent"]
    ax = plots.plot_line_loading(frame).axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    expected_top = list(frame.max().sort_values(ascending=False).index[:5])
    assert [label.split(" ")[0] for label in labels if label.startswith("line/")] == expected_top
    assert any(line.get_ydata()[0] == 100.0 for line in ax.get_lines())


def test_line_loading_draws_the_security_limits() -> None:
    """A line with a security limit is drawn first, whatever its peak, with its limit dashed in its
    colour; the other four places go to the lines of highest peak."""
    frame = synthetic_frames(days=1)["line_loading_percent"]
    ax = plots.plot_line_loading(frame, limits_percent={"line/3": 12.5, "line/99": 50.0}).axes[0]
    lines = {line.get_label().split(" ")[0] + (" limit" if "limit" in line.get_label() else ""): line
             for line in ax.get_lines()}
    expected = ["line/3"] + list(frame.max().drop("line/3").sort_values(ascending=False).index[:4])
    assert [k for k in lines if k.startswith("line/") and not k.endswith("limit")] == expected
    np.testing.assert_allclose(lines["line/3"].get_ydata(), frame["line/3"].to_numpy())
    assert list(lines["line/3 limit"].get_ydata()) == [12.5, 12.5]
    assert lines["line/3 limit"].get_linestyle() == "--"
    assert lines["line/3 limit"].get_color() == lines["line/3"].get_color()
    assert "line/99 limit" not in lines  # not in the grid: nothing drawn


def test_market_price_step_keeps_last_interval() -> None:
    index = pd.date_range("2016-06-01", periods=3, freq="1h", name="time")
    ax = plots.plot_market_price(pd.DataFrame({"system": [10.0, 30.0, 20.0]}, index=index)).axes[0]
    (line,) = [line for line in ax.get_lines() if line.get_label() == "system"]
    assert list(line.get_ydata()) == [10.0, 30.0, 20.0, 20.0]  # last hour drawn to its end
    assert line.get_drawstyle() == "steps-post"


def test_price_axis_top_leaves_only_rare_spikes_off_scale() -> None:
    base = np.tile([20.0, 60.0, 60.0, 120.0], 12)  # 48 intervals, an evening peak at 2x
    assert plots.price_axis_top(base) is None  # no spike: everything on scale
    spiky = base.copy()
    spiky[[5, 30]] = 3000.0  # scarcity at the cap
    # highest other price 120 plus 10 % of the other prices' range from 0 (120 - 0)
    assert plots.price_axis_top(spiky) == pytest.approx(120.0 + 0.1 * 120.0)
    frequent = base.copy()
    frequent[::3] = 3000.0  # a third of the intervals: not rare, keep them on scale
    assert plots.price_axis_top(frequent) is None
    assert plots.price_axis_top(np.full(5, np.nan)) is None


def test_market_price_marks_spikes_above_a_clipped_axis() -> None:
    index = pd.date_range("2016-06-01", periods=48, freq="1h", name="time")
    prices = np.tile([20.0, 60.0, 60.0, 120.0], 12)
    prices[[5, 30]] = 3000.0
    ax = plots.plot_market_price(pd.DataFrame({"system": prices}, index=index)).axes[0]
    bottom, top = ax.get_ylim()
    assert top == pytest.approx(132.0) and bottom < 0.0 <= 20.0
    (line,) = [line for line in ax.get_lines() if line.get_label() == "system"]
    assert list(line.get_ydata()[:-1]) == list(prices)  # the data is drawn, only the view clips
    (marks,) = [line for line in ax.get_lines() if line.get_marker() == "^"]
    half_hour = np.timedelta64(30, "m")
    assert list(marks.get_xdata()) == list(index.to_numpy()[[5, 30]] + half_hour)
    texts = [text.get_text() for text in ax.texts]
    assert texts == ["▲ 2 intervals off scale, up to 3000"]


def test_market_stages_marks_the_spikes_of_both_prices() -> None:
    """Day-ahead from the second day, intraday from the first: a spike of either is marked over
    its interval in its line's colour, and counted once."""
    from hierarchy.outputs.plots_market import plot_market_stages

    index = pd.date_range("2016-06-01", periods=48, freq="1h", name="time")
    intraday = np.tile([20.0, 60.0, 60.0, 120.0], 12)
    day_ahead = intraday[24:].copy()
    intraday[[5, 30]] = 3000.0, 720.0
    day_ahead[6] = 3000.0  # the intraday spike's hour (30) too
    ax = plot_market_stages(pd.DataFrame({"system": day_ahead}, index=index[24:]),
                            pd.DataFrame({"system": intraday}, index=index)).axes[0]
    colour = {line.get_label(): line.get_color() for line in ax.get_lines()}
    marks = {line.get_color(): list(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "^"}
    half_hour = np.timedelta64(30, "m")
    assert marks[colour["day-ahead"]] == [index.to_numpy()[30] + half_hour]
    assert marks[colour["per-interval"]] == list(index.to_numpy()[[5, 30]] + half_hour)
    assert [text.get_text() for text in ax.texts] == ["▲ 2 intervals off scale, up to 3000"]


# ---------------------------------------------------------------- compare

def _fake_run(folder: Path, load_mwh: float, price: float, extra: dict | None = None) -> Path:
    summary = {"steps": 96, "energy": {"load_mwh": load_mwh, "losses_mwh": float("nan")},
               "areas": {"north": {"frequency_min_hz": 49.9}}, **(extra or {})}
    write_json_atomic(folder / "summary.json", summary)
    frames = synthetic_frames(days=1)
    frames["market_price"] = frames["market_price"] * 0 + price
    for name in ("bus_vm_pu", "area_frequency_hz", "market_price"):
        write_parquet_atomic(folder / "timeseries" / f"{name}.parquet", frames[name])
    return folder


def test_compare_runs(tmp_path: Path) -> None:
    base = _fake_run(tmp_path / "base", 10.0, 40.0)
    other = _fake_run(tmp_path / "with_battery", 12.5, 55.0, extra={"market": {"intervals": 24}})
    table = compare.compare_runs([base, other], tmp_path / "cmp")
    assert list(table.columns) == ["base", "with_battery"]
    assert table.loc["energy.load_mwh"].tolist() == [10.0, 12.5]
    assert table.loc["steps"].tolist() == [96, 96]
    assert pd.isna(table.loc["market.intervals", "base"]) and table.loc["market.intervals",
                                                                        "with_battery"] == 24
    assert pd.isna(table.loc["energy.losses_mwh"]).all()  # NaN was written as null
    csv = pd.read_csv(tmp_path / "cmp" / "compare.csv", index_col=0)
    assert csv.loc["energy.load_mwh", "with_battery"] == 12.5
    names = sorted(p.name for p in (tmp_path / "cmp" / "plots").iterdir())
    assert names == ["frequency.png", "market_price.png", "voltage_band.png"]
    assert all((tmp_path / "cmp" / "plots" / n).stat().st_size > 20_000 for n in names)


def test_compare_runs_missing_summary_and_same_names(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        compare.compare_runs([tmp_path / "nowhere"], tmp_path / "cmp")
    first = tmp_path / "a" / "run"
    second = tmp_path / "b" / "run"
    for folder, load in ((first, 1.0), (second, 2.0)):
        write_json_atomic(folder / "summary.json", {"energy": {"load_mwh": load}})
    table = compare.compare_runs([first, second], tmp_path / "cmp")  # no timeseries: no plots
    assert list(table.columns) == ["a/run", "b/run"]
    assert table.loc["energy.load_mwh"].tolist() == [1.0, 2.0]
    plot_dir = tmp_path / "cmp" / "plots"
    assert not plot_dir.exists() or not any(plot_dir.iterdir())


def test_compare_aligns_runs_with_different_starts_on_hours() -> None:
    june = pd.date_range("2016-06-01", periods=3, freq="15min", name="time")
    december = pd.date_range("2016-12-01 12:00", periods=2, freq="30min", name="time")
    tables = {"june": pd.DataFrame({"a": [1.0, 2, 3]}, index=june),
              "december": pd.DataFrame({"a": [1.0, 2]}, index=december)}
    xs, label, index = compare._x_axes(tables)
    assert xs["june"].tolist() == [0.0, 0.25, 0.5] and xs["december"].tolist() == [0.0, 0.5]
    assert label == "time since start [h]" and index is None
    same = {"a": tables["june"], "b": tables["june"] * 2}
    xs, label, index = compare._x_axes(same)
    assert label == "time" and index is june
    np.testing.assert_array_equal(xs["b"], june.to_numpy())


def test_long_run_is_drawn_from_bins_that_keep_the_extremes(tmp_path: Path) -> None:
    frames = synthetic_frames(days=40)  # 3840 steps of 15 min: more than plots.MAX_POINTS
    frame = frames["bus_vm_pu"]
    width = plots.bin_width(frame.index)
    assert width is not None and (frame.index[-1] - frame.index[0]) / width <= plots.MAX_POINTS
    ax = plots.plot_voltage_band(frame).axes[0]
    by_label = {line.get_label().split(" ")[0]: line for line in ax.get_lines()}
    np.testing.assert_allclose(by_label["max"].get_ydata(),
                               frame.max(axis=1).resample(width).max().to_numpy())
    np.testing.assert_allclose(by_label["min"].get_ydata(),
                               frame.min(axis=1).resample(width).min().to_numpy())
    assert by_label["max"].get_ydata().max() == frame.to_numpy().max()  # the peak survives
    assert "bins" in ax.get_xlabel()
    assert plots.bin_width(synthetic_frames(days=1)["bus_vm_pu"].index) is None
    assert len(plots.make_plots(frames, tmp_path)) == 7  # the six and the overview


def test_plots_drawn_beside_the_tables_report_their_error(tmp_path, monkeypatch):
    """The plots may be drawn in a child process; their error still reaches the caller."""
    import hierarchy.outputs.plots
    from hierarchy.outputs.write import start_plots

    def broken(frames, folder, *, title="", geometry=None, line_limits_percent=None):
        raise ValueError("no axes today")

    monkeypatch.setattr(hierarchy.outputs.plots, "make_plots", broken)
    with pytest.raises((RuntimeError, ValueError), match="no axes today"):  # forked or in place
        start_plots({}, tmp_path / "plots", "t")()
