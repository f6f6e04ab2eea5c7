"""All three grid sources and the profile sources run end to end."""
from __future__ import annotations

import warnings

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandas as pd
import pytest

import hierarchy


def _run(data: dict, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hierarchy.run(data, write=False, **kwargs)


def test_simbench_grid_with_its_own_profiles():
    import simbench as sb

    data = {
        "name": "sb", "seed": 1,
        "grid": {"source": "simbench", "code": "1-MV-semiurb--0-sw"},
        "time": {"start": "2016-06-01 00:00", "duration": "2h", "step": "15min"},
        "profiles": {"source": "simbench"},
        "areas": [{"id": "f1", "buses": {"zone": "Feeder1"}}, {"id": "rest", "buses": "rest"}],
        "units": [{"id": "pv", "elements": {"table": "sgen", "where": {"type": ["PV_MV", "lv_RES"]}},
                   "policy": "volt_var"}],
    }
    result = _run(data)
    assert result.summary["steps"] == 8
    net = sb.get_simbench_net("1-MV-semiurb--0-sw")
    profiles = sb.get_absolute_values(net, profiles_instead_of_study_cases=True)
    row = (pd.Timestamp("2016-06-01") - pd.Timestamp("2016-01-01")) // pd.Timedelta("15min")
    load = result.frame("system_balance_mw")["load_mw"].iloc[0]
    assert load == pytest.approx(profiles[("load", "p_mw")].iloc[row].sum(), rel=1e-9)
    assert len(result.frame("unit_q_mvar").columns) > 50


def test_file_grid_with_csv_profiles(tmp_path):
    net = pn.create_cigre_network_mv(with_der="pv_wind")
    pp.to_json(net, str(tmp_path / "grid.json"))
    times = pd.date_range("2016-06-01", periods=8, freq="15min")
    load_mw = np.linspace(10.0, 17.0, 8)
    pd.DataFrame({"time": times, "load/0": load_mw, "sgen/8": 0.5}).to_csv(tmp_path / "p.csv", index=False)
    data = {
        "name": "file", "grid": {"source": "file", "path": "grid.json"},
        "time": {"start": "2016-06-01 00:00", "duration": "2h", "step": "15min"},
        "profiles": {"source": "csv", "path": "p.csv"},
        "areas": [{"id": "all", "buses": "rest"}],
    }
    from hierarchy.scenario import load_scenario

    result = _run(load_scenario(data, base_dir=tmp_path))
    served = result.frame("system_balance_mw")["load_mw"].to_numpy()
    others = net.load.p_mw.sum() - net.load.p_mw.iloc[0]
    assert np.allclose(served, load_mw + others, rtol=1e-12)


def test_synthetic_profiles_depend_on_the_seed_only():
    data = {
        "name": "syn", "grid": {"source": "pandapower", "name": "create_cigre_network_mv",
                                "options": {"with_der": "all"}},
        "time": {"start": "2016-06-01 00:00", "duration": "3h", "step": "15min"},
    }
    a = _run({**data, "seed": 3}).frame("bus_vm_pu")
    b = _run({**data, "seed": 3}).frame("bus_vm_pu")
    c = _run({**data, "seed": 4}).frame("bus_vm_pu")
    assert a.equals(b) and not a.equals(c)


def test_file_grid_is_parsed_once_then_read_from_the_cache(tmp_path, monkeypatch):
    """The parsed net is cached by the file's content: same net, and a changed file is parsed anew."""
    from hierarchy.plant import network

    monkeypatch.setenv("HIERGRID_CACHE", str(tmp_path / "cache"))
    net = pn.create_cigre_network_mv(with_der="all")
    file = tmp_path / "grid.json"
    pp.to_json(net, str(file))
    parsed = []
    from_json = pp.from_json
    monkeypatch.setattr(network.pandapower, "from_json", lambda *a, **k: parsed.append(1) or from_json(*a, **k))
    first, second = network.load_net("file", path=file), network.load_net("file", path=file)
    assert len(parsed) == 1 and first is not second
    for table in ("bus", "line", "trafo", "load", "sgen"):
        pd.testing.assert_frame_equal(first[table], second[table])
    net.load.loc[0, "p_mw"] += 1.0
    pp.to_json(net, str(file))
    third = network.load_net("file", path=file)
    assert len(parsed) == 2 and third.load.p_mw.iloc[0] == pytest.approx(first.load.p_mw.iloc[0] + 1.0)
