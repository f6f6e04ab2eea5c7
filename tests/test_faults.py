"""Faults during a run (issue 7): a diverging power flow, a communication outage.

A power flow that does not converge is retried (warm, cold, pandapower)
and, if it still fails, its step is recorded with NaN voltages and flows,
counted in ``powerflow.nonconverged_steps`` and logged as an event; the run
goes on and recovers once the cause is gone. A communication outage between
areas and units leaves the units on the last setpoint they received.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

import hierarchy
from hierarchy.kernel.links import Link
from hierarchy.messages import UnitSetpoint
from tests.conftest import quickstart_dict

HOUR_MS = 3_600_000
#: CIGRE MV load R14 at bus 14, the far end of feeder 2; +100 MW there is beyond
#: any 20 kV feeder's loadability, so Newton-Raphson finds no solution
LOAD, SURGE_MW = "load/9", 100.0


def _run(data: dict, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hierarchy.run(data, write=False, **kwargs)


def test_the_surge_has_no_power_flow_solution():
    """Independent of hiergrid: pandapower.runpp finds no solution with the surge."""
    net = pn.create_cigre_network_mv(with_der="all")
    net.load.loc[9, "p_mw"] += SURGE_MW
    with pytest.raises(pp.LoadflowNotConverged):
        pp.runpp(net, lightsim2grid=False, numba=False, init="auto")
    net.load.loc[9, "p_mw"] -= SURGE_MW
    pp.runpp(net, lightsim2grid=False, numba=False)
    assert net.converged


@pytest.fixture(scope="module")
def surge_run():
    """4 h at 15 min; +100 MW at load R14 from 1 h, taken off again at 2 h."""
    data = quickstart_dict()
    data["time"]["duration"] = "4h"
    data["events"] = [{"at": "1h", "kind": "load_step", "target": LOAD, "delta_mw": SURGE_MW},
                      {"at": "2h", "kind": "load_step", "target": LOAD, "delta_mw": -SURGE_MW}]
    return _run(data)


def test_nonconverged_steps_are_counted_recorded_and_the_run_goes_on(surge_run):
    summary = surge_run.summary
    assert summary["complete"] is True and summary["steps"] == 16
    # steps 4..7 (1:00 to 1:45) carry the surge: exactly those did not converge
    assert summary["powerflow"]["nonconverged_steps"] == 4
    vm = surge_run.frame("bus_vm_pu").to_numpy()
    failed = np.isnan(vm).all(axis=1)
    assert failed.tolist() == [4 <= k < 8 for k in range(16)]
    assert np.isnan(surge_run.frame("line_loading_percent").to_numpy()[4:8]).all()
    events = surge_run.events[surge_run.events["kind"] == "nonconverged_powerflow"]
    step_times = {f"2016-06-01 01:{m:02d}:00" for m in (0, 15, 30, 45)}
    assert step_times <= {str(t) for t in events["time"]}


def test_the_run_recovers_once_the_surge_is_gone(surge_run):
    """From 2 h on every step solves again, with no NaN left in the unit outputs."""
    vm = surge_run.frame("bus_vm_pu").to_numpy()
    assert np.isfinite(vm[8:]).all() and np.isfinite(vm[:4]).all()
    assert ((vm[8:] > 0.9) & (vm[8:] < 1.1)).all()
    for table in ("unit_p_mw", "unit_q_mvar", "battery_soc"):
        values = surge_run.frame(table).to_numpy()
        assert np.isfinite(values[8:]).all(), table
    assert surge_run.summary["control"]["nonconverged_steps"] <= 5  # the surge's steps at most


def test_recovered_steps_match_pandapower(surge_run):
    """The last step, re-solved by pandapower.runpp from the recorded injections."""
    rt = surge_run.runtime
    net = rt.plant.net
    pf = rt.plant.powerflow
    reference = pf.reference_vm_pu()
    assert np.nanmax(np.abs(reference - surge_run.frame("bus_vm_pu").to_numpy()[-1])) < 1e-6
    assert len(net.bus) == len(reference)


@pytest.fixture()
def delivered_setpoints(monkeypatch) -> list[tuple[int, UnitSetpoint]]:
    """Every UnitSetpoint delivered over a link, with its delivery time [ms]."""
    seen: list[tuple[int, UnitSetpoint]] = []
    deliver = Link._deliver

    def spy(self, batch):
        seen.extend((int(self.env.now), m) for m, _ in batch if isinstance(m, UnitSetpoint))
        deliver(self, batch)

    monkeypatch.setattr(Link, "_deliver", spy)
    return seen


def test_battery_holds_its_last_setpoint_during_an_outage(delivered_setpoints):
    """area->unit down from 3 h for 2 h: the batteries stay on the last setpoint received."""
    data = quickstart_dict()
    data["time"]["duration"] = "8h"
    data["events"] = [{"at": "3h", "kind": "comm_outage", "between": ["area", "unit"],
                       "duration": "2h"}]
    result = _run(data)
    to_batteries = [(t, m) for t, m in delivered_setpoints if m.group == "batteries"]
    assert not [t for t, _ in to_batteries if 3 * HOUR_MS + 1000 < t < 5 * HOUR_MS]
    last_time, last = max((tm for tm in to_batteries if tm[0] <= 3 * HOUR_MS + 1000), key=lambda x: x[0])
    assert np.all(np.isfinite(last.p_mw))
    p = result.frame("unit_p_mw")[["storage/0", "storage/1"]]
    during = p[(p.index > p.index[0] + np.timedelta64(3, "h"))
               & (p.index < p.index[0] + np.timedelta64(5, "h"))]
    assert len(during) == 7
    soc = result.frame("battery_soc").loc[during.index]
    assert ((soc > 0.01) & (soc < 0.99)).all().all()  # no SOC limit cuts the setpoint
    np.testing.assert_allclose(during.to_numpy(), np.tile(last.p_mw, (len(during), 1)), atol=1e-9)
    # without the outage the area moves them during that window: the hold is the outage's doing
    delivered_setpoints.clear()
    data["events"] = []
    free = _run(data).frame("unit_p_mw").loc[during.index, ["storage/0", "storage/1"]]
    assert np.abs(free.to_numpy() - during.to_numpy()).max() > 1e-3


def test_a_transformer_outage_opens_the_transformer_not_a_line():
    """line_outage/line_restore accept trafo/N: the transformer goes out, line/1 stays."""
    import copy

    from tests.test_bad_input import SB_VALID

    data = copy.deepcopy(SB_VALID)
    data["events"] = [{"at": "30min", "kind": "line_outage", "target": "trafo/1"},
                      {"at": "1h", "kind": "line_restore", "target": "trafo/1"}]
    result = _run(data)
    trafo = result.frame("trafo_loading_percent")["trafo/1"].to_numpy()
    assert np.isnan(trafo[2:4]).all() and np.isfinite(trafo[:2]).all() and np.isfinite(trafo[4:]).all()
    assert np.isfinite(result.frame("line_loading_percent")["line/1"].to_numpy()).all()
    assert result.summary["powerflow"]["nonconverged_steps"] == 0


def test_units_in_an_unsupplied_island_go_to_zero_and_the_loop_settles():
    """Volt-var units cut off by a line outage get no voltage: they output nothing,
    and the fixed-point loop still settles every step (no NaN moves)."""
    import warnings

    import hierarchy

    data = {
        "name": "island_units", "seed": 1,
        "grid": {"source": "simbench", "code": "1-MV-semiurb--0-sw"},
        "time": {"start": "2016-06-01 10:00", "duration": "1h", "step": "5min"},
        "profiles": {"source": "simbench"},
        "units": [{"id": "pv", "elements": {"table": "sgen", "where": {"type": ["PV_MV", "lv_RES"]}},
                   "policy": "volt_var"}],
        "events": [{"at": "20min", "kind": "line_outage", "target": "line/5"}],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = hierarchy.run(data, write=False)
    assert result.summary["control"]["nonconverged_steps"] == 0
    vm = result.frame("bus_vm_pu")
    dead_buses = vm.columns[vm.iloc[-1].isna()]
    assert len(dead_buses) > 5 and vm.iloc[0][dead_buses].notna().all()
    net = result.runtime.plant.net
    group = result.runtime.groups[0]
    unit_bus = {u: f"bus/{net.sgen.bus.iloc[p]}" for u, p in zip(group.unit_ids, group.positions)}
    dead_units = [u for u, b in unit_bus.items() if b in set(dead_buses)]
    assert dead_units
    late = result.frame("unit_p_mw").iloc[-1]
    assert (late[dead_units] == 0).all() and (result.frame("unit_q_mvar").iloc[-1][dead_units] == 0).all()
    assert (result.frame("unit_p_mw").iloc[0][dead_units] > 0).any()
