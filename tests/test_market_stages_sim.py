"""Market stages inside a run, against references computed outside the engine.

The quickstart grid (CIGRE MV, 15-min steps, hourly market, 5 s
area->market latency, 15 min gate closure) with a day-ahead stage, with
continuous trading, with forecasts other than persistence and with bidding
batteries. References: the pure mechanisms called by hand on the orders
captured at the link, the two-settlement formula applied by hand to the
recorded tables, the net position of the recorded trades, the arrival
arithmetic ``round + latency``, and the profiles themselves (a perfect
forecast is their mean over the interval, so the participants bid from it
meter exactly what they were awarded).
"""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hierarchy.messages import Bid, Offer
from market_control import double_auction
from market_control.settlement import dual_imbalance_price
from tests.conftest import quickstart_dict
from tests.test_market_sim import _run as run_built

HOUR_MS = 3_600_000
LATENCY_MS = 5_000
DAY_AHEAD = {"gate_closure": "12:00", "slot": "1h", "horizon": "24h"}
PERFECT = {kind: {"method": "perfect"} for kind in ("load", "pv", "wind")}


def _scenario(duration: str = "12h", forecast=None, **market) -> dict:
    data = quickstart_dict()
    data["time"]["duration"] = duration
    data["market"].update(market)
    if forecast is not None:
        data["forecast"] = forecast
    return data


def _run(data: dict, hook=None):
    """Build, let ``hook(rt)`` attach, run; return (rt, frames, summary, events)."""
    return run_built(data, hook, trace=False)


def traded_position_mw(trades: pd.DataFrame, columns, day_ahead: pd.DataFrame, t) -> pd.Series:
    """Each participant's position in interval ``t`` [MW, sold positive]: the
    net of its trades plus its day-ahead award."""
    net = (trades.groupby("seller")["quantity_mw"].sum().reindex(columns, fill_value=0.0)
           - trades.groupby("buyer")["quantity_mw"].sum().reindex(columns, fill_value=0.0))
    if t in day_ahead.index:
        net = net + day_ahead.loc[t].reindex(columns, fill_value=0.0)
    return net


def _ms(frame_index, start) -> list[int]:
    return [int((t - pd.Timestamp(start)).total_seconds() * 1000) for t in frame_index]


# ------------------------------------------------------------------ forecasts
def test_perfect_forecasts_leave_no_imbalance_from_forecasts():
    """PV, loads and uncontrolled generation bid the interval mean of their profiles and meter it;
    persistence (the default) misses it."""
    names = ["north/pv", "north/load", "south/load", "north/other_generation"]
    deviation = {}
    for label, forecast in (("perfect", PERFECT), ("persistence", None)):
        rt, frames, summary, _ = _run(_scenario(forecast=forecast))
        metered, awards = frames["market_metered_mw"], frames["market_award_mw"].loc[frames["market_metered_mw"].index]
        deviation[label] = (metered[names] - awards[names]).abs().to_numpy()
        errors = summary["market"]["forecast"]
        if label == "perfect":
            assert all(errors[k]["mae_mw"] == pytest.approx(0.0, abs=1e-12) for k in ("load", "pv", "wind"))
            assert errors["load"]["method"] == "perfect"
        else:
            assert errors["load"]["mae_mw"] > 0.01 and errors["pv"]["mae_mw"] > 0.01
    assert deviation["perfect"].max() < 1e-9
    assert deviation["persistence"].max() > 0.05


def test_noisy_forecast_error_is_what_the_areas_bid():
    """The recorded forecast is the one the PV offers carried; its error drives balancing."""
    noisy = {"pv": {"method": "noisy", "std_pu": 0.3, "autocorrelation": 0.8},
             "load": {"method": "perfect"}, "wind": {"method": "perfect"}}
    rt, frames, summary, _ = _run(_scenario(duration="1d", forecast=noisy))
    forecast, awards = frames["market_forecast_mw"], frames["market_award_mw"]
    pv_groups = [c for c in awards.columns if c.endswith("/pv")]
    # the PV groups are all the PV there is and their offers (at 0) are always accepted
    assert awards[pv_groups].sum(axis=1).to_numpy() == pytest.approx(forecast["pv"].to_numpy(), abs=1e-9)
    assert summary["market"]["forecast"]["pv"]["mae_mw"] > 0.0
    assert summary["market"]["forecast"]["load"]["mae_mw"] == pytest.approx(0.0, abs=1e-12)
    perfect = _run(_scenario(duration="1d", forecast=PERFECT))[2]
    assert summary["market"]["balancing"]["energy_mwh"] > perfect["market"]["balancing"]["energy_mwh"]


# ----------------------------------------------------------------- day-ahead
def _capture(rt, inbox_name: str) -> list:
    """Keep (send time, order) of every order sent on the area->market link to one inbox."""
    link, sent = rt.links[("area", "market")], []
    original = link.send
    target = rt.stages.day_ahead_inbox if inbox_name == "day_ahead" else rt.market_inbox

    def send(message, inbox):
        if inbox is target:
            sent.append((int(rt.env.now), message))
        return original(message, inbox)

    link.send = send
    return sent


def test_day_ahead_clears_each_slot_and_settles_twice():
    """Each slot equals double_auction on the orders sent for it plus upstream; every settled
    interval pays day-ahead at its price, the change at the real-time price, the rest at the
    imbalance price (dual, penalty 15); both energy accounts stay at zero."""
    data = _scenario(duration="2d", forecast=PERFECT, day_ahead=DAY_AHEAD, imbalance_penalty=15.0)
    captured: list = []
    rt, frames, summary, _ = _run(data, lambda rt: captured.append(_capture(rt, "day_ahead")))
    start = rt.scenario.time.start
    prices, awards = frames["market_day_ahead_price"]["system"], frames["market_day_ahead_award_mw"]
    assert len(prices) == 24 and prices.index[0] == pd.Timestamp(start) + pd.Timedelta("1D")
    sent = captured[0]
    assert {t for t, _ in sent} == {12 * HOUR_MS - 900_000}  # one gate-closure period before 12:00
    for row, slot_ms in enumerate(_ms(prices.index, start)):
        offers = [o for _, o in sent if o.interval_start_ms == slot_ms and isinstance(o, Offer)]
        bids = [o for _, o in sent if o.interval_start_ms == slot_ms and isinstance(o, Bid)]
        reference = double_auction(offers + [Offer("upstream", 1e9, 60.0, slot_ms)],
                                   bids + [Bid("upstream", 1e9, 20.0, slot_ms)], 3000.0)
        assert prices.iloc[row] == reference.price
        for name, award_mw in reference.awards.items():
            assert awards[name].iloc[row] == pytest.approx(award_mw, abs=1e-9)
    money, metered = frames["market_settlement"], frames["market_metered_mw"]
    rt_awards, rt_prices = frames["market_award_mw"], frames["market_price"]["system"]
    checked = 0
    for t in money.index:
        if t not in awards.index:
            continue
        for name in metered.columns:
            a_da, a_rt = awards.get(name, pd.Series(0.0, awards.index))[t], rt_awards.get(name, pd.Series(0.0, rt_awards.index))[t]
            m = metered[name][t]
            p_imb = dual_imbalance_price(rt_prices[t], m - a_rt, 15.0)
            expected = a_da * prices[t] + (a_rt - a_da) * rt_prices[t] + (m - a_rt) * p_imb
            assert money[name][t] == pytest.approx(expected, abs=1e-6)
            checked += 1
    assert checked > 100
    assert money["energy_account"].abs().max() < 1e-6 and money["day_ahead_account"].abs().max() < 1e-6
    assert money["residual"].abs().max() < 1e-6
    assert summary["market"]["day_ahead"]["slots"] == 24
    assert summary["market"]["settlement"]["day_ahead_account"] == pytest.approx(0.0, abs=1e-6)
    # the areas hold their day-ahead awards and prices for every delivery interval of day 2
    north = rt.areas[0].state
    assert set(north.day_ahead) == {24 * HOUR_MS + k * HOUR_MS for k in range(24)}
    assert north.price("day_ahead", 30 * HOUR_MS) == prices.iloc[6]


def test_after_clearing_is_the_one_place_every_clearing_passes(monkeypatch):
    """What the hook returns is what is recorded and published, for both stages."""
    from hierarchy.sim.engine import Engine

    seen = []

    def hook(self, start_ms, clearing, offers, bids, stage="real_time"):
        seen.append((stage, start_ms, len(offers) + len(bids)))
        return replace(clearing, price=123.0 if stage == "real_time" else 45.0)

    monkeypatch.setattr(Engine, "_after_clearing", hook)
    rt, frames, _, _ = _run(_scenario(duration="2d", day_ahead=DAY_AHEAD))
    assert (frames["market_price"]["system"] == 123.0).all()
    assert (frames["market_day_ahead_price"]["system"] == 45.0).all()
    assert [s for s in seen if s[0] == "day_ahead"] and all(n > 0 for *_, n in seen)
    assert len(seen) == len(frames["market_price"]) + len(frames["market_day_ahead_price"])
    assert rt.areas[0].state.price("clearing", 30 * HOUR_MS) == 123.0


# ---------------------------------------------------------------- continuous
def _continuous(duration="2d", latency=None, **market):
    data = _scenario(duration=duration, forecast=PERFECT, mechanism="continuous",
                     continuous={"open": "1h", "period": "15min"}, **market)
    if latency is not None:
        data["communication"]["links"] = [{"between": ["area", "market"], "latency": latency}]
    return data


def test_continuous_trading_records_trades_with_their_arrival_times():
    rt, frames, summary, events = _run(_continuous(day_ahead=DAY_AHEAD))
    start = rt.scenario.time.start
    trades = frames["market_trades"]
    times_ms = np.array(_ms(trades.index, start))
    # every trade happens when an order arrives: a trading round (every 15 min) plus the latency
    assert set(times_ms % 900_000) == {LATENCY_MS}
    delivery_ms = np.array(_ms(trades["delivery"], start))
    assert np.all(times_ms < delivery_ms - 900_000) and np.all(times_ms >= delivery_ms - HOUR_MS)
    # positions: day-ahead award plus the net of the trades; money: each trade at its price
    awards, day_ahead = frames["market_award_mw"], frames["market_day_ahead_award_mw"]
    prices = frames["market_price"]["system"]
    for t in awards.index:
        mine = trades[trades["delivery"] == t]
        net = traded_position_mw(mine, awards.columns, day_ahead, t)
        assert awards.loc[t].to_numpy() == pytest.approx(net.to_numpy(), abs=1e-9)
        if len(mine):
            vwap = (mine["quantity_mw"] * mine["price"]).sum() / mine["quantity_mw"].sum()
            assert prices[t] == pytest.approx(vwap)
    money = frames["market_settlement"]
    assert money["energy_account"].abs().max() < 1e-6 and money["residual"].abs().max() < 1e-6
    assert summary["market"]["continuous"]["trades"] == len(trades)
    assert summary["market"]["late_orders"] == 0 and not (events["kind"] == "late_order").any()
    # the areas were told of every trade of their participants
    for area in rt.areas:
        for t_ms, traded in area.state.traded_mw.items():
            mine = trades[trades["delivery"] == pd.Timestamp(start) + pd.Timedelta(milliseconds=t_ms)]
            for name, quantity_mw in traded.items():
                expected = (mine.loc[mine["seller"] == name, "quantity_mw"].sum()
                            - mine.loc[mine["buyer"] == name, "quantity_mw"].sum())
                assert quantity_mw == pytest.approx(expected, abs=1e-9)


def test_continuous_orders_that_arrive_after_the_gate_are_late():
    """With 16 min of latency the last round of each interval (30 min before delivery) arrives
    one minute after its gate: late, never traded; the earlier rounds still trade."""
    rt, frames, summary, events = _run(_continuous(duration="12h", latency="16min"))
    late = events[events["kind"] == "late_order"]
    assert summary["market"]["late_orders"] == len(late) > 0
    start = rt.scenario.time.start
    late_ms = np.array(_ms(late["time"], start))
    assert set(late_ms % HOUR_MS) == {HOUR_MS - 14 * 60_000}  # sent at :30, arrived at :46
    trades_ms = np.array(_ms(frames["market_trades"].index, start))
    assert set(trades_ms % 900_000) == {60_000}  # arrivals at round + 16 min


# ------------------------------------------------------------------ batteries
def test_bidding_batteries_are_awarded_and_follow_their_awards():
    """Batteries that bid (bid_blocks 2) in an area without balancing deliver their awards
    (from the step after the award arrives: the first of the interval's four 15-min steps still
    runs on the previous setpoint); an import limit makes the price move (60 or the cap)."""
    data = _scenario(duration="1d", upstream={"import_price": 60, "export_price": 20, "import_limit_mw": 22.0})
    data["areas"][0]["coordinator"]["policy"] = "none"
    data["units"][2]["params"]["bid_blocks"] = 2
    rt, frames, summary, _ = _run(data)
    awards, metered = frames["market_award_mw"], frames["market_metered_mw"]
    battery = awards["north/batteries"].loc[metered.index]
    assert (battery > 0).any() and (battery < 0).any()  # sells and buys
    expected = 0.75 * battery + 0.25 * battery.shift(1, fill_value=0.0)
    missed = (metered["north/batteries"] - expected).abs()
    assert (missed < 1e-6).mean() > 0.8  # the rest: state of charge spent by that first step
    assert missed.sum() < 0.1 * battery.abs().sum()
    for offers, bids in rt.recorder.market.orders:  # never a trade with itself
        sells = [o.price for o in offers if o.participant == "north/batteries"]
        buys = [b.price for b in bids if b.participant == "north/batteries"]
        assert not sells or not buys or min(sells) > max(buys)


def test_outputs_doc_names_every_table_column_and_summary_key_of_the_stages(tmp_path):
    """docs/outputs.md explains what a run with both stages and noisy forecasts writes."""
    import hierarchy
    from hierarchy.outputs.files import flatten, read_parquet
    from tests.conftest import ROOT

    data = _continuous(duration="2d", day_ahead=DAY_AHEAD)
    data["forecast"] = {"pv": {"method": "noisy", "std_pu": 0.2}}
    data["outputs"] = {"dir": str(tmp_path), "plots": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = hierarchy.run(data, out=tmp_path)
    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            name = path.stem if path.parent.name == "timeseries" else path.name
            assert f"`{name}`" in text, f"docs/outputs.md does not name {path.relative_to(tmp_path)}"
    for table in ("market_trades", "market_forecast_mw", "market_day_ahead_forecast_mw"):
        for column in read_parquet(tmp_path / "timeseries" / f"{table}.parquet").columns:
            assert f"`{column}`" in text, f"docs/outputs.md does not name {table}.{column}"
    assert "`day_ahead_account`" in text
    for key in flatten(result.summary["market"]):
        parts = key.split(".")
        if parts[0] in ("settlement", "mean_price_by_area") and len(parts) > 2:
            parts = parts[:2]
        assert parts[-1] in text, f"docs/outputs.md does not explain summary key market.{key}"
    assert (tmp_path / "plots" / "market_stages.png").exists()
    assert (tmp_path / "plots" / "forecast_error.png").exists()
