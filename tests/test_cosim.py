"""The mosaik adapter (issue 19; extra ``cosim``, skipped without mosaik).

Runs the example of ``scenarios/cosim/`` (hiergrid's feeder and the EV hub
simulator written for it, both in-process under mosaik) and checks the
data both ways against hiergrid's own output tables: the power each hub
decided is the power its storage element had in the power flow, at the
same step; the voltage and price each hub saw are those hiergrid recorded
for its element one step earlier (the time-shifted connection). The fleets
got the energy they needed by departure, in the grid's records too.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

mosaik = pytest.importorskip("mosaik")
pytest.importorskip("mosaik_api_v3")

from hierarchy.coupling.mosaik_sim import META, HiergridSimulator
from hierarchy.outputs import read_parquet
from tests.conftest import SCENARIOS

COSIM = SCENARIOS / "cosim"
#: the example's hubs: eid -> (storage element, its bus)
HUBS = {"hub_0": ("storage/0", "bus/5"), "hub_1": ("storage/1", "bus/10")}


@pytest.fixture(scope="module")
def cosim(tmp_path_factory):
    sys.path.insert(0, str(COSIM))
    try:
        import run_cosim

        out = run_cosim.main(tmp_path_factory.mktemp("cosim"), quiet=True)
    finally:
        sys.path.remove(str(COSIM))
    hubs = pd.read_csv(out / "ev_hubs.csv", float_precision="round_trip")
    tables = {name: read_parquet(out / "timeseries" / f"{name}.parquet")
              for name in ("unit_p_mw", "bus_vm_pu", "market_retail_price")}
    return json.loads((out / "summary.json").read_text()), hubs, tables


def test_the_run_is_complete_and_written(cosim):
    summary, hubs, _ = cosim
    assert summary["complete"] and summary["steps"] == 96 and "error" not in summary
    assert len(hubs) == 2 * 96


@pytest.mark.parametrize("hub", sorted(HUBS))
def test_each_hubs_power_is_its_elements_power_in_the_grid(cosim, hub):
    _, hubs, tables = cosim
    element, _ = HUBS[hub]
    decided = hubs[hubs.hub == hub].p_set_mw.to_numpy()
    in_grid = tables["unit_p_mw"][element].to_numpy()
    np.testing.assert_array_equal(in_grid, decided)  # within the 0.4 MVA rating: as sent
    assert decided.min() == pytest.approx(-0.4) and (decided < 0).sum() > 10


@pytest.mark.parametrize("hub", sorted(HUBS))
def test_each_hub_sees_its_voltage_and_price_one_step_late(cosim, hub):
    _, hubs, tables = cosim
    _, bus = HUBS[hub]
    seen = hubs[hubs.hub == hub]
    vm_pu = tables["bus_vm_pu"][bus].to_numpy()
    assert np.isnan(seen.vm_pu.iloc[0])  # nothing before the first step
    np.testing.assert_array_equal(seen.vm_pu.to_numpy()[1:], vm_pu[:-1])
    retail = tables["market_retail_price"]["north/default"]
    prices = seen.price_per_mwh.dropna().unique()
    assert prices.size and set(prices) <= set(retail.dropna().unique())  # rtp: clearing + 40


def test_the_fleets_are_charged_by_departure_and_low_voltage_slows_them(cosim):
    _, hubs, tables = cosim
    step_h = 0.25
    for hub, (element, bus) in HUBS.items():
        charged_mwh = -tables["unit_p_mw"][element].sum() * step_h  # the grid's records
        assert charged_mwh == pytest.approx(2.0, rel=1e-9)
        rows = hubs[(hubs.hub == hub) & (hubs.p_set_mw < 0)]
        slow = rows[rows.vm_pu < 0.97]
        assert len(slow) and (slow.p_set_mw > -0.4).all()  # below 0.97 pu: only what the deadline needs


def test_meta_describes_the_models_with_their_inputs_and_outputs():
    models = META["models"]
    assert models["Grid"]["public"] and not models["Unit"]["public"] and not models["Area"]["public"]
    assert {"p_set_mw", "q_set_mvar", "vm_pu", "price_per_mwh"} <= set(models["Unit"]["attrs"])
    assert {"net_export_mw", "schedule_mw", "price_per_mwh"} <= set(models["Area"]["attrs"])


def test_setting_a_unit_that_is_not_external_is_refused():
    sim = HiergridSimulator()
    sim.init("Hiergrid-0", time_resolution=1.0)
    children = sim.create(1, "Grid", scenario=str(COSIM / "feeder.yaml"))[0]["children"]
    assert {"eid": "area/north", "type": "Area"} in children
    with pytest.raises(ValueError, match="unit group 'pv' whose policy is 'volt_var'"):
        sim.step(0, {"sgen/0": {"p_set_mw": {"Other-0.x": 0.01}}}, 900)
    sim.step(0, {"storage/0": {"p_set_mw": {"EVHubs-0.hub_0": -0.3, "Other-0.y": 0.1}}}, 900)
    data = sim.get_data({"storage/0": ["p_mw", "p_set_mw"], "area/north": ["net_export_mw"]})
    assert data["storage/0"] == {"p_mw": pytest.approx(-0.2), "p_set_mw": pytest.approx(-0.2)}
    assert np.isfinite(data["area/north"]["net_export_mw"])
    with pytest.raises(ValueError, match="900 s is not a whole number of mosaik time units"):
        _with_resolution(7.0).create(1, "Grid", scenario=str(COSIM / "feeder.yaml"))


def _with_resolution(seconds: float) -> HiergridSimulator:
    sim = HiergridSimulator()
    sim.init("Hiergrid-2", time_resolution=seconds)
    return sim
