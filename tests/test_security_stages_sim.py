"""The security check with the market stages: continuous trading, and a day-ahead stage.

scenarios/market_security.yaml (the CIGRE MV feeder, line/0 limited to 55 %)
traded (a) day-ahead and then continuously, (b) day-ahead and then in the
per-interval double auction. References:

* ``pandapower.runpp`` on the injections the check built: the schedule at
  gate closure loads line/0 beyond 55 %, the re-dispatched one does not (or
  its interval reports what is left);
* the record of trades: under continuous trading the check moves positions,
  never trades (award − redispatch = day-ahead award + net trades);
* the two-settlement formula by hand with the redispatch payments on top:
  under continuous trading each trade at its price and each move in full at
  its block's price (the contract's 150, or the interval's price if higher);
  after an auction the change of award at the clearing price and the move's
  difference to it; the books balance;
* the shedding order (CHP first, the interruptible contract before any
  involuntary curtailment, the homes before the key accounts) and the bounds
  the areas keep.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

import hierarchy
from hierarchy.sim.security import SecurityStep
from market_control.settlement import dual_imbalance_price
from tests.test_grid_security import _runpp
from tests.test_market_stages_sim import traded_position_mw
from tests.test_security_sim import _moves

ROOT = Path(__file__).resolve().parents[1]
DAY_AHEAD = {"gate_closure": "12:00", "slot": "1h", "horizon": "24h"}
CONTRACT = "north/interruptible"
LIMIT = 55.0


def _scenario(mechanism: str) -> dict:
    data = yaml.safe_load((ROOT / "scenarios" / "market_security.yaml").read_text())
    data["outputs"] = {"dir": "unused", "plots": False}
    data["market"]["day_ahead"] = DAY_AHEAD
    if mechanism == "continuous":
        data["market"]["mechanism"] = "continuous"
        data["market"]["continuous"] = {"open": "2h", "period": "15min"}
    return data


def _run(mechanism: str):
    """The run, and per re-dispatched interval: (start, injections before and after, network)."""
    captured = []
    original = SecurityStep.secure

    def secure(self, start_ms, clearing, offers, bids):
        result = original(self, start_ms, clearing, offers, bids)
        if result is not clearing:
            captured.append((start_ms, self._schedule(clearing.awards), self._schedule(result.awards),
                             copy.deepcopy(self.rt.plant.powerflow.network)))
        return result

    SecurityStep.secure = secure
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = hierarchy.run(_scenario(mechanism), write=False)
    finally:
        SecurityStep.secure = original
    return result, captured


@pytest.fixture(scope="module")
def continuous():
    return _run("continuous")


@pytest.fixture(scope="module")
def auction():
    return _run("double_auction")


def _loading(net, injections) -> tuple[float, bool]:
    """line/0 loading [%] of ``net`` with the injections, and whether all else is within limits."""
    net = _runpp(net, *injections)
    rest = (net.res_line.loading_percent.drop(0).max() <= 100.0 + 1e-3
            and net.res_trafo.loading_percent.max() <= 100.0 + 1e-3
            and net.res_bus.vm_pu.dropna().between(0.93 - 1e-6, 1.07 + 1e-6).all())
    return float(net.res_line.at[0, "loading_percent"]), bool(rest)


@pytest.mark.parametrize("fixture", ["continuous", "auction"])
def test_schedules_violate_line0_and_the_redispatched_ones_hold(fixture, request):
    result, captured = request.getfixturevalue(fixture)
    clearing = result.frame("market_clearing")
    start = pd.Timestamp(result.runtime.scenario.time.start)
    assert len(captured) >= 5
    assert (clearing["security_violations"] > 0).sum() == len(captured)
    for start_ms, before, after, net in captured:
        row = clearing.loc[start + pd.Timedelta(milliseconds=start_ms)]
        assert _loading(net, before)[0] > LIMIT
        line0, rest = _loading(net, after)
        assert (line0 <= LIMIT + 1e-3 and rest) or row["security_unresolved"] > 0, (start_ms, line0)


@pytest.mark.parametrize("fixture", ["continuous", "auction"])
def test_contract_before_involuntary_and_by_priority(fixture, request):
    result, _ = request.getfixturevalue(fixture)
    moves, awards = _moves(result), result.frame("market_award_mw")
    loads = moves[moves["participant"].isin([CONTRACT, "north/homes", "north/key_accounts"])]
    assert (loads["label"] == "interruptible contract").any() and loads["label"].str.startswith("involuntary").any()
    for interval, group in loads.groupby("interval"):
        t = pd.Timestamp(interval)
        chp = awards.loc[t, ["north/chp/sgen/10", "north/chp/sgen/11"]].sum()
        assert chp == pytest.approx(0.522, abs=1e-6), interval  # the CHP's whole offer first
        involuntary = group["label"].str.startswith("involuntary").any()
        if involuntary and (group["label"] == "interruptible contract").any():
            assert awards.loc[t, CONTRACT] == pytest.approx(0.0, abs=1e-6)  # the contract used up first
        assert "north/key_accounts" not in set(group["participant"]) or "north/homes" in set(group["participant"])


def test_continuous_check_moves_positions_not_trades(continuous):
    result, _ = continuous
    awards, trades = result.frame("market_award_mw"), result.frame("market_trades")
    redispatch, day_ahead = result.frame("market_redispatch_mw"), result.frame("market_day_ahead_award_mw")
    moved = redispatch.index[(redispatch.abs() > 0).any(axis=1)]
    assert len(moved) >= 5
    for t in awards.index:
        mine = trades[trades["delivery"] == t]
        net = traded_position_mw(mine, awards.columns, day_ahead, t)
        change = redispatch.loc[t].reindex(awards.columns, fill_value=0.0) if t in redispatch.index else 0.0
        assert (awards.loc[t] - change).to_numpy() == pytest.approx(net.to_numpy(), abs=1e-9)
        assert awards.loc[t].sum() == pytest.approx(0.0, abs=1e-9)  # still balanced


def _by_hand(result, continuous: bool) -> int:
    """Every participant's money in every settled interval, by hand; returns how many were checked."""
    money, metered = result.frame("market_settlement"), result.frame("market_metered_mw")
    awards, price = result.frame("market_award_mw"), result.frame("market_price")["system"]
    da_awards, da_price = result.frame("market_day_ahead_award_mw"), result.frame("market_day_ahead_price")["system"]
    redispatch = result.frame("market_redispatch_mw")
    trades = result.frame("market_trades") if continuous else None
    moves = _moves(result)
    checked = 0
    for t in money.index:
        lam = price[t]
        mine = None if trades is None else trades[trades["delivery"] == t]
        for name in metered.columns:
            award = awards[name][t] if name in awards else 0.0
            m = metered[name][t]
            a_da = da_awards[name][t] if (t in da_awards.index and name in da_awards) else 0.0
            p_da = da_price[t] if t in da_price.index else 0.0
            if continuous:
                energy = ((mine.loc[mine["seller"] == name, "quantity_mw"] * mine.loc[mine["seller"] == name, "price"]).sum()
                          - (mine.loc[mine["buyer"] == name, "quantity_mw"] * mine.loc[mine["buyer"] == name, "price"]).sum())
            else:
                energy = (award - a_da) * lam
            here = moves[(moves["interval"] == t.strftime("%Y-%m-%d %H:%M")) & (moves["participant"] == name)]
            # each move at its block's price (events round to 4 digits: the table's delta is exact)
            paid = sum(row.mw * row.price for row in here.itertuples())
            if len(here) == 1:
                paid = redispatch.loc[t, name] * here["price"].iloc[0]
            if not continuous and len(here):
                paid -= (redispatch.loc[t, name] if len(here) == 1 else here["mw"].sum()) * lam
            expected = a_da * p_da + energy + (m - award) * dual_imbalance_price(lam, m - award, 10.0) + paid
            # the events round each move's MW to 4 digits (5e-5 MW, at its price and at λ) and its
            # price to 2 (0.005 per MWh of its MW); the table's change is exact
            tol = 1e-6 + (here["mw"].abs() * 0.005).sum()
            if len(here) > 1:
                tol += 5e-5 * (here["price"].abs().sum() + len(here) * abs(lam))
            assert money[name][t] == pytest.approx(expected, abs=tol), (t, name)
            checked += 1
    assert money["residual"].abs().max() < 1e-6
    return checked


def test_continuous_settlement_pays_trades_and_each_move_in_full(continuous):
    result, _ = continuous
    assert _by_hand(result, continuous=True) > 100
    money, clearing = result.frame("market_settlement"), result.frame("market_clearing")
    paid = clearing.loc[money.index, "redispatch_cost"].sum()
    assert money["redispatch_account"].sum() == pytest.approx(-paid)  # the account pays the moves' cost


def test_auction_settlement_pays_the_change_and_the_moves_difference(auction):
    result, _ = auction
    assert _by_hand(result, continuous=False) > 100
    money, clearing = result.frame("market_settlement"), result.frame("market_clearing")
    assert money["redispatch_account"].sum() == pytest.approx(-clearing.loc[money.index, "redispatch_cost"].sum())


@pytest.mark.parametrize("fixture", ["continuous", "auction"])
def test_areas_hold_the_bounds(fixture, request):
    """A curtailed group consumes at most its bound from the interval's second step (its
    setpoints leave the area at the interval's start and reach the units 1 s later)."""
    result, _ = request.getfixturevalue(fixture)
    redispatch, awards, p = (result.frame(n) for n in ("market_redispatch_mw", "market_award_mw", "unit_p_mw"))
    members = {CONTRACT: ["load/11", "load/13"], "north/homes": [f"load/{i}" for i in range(1, 8)]}
    checked = 0
    for interval, row in redispatch.iterrows():
        for participant, loads in members.items():
            if row.get(participant, 0.0) <= 1e-9:
                continue
            inside = p.loc[interval + pd.Timedelta(minutes=15):interval + pd.Timedelta(minutes=45), loads]
            assert (-inside.sum(axis=1) <= -awards.loc[interval, participant] + 1e-6).all(), (interval, participant)
            checked += 1
    assert checked >= 3
