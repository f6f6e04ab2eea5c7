"""Retail tariffs at period boundaries and across midnight, and settlement by hand."""
from __future__ import annotations

import numpy as np
import pytest

from market_control.settlement import settle
from market_control.tariffs import retail_price_per_mwh, retail_prices, validate_tariff

TOU = {"kind": "tou", "periods": [{"from": "08:00", "to": "20:00", "price": 150}], "otherwise": 90}
NIGHT = {"kind": "tou", "periods": [{"from": "22:00", "to": "06:00", "price": 40}], "otherwise": 100}


def test_flat():
    assert retail_price_per_mwh({"kind": "flat", "price": 120}, np.arange(3.0), 55.0).tolist() == [120.0] * 3


def test_tou_boundaries_are_from_inclusive_to_exclusive():
    hours = np.array([0.0, 7.99, 8.0, 13.5, 19.99, 20.0, 23.99])
    assert retail_price_per_mwh(TOU, hours, 0.0).tolist() == [90, 90, 150, 150, 150, 90, 90]


def test_tou_period_across_midnight():
    hours = np.array([21.99, 22.0, 23.99, 0.0, 5.99, 6.0, 12.0])
    assert retail_price_per_mwh(NIGHT, hours, 0.0).tolist() == [100, 40, 40, 40, 40, 100, 100]


def test_tou_first_listed_period_wins_where_they_overlap():
    tariff = {
        "kind": "tou",
        "periods": [{"from": "17:00", "to": "19:00", "price": 300}, {"from": "08:00", "to": "20:00", "price": 150}],
        "otherwise": 90,
    }
    assert retail_price_per_mwh(tariff, np.array([16.0, 18.0, 19.5]), 0.0).tolist() == [150, 300, 150]


def test_rtp_follows_the_clearing_price_elementwise():
    tariff = {"kind": "rtp", "factor": 1.2, "adder": 15}
    prices = retail_price_per_mwh(tariff, np.array([1.0, 2.0]), np.array([50.0, -10.0]))
    assert prices == pytest.approx([75.0, 3.0])
    assert retail_price_per_mwh({"kind": "rtp"}, np.zeros(2), 42.0).tolist() == [42.0, 42.0]


def test_retail_prices_per_customer_class():
    result = retail_prices({"default": {"kind": "flat", "price": 120}, "key_account": TOU}, np.array([9.0]), 0.0)
    assert {name: p.tolist() for name, p in result.items()} == {"default": [120.0], "key_account": [150.0]}


@pytest.mark.parametrize(
    ("tariff", "message"),
    [
        ({"price": 1}, r"tariff\.kind"),
        ({"kind": "flat"}, r"tariff\.price: missing"),
        ({"kind": "flat", "price": 1, "prices": 2}, r"tariff\.prices: unknown"),
        ({"kind": "flat", "price": True}, r"tariff\.price: must be a finite number"),
        ({"kind": "rtp", "factor": "x"}, r"tariff\.factor"),
        ({**TOU, "periods": [{"from": "25:00", "to": "06:00", "price": 1}]}, r"periods\[0\]\.from"),
        ({**TOU, "periods": [{"from": "08:00", "to": "08:00", "price": 1}]}, r"periods\[0\]\.to"),
        ({**TOU, "periods": [{"from": "08:00", "until": "09:00", "price": 1}]}, r"periods\[0\]\.to: missing"),
    ],
)
def test_invalid_tariffs_name_the_key(tariff, message):
    with pytest.raises(ValueError, match=message):
        validate_tariff(tariff)


def test_settlement_by_hand_sums_to_zero_net_of_imbalance_account():
    # Uniform price 50 over 0.25 h; PV awarded 4 MW delivers 3; the home awarded -4 draws 4.5.
    awards = {"pv": 4.0, "home": -4.0}
    actual = {"pv": 3.0, "home": -4.5}
    result = settle(awards, actual, price=50.0, imbalance_price=80.0, interval_h=0.25)
    assert result.energy == pytest.approx({"pv": 50.0, "home": -50.0})
    assert result.imbalance == pytest.approx({"pv": -20.0, "home": -10.0})
    assert result.energy_account == pytest.approx(0.0)
    assert result.imbalance_account == pytest.approx(30.0)
    assert sum(result.total.values()) + result.imbalance_account == pytest.approx(0.0)
    assert result.imbalance_mwh == pytest.approx(-0.375)


def test_settlement_zonal_prices_leave_congestion_rent():
    awards = {"n": 30.0, "s": 50.0, "load_n": -20.0, "load_s": -60.0}
    price = {"n": 10.0, "load_n": 10.0, "s": 30.0, "load_s": 30.0}
    result = settle(awards, awards, price, 0.0, 1.0)
    # 10 MW flow from a 10 to a 30 price area: rent 10 × 20.
    assert result.energy_account == pytest.approx(200.0)


def test_settlement_requires_meters_for_awards():
    with pytest.raises(ValueError, match="pv"):
        settle({"pv": 1.0}, {}, 10.0, 10.0, 1.0)
