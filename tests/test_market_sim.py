"""The market tier inside a run, against references computed outside the engine.

Each test runs the quickstart grid (CIGRE MV, 15-min steps, hourly market,
5 s area->market latency, 15 min gate closure) for part of a day and checks
what the engine recorded against an independent computation: the pure
mechanisms called by hand on the orders captured at the link, the gate
arithmetic ``sent + latency <= gate``, the time-of-use periods typed in
here, the constant-elasticity demand law, and the first law (metered
outputs of all participants, losses included, sum to zero).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from hierarchy.messages import Bid, Offer
from market_control import double_auction
from market_control.markets import EconomicDispatchMarket
from tests.conftest import importable_module, quickstart_dict

HOUR_MS = 3_600_000
GATE_MS = 900_000
LATENCY_MS = 5_000  # area->market in the quickstart


def _scenario(duration: str = "12h", **market) -> dict:
    data = quickstart_dict()
    data["time"]["duration"] = duration
    data["market"].update(market)
    return data


def _flexible(data: dict, unit_id: str, loads: list[str], customer_class: str, **params) -> None:
    data["units"].append({"id": unit_id, "elements": loads, "policy": "flexible_load",
                          "params": {"customer_class": customer_class, **params}})


def _run(data: dict, hook=None, trace: bool = True):
    """Build, let ``hook(rt)`` attach to the runtime, run; return (rt, frames, summary, events)."""
    from hierarchy.outputs.summary import summarize
    from hierarchy.scenario import load_scenario
    from hierarchy.sim.build import build
    from hierarchy.sim.engine import Engine

    scenario = load_scenario(data)
    rt = build(scenario, trace=trace)
    if hook is not None:
        hook(rt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Engine(rt).run()
    frames = rt.recorder.frames(scenario.time.start, rt.step_ms)
    return rt, frames, summarize(rt, 1.0, True), rt.recorder.events_frame(scenario.time.start)


def _capture_orders(rt) -> list:
    """Wrap the area->market link: keep (send time, order) of every order sent."""
    link, sent = rt.links[("area", "market")], []
    original = link.send

    def send(message, inbox):
        sent.append((int(rt.env.now), message))
        return original(message, inbox)

    link.send = send
    return sent


def _interval_ms(frame) -> list[int]:
    return [int((t - frame.index[0]).total_seconds() * 1000) + HOUR_MS for t in frame.index]


def test_recorded_clearing_equals_double_auction_on_the_orders_sent():
    """Price and awards equal double_auction on the orders that reached the gate, plus upstream."""
    data = _scenario(upstream={"import_price": 60, "export_price": 20, "import_limit_mw": 18.5})
    _flexible(data, "flex", ["load/10"], "rtp", bid_price=100, elasticity=-0.5)
    data["market"]["tariffs"]["rtp"] = {"kind": "rtp", "factor": 1.0, "adder": 10}
    captured: list = []
    rt, frames, _, _ = _run(data, lambda rt: captured.extend([_capture_orders(rt)]))
    sent = captured[0]
    prices, awards = frames["market_price"]["system"], frames["market_award_mw"]
    assert frames["market_price"].index[0].hour == 1  # first market: 01:00
    for row, start_ms in enumerate(_interval_ms(prices)):
        on_time = [o for t, o in sent if o.interval_start_ms == start_ms and t + LATENCY_MS <= start_ms - GATE_MS]
        offers = [o for o in on_time if isinstance(o, Offer)] + [Offer("upstream", 18.5, 60.0, start_ms)]
        bids = [b for b in on_time if isinstance(b, Bid)] + [Bid("upstream", 1e9, 20.0, start_ms)]
        reference = double_auction(offers, bids, 3000.0)
        assert prices.iloc[row] == reference.price
        for name, award_mw in reference.awards.items():
            assert awards[name].iloc[row] == pytest.approx(award_mw, abs=1e-9)
    assert prices.nunique() >= 2, "the import limit must make the price move"


def test_late_order_is_reported_and_not_cleared():
    """An offer arriving 3 s after gate closure is an event and a count, never an award;
    one arriving 1 s before it is cleared."""
    start_ms = 4 * HOUR_MS
    gate_ms = start_ms - GATE_MS

    def inject(rt):
        def sender(send_ms: int, name: str):
            yield rt.env.timeout(send_ms)
            order = Offer(name, 2.0, 0.0, start_ms, "north", send_ms)
            rt.links[("area", "market")].send(order, rt.market_inbox)

        rt.env.process(sender(gate_ms - LATENCY_MS - 1_000, "north/early"))
        rt.env.process(sender(gate_ms - LATENCY_MS + 3_000, "north/late"))

    _, frames, summary, events = _run(_scenario(duration="8h"), inject)
    late = events[events["kind"] == "late_order"]
    assert list(late["target"]) == ["north/late"]
    assert "interval at 14400 s" in late["detail"].iloc[0]
    assert summary["control"]["late_orders"] == summary["market"]["late_orders"] == 1
    awards = frames["market_award_mw"]
    assert "north/late" not in awards.columns
    row = awards.index.get_loc(awards.index[0] + np.timedelta64(start_ms - HOUR_MS, "ms"))
    assert awards["north/early"].iloc[row] == pytest.approx(2.0)  # priced at 0: accepted
    assert frames["market_clearing"]["late_orders"].iloc[row] == 1


def test_reserve_requirement_binds_and_changes_the_dispatch():
    """With 10 % reserve, ED holds back flexible demand to keep headroom; without, it does not."""
    data = _scenario(mechanism="economic_dispatch", reserve={"fraction_of_load": 0.1},
                     upstream={"import_price": 60, "export_price": 20, "import_limit_mw": 21.0})
    _flexible(data, "flex", ["load/10"], "default", bid_price=100, elasticity=0.0)
    rt, frames, summary, _ = _run(data)
    orders = rt.recorder.market.orders
    clearing = frames["market_clearing"]
    changed = 0
    for row, (offers, bids) in enumerate(orders):
        fixed_mw = sum(b.quantity_mw for b in bids if b.price >= 3000.0)
        required_mw = 0.1 * fixed_mw
        assert clearing["reserve_required_mw"].iloc[row] == pytest.approx(required_mw)
        accepted_mw = sum(max(v, 0.0) for v in rt.recorder.market.awards[row].values())
        headroom_mw = sum(o.quantity_mw for o in offers) - accepted_mw
        short_mw = clearing["reserve_shortfall_mw"].iloc[row]
        assert headroom_mw >= required_mw - short_mw - 1e-6
        start = offers[0].interval_start_ms
        energy_only = EconomicDispatchMarket(3000.0).clear(start, offers, bids)
        if abs(energy_only.awards["north/flex"] - rt.recorder.market.awards[row]["north/flex"]) > 1e-6:
            changed += 1
            assert rt.recorder.market.awards[row]["north/flex"] > energy_only.awards["north/flex"]
            assert clearing["reserve_price"].iloc[row] > 0
    assert changed >= 1, "the reserve requirement must bind somewhere"
    assert summary["market"]["reserve_shortfall_intervals"] == int((clearing["reserve_shortfall_mw"] > 1e-9).sum())


def test_binding_transfer_limit_gives_two_area_prices_and_the_congestion_rent():
    """North imports at most 8 MW from south (where the upstream grid is): its price rises
    above south's exactly when the limit binds, and the operator keeps flow × price difference."""
    data = _scenario(mechanism="economic_dispatch", transfer_limits=[{"between": ["north", "south"],
                                                                       "limit_mw": 8.0}])
    _, frames, summary, _ = _run(data)
    prices, clearing = frames["market_price"], frames["market_clearing"]
    assert set(prices.columns) == {"north", "south"}
    flow_mw = clearing["flow_north_south_mw"]  # positive from north to south
    binding = np.isclose(flow_mw, -8.0)
    assert binding.any() and np.all(flow_mw >= -8.0 - 1e-9)
    assert np.all(prices["north"][binding] > prices["south"][binding])
    assert np.allclose(prices["north"][~binding], prices["south"][~binding])
    rent = (flow_mw * (prices["south"] - prices["north"])).to_numpy()  # per hour
    settled = frames["market_settlement"]["energy_account"]
    assert np.allclose(settled.to_numpy(), rent[: len(settled)], rtol=1e-9, atol=1e-6)
    assert summary["market"]["mean_price_by_area"]["north"] > summary["market"]["mean_price_by_area"]["south"]


def test_key_account_prices_follow_the_tou_periods_and_the_load_responds():
    """The published key-account price is 150 from 08:00 to 20:00 and 90 otherwise, and the
    key account consumes demand·(price/bid_price)^elasticity at it."""
    data = _scenario(duration="1d")
    data["market"]["tariffs"]["key_account"] = {
        "kind": "tou", "periods": [{"from": "08:00", "to": "20:00", "price": 150}], "otherwise": 90}
    _flexible(data, "key", ["load/15"], "key_account", bid_price=120, elasticity=-0.4)
    rt, frames, _, _ = _run(data)
    retail = frames["market_retail_price"]
    hours = retail.index.hour
    expected = np.where((hours >= 8) & (hours < 20), 150.0, 90.0)
    assert np.array_equal(retail["south/key_account"].to_numpy(), expected)
    assert np.array_equal(retail["north/default"].to_numpy(), np.full(len(retail), 120.0))
    group = [g for g in rt.groups if g.id == "key"][0]
    demand_mw = rt.plant.profiles.load_p_mw[:, group.positions[0]]
    consumption_mw = -frames["unit_p_mw"]["load/15"].to_numpy()
    steps = frames["unit_p_mw"].index
    # a new interval's price reaches the unit one step after it starts (area after physics)
    for k in np.flatnonzero((steps.minute != 0) & (steps.hour >= 1)):
        price = 150.0 if 8 <= steps[k].hour < 20 else 90.0
        assert consumption_mw[k] == pytest.approx(demand_mw[k] * (price / 120.0) ** -0.4, rel=1e-9)


def test_flexible_load_closes_the_loop_price_load_next_clearing():
    """On real-time pricing the load follows the clearing price (price -> load), and what it
    consumes is what its area bids for the next interval (load -> next clearing)."""
    data = _scenario(upstream={"import_price": 60, "export_price": 20, "import_limit_mw": 18.5})
    _flexible(data, "flex", ["load/10"], "rtp", bid_price=100, elasticity=-0.5)
    data["market"]["tariffs"]["rtp"] = {"kind": "rtp", "factor": 1.0, "adder": 10}
    captured: list = []
    rt, frames, _, _ = _run(data, lambda rt: captured.extend([_capture_orders(rt)]))
    price = frames["market_price"]["system"]
    consumption = -frames["unit_p_mw"]["load/10"]
    demand_mw = rt.plant.profiles.load_p_mw[:, rt.groups[-1].positions[0]]
    factors = []
    for k, time in enumerate(consumption.index):
        interval = time.floor("h")
        if time.minute == 0 or interval not in price.index:
            continue
        retail = price[interval] + 10.0
        assert consumption.iloc[k] == pytest.approx(demand_mw[k] * (retail / 100.0) ** -0.5, rel=1e-9)
        factors.append((retail, consumption.iloc[k] / demand_mw[k]))
    retail, factor = np.array(factors).T
    assert factor[retail > 1000].max() < 0.25 < factor[retail < 200].min()
    step_ms = 900_000
    bids = [(t, o) for t, o in captured[0] if o.participant == "north/flex"]
    assert len(bids) >= 8
    for send_ms, bid in bids:  # status of the step before the bidding instant (1 s unit->area link)
        k = send_ms // step_ms - 1
        assert bid.quantity_mw == pytest.approx(consumption.iloc[k], rel=1e-9)
        assert bid.price == 100.0


def test_settlement_meters_balance_and_the_books_close():
    """Metered outputs sum to zero (losses metered), upstream meters the ext_grid, and
    payments computed by hand (dual imbalance price) plus both accounts sum to zero."""
    penalty = 10.0
    data = _scenario(imbalance_penalty=penalty)
    _, frames, summary, _ = _run(data)
    metered, awards = frames["market_metered_mw"], frames["market_award_mw"]
    money, price = frames["market_settlement"], frames["market_price"]["system"]
    assert len(metered) == 11  # complete intervals 01:00..11:00
    assert np.allclose(metered.sum(axis=1), 0.0, atol=1e-6)
    balance = frames["system_balance_mw"]
    hourly = (balance["import_mw"] - balance["export_mw"]).resample("h").mean()
    assert np.allclose(metered["upstream"], hourly[metered.index], atol=1e-9)
    deviation_mwh = 0.0
    for time, row in metered.iterrows():
        total = 0.0
        for name, actual_mw in row.items():
            award_mw = awards.at[time, name] if name in awards.columns else 0.0
            dev = actual_mw - award_mw
            imbalance_price = price[time] - penalty if dev > 0 else price[time] + penalty if dev < 0 else price[time]
            paid = award_mw * price[time] + dev * imbalance_price
            assert money.at[time, name] == pytest.approx(paid, abs=1e-9)
            total += paid
            deviation_mwh += abs(dev)
        accounts = money.at[time, "energy_account"] + money.at[time, "imbalance_account"]
        assert total + accounts == pytest.approx(0.0, abs=1e-6)
        assert money.at[time, "energy_account"] == pytest.approx(0.0, abs=1e-6)  # one price
    st = summary["market"]["settlement"]
    assert st["imbalance_account"] == pytest.approx(penalty * deviation_mwh, rel=1e-6)
    assert st["imbalance_abs_mwh"] == pytest.approx(deviation_mwh)
    assert deviation_mwh > 1.0


@pytest.mark.parametrize("name", ["market_week.yaml", "market_week_ed.yaml"])
def test_market_week_scenarios_validate(name):
    from hierarchy.scenario import load_scenario
    from tests.conftest import SCENARIOS

    scenario = load_scenario(SCENARIOS / name)
    assert scenario.market.interval == HOUR_MS and len(scenario.areas) == 3
    assert "key_account" in scenario.market.tariffs


def test_market_references_are_checked_against_the_areas_and_tariffs():
    from hierarchy.scenario import ScenarioError, load_scenario
    from hierarchy.sim.build import build

    data = _scenario(mechanism="economic_dispatch", transfer_limits=[{"between": ["north", "east"],
                                                                       "limit_mw": 1.0}])
    with pytest.raises(ScenarioError, match=r"^market\.transfer_limits\[0\]\.between: no area 'east'"):
        build(load_scenario(data))
    data = _scenario()
    _flexible(data, "flex", ["load/10"], "vip")
    with pytest.raises(ScenarioError, match=r"^units\[3\]\.params\.customer_class: no tariff 'vip'"):
        build(load_scenario(data))


# ----------------------------------------------------------- a market of your own
_USER_MARKET = '''
from market_control.base import Clearing, Market, for_interval


class PostedPrice(Market):
    """Posted (fixed) price: offers at or below PRICE and bids at or above it are matched,
    cheapest offers and dearest bids first, up to the smaller side; all at PRICE."""

    PRICE = 55.0

    def __init__(self, price_cap, reserve_fraction_of_load, reserve_largest_unit):
        self.kwargs = dict(price_cap=price_cap, reserve_fraction_of_load=reserve_fraction_of_load,
                           reserve_largest_unit=reserve_largest_unit)

    def clear(self, interval_start_ms, offers, bids):
        offers = sorted((o for o in for_interval(interval_start_ms, offers) if o.price <= self.PRICE),
                        key=lambda o: o.price)
        bids = sorted((b for b in for_interval(interval_start_ms, bids) if b.price >= self.PRICE),
                      key=lambda b: -b.price)
        quantity = min(sum(o.quantity_mw for o in offers), sum(b.quantity_mw for b in bids))
        awards = {}
        for orders, sign in ((offers, 1.0), (bids, -1.0)):
            left = quantity
            for order in orders:
                take = min(order.quantity_mw, left)
                left -= take
                awards[order.participant] = awards.get(order.participant, 0.0) + sign * take
        return Clearing(price=self.PRICE, quantity_mw=quantity, awards=awards, marginal="posted")


class ZonalPostedPrice(PostedPrice):
    def __init__(self, transfer_limits, **reserve_and_cap):
        super().__init__(**reserve_and_cap)
        self.kwargs["transfer_limits"] = transfer_limits


class NoArguments(Market):
    def __init__(self):
        pass

    def clear(self, interval_start_ms, offers, bids):
        return Clearing(price=0.0, quantity_mw=0.0, awards={})


class Refuses(PostedPrice):
    def __init__(self, **kwargs):
        raise ValueError("price_cap above my limit")


class NotAMarket:
    def __init__(self, **kwargs):
        pass
'''


@pytest.fixture
def user_market(tmp_path, monkeypatch):
    return importable_module(tmp_path, monkeypatch, "user_market", _USER_MARKET)


def test_user_market_by_module_class_clears_every_interval(user_market):
    """market.mechanism: module:Class runs the user's market: its posted price in every
    interval, its constructor given price_cap and the reserve arguments, and cleared
    quantities equal min(supply at or below the price, demand at or above it) summed by hand."""
    data = _scenario(duration="8h", mechanism=f"{user_market}:PostedPrice", price_cap=2500,
                     reserve={"fraction_of_load": 0.1, "largest_unit": True})
    rt, frames, _, _ = _run(data)
    assert type(rt.market).__name__ == "PostedPrice"
    assert rt.market.kwargs == {"price_cap": 2500.0, "reserve_fraction_of_load": 0.1,
                                "reserve_largest_unit": True}
    prices = frames["market_price"]["system"]
    assert len(prices) == 7 and np.all(prices == 55.0)
    cleared = frames["market_clearing"]["cleared_mw"].to_numpy()
    auction_prices = []
    for row, (offers, bids) in enumerate(rt.recorder.market.orders):
        supply_mw = sum(o.quantity_mw for o in offers if o.price <= 55.0)
        demand_mw = sum(b.quantity_mw for b in bids if b.price >= 55.0)
        assert cleared[row] == pytest.approx(min(supply_mw, demand_mw), abs=1e-9)
        assert sum(rt.recorder.market.awards[row].values()) == pytest.approx(0.0, abs=1e-9)
        auction_prices.append(double_auction(offers, bids, 2500.0).price)
    assert any(p != 55.0 for p in auction_prices), "the posted price must differ from the auction's"


def test_user_market_gets_transfer_limits_when_given(user_market):
    from hierarchy.scenario import load_scenario
    from hierarchy.sim.build import build

    data = _scenario(mechanism=f"{user_market}:ZonalPostedPrice",
                     transfer_limits=[{"between": ["north", "south"], "limit_mw": 8.0}])
    market = build(load_scenario(data)).market
    assert market.kwargs == {"price_cap": 3000.0, "reserve_fraction_of_load": 0.0,
                             "reserve_largest_unit": False,
                             "transfer_limits": {("north", "south"): 8.0}}


@pytest.mark.parametrize("target,limits,words", [
    ("{m}:NotAMarket", False, "not a subclass of market_control.base.Market"),
    ("{m}:NoArguments", False, "must accept the keyword arguments price_cap, "
                               "reserve_fraction_of_load, reserve_largest_unit"),
    ("{m}:PostedPrice", True, "must accept the keyword arguments price_cap, "
                              "reserve_fraction_of_load, reserve_largest_unit, transfer_limits"),
    ("{m}:Refuses", False, "ValueError: price_cap above my limit"),
    ("{m}:Missing", False, "has no class 'Missing'"),
    ("no_such_package_x.markets:Posted", False, "cannot import module 'no_such_package_x.markets'"),
])
def test_user_market_that_does_not_fit_is_a_scenario_error(user_market, target, limits, words):
    from hierarchy.scenario import ScenarioError, load_scenario
    from hierarchy.sim.build import build

    data = _scenario(mechanism=target.format(m=user_market))
    if limits:
        data["market"]["transfer_limits"] = [{"between": ["north", "south"], "limit_mw": 8.0}]
    with pytest.raises(ScenarioError) as err:
        build(load_scenario(data))
    assert err.value.path == "market.mechanism" and words in err.value.message


@pytest.mark.parametrize("mechanism", ["double_auction", "none"])
def test_transfer_limits_need_a_mechanism_that_takes_them(mechanism):
    from hierarchy.scenario import ScenarioError, load_scenario

    data = _scenario(mechanism=mechanism, transfer_limits=[{"between": ["north", "south"],
                                                            "limit_mw": 8.0}])
    with pytest.raises(ScenarioError, match=r"^market\.transfer_limits: needs mechanism economic_dispatch"):
        load_scenario(data)
