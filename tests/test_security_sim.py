"""The market's security check in the simulation (scenarios/market_security.yaml).

* every re-dispatched schedule, solved again by ``pandapower.runpp`` on the
  injections the check built, is within the limits, or its interval
  reports the violations left;
* the shedding order: the CHP is raised before any load is curtailed, the
  interruptible contract is used before any involuntary curtailment, and
  involuntary curtailment goes by priority (the homes before the key
  accounts); the contract's limits (2 a day, at most 2 h) hold;
* the areas hold the bounds: a curtailed group consumes at most its bound
  once the setpoints have arrived;
* settlement: the books balance, the redispatch account pays the moves,
  the contract customer is paid its interruption price on top of the
  market price (by hand); its tariff is 20 % off;
* off, nothing of it: the same run as without the keys.
"""
from __future__ import annotations

import copy
import itertools
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

import hierarchy
from hierarchy.sim.security import SecurityStep
from tests.conftest import quickstart_dict
from tests.test_grid_security import _runpp

ROOT = Path(__file__).resolve().parents[1]
H = 3_600_000


def _demo() -> dict:
    data = yaml.safe_load((ROOT / "scenarios" / "market_security.yaml").read_text())
    data["outputs"] = {"dir": "unused", "plots": False}
    return data


@pytest.fixture(scope="module")
def demo():
    """The demo run, with every checked schedule captured: (start, clearing after, injections,
    the plant's live network)."""
    captured = []
    original = SecurityStep.secure

    def secure(self, start_ms, clearing, offers, bids):
        result = original(self, start_ms, clearing, offers, bids)
        if result is not clearing:
            p, q = self._schedule(result.awards)
            captured.append((start_ms, result, p, q, copy.deepcopy(self.rt.plant.powerflow._net)))
        return result

    SecurityStep.secure = secure
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = hierarchy.run(_demo(), write=False)
    finally:
        SecurityStep.secure = original
    return result, captured


def test_redispatched_schedules_hold_in_pandapower(demo):
    result, captured = demo
    clearing = result.frame("market_clearing")
    assert len(captured) >= 5
    start = pd.Timestamp(result.runtime.scenario.time.start)
    for start_ms, _, p, q, net in captured:
        net = _runpp(net, p, q)
        row = clearing.loc[start + pd.Timedelta(milliseconds=start_ms)]
        line0 = float(net.res_line.at[0, "loading_percent"])
        others = net.res_line.loading_percent.drop(0).max()
        fine = (line0 <= 55.0 + 1e-3 and others <= 100.0 + 1e-3
                and net.res_trafo.loading_percent.max() <= 100.0 + 1e-3
                and net.res_bus.vm_pu.dropna().between(0.93 - 1e-6, 1.07 + 1e-6).all())
        assert fine or row["security_unresolved"] > 0, (start_ms, line0)
        assert row["max_loading_after_percent"] == pytest.approx(
            max(net.res_line.loading_percent.max(), net.res_trafo.loading_percent.max()), abs=1e-4)
    assert (clearing["security_violations"] > 0).sum() == len(captured)


def _moves(result) -> pd.DataFrame:
    """The redispatch events as rows: interval, participant, MW, label, price."""
    events = result.events[result.events["kind"] == "redispatch"]
    pattern = r"interval (\S+ \S+): ([+-][0-9.]+) MW \((.*) at ([0-9.]+)/MWh\)"
    rows = [(*re.match(pattern, d).groups(), t) for d, t in zip(events["detail"], events["target"])]
    moves = pd.DataFrame(rows, columns=["interval", "mw", "label", "price", "participant"])
    return moves.astype({"mw": float, "price": float})


def test_shedding_order_merit_then_contract_then_priority(demo):
    result, _ = demo
    moves = _moves(result)
    chp_left = {}  # what the CHP could still give per interval: its offers above its awards
    for interval, group in moves.groupby("interval"):
        loads = group[group["participant"].isin(["north/interruptible", "north/homes", "north/key_accounts"])]
        if loads.empty:
            continue
        chp = group[group["participant"].str.startswith("north/chp")]["mw"].sum()
        awards = result.frame("market_award_mw").loc[pd.Timestamp(interval)]
        chp_left[interval] = 0.522 - awards[["north/chp/sgen/10", "north/chp/sgen/11"]].sum()
        assert chp_left[interval] == pytest.approx(0.0, abs=1e-6), interval  # CHP used up first
        assert chp > 0
        involuntary = loads[loads["label"].str.startswith("involuntary")]
        contract = loads[loads["label"] == "interruptible contract"]
        if not involuntary.empty and not contract.empty:  # the contract was used up first
            bid = result.frame("market_award_mw").loc[pd.Timestamp(interval), "north/interruptible"]
            assert bid == pytest.approx(0.0, abs=1e-6)
        assert "north/key_accounts" not in set(loads["participant"]) or \
            "north/homes" in set(involuntary["participant"])
    assert {"interruptible contract", "involuntary curtailment, priority 1"} <= set(moves["label"])


def test_contract_limits_hold(demo):
    result, _ = demo
    events = result.events[(result.events["kind"] == "interruption")]
    starts = events[events["detail"].str.contains("starts")]
    per_day = starts["detail"].str.extract(r"interval (\S+)")[0].value_counts()
    assert per_day.max() <= 2 and len(starts) == result.summary["market"]["security"]["contract_interruptions"]
    hours = events["detail"].str.extract(r"\((\d+) h\)|after (\d+) h").astype(float).max(axis=1)
    assert hours.max() <= 2.0
    moves = _moves(result)
    contract = moves[moves["label"] == "interruptible contract"]
    intervals = sorted(pd.Timestamp(t) for t in contract["interval"].unique())
    run = 1
    for previous, current in itertools.pairwise(intervals):
        run = run + 1 if current - previous == pd.Timedelta(hours=1) else 1
        assert run <= 2


def test_areas_hold_the_bounds(demo):
    result, _ = demo
    redispatch = result.frame("market_redispatch_mw")
    awards = result.frame("market_award_mw")
    p = result.frame("unit_p_mw")
    members = {"north/interruptible": ["load/11", "load/13"], "north/homes": [f"load/{i}" for i in range(1, 8)]}
    checked = 0
    for interval, row in redispatch.iterrows():
        for participant, loads in members.items():
            if row.get(participant, 0.0) <= 1e-9:
                continue
            bound = awards.loc[interval, participant]  # consume at most −bound
            inside = p.loc[interval + pd.Timedelta(minutes=15):interval + pd.Timedelta(minutes=45), loads]
            assert (-inside.sum(axis=1) <= -bound + 1e-6).all(), (interval, participant)
            checked += 1
    assert checked >= 3


def test_settlement_pays_the_contract_its_price_and_balances(demo):
    result, _ = demo
    money = result.frame("market_settlement")
    assert money["residual"].abs().max() < 1e-6
    moves = _moves(result)
    contract = moves[(moves["label"] == "interruptible contract")].groupby("interval")["mw"].sum()
    assert len(contract)
    metered, awards, price = (result.frame(n) for n in ("market_metered_mw", "market_award_mw", "market_price"))
    for interval, mw in contract.items():
        t = pd.Timestamp(interval)
        if t not in money.index or (moves[(moves["interval"] == interval)
                                            & (moves["participant"] == "north/interruptible")]["label"]
                                    != "interruptible contract").any():
            continue
        lam, award, m = price.loc[t, "system"], awards.loc[t, "north/interruptible"], metered.loc[t, "north/interruptible"]
        imbalance_price = lam - 10.0 if m > award else lam + 10.0 if m < award else lam
        delta = result.frame("market_redispatch_mw").loc[t, "north/interruptible"]  # exact, not the event's 4 digits
        assert delta == pytest.approx(mw, abs=1e-4)
        by_hand = award * lam + (m - award) * imbalance_price + delta * (max(150.0, lam) - lam)
        assert money.loc[t, "north/interruptible"] == pytest.approx(by_hand, rel=1e-9, abs=1e-9)
    accounts = money["redispatch_account"].sum()
    assert accounts == pytest.approx(result.summary["market"]["settlement"]["redispatch_account"])
    assert accounts < 0
    assert result.frame("market_retail_price")["north/interruptible"].to_numpy() == pytest.approx(96.0)


def test_summary_of_the_security_check(demo):
    result, _ = demo
    security = result.summary["market"]["security"]
    clearing = result.frame("market_clearing")
    assert security["enabled"] and security["intervals_checked"] == len(clearing)
    assert security["intervals_redispatched"] == int((clearing["redispatch_mw"] > 0).sum()) > 0
    assert security["redispatch_cost"] == pytest.approx(clearing["redispatch_cost"].sum())
    reliability = result.summary["reliability"]
    assert reliability["by_class"]["interruptible"]["interruptions"] > 0
    assert reliability["by_class"]["key_account"]["interruptions"] == 0


def test_off_is_the_run_without_the_keys():
    data = quickstart_dict()
    data["time"]["duration"] = "6h"
    plain = hierarchy.run(data, write=False)
    data["market"]["security"] = {"enabled": False, "branch_limits_percent": {"line/0": 10}}
    off = hierarchy.run(data, write=False)
    assert off.frame_names == plain.frame_names and "market_redispatch_mw" not in off.frame_names
    for name in plain.frame_names:
        assert plain.frame(name).equals(off.frame(name)), name
    assert off.summary["market"]["security"]["intervals_checked"] == 0


def test_resolved_scenario_reads_back():
    """scenario.resolved.yaml of a run with the new keys is a valid scenario, the same one."""
    from hierarchy.scenario import load_scenario, resolved_dict

    scenario = load_scenario(_demo())
    again = load_scenario(yaml.safe_load(yaml.safe_dump(resolved_dict(scenario))))
    assert again.market.security == scenario.market.security
    assert again.market.customer_classes == scenario.market.customer_classes
