"""The scenario's ``add`` section (issue 17) against independent references.

* elements equal those ``pandapower.create_*`` makes by hand on the same net;
* feeder ends equal SimBench's own feeders (``bus.subnet`` ``FeederN``) with
  pandapower's ``calc_distance_to_bus`` from the MV busbar (the rule
  bench/make_year_mv_grid.py used);
* series equal ``simbench.get_absolute_values`` on a net whose new element
  carries the SimBench profile name, a CSV written here, a scaled copy;
* the voltages of a run with added elements equal ``pandapower.runpp`` on
  a net where the same elements were created by hand;
* a plain integer is read as ``bus/N`` everywhere a bus is expected.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp
import pandapower.topology as pp_topology
import pandas as pd
import pytest
import simbench

import hierarchy
from hierarchy.scenario import ScenarioError, load_scenario
from tests.conftest import quickstart_dict

CODE = "1-MV-semiurb--0-sw"


def _simbench(**changes) -> dict:
    data = {"name": "add", "seed": 1, "grid": {"source": "simbench", "code": CODE},
            "time": {"start": "2016-06-01 00:00", "duration": "1d", "step": "15min"},
            "profiles": {"source": "simbench"}, "market": {"mechanism": "none"},
            "outputs": {"plots": False}}
    data.update(changes)
    return data


def _run(data: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hierarchy.run(data, write=False)


@pytest.fixture(scope="module")
def simbench_net():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simbench.get_simbench_net(CODE)


def test_feeder_ends_are_simbench_feeders_farthest_bus(simbench_net):
    from hierarchy.plant.topology import feeder_ends

    net = simbench_net
    busbar = int(net.trafo["lv_bus"].iloc[0])
    distance_km = pp_topology.calc_distance_to_bus(net, busbar)
    parts = net.bus["subnet"].fillna("").astype(str).str.split("_")
    expected = []
    for k in range(1, 10):
        buses = net.bus.index[parts.map(lambda split, k=k: f"Feeder{k}" in split).to_numpy(bool)]
        expected.append(int(distance_km.reindex(buses).idxmax()))
    assert feeder_ends(net) == expected


def test_added_storage_equals_pandapower_create_storage(simbench_net):
    columns = {"p_mw": 0.0, "sn_mva": 0.5, "max_e_mwh": 1.0, "soc_percent": 50.0,
               "max_p_mw": 0.5, "min_p_mw": -0.5, "type": "battery"}
    result = _run(_simbench(add=[{"name": "bat", "table": "storage", "bus": [25, "bus/37"],
                                  "columns": columns}],
                            units=[{"id": "b", "elements": {"table": "storage",
                                                            "where": {"name": "bat"}},
                                    "policy": "battery"}]))
    net = copy.deepcopy(simbench_net)
    for bus in (25, 37):
        pp.create_storage(net, bus=bus, name="bat", **columns)
    ours = result.runtime.plant.net.storage
    for column in ("bus", "p_mw", "sn_mva", "max_e_mwh", "soc_percent", "max_p_mw", "min_p_mw",
                   "type", "name", "in_service", "q_mvar", "min_e_mwh", "scaling"):
        assert ours[column].tolist() == net.storage[column].tolist(), column
    assert result.summary["added"] == {"bat": {"storage/0": "bus/25", "storage/1": "bus/37"}}
    assert list(result.frame("battery_soc").columns) == ["storage/0", "storage/1"]
    # the battery group ran on them: its capacity came from max_e_mwh
    group = next(g for g in result.runtime.groups if g.id == "b")
    assert np.allclose(group.policy.capacity_mwh, 1.0)


def test_simbench_profile_equals_get_absolute_values(simbench_net):
    add = [{"name": "pv", "table": "sgen", "bus": 30, "columns": {"p_mw": 2.0},
            "profile": {"simbench": "PV4"}},
           {"name": "house", "table": "load", "bus": 31, "columns": {"p_mw": 0.3, "q_mvar": 0.1},
            "profile": {"simbench": "G2-A"}}]
    result = _run(_simbench(add=add))
    profiles = result.runtime.plant.profiles
    net = copy.deepcopy(simbench_net)
    pp.create_sgen(net, bus=30, p_mw=2.0, profile="PV4")
    pp.create_load(net, bus=31, p_mw=0.3, q_mvar=0.1, profile="G2-A")
    absolute = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
    rows = slice(152 * 96, 153 * 96)  # 2016-06-01 is day 153 of the leap year
    assert np.allclose(profiles.sgen_p_mw[:, -1], absolute[("sgen", "p_mw")].iloc[rows, -1],
                       rtol=0, atol=1e-12)
    assert np.allclose(profiles.load_p_mw[:, -1], absolute[("load", "p_mw")].iloc[rows, -1],
                       rtol=0, atol=1e-12)
    assert np.allclose(profiles.load_q_mvar[:, -1], absolute[("load", "q_mvar")].iloc[rows, -1],
                       rtol=0, atol=1e-12)
    assert profiles.sgen_p_mw[:, -1].max() > 0.5  # a June day of a 2 MW plant


def test_copy_and_csv_profiles(tmp_path):
    times = pd.date_range("2016-06-01", periods=96, freq="15min")
    values = np.round(np.linspace(0.0, 1.9, 96), 6)
    pd.DataFrame({"time": times.strftime("%Y-%m-%d %H:%M"), "park": values}).to_csv(
        tmp_path / "park.csv", index=False)
    add = [{"name": "twice", "table": "sgen", "bus": 40, "columns": {"p_mw": 0.3},
            "profile": {"copy": "sgen/3", "scale": 2.0}},
           {"name": "park", "table": "sgen", "bus": [41, 42], "columns": {"p_mw": 2.0},
            "profile": {"csv": str(tmp_path / "park.csv"), "column": "park", "scale": 0.5}},
           {"name": "flat", "table": "load", "bus": 43, "columns": {"p_mw": 0.25, "q_mvar": 0.05}}]
    profiles = _run(_simbench(add=add)).runtime.plant.profiles
    assert np.array_equal(profiles.sgen_p_mw[:, -3], 2.0 * profiles.sgen_p_mw[:, 3])
    assert np.allclose(profiles.sgen_p_mw[:, -2:], 0.5 * values[:, None], rtol=0, atol=1e-12)
    assert np.all(profiles.load_p_mw[:, -1] == 0.25) and np.all(profiles.load_q_mvar[:, -1] == 0.05)


def test_run_with_added_elements_equals_runpp_on_a_net_built_by_hand():
    """CIGRE MV, static values: the added PV and load move the voltages as runpp says."""
    data = quickstart_dict()
    data.update(units=[], areas=[], events=[], market={"mechanism": "none"},
                profiles={"source": "none"})
    data["time"] = {"start": "2016-06-01 12:00", "duration": "30min", "step": "15min"}
    data["add"] = [{"name": "pv", "table": "sgen", "bus": [9, 10],
                    "columns": {"p_mw": 1.5, "q_mvar": -0.2, "type": "PV"}},
                   {"name": "plant", "table": "load", "bus": 5, "columns": {"p_mw": 2.0, "q_mvar": 0.6}}]
    result = _run(data)
    net = pp.networks.create_cigre_network_mv(**quickstart_dict()["grid"].get("options", {}))
    for bus in (9, 10):
        pp.create_sgen(net, bus=bus, p_mw=1.5, q_mvar=-0.2, type="PV")
    pp.create_load(net, bus=5, p_mw=2.0, q_mvar=0.6)
    pp.runpp(net, lightsim2grid=False, tolerance_mva=1e-10, numba=False)
    vm = result.frame("bus_vm_pu").iloc[-1].to_numpy()
    assert np.max(np.abs(vm - net.res_bus.vm_pu.to_numpy())) < 1e-6


def test_integer_bus_is_read_as_bus_name():
    data = quickstart_dict()
    data["areas"][0]["buses"] = {"feeder_of": 1}
    with_int = load_scenario(data)
    data["areas"][0]["buses"] = {"feeder_of": "bus/1"}
    assert with_int == load_scenario(data)
    data["areas"] = [{"id": "a", "buses": [1, "2", "bus/3"]}, {"id": "b", "buses": "rest"}]
    assert load_scenario(data).areas[0].buses == ("bus/1", "bus/2", "bus/3")
    data["areas"][0]["buses"] = [1, "bus/1"]
    with pytest.raises(ScenarioError, match=r"areas\[0\]\.buses: bus/1 is already"):
        load_scenario(data)
    data["areas"][0]["buses"] = ["Bus 1"]
    with pytest.raises(ScenarioError, match=r"bus/N or the plain bus index N"):
        load_scenario(data)


def test_events_may_target_added_elements_by_their_new_index():
    from hierarchy.sim.build import build

    data = quickstart_dict()
    n_sgen = len(pp.networks.create_cigre_network_mv(with_der="all").sgen)
    data["add"] = [{"name": "pv", "table": "sgen", "bus": 9, "columns": {"p_mw": 1.0}}]
    data["events"] = [{"at": "1h", "kind": "unit_trip", "target": f"sgen/{n_sgen}"}]
    rt = build(load_scenario(data))
    assert rt.plant.net.sgen.loc[n_sgen, "name"] == "pv"
    data["events"][0]["target"] = f"sgen/{n_sgen + 1}"
    with pytest.raises(ScenarioError, match=rf"events\[0\]\.target: sgen/{n_sgen + 1} is not"):
        build(load_scenario(data))
