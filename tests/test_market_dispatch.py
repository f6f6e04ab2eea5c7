"""Economic dispatch against textbook examples and hand-worked cases.

Wood, Wollenberg & Sheblé, *Power Generation, Operation, and Control*,
3rd ed., Wiley 2014, Example 3A: three units, fuel cost times heat rate
H1 = 510 + 7.2 P + 0.00142 P² MBtu/h at 1.1 /MBtu (150–600 MW),
H2 = 310 + 7.85 P + 0.00194 P² at 1.0 (100–400 MW),
H3 = 78 + 7.97 P + 0.00482 P² at 1.0 (50–200 MW), 850 MW:
λ = 9.148 /MWh, P = 393.2, 334.6, 122.2 MW. Example 3B: coal at 0.9 /MBtu,
unit 1 hits 600 MW: λ = 8.576, P2 = 187.1, P3 = 62.9 MW.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from hierarchy.kernel.registry import resolve
from market_control import Bid, Generator, Offer, economic_dispatch
from market_control.markets import DoubleAuctionMarket, EconomicDispatchMarket, NoMarket


def ww_units(coal_price: float = 1.1) -> list[Generator]:
    return [
        Generator("u1", 510 * coal_price, 7.2 * coal_price, 0.00142 * coal_price, 150, 600),
        Generator("u2", 310, 7.85, 0.00194, 100, 400),
        Generator("u3", 78, 7.97, 0.00482, 50, 200),
    ]


def test_wood_wollenberg_example_3a():
    result = economic_dispatch(ww_units(), 850.0)
    assert result.price == pytest.approx(9.148, rel=1e-3)
    assert [result.awards[u] for u in ("u1", "u2", "u3")] == pytest.approx([393.2, 334.6, 122.2], rel=1e-3)
    assert result.quantity_mw == pytest.approx(850.0)


def test_example_3a_matches_closed_form_lambda():
    units = ww_units()
    b = np.array([u.b for u in units])
    c = np.array([u.c for u in units])
    lam = brentq(lambda x: np.sum((x - b) / (2 * c)) - 850.0, 8.0, 11.0, xtol=1e-14)
    result = economic_dispatch(units, 850.0)
    assert result.price == pytest.approx(lam, rel=1e-6)
    assert [result.awards[u.participant] for u in units] == pytest.approx(list((lam - b) / (2 * c)), rel=1e-6)


def test_wood_wollenberg_example_3b_unit_at_its_limit():
    result = economic_dispatch(ww_units(coal_price=0.9), 850.0)
    assert result.awards["u1"] == pytest.approx(600.0, rel=1e-6)
    assert result.price == pytest.approx(8.576, rel=1e-3)
    assert [result.awards["u2"], result.awards["u3"]] == pytest.approx([187.1, 62.9], rel=1e-3)


def test_linear_costs_merit_order():
    units = [Generator("cheap", 0, 10, 0, 0, 50), Generator("dear", 0, 20, 0, 0, 50), Generator("peak", 0, 90, 0, 0, 50)]
    result = economic_dispatch(units, 70.0)
    assert result.price == pytest.approx(20.0)
    assert result.awards == pytest.approx({"cheap": 50.0, "dear": 20.0, "peak": 0.0})


def test_binding_transfer_limit_splits_prices():
    units = [Generator("n", 0, 10, 0, 0, 100, area="north"), Generator("s", 0, 30, 0, 0, 100, area="south")]
    demand = {"north": 20.0, "south": 60.0}
    result = economic_dispatch(units, demand, transfer_limits={("north", "south"): 10.0})
    assert result.price == pytest.approx({"north": 10.0, "south": 30.0})
    assert result.flows_mw[("north", "south")] == pytest.approx(10.0)
    assert result.awards == pytest.approx({"n": 30.0, "s": 50.0})
    loose = economic_dispatch(units, demand, transfer_limits={("north", "south"): 100.0})
    assert loose.price == pytest.approx({"north": 10.0, "south": 10.0})


def test_binding_transfer_limit_with_quadratic_costs():
    # Each area's price is its own unit's marginal cost b + 2cP: 10 + 0.02·30, 30 + 0.02·50.
    units = [Generator("n", 0, 10, 0.01, 0, 100, area="north"), Generator("s", 0, 30, 0.01, 0, 100, area="south")]
    result = economic_dispatch(units, {"north": 20.0, "south": 60.0}, transfer_limits={("north", "south"): 10.0})
    assert result.price == pytest.approx({"north": 10.6, "south": 31.0}, rel=1e-6)


def test_asymmetric_transfer_limits():
    units = [Generator("n", 0, 10, 0, 0, 100, area="north"), Generator("s", 0, 30, 0, 0, 100, area="south")]
    limits = {("north", "south"): 25.0, ("south", "north"): 5.0}
    result = economic_dispatch(units, {"north": 20.0, "south": 60.0}, transfer_limits=limits)
    assert result.flows_mw[("north", "south")] == pytest.approx(25.0)


def test_reserve_requirement_changes_the_dispatch():
    # B holds at most 10 MW of reserve, so A must keep 30 MW headroom: A = 70, B = 50.
    units = [Generator("A", 0, 10, 0, 0, 100, reserve_max_mw=50), Generator("B", 0, 20, 0, 0, 100, reserve_max_mw=10)]
    plain = economic_dispatch(units, 120.0)
    assert plain.awards == pytest.approx({"A": 100.0, "B": 20.0})
    reserved = economic_dispatch(units, 120.0, reserve_mw=40.0)
    assert reserved.awards == pytest.approx({"A": 70.0, "B": 50.0})
    assert reserved.price == pytest.approx(20.0)
    assert reserved.reserve_price == pytest.approx(10.0)  # A's lost margin 20 - 10


def test_reserve_by_area_and_headroom_shortfall():
    units = [Generator("n", 0, 30, 0, 0, 100, area="north"), Generator("s", 0, 10, 0, 0, 100, area="south")]
    demand = {"north": 60.0, "south": 20.0}
    limits = {("south", "north"): 50.0}
    # Cheap south exports 50 MW: s = 70, n = 10.
    assert economic_dispatch(units, demand, transfer_limits=limits).awards == pytest.approx({"n": 10.0, "s": 70.0})
    # South must hold 60 MW of headroom itself: s <= 40, so it exports 20 and north makes 40.
    result = economic_dispatch(units, demand, reserve_mw={"south": 60.0}, transfer_limits=limits)
    assert result.awards == pytest.approx({"n": 40.0, "s": 40.0})
    assert result.price == pytest.approx({"north": 30.0, "south": 30.0})
    # 200 MW capacity - 120 MW demand leaves 80 MW headroom for a 90 MW requirement.
    short = economic_dispatch([Generator("a", 0, 10, 0, 0, 100), Generator("b", 0, 20, 0, 0, 100)], 120.0, 90.0)
    assert short.reserve_shortfall_mw == pytest.approx(10.0)
    assert short.shortfall_mw == pytest.approx(0.0)


def test_energy_shortfall_and_surplus_are_reported_at_the_cap():
    units = [Generator("a", 0, 10, 0, 20, 100)]
    short = economic_dispatch(units, 130.0, price_cap=500.0)
    assert (short.shortfall_mw, short.price) == pytest.approx((30.0, 500.0))
    surplus = economic_dispatch(units, 5.0, price_cap=500.0)
    assert (surplus.surplus_mw, surplus.price) == pytest.approx((15.0, -500.0))


def test_economic_dispatch_market_with_fixed_and_flexible_bids():
    offers = [Offer("g1", 50, 10), Offer("g2", 50, 20)]
    bids = [Bid("load", 60, 3000), Bid("flex", 20, 25), Bid("cheap", 20, 5)]
    result = EconomicDispatchMarket().clear(0, offers, bids)
    # 60 fixed + 20 flexible at 25 > 20: g2 supplies 30 and sets the price.
    assert result.price == pytest.approx(20.0)
    assert result.awards == pytest.approx({"g1": 50.0, "g2": 30.0, "load": -60.0, "flex": -20.0, "cheap": 0.0})
    auction = DoubleAuctionMarket().clear(0, offers, bids)
    assert auction.quantity_mw == pytest.approx(result.quantity_mw)


def test_economic_dispatch_market_zonal_shortfall():
    market = EconomicDispatchMarket(transfer_limits={("n", "s"): 10.0})
    offers = [Offer("g1", 50, 10, area="n"), Offer("g2", 50, 20, area="s")]
    result = market.clear(0, offers, [Bid("load", 70, 3000, area="s"), Bid("x", 5, 3000, area="n")])
    assert result.price == pytest.approx({"n": 10.0, "s": 3000.0})
    assert result.shortfall_mw == pytest.approx(10.0)
    assert result.awards["load"] == pytest.approx(-60.0)


def test_registry_resolves_the_market_classes():
    assert resolve("market", "double_auction") is DoubleAuctionMarket
    assert resolve("market", "economic_dispatch") is EconomicDispatchMarket
    assert resolve("market", "none") is NoMarket


def test_inconsistent_inputs_raise():
    with pytest.raises(ValueError, match="p_min_mw"):
        Generator("bad", 0, 1, 0, 10, 5)
    with pytest.raises(ValueError, match="no area"):
        economic_dispatch([Generator("g", 0, 1, 0, 0, 5)], {"a": 1.0}, transfer_limits={("a", "b"): 1.0})
