"""Market stages as pure functions: two settlements worked by hand, residual orders against
their net supply curves, battery blocks, the stages' timing, and the forecast error series.

References: the two-settlement arithmetic (day-ahead at its price, real-time
deviations at the real-time price, metering at the imbalance price) is
worked by hand below; residual orders are checked against the curve they
must reproduce, ``S_residual(p) + position = S_wish(p)`` at every price;
the AR(1) error series against its defining moments (standard deviation σ,
lag-1 autocorrelation ρ) on a long seeded series.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from area_control.intraday import residual_orders
from area_control.storage_bids import battery_blocks, price_band
from hierarchy.messages import Bid, Offer
from hierarchy.scenario.market_stages import DayAheadConfig
from hierarchy.sim.forecast import ForecastService, ar1_relative_errors
from hierarchy.sim.market_stages import continuous_rounds, day_ahead_gates
from market_control.settlement import DayAhead, settle, settle_dual

HOUR_MS = 3_600_000


# ---------------------------------------------------------------- settlement
def test_two_settlements_by_hand():
    """Day-ahead at 40, real-time at 60, imbalance 60 ± 10 (dual), one hour.

    pv:   2·40 + (1.5 − 2)·60 + (1.4 − 1.5)·70 =   80 − 30 − 7   =   43
    load: −3·40 + (−3.2 + 3)·60 + (−0.05)·70  = −120 − 12 − 3.5 = −135.5
    up:   1·40 + (1.7 − 1)·60 + 0.15·50        =   40 + 42 + 7.5 =   89.5
    """
    awards = {"pv": 1.5, "load": -3.2, "up": 1.7}
    metered = {"pv": 1.4, "load": -3.25, "up": 1.85}
    day_ahead = DayAhead({"pv": 2.0, "load": -3.0, "up": 1.0}, 40.0)
    s = settle_dual(awards, metered, {name: 60.0 for name in metered}, 10.0, 1.0, day_ahead=day_ahead)
    assert s.total == pytest.approx({"pv": 43.0, "load": -135.5, "up": 89.5})
    assert s.day_ahead == pytest.approx({"pv": 80.0, "load": -120.0, "up": 40.0})
    assert s.energy == pytest.approx({"pv": -30.0, "load": -12.0, "up": 42.0})
    assert (s.energy_account, s.day_ahead_account) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert s.imbalance_account == pytest.approx(3.0)
    assert s.residual == pytest.approx(0.0, abs=1e-12)


def test_two_settlements_with_continuous_trades():
    """pv buys 0.5 back from up at 50, load buys 0.2 more from up at 70: trades at their prices."""
    traded = {"pv": -25.0, "up": 25.0 + 14.0, "load": -14.0}
    awards = {"pv": 1.5, "load": -3.2, "up": 1.7}  # day-ahead plus trades
    metered = {"pv": 1.5, "load": -3.2, "up": 1.7}
    s = settle(awards, metered, 55.0, 55.0, 0.5, day_ahead=DayAhead({"pv": 2.0, "load": -3.0, "up": 1.0}, 40.0),
               traded_value_per_h=traded)
    assert s.energy == pytest.approx({"pv": -12.5, "up": 19.5, "load": -7.0})
    assert s.total["pv"] == pytest.approx(2.0 * 40 * 0.5 - 12.5)
    assert s.energy_account == pytest.approx(0.0, abs=1e-12) and s.imbalance_account == 0.0


def test_settlement_without_stages_is_unchanged():
    s = settle({"pv": 2.0, "home": -2.0}, {"pv": 1.5, "home": -2.0}, 50.0, 80.0, 1.0)
    assert (s.total["pv"], s.total["home"], s.imbalance_account) == (60.0, -100.0, 40.0)
    assert s.day_ahead == {} and s.day_ahead_account == 0.0


def test_day_ahead_participant_must_be_metered():
    with pytest.raises(ValueError, match="day-ahead"):
        settle({}, {"pv": 1.0}, 50.0, 50.0, 1.0, day_ahead=DayAhead({"ghost": 1.0}, 40.0))


# -------------------------------------------------------------- residual orders
def _net_supply(offers, bids, price: float, name: str) -> float:
    """S(p): MW sold at price p (bought: negative) by one participant's orders."""
    return (sum(o.quantity_mw for o in offers if o.participant == name and o.price <= price)
            - sum(b.quantity_mw for b in bids if b.participant == name and b.price >= price))


steps = st.lists(st.tuples(st.integers(-5, 5).map(float), st.sampled_from([0.5, 1.0, 2.0])), max_size=4)


@settings(max_examples=300, deadline=None)
@given(steps, steps, st.floats(-6, 6).map(lambda x: round(x, 2)))
def test_residual_orders_reproduce_the_wish_from_the_position(sells, buys, position):
    cap = 100.0
    offers = [Offer("p", q, p) for p, q in sells]
    bids = [Bid("p", q, p) for p, q in buys]
    if not offers and not bids:
        offers = [Offer("p", 1.0, 0.0)]
    res_offers, res_bids = residual_orders(offers, bids, {"p": position}, cap)
    for price in np.arange(-cap + 0.25, cap, 0.5):  # between the integer step prices
        wish = _net_supply(offers, bids, price, "p")
        assert _net_supply(res_offers, res_bids, price, "p") + position == pytest.approx(wish, abs=1e-9)
    # never an order that trades with the participant's own other side
    assert not res_offers or not res_bids or min(o.price for o in res_offers) > max(b.price for b in res_bids)


def test_residual_orders_leave_participants_without_orders_alone():
    offers, bids = residual_orders([Offer("a/pv", 1.0, 0.0)], [], {"a/pv": 1.0, "a/chp": 2.0}, 3000.0)
    assert offers == [] and bids == [Bid("a/pv", 1.0, 0.0)]  # buy back below its offer price


# ---------------------------------------------------------------- batteries
@settings(max_examples=200, deadline=None)
@given(st.floats(0.1, 0.95), st.floats(0.5, 5.0), st.floats(0.1, 2.0), st.floats(0.8, 1.0),
       st.floats(0.8, 1.0), st.integers(1, 4),
       st.tuples(st.floats(0, 50), st.floats(0, 50), st.floats(0, 50)).map(lambda t: tuple(sorted(t))))
def test_battery_blocks_are_feasible_and_never_cross(soc, capacity, p_max, eta_c, eta_d, n, band):
    offers, bids = battery_blocks(soc, capacity, 0.1, 0.95, p_max, eta_c, eta_d, p_max, band, 0.25, n)
    low, mid, high = band
    assert sum(q for q, _ in offers) * 0.25 / eta_d <= (soc - 0.1) * capacity + 1e-9
    assert sum(q for q, _ in bids) * 0.25 * eta_c <= (0.95 - soc) * capacity + 1e-9
    assert all(q <= p_max + 1e-12 for q, _ in offers + bids)
    assert [p for _, p in offers] == sorted(p for _, p in offers)  # dearer as it empties
    assert [p for _, p in bids] == sorted((p for _, p in bids), reverse=True)  # cheaper as it fills
    assert all(mid / eta_d - 1e-9 <= p <= high / eta_d + 1e-9 for _, p in offers)
    assert all(low * eta_c - 1e-9 <= p <= mid * eta_c + 1e-9 for _, p in bids)


def test_an_emptier_battery_asks_more_and_bids_more():
    band = (20.0, 40.0, 80.0)
    full = battery_blocks(0.9, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, band, 0.1, 1)
    empty = battery_blocks(0.2, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, band, 0.1, 1)
    assert empty[0][0][1] > full[0][0][1] and empty[1][0][1] > full[1][0][1]


def test_price_band_from_quantiles_or_own_prices():
    assert price_band([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110], 0, 1) == pytest.approx((20, 60, 100))
    assert price_band([30, 30, 30, 30], 50, 150) == (50.0, 100.0, 150.0)


# ------------------------------------------------------------------- timing
def test_day_ahead_gates_of_a_run_from_midnight():
    """Gate at 12:00 for the next day: the first day has none, the last day's gate is in."""
    gates = day_ahead_gates(datetime(2016, 1, 25), 3 * 24 * HOUR_MS, DayAheadConfig(), 900_000)
    assert [g for g, _ in gates] == [12 * HOUR_MS, 36 * HOUR_MS]
    assert gates[0][1] == [24 * HOUR_MS + k * HOUR_MS for k in range(24)]
    short = day_ahead_gates(datetime(2016, 1, 25), 30 * HOUR_MS,
                            DayAheadConfig(gate_closure="10:30", slot="2h", horizon="12h"), 0)
    assert short == [(int(10.5 * HOUR_MS), [24 * HOUR_MS, 26 * HOUR_MS, 28 * HOUR_MS])]


def test_continuous_rounds_stop_before_the_gate():
    rounds = continuous_rounds([HOUR_MS, 2 * HOUR_MS], HOUR_MS, 900_000, 900_000)
    # the first interval's book would open at 0: only rounds after the start
    assert rounds == {900_000: [HOUR_MS], 1_800_000: [HOUR_MS], 3_600_000: [2 * HOUR_MS],
                      4_500_000: [2 * HOUR_MS], 5_400_000: [2 * HOUR_MS]}


# ------------------------------------------------------------------ forecasts
@pytest.mark.parametrize("std_pu, rho", [(0.1, 0.9), (0.25, 0.5), (0.05, 0.0)])
def test_ar1_errors_have_the_requested_moments(std_pu, rho):
    e = ar1_relative_errors(400_000, std_pu, rho, np.random.default_rng(3))
    assert e.std() == pytest.approx(std_pu, rel=0.01)
    assert np.corrcoef(e[:-1], e[1:])[0, 1] == pytest.approx(rho, abs=0.01)
    assert np.corrcoef(e[:-2], e[2:])[0, 1] == pytest.approx(rho ** 2, abs=0.01)  # AR(1), not just lag 1
    assert abs(e.mean()) < 5 * std_pu / np.sqrt(400_000 * (1 - rho) / (1 + rho))


def _service(methods, n_steps: int = 4 * 100_000, step_ms: int = 900_000):
    from hierarchy.sim.forecast import _Column

    truth = np.ones((n_steps, 2))
    columns = [_Column(0, "pv_group", "pv"), _Column(0, "load", "load")]
    return ForecastService(truth, columns, ["a"], methods, step_ms, seed=5)


def test_noisy_forecast_has_the_requested_hourly_statistics():
    """15-min steps, autocorrelation given per hour: hourly samples of the error have it."""
    service = _service({"pv": ("noisy", 0.2, 0.3, 0.8), "load": ("perfect", 0.0, 0.0, 0.0)})
    hourly = np.array([service.values(t * HOUR_MS, 900_000, 0, "real_time")[0]
                       for t in range(0, 20_000)]) - 1.0
    assert hourly.std() == pytest.approx(0.2, rel=0.03)
    assert np.corrcoef(hourly[:-1], hourly[1:])[0, 1] == pytest.approx(0.8, abs=0.02)
    day_ahead = np.array([service.values(t * HOUR_MS, 900_000, 0, "day_ahead")[0]
                          for t in range(0, 20_000)]) - 1.0
    assert day_ahead.std() == pytest.approx(0.3, rel=0.03)
    assert abs(np.corrcoef(hourly, day_ahead)[0, 1]) < 0.05  # independent series per stage
    perfect = [service.values(t * HOUR_MS, HOUR_MS, 0, "real_time")[1] for t in range(100)]
    assert perfect == pytest.approx([1.0] * 100, abs=1e-12)


def test_persistence_takes_the_last_step_before_issue():
    service = _service({"pv": ("persistence", 0, 0, 0), "load": ("perfect", 0, 0, 0)}, n_steps=8)
    service.truth_mw[:, 0] = np.arange(8.0)
    assert service.values(4 * 900_000, HOUR_MS, 2 * 900_000, "real_time")[0] == 1.0
    assert service.values(4 * 900_000, HOUR_MS, 2 * 900_000 + 1, "real_time")[0] == 2.0
    assert service.actual(4 * 900_000, HOUR_MS)[0] == pytest.approx(5.5)


def test_the_two_settlement_scenario_resolves_and_reloads():
    """scenario.resolved.yaml of the scenario with every new key loads back to the same scenario."""
    import yaml

    from hierarchy.scenario import load_scenario, resolved_dict
    from tests.conftest import SCENARIOS

    scenario = load_scenario(SCENARIOS / "market_two_settlement.yaml")
    again = load_scenario(yaml.safe_load(yaml.safe_dump(resolved_dict(scenario), sort_keys=False)),
                          base_dir=SCENARIOS)
    assert again.forecast == scenario.forecast and again.market == scenario.market
    assert scenario.market.day_ahead.gate_ms_of_day == 12 * HOUR_MS
    assert resolved_dict(load_scenario(SCENARIOS / "quickstart.yaml"))["forecast"]["pv"] == {"method": "persistence"}
