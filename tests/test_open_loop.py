"""Open-loop runs (profiles only) record what the step-by-step engine records (issue 6)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from hierarchy.outputs.summary import summarize
from hierarchy.scenario import load_scenario
from hierarchy.sim.build import build
from hierarchy.sim.engine import Engine
from hierarchy.sim.open_loop import open_loop_reason
from tests.conftest import quickstart_dict


def profiles_only(grid: dict, profiles: dict, steps: int, areas: list | None = None) -> dict:
    return {
        "name": "profiles_only", "grid": grid,
        "time": {"start": "2016-03-01 00:00", "duration": f"{15 * steps}min", "step": "15min"},
        "profiles": profiles,
        "areas": areas or [{"id": "all", "buses": "rest", "coordinator": {"policy": "none"}}],
        "market": {"mechanism": "none"},
        "outputs": {"plots": False},
    }


CASES = {
    # SimBench with its own profiles; the lightsim2grid time-series path
    "simbench": profiles_only({"source": "simbench", "code": "1-MV-semiurb--0-sw"},
                              {"source": "simbench"}, 400),
    # CIGRE MV with synthetic profiles, two watching areas
    "cigre": profiles_only(
        {"source": "pandapower", "name": "create_cigre_network_mv", "options": {"with_der": "all"}},
        {"source": "synthetic"}, 200,
        [{"id": "north", "buses": {"feeder_of": "bus/1"}, "coordinator": {"policy": "none"}},
         {"id": "south", "buses": "rest", "coordinator": {"policy": "none"}}]),
    # two ext_grids: no grid solver, every step through the one-by-one path
    "oberrhein": profiles_only({"source": "pandapower", "name": "mv_oberrhein"},
                               {"source": "synthetic"}, 60),
}


def _run(data: dict, open_loop: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rt = build(load_scenario(data))
        Engine(rt, open_loop=open_loop).run()
        return rt, summarize(rt, 1.0, True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_open_loop_records_what_stepping_records(case: str) -> None:
    data = CASES[case]
    blocks, blocks_summary = _run(data, open_loop=True)
    steps, steps_summary = _run(data, open_loop=False)
    assert blocks_summary["runtime"]["open_loop"] and not steps_summary["runtime"]["open_loop"]
    assert blocks.recorder.steps_done == steps.recorder.steps_done == blocks.n_steps
    for name, stepped in steps.recorder.arrays.items():
        np.testing.assert_allclose(blocks.recorder.arrays[name], stepped, rtol=0, atol=1e-9,
                                   equal_nan=True, err_msg=name)
    for section in ("energy", "voltage", "lines", "powerflow"):
        for key, value in steps_summary[section].items():
            assert blocks_summary[section][key] == pytest.approx(value, abs=1e-6), (section, key)
    assert blocks_summary["control"]["messages_sent"] == 0
    assert steps_summary["control"]["messages_sent"] > 0
    assert blocks.env.now == steps.env.now == blocks.duration_ms


def test_a_nonconverging_step_is_recorded_as_when_stepping() -> None:
    """One profile row far beyond the grid: NaN row and a counted step, and the run recovers."""
    data = CASES["cigre"]
    runs = []
    for open_loop in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rt = build(load_scenario(data))
        rt.plant.profiles.load_p_mw[7] *= 60.0
        Engine(rt, open_loop=open_loop).run()
        runs.append(rt)
    blocks, steps = runs
    assert blocks.recorder.nonconverged_pf_steps == steps.recorder.nonconverged_pf_steps == [7]
    assert np.isnan(blocks.recorder.arrays["bus_vm_pu"][7]).all()
    assert np.isfinite(blocks.recorder.arrays["bus_vm_pu"][8:]).all()
    np.testing.assert_allclose(blocks.recorder.arrays["system_balance_mw"],
                               steps.recorder.arrays["system_balance_mw"], rtol=0, atol=1e-9)
    assert [e[1] for e in blocks.recorder.events] == [e[1] for e in steps.recorder.events]


@pytest.mark.parametrize("change, reason", [
    ("quickstart", "unit groups"),
    ("event", "events"),
    ("market", "market"),
    ("coordinator", "acting coordinator"),
])
def test_anything_that_acts_keeps_the_step_engine(change: str, reason: str) -> None:
    data = dict(CASES["cigre"])
    if change == "quickstart":
        data = quickstart_dict()
    elif change == "event":
        data["events"] = [{"at": "1h", "kind": "line_outage", "target": "line/3"}]
    elif change == "market":
        data["market"] = {"mechanism": "double_auction", "interval": "1h"}
    else:
        data["areas"] = [{"id": "all", "buses": "rest",
                          "coordinator": {"policy": "schedule_tracking"}}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rt = build(load_scenario(data))
    assert reason in open_loop_reason(rt)


def test_power_flows_counted_once_per_step_in_blocks_and_steps() -> None:
    """Without unit control a step is one power flow, solved in blocks or stepping; plus
    the plant's initial solve."""
    data = CASES[sorted(CASES)[0]]
    for open_loop in (True, False):
        rt, summary = _run(data, open_loop=open_loop)
        assert summary["powerflow"]["solves"] == rt.n_steps + 1
