"""The engine against independent references: pandapower, IEEE 1547, energy balance.

Each test runs (or reads) a real SimPy run on a real pandapower network and
checks it against a reference computed independently of hiergrid:
``pandapower.runpp`` on the same injections, the IEEE 1547-2018 Table 8
curve typed in here from the standard, and the first law.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pandapower as pp

import hierarchy
from tests.conftest import quickstart_dict

#: IEEE 1547-2018 Table 8, category B default volt-var curve (V pu, Q pu of rating)
CAT_B_V = [0.92, 0.98, 1.02, 1.08]
CAT_B_Q = [0.44, 0.0, 0.0, -0.44]


def test_power_flow_equals_runpp_every_step():
    """Each settled step's voltages equal pandapower.runpp on the same injections."""
    from hierarchy.scenario import load_scenario
    from hierarchy.sim.build import build
    from hierarchy.sim.engine import Engine

    data = quickstart_dict()
    data["time"]["duration"] = "12h"
    rt = build(load_scenario(data))
    worst = []
    record = rt.recorder.record_step

    def checked(k, runtime):
        record(k, runtime)
        reference = _runpp_reference(runtime)
        worst.append(float(np.nanmax(np.abs(runtime.plant.vm_pu - reference))))

    rt.recorder.record_step = checked
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Engine(rt).run()
    assert len(worst) == rt.n_steps == 48
    assert max(worst) < 1e-6


def _runpp_reference(rt) -> np.ndarray:
    """pandapower.runpp (its own solver) on a copy of the net with the plant's injections."""
    net = copy.deepcopy(rt.plant.net)
    for table, t in rt.plant.tables.items():
        if len(net[table]):
            net[table]["p_mw"] = t.p_mw
            if table != "gen":
                net[table]["q_mvar"] = t.q_mvar
            net[table]["in_service"] = t.in_service
    pp.runpp(net, lightsim2grid=False, tolerance_mva=1e-10, numba=False)
    return net.res_bus.vm_pu.to_numpy()


def test_volt_var_q_equals_standard_curve(quickstart_run):
    """PV reactive power equals Table 8 (cat B) at the solved voltage, to control.tol."""
    result = quickstart_run
    net = result.runtime.plant.net
    pv = [g for g in result.runtime.groups if g.id == "pv"][0]
    q = result.frame("unit_q_mvar")[pv.unit_ids].to_numpy()
    buses = [f"bus/{b}" for b in net.sgen.bus.to_numpy()[pv.positions]]
    vm = result.frame("bus_vm_pu")[buses].to_numpy()
    expected = np.interp(vm, CAT_B_V, CAT_B_Q) * pv.rating_mw
    tol = 2 * result.runtime.control_tol * pv.rating_mw
    assert np.all(np.abs(q - expected) <= tol)
    assert np.any(np.abs(expected) > 0.1 * pv.rating_mw), "the curve must be active somewhere"


def test_energy_balance(quickstart_run):
    """generation + import = load + losses + export + storage charging (MWh, over the run)."""
    e = quickstart_run.summary["energy"]
    supply = e["generation_mwh"] + e["import_mwh"]
    use = e["load_mwh"] + e["losses_mwh"] + e["export_mwh"] + e["storage_charge_mwh"]
    assert abs(supply - use) < 1e-6
    assert e["losses_mwh"] > 0 and e["load_mwh"] > 100


def test_battery_soc_follows_its_energy(quickstart_run):
    """SOC changes by the battery's own energy over each step, with its efficiencies."""
    result = quickstart_run
    group = [g for g in result.runtime.groups if g.id == "batteries"][0]
    p = result.frame("unit_p_mw")[group.unit_ids].to_numpy()
    soc = result.frame("battery_soc")[group.unit_ids].to_numpy()
    step_h = 0.25
    charge = np.where(p < 0, -p * 0.95, -p / 0.95) * step_h  # MWh into the cells
    expected = soc[:-1] + charge[1:] / 1.0
    assert np.allclose(soc[1:], expected, atol=1e-9)
    assert np.all((soc >= 0.0 - 1e-12) & (soc <= 1.0 + 1e-12))
    assert np.ptp(soc) > 0.1, "the battery must actually be used for tracking"


def test_equal_times_run_in_the_fixed_order(quickstart_run):
    """At equal times: deliveries, then physics, then areas, then bidding, then market."""
    rank = {"delivered": 0, "physics": 1, "area": 2, "bidding": 3, "market": 4}
    by_time: dict[int, list[int]] = {}
    for record in quickstart_run.trace:
        if record.what == "delivered":
            key = "delivered"
        elif record.what == "tick":
            key = record.link.split(":")[0]
        else:
            continue
        by_time.setdefault(record.time_ms, []).append(rank[key])
    shared = [ranks for ranks in by_time.values() if len(set(ranks)) > 1]
    assert len(shared) > 10, "the scenario must have instants shared by several processes"
    for ranks in shared:
        assert ranks == sorted(ranks)


def test_messages_cross_links_with_latency(quickstart_run):
    """Every delivery on area->market comes 5 s after a send (the scenario's latency)."""
    trace = [r for r in quickstart_run.trace if r.link == "area->market"]
    sent = sorted(r.time_ms for r in trace if r.what == "sent")
    delivered = sorted(r.time_ms for r in trace if r.what == "delivered")
    assert len(sent) == len(delivered) > 0
    assert [d - s for s, d in zip(sent, delivered)] == [5000] * len(sent)


def test_market_schedule_reaches_the_area(quickstart_run):
    """Awards arrive before delivery: the area tracks a schedule from the second hour on."""
    result = quickstart_run
    schedule = result.frame("area_schedule_mw")
    assert schedule["north"].isna().sum() == 4  # the first hour has no market
    ace = result.frame("area_ace_mw")["north"].dropna()
    assert len(ace) > 80
    prices = result.frame("market_price")
    assert len(prices) == 23 and np.allclose(prices["system"], 60.0)


def test_total_loss_link_delivers_nothing():
    """With loss 1.0 between area and market no order arrives, and nothing clears for areas."""
    data = quickstart_dict()
    data["time"]["duration"] = "4h"
    data["communication"]["links"] = [{"between": ["area", "market"], "latency": "5s", "loss": 1.0}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = hierarchy.run(data, write=False)
    control = result.summary["control"]
    assert control["messages_lost"] > 0
    awards = result.frame("market_award_mw")
    assert set(awards.columns) <= {"upstream"}
    assert result.frame("area_schedule_mw")["north"].fillna(0).eq(0).all()


def test_observation_follows_profile_rows_and_trips():
    """Observed available power is the plant's, after every new profile row and every trip,
    and the shared arrays cannot be written into."""
    import pytest

    from hierarchy.scenario import load_scenario
    from hierarchy.sim.build import build

    data = quickstart_dict()
    data["time"]["duration"] = "14h"
    rt = build(load_scenario(data))
    pv = next(g for g in rt.groups if g.id == "pv")
    plant = rt.plant

    def expected():
        t = plant.tables["sgen"]
        return t.base_p_mw[pv.positions] * t.in_service[pv.positions]

    seen = []
    for k in (36, 44, 52):  # 9:00, 11:00, 13:00
        plant.begin_step(k)
        first, again = rt.observe(pv, 0), rt.observe(pv, 0)
        assert np.array_equal(first.p_avail_mw, expected()) and again.p_avail_mw is first.p_avail_mw
        seen.append(first.p_avail_mw.copy())
    assert not np.array_equal(seen[0], seen[2])  # the profile moved
    assert expected()[0] > 0
    plant.trip("sgen", int(pv.positions[0]))
    after = rt.observe(pv, 0).p_avail_mw
    assert after[0] == 0.0 and np.array_equal(after[1:], seen[2][1:])
    with pytest.raises(ValueError, match="read-only"):
        after[0] = 1.0


def test_unit_status_of_owned_equals_the_checked_constructor():
    """The engine's fast status holds the same fields as the copying constructor, frozen."""
    import dataclasses

    import pytest

    from hierarchy.messages import UnitStatus

    rows = np.array([[1.0, 2.0], [0.1, -0.1], [0.0, -1.0], [3.0, 3.0], [np.nan, 0.5]])
    rows.setflags(write=False)
    fast = UnitStatus.of_owned("pv", "north", ("sgen/1", "sgen/2"), *rows, 900_000)
    checked = UnitStatus("pv", "north", ("sgen/1", "sgen/2"), *rows.tolist(), 900_000)
    for f in dataclasses.fields(UnitStatus):
        np.testing.assert_array_equal(getattr(fast, f.name), getattr(checked, f.name))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.time_ms = 0
    with pytest.raises(ValueError, match="read-only"):
        fast.p_mw[0] = 5.0


def test_send_many_is_send_in_order():
    """One call for many messages delivers, drops and counts exactly as one send each."""
    import simpy

    from hierarchy.kernel.links import Link

    def deliveries(loss: float, many: bool, down: bool = False):
        env = simpy.Environment()
        link = Link(env, "unit->area", 1000, loss, np.random.default_rng(7))
        inboxes = [simpy.Store(env) for _ in range(3)]
        if down:
            link.outage(1500)
        for t in range(3):  # three instants, each batch shared with single sends around it
            pairs = [(f"m{t}.{i}", inboxes[i % 3]) for i in range(7)]
            if t:
                link.send(f"first{t}", inboxes[1])
            if many:
                link.send_many(pairs)
            else:
                for message, inbox in pairs:
                    link.send(message, inbox)
            link.send(f"single{t}", inboxes[0])
            env.run(until=env.now + 1000)
        env.run(until=env.now + 2000)
        return [list(box.items) for box in inboxes], vars(link.stats)

    for loss, down in ((0.0, False), (0.3, False), (0.0, True)):
        one_by_one, stats = deliveries(loss, many=False, down=down)
        assert deliveries(loss, many=True, down=down) == (one_by_one, stats)
        assert stats["sent"] == 26 and stats["delivered"] + stats["lost"] == 26
    assert deliveries(0.3, many=False)[1]["lost"] > 0


def test_same_seed_same_results(quickstart_run):
    """A second run of the same scenario and seed gives identical tables."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = hierarchy.run(quickstart_dict(), write=False, trace=True)
    for name in quickstart_run.frame_names:
        a, b = quickstart_run.frame(name), again.frame(name)
        assert a.equals(b), name


def test_voltage_blind_policies_are_evaluated_once_per_step_with_the_same_results(monkeypatch):
    """Batteries read no voltage: evaluated once per step, the run is the same to the bit."""
    from hierarchy.scenario import load_scenario
    from hierarchy.sim.build import build
    from hierarchy.sim.engine import Engine
    from unit_control.battery import Battery

    data = quickstart_dict()
    data["time"]["duration"] = "6h"
    calls = []
    step = Battery.step

    def counted(self, obs):
        calls.append(obs.time_ms)
        return step(self, obs)

    runs = []
    for blind in (True, False):
        calls.clear()
        counted.voltage_blind = blind
        monkeypatch.setattr(Battery, "step", counted)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rt = build(load_scenario(data))
        Engine(rt).run()
        runs.append((rt, len(calls), len(set(calls))))
    (blind_rt, blind_calls, steps), (full_rt, full_calls, _) = runs
    assert blind_calls == steps < full_calls  # one evaluation per step and battery group
    for name, values in full_rt.recorder.arrays.items():
        np.testing.assert_array_equal(blind_rt.recorder.arrays[name], values, err_msg=name)
