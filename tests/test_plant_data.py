"""Plant-side data loaders: networks, topology selectors, profiles.

References used: the CIGRE MV benchmark's published topology (CIGRE TB 575,
2014: feeder 1 = buses 1-11, feeder 2 = buses 12-14 with S1-S3 open), the
SimBench data set's own feeder labels and ``simbench.get_absolute_values``,
closed-form solar geometry (Duffie & Beckman eq. 1.6.5) and hand-worked
resampling.
"""
from __future__ import annotations

import copy
from datetime import datetime

import numpy as np
import pandas as pd
import pandapower as pp
import pandapower.networks as pn
import pytest
import simbench

from hierarchy.plant.network import (
    cast_numeric_columns, element_names, load_net, rating_mva)
from hierarchy.plant.profiles import (
    SIMBENCH_STEP_MS, build_profiles, clear_sky_fraction, load_shape, resample, sgen_kinds,
    wind_capacity_factor)
from hierarchy.plant.topology import (
    element_bus, feeder_buses, feeders, islands, parse_element, select_elements, zone_buses)

CODE = "1-MV-semiurb--0-sw"
JUNE_1_ROW = 152 * 96  # 2016-06-01 00:00 is day 153 of the leap year 2016


@pytest.fixture(scope="module")
def sb_net():
    return load_net("simbench", code=CODE)


@pytest.fixture(scope="module")
def sb_absolute(sb_net):
    return simbench.get_absolute_values(sb_net, profiles_instead_of_study_cases=True)


@pytest.fixture(scope="module")
def cigre_built():
    return load_net("pandapower", name="create_cigre_network_mv", options={"with_der": "all"})


@pytest.fixture()
def cigre(cigre_built):
    return copy.deepcopy(cigre_built)  # tests may switch lines


# --- network ---------------------------------------------------------------

def test_simbench_object_columns_cast_to_float(sb_net):
    for table, column in [("sgen", "min_p_mw"), ("load", "max_q_mvar"), ("ext_grid", "sn_mva"),
                          ("storage", "max_p_mw"), ("gen", "min_p_mw")]:
        assert sb_net[table][column].dtype == np.float64, (table, column)
    assert sb_net.bus.voltLvl.dtype.kind == "i"
    assert sb_net.sgen.profile.dtype == object  # text columns stay text


def test_cast_numeric_columns_by_value_and_by_name():
    net = pn.create_cigre_network_mv()
    net.load["max_p_mw"] = pd.Series([None] * len(net.load), dtype=object)
    net.load["limit"] = pd.Series([1, 2.5] + [None] * (len(net.load) - 2), dtype=object)
    net.load["label"] = pd.Series([None] * len(net.load), dtype=object)
    cast_numeric_columns(net)
    assert net.load.max_p_mw.dtype == np.float64 and net.load.limit.dtype == np.float64
    assert net.load.limit.iloc[1] == 2.5
    assert net.load.label.dtype == object
    net.load["max_q_mvar"] = pd.Series(["big"] * len(net.load), dtype=object)
    with pytest.raises(ValueError, match="load.max_q_mvar"):
        cast_numeric_columns(net)


def test_simbench_ratings_finite_and_cache_returns_copies(sb_net):
    for table in ("load", "sgen", "storage", "gen"):
        assert np.isfinite(sb_net[table].sn_mva.to_numpy(float)).all()
    again = load_net("simbench", code=CODE)
    again.load.loc[0, "p_mw"] = 99.0
    assert sb_net.load.p_mw.iloc[0] != 99.0


def test_rating_rule_fills_missing_from_apparent_power_and_limits():
    net = pp.create_empty_network()
    bus = pp.create_bus(net, 20.0)
    pp.create_sgen(net, bus, p_mw=0.3, q_mvar=0.4)               # sqrt(0.09+0.16) = 0.5
    pp.create_sgen(net, bus, p_mw=0.1, max_p_mw=0.8)             # limit dominates
    pp.create_sgen(net, bus, p_mw=0.2, sn_mva=1.0)               # given rating kept
    net.sgen.loc[1, "sn_mva"] = np.nan
    np.testing.assert_allclose(rating_mva(net.sgen), [0.5, 0.8, 1.0])
    peaks = pd.Series([0.0, 0.0, 0.0])
    peaks.iloc[0] = 0.7
    np.testing.assert_allclose(rating_mva(net.sgen, peaks), [0.7, 0.8, 1.0])


def test_pandapower_name_errors_list_close_matches():
    with pytest.raises(ValueError, match="create_cigre_network_mv"):
        load_net("pandapower", name="create_cigre_network_m")
    with pytest.raises(ValueError, match="not a pandapower.networks network function"):
        load_net("pandapower", name="create_bus")
    with pytest.raises(ValueError, match="grid.options"):
        load_net("pandapower", name="create_cigre_network_mv", options={"bogus": 1})
    with pytest.raises(ValueError, match="1-MV-semiurb--0-sw"):
        load_net("simbench", code="1-MV-semiurb--0-sx")
    with pytest.raises(ValueError, match="unknown source"):
        load_net("matpower", name="case9")


def test_file_source_round_trip(tmp_path, cigre):
    path = tmp_path / "net.json"
    pp.to_json(cigre, str(path))
    net = load_net("file", path=path)
    pd.testing.assert_frame_equal(net.line[["from_bus", "to_bus"]], cigre.line[["from_bus", "to_bus"]])
    with pytest.raises(ValueError, match="no such file"):
        load_net("file", path=tmp_path / "missing.json")


# --- topology ----------------------------------------------------------------

def test_cigre_feeders(cigre):
    assert feeder_buses(cigre, 1) == list(range(1, 12))
    assert feeder_buses(cigre, 12) == [12, 13, 14]
    assert feeders(cigre) == [list(range(1, 12)), [12, 13, 14]]
    assert feeder_buses(cigre, 5) == list(range(2, 12))  # below the busbar
    with pytest.raises(ValueError, match="upstream"):
        feeder_buses(cigre, 0)
    with pytest.raises(ValueError, match="not in the grid"):
        feeder_buses(cigre, 99)


def test_cigre_feeder_grows_when_tie_switch_closes(cigre):
    cigre.switch.loc[cigre.switch.name == "S1", "closed"] = True  # ties bus 8 to bus 14
    assert feeder_buses(cigre, 1) == list(range(1, 15))


def test_simbench_feeders_match_the_data_sets_labels(sb_net):
    found = feeders(sb_net)
    assert len(found) == 9
    for k, buses in enumerate(found, start=1):
        labelled = sb_net.bus.index[sb_net.bus.subnet.str.endswith(f"_Feeder{k}")]
        assert buses == sorted(labelled) == zone_buses(sb_net, f"Feeder{k}")
        assert feeder_buses(sb_net, buses[0]) == buses
    assert feeder_buses(sb_net, 2) == list(range(2, 117))  # busbar 2: the whole MV grid


def test_zone_buses(cigre):
    assert zone_buses(cigre, "CIGRE_MV") == list(range(15))
    with pytest.raises(ValueError, match="CIGRE_MV"):
        zone_buses(cigre, "north")


def test_select_elements_on_cigre_sgen_type(cigre):
    pv = select_elements(cigre, "sgen", {"type": "PV"})
    assert pv == [i for i, name in cigre.sgen.name.items() if name.startswith("PV ")]
    assert len(pv) == 8
    assert select_elements(cigre, "sgen", {"type": ["WP", "CHP diesel"]}) == [8, 10]
    assert select_elements(cigre, "sgen", {"type": "PV", "bus": 9}) == [5]
    assert select_elements(cigre, "storage", None) == [0, 1]
    with pytest.raises(ValueError, match="no column 'kind'.*type"):
        select_elements(cigre, "sgen", {"kind": "PV"})


def test_names_and_buses(cigre):
    assert parse_element("sgen/3") == ("sgen", 3)
    for bad in ("sgen3", "sgen/x", "/3", "sgen/-1"):
        with pytest.raises(ValueError, match="table/index"):
            parse_element(bad)
    assert element_names(cigre, "storage") == ["storage/0", "storage/1"]
    np.testing.assert_array_equal(element_bus(cigre, "storage"), [5, 10])
    np.testing.assert_array_equal(element_bus(cigre, "trafo"), [1, 12])
    np.testing.assert_array_equal(element_bus(cigre, "line")[:2], [1, 2])


def test_islands_after_opening_a_line(cigre):
    assert [a.tolist() for a in islands(cigre)] == [list(range(15))]
    cigre.line.loc[10, "in_service"] = False  # line 12-13
    found = [a.tolist() for a in islands(cigre)]
    assert found == [list(range(13)), [13, 14]]
    assert [a.tolist() for a in islands(cigre, in_service_only=False)] == [list(range(15))]
    pp.runpp(cigre)  # pandapower's own view: the cut-off buses are unsupplied
    assert cigre.res_bus.vm_pu.loc[[13, 14]].isna().all()
    assert cigre.res_bus.vm_pu.loc[:12].notna().all()


# --- profiles: simbench -------------------------------------------------------

def test_simbench_15min_equals_raw_rows(sb_net, sb_absolute):
    prof = build_profiles(sb_net, "simbench", datetime(2016, 6, 1), SIMBENCH_STEP_MS, 96, seed=0)
    rows = slice(JUNE_1_ROW, JUNE_1_ROW + 96)
    np.testing.assert_array_equal(prof.load_p_mw, sb_absolute[("load", "p_mw")].iloc[rows])
    np.testing.assert_array_equal(prof.load_q_mvar, sb_absolute[("load", "q_mvar")].iloc[rows])
    np.testing.assert_array_equal(prof.sgen_p_mw, sb_absolute[("sgen", "p_mw")].iloc[rows])
    assert prof.storage_p_mw.shape == (96, 0) and prof.gen_p_mw.shape == (96, 0)
    assert prof.sgen_p_mw.flags.c_contiguous and prof.sgen_p_mw.dtype == np.float64
    np.testing.assert_array_equal(prof.time_ms, np.arange(96) * SIMBENCH_STEP_MS)


def test_simbench_hourly_is_mean_of_four_rows(sb_net, sb_absolute):
    prof = build_profiles(sb_net, "simbench", datetime(2016, 6, 1), 3_600_000, 24, seed=0)
    raw = sb_absolute[("sgen", "p_mw")].to_numpy()[JUNE_1_ROW:JUNE_1_ROW + 96]
    np.testing.assert_allclose(prof.sgen_p_mw, raw.reshape(24, 4, -1).mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(prof.sgen_p_mw.sum(0) * 1.0, raw.sum(0) * 0.25, rtol=1e-12)  # MWh


def test_simbench_values_cached_on_disk_equal_simbench(sb_net, sb_absolute, tmp_path, monkeypatch):
    """The profile values a later run reads from the disk cache equal simbench's own,
    and a net with other profile values is not served the cached ones."""
    from hierarchy.plant import profiles

    monkeypatch.setenv("HIERGRID_CACHE", str(tmp_path))
    monkeypatch.setattr(profiles, "_SIMBENCH_CACHE", {})
    first = profiles.simbench_absolute_values(sb_net)  # computed, then written
    assert len(list(tmp_path.glob("simbench-profiles-*.pkl"))) == 1
    monkeypatch.setattr(profiles, "_SIMBENCH_CACHE", {})  # as in a new process
    monkeypatch.setattr(simbench, "get_absolute_values", lambda *a, **k: pytest.fail("not cached"))
    cached = profiles.simbench_absolute_values(sb_net)
    assert cached is not first and set(cached) == set(sb_absolute)
    for key, frame in sb_absolute.items():
        pd.testing.assert_frame_equal(cached[key], frame)
    other = copy.deepcopy(sb_net)
    other.profiles["load"].iloc[0, 1] += 1.0
    monkeypatch.setattr(profiles, "_SIMBENCH_CACHE", {})
    with pytest.raises(pytest.fail.Exception, match="not cached"):
        profiles.simbench_absolute_values(other)


def test_simbench_values_held_in_memory_only_when_asked(sb_net, sb_absolute, tmp_path, monkeypatch):
    """``hold_simbench_values(0)`` (a single CLI run): the values come from the
    disk cache each time and the process keeps none; holding one again keeps
    the last net's."""
    from hierarchy.plant import profiles

    monkeypatch.setenv("HIERGRID_CACHE", str(tmp_path))
    monkeypatch.setattr(profiles, "_SIMBENCH_CACHE", {})
    monkeypatch.setattr(profiles, "_SIMBENCH_CACHE_SIZE", 4)
    profiles.simbench_absolute_values(sb_net)  # computed and written to the disk cache
    assert len(profiles._SIMBENCH_CACHE) == 1
    profiles.hold_simbench_values(0)
    assert profiles._SIMBENCH_CACHE == {}
    monkeypatch.setattr(simbench, "get_absolute_values", lambda *a, **k: pytest.fail("not cached"))
    first, second = profiles.simbench_absolute_values(sb_net), profiles.simbench_absolute_values(sb_net)
    assert first is not second and profiles._SIMBENCH_CACHE == {}
    for key, frame in sb_absolute.items():
        pd.testing.assert_frame_equal(second[key], frame)
    profiles.hold_simbench_values(1)
    assert profiles.simbench_absolute_values(sb_net) is profiles.simbench_absolute_values(sb_net)
    with pytest.raises(ValueError, match="count must be >= 0"):
        profiles.hold_simbench_values(-1)


def test_simbench_unaligned_step_preserves_energy(sb_net, sb_absolute):
    prof = build_profiles(sb_net, "simbench", datetime(2016, 6, 1), 20 * 60_000, 72, seed=0)
    raw = sb_absolute[("load", "p_mw")].to_numpy()[JUNE_1_ROW:JUNE_1_ROW + 96]
    np.testing.assert_allclose(prof.load_p_mw.sum(0) / 3.0, raw.sum(0) / 4.0, rtol=1e-9)
    # first 20 min = 15 min of row 0 and 5 min of row 1
    np.testing.assert_allclose(prof.load_p_mw[0], (3 * raw[0] + raw[1]) / 4, rtol=1e-9)


def test_simbench_finer_step_interpolates(sb_net, sb_absolute):
    prof = build_profiles(sb_net, "simbench", datetime(2016, 6, 1), 5 * 60_000, 6, seed=0)
    raw = sb_absolute[("load", "p_mw")].to_numpy()[JUNE_1_ROW:JUNE_1_ROW + 3, 7]
    expected = np.interp(np.arange(6) * 5.0, [0.0, 15.0, 30.0], raw)
    np.testing.assert_allclose(prof.load_p_mw[:, 7], expected, rtol=1e-12)


def test_simbench_other_year_and_wrap_around(sb_net, sb_absolute):
    same_day = build_profiles(sb_net, "simbench", datetime(2019, 6, 1), SIMBENCH_STEP_MS, 4, seed=0)
    np.testing.assert_array_equal(
        same_day.load_p_mw, sb_absolute[("load", "p_mw")].iloc[JUNE_1_ROW:JUNE_1_ROW + 4])
    wrapped = build_profiles(sb_net, "simbench", datetime(2016, 12, 31, 23), SIMBENCH_STEP_MS, 8, 0)
    raw = sb_absolute[("sgen", "p_mw")].to_numpy()
    np.testing.assert_array_equal(wrapped.sgen_p_mw, raw[np.r_[35132:35136, 0:4]])


def test_simbench_source_needs_simbench_net(cigre):
    with pytest.raises(ValueError, match="SimBench"):
        build_profiles(cigre, "simbench", datetime(2016, 1, 1), SIMBENCH_STEP_MS, 4, seed=0)


# --- profiles: synthetic, none --------------------------------------------------

def test_synthetic_deterministic_and_bounded(cigre):
    args = (cigre, "synthetic", datetime(2016, 6, 21), SIMBENCH_STEP_MS, 96 * 3)
    first, again, other = build_profiles(*args, seed=7), build_profiles(*args, seed=7), \
        build_profiles(*args, seed=8)
    for name in ("load_p_mw", "load_q_mvar", "sgen_p_mw", "storage_p_mw", "gen_p_mw"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.sgen_p_mw, other.sgen_p_mw)
    assert not np.array_equal(first.load_p_mw, other.load_p_mw)
    rating = cigre.sgen.sn_mva.to_numpy()
    assert (first.sgen_p_mw >= 0).all() and (first.sgen_p_mw <= rating + 1e-12).all()
    assert (first.load_p_mw >= 0).all() and (first.storage_p_mw == 0).all()
    is_pv, is_wind = sgen_kinds(cigre.sgen.type)
    assert is_pv.sum() == 8 and is_wind.tolist() == [False] * 8 + [True] + [False] * 4
    night = (first.time_ms % 86_400_000) < 3 * 3_600_000
    assert (first.sgen_p_mw[night][:, is_pv] == 0).all()
    assert (first.sgen_p_mw[:, is_pv].max(0) > 0).all()
    chp = ~(is_pv | is_wind)
    np.testing.assert_array_equal(first.sgen_p_mw[:, chp], np.tile(cigre.sgen.p_mw[chp], (288, 1)))
    assert np.unique(first.sgen_p_mw[:, is_wind]).size > 10  # the wind moves


def test_synthetic_shapes_closed_form():
    # equinox (declination 0 by Cooper at day 81): noon elevation = 90 - latitude
    np.testing.assert_allclose(clear_sky_fraction(np.array([12.0]), np.array([81]), 51.0),
                               [np.sin(np.radians(39.0))], rtol=1e-12)
    np.testing.assert_allclose(clear_sky_fraction(np.array([6.0]), np.array([81]), 51.0), [0.0],
                               atol=1e-12)  # sunrise at 06:00 on the equinox
    np.testing.assert_allclose(wind_capacity_factor(np.array([2.0, 7.5, 12.0, 20.0, 26.0])),
                               [0.0, 0.125, 1.0, 1.0, 0.0])
    hours = np.arange(0, 24, 0.25)
    shape = load_shape(hours)
    morning, evening = hours[np.argmax(np.where(hours < 13, shape, 0))], hours[np.argmax(shape)]
    assert 7.5 <= morning <= 8.5 and 18.5 <= evening <= 19.5 and shape.max() <= 1.0 + 1e-3


def test_sgen_kinds_on_simbench_types():
    types = pd.Series(["PV_MV", "lv_RES", "Wind_MV", "Biomass_MV", "Hydro_MV", "WT", None])
    is_pv, is_wind = sgen_kinds(types)
    assert is_pv.tolist() == [True, True, False, False, False, False, False]
    assert is_wind.tolist() == [False, False, True, False, False, True, False]


def test_none_holds_table_values(cigre):
    prof = build_profiles(cigre, "none", datetime(2016, 1, 1), 60_000, 5, seed=0)
    np.testing.assert_array_equal(prof.load_p_mw, np.tile(cigre.load.p_mw, (5, 1)))
    np.testing.assert_array_equal(prof.storage_p_mw, np.tile(cigre.storage.p_mw, (5, 1)))
    with pytest.raises(ValueError, match="unknown source"):
        build_profiles(cigre, "random", datetime(2016, 1, 1), 60_000, 5, seed=0)


# --- profiles: csv -----------------------------------------------------------------

def _write(tmp_path, frame: pd.DataFrame):
    path = tmp_path / "profiles.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _frame(n_rows: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "time": pd.date_range("2016-06-01", periods=n_rows, freq="15min").strftime("%Y-%m-%d %H:%M"),
        "load/3": rng.uniform(0.1, 0.5, n_rows),
        "load/3:q_mvar": rng.uniform(0.0, 0.1, n_rows),
        "sgen/0": rng.uniform(0.0, 0.02, n_rows)})


def test_csv_round_trip(tmp_path, cigre):
    frame = _frame()
    path = _write(tmp_path, frame)
    prof = build_profiles(cigre, "csv", datetime(2016, 6, 1), SIMBENCH_STEP_MS, 8, seed=0, path=path)
    np.testing.assert_allclose(prof.load_p_mw[:, 3], frame["load/3"], rtol=1e-12)
    np.testing.assert_allclose(prof.load_q_mvar[:, 3], frame["load/3:q_mvar"], rtol=1e-12)
    np.testing.assert_allclose(prof.sgen_p_mw[:, 0], frame["sgen/0"], rtol=1e-12)
    np.testing.assert_array_equal(prof.load_p_mw[:, 4], cigre.load.p_mw[4])  # not in the file
    hourly = build_profiles(cigre, "csv", datetime(2016, 6, 1), 3_600_000, 2, seed=0, path=path)
    np.testing.assert_allclose(hourly.load_p_mw[:, 3],
                               frame["load/3"].to_numpy().reshape(2, 4).mean(1), rtol=1e-12)
    late = build_profiles(cigre, "csv", datetime(2016, 6, 1, 0, 30), SIMBENCH_STEP_MS, 2, 0, path)
    np.testing.assert_allclose(late.load_p_mw[:, 3], frame["load/3"][2:4], rtol=1e-12)
    offsets = frame.assign(time=[f"{15 * k}min" for k in range(8)])
    relative = build_profiles(cigre, "csv", datetime(2020, 1, 1), SIMBENCH_STEP_MS, 8, 0,
                              _write(tmp_path, offsets))
    np.testing.assert_array_equal(relative.load_p_mw, prof.load_p_mw)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.rename(columns={"sgen/0": "sgen0"}), "column 'sgen0'"),
    (lambda f: f.rename(columns={"sgen/0": "sgen/99"}), "sgen/99 is not in the grid"),
    (lambda f: f.rename(columns={"sgen/0": "sgen/0:q_mvar"}), "'sgen/0:q_mvar': no series"),
    (lambda f: f.drop(index=4), "row 4.*gap"),
    (lambda f: f.head(6), "too short"),
    (lambda f: f.assign(**{"load/3": ["x"] + [0.1] * 7}), "column 'load/3', row 0.*'x'"),
    (lambda f: f.drop(columns="time"), "no 'time' column"),
    (lambda f: f.assign(time=range(8)), "needs a datetime"),
    (lambda f: f.assign(time=pd.date_range("2016-06-01 01:00", periods=8, freq="15min")),
     "starts 60 min after"),
])
def test_csv_errors(tmp_path, cigre, change, message):
    path = _write(tmp_path, change(_frame()))
    with pytest.raises(ValueError, match=message):
        build_profiles(cigre, "csv", datetime(2016, 6, 1), SIMBENCH_STEP_MS, 8, seed=0, path=path)


def test_resample_hand_worked():
    values = np.array([[1.0], [3.0], [5.0], [7.0]])
    np.testing.assert_allclose(resample(values, 10, 0, 20, 2, wrap=False)[:, 0], [2.0, 6.0])
    np.testing.assert_allclose(resample(values, 10, 30, 20, 1, wrap=True)[:, 0], [4.0])  # 7, 1
    np.testing.assert_allclose(resample(values, 10, 5, 5, 3, wrap=False)[:, 0], [2.0, 3.0, 4.0])
    np.testing.assert_allclose(resample(values, 10, 5, 15, 2, wrap=False)[:, 0],
                               [(5 * 1 + 10 * 3) / 15, (10 * 5 + 5 * 7) / 15])
    with pytest.raises(ValueError, match="too short"):
        resample(values, 10, 0, 10, 5, wrap=False)
