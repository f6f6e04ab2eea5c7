"""The redispatch rules and service levels of the market tier, without a simulation.

References: hand-worked cases (a feeder-head line at 110 % of its limit, the
relief bought in merit order of cost per % of loading), a brute force over
every order of filling the blocks for one limit (the least-cost relief of
one limit against a counterpart at the slack is a fractional knapsack:
some order of filling is optimal, and the brute force tries them all), and
properties under hypothesis that hold for any schedule (balance, block
sizes, no new violation, the linear programme never dearer than the merit
order).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hierarchy.messages import Bid, Offer
from market_control.security import Block, Limits, least_cost, merit_order, redispatch
from market_control.security_orders import Movable, blocks_from_orders
from market_control.service_levels import (
    InterruptionLedger,
    ServiceLevel,
    curtailment_tier,
    redispatch_payments,
)
from market_control.tariffs import discounted_tariff, retail_price_per_mwh

METHODS = [merit_order, least_cost]


def _line(value: float, sensitivities: dict[str, float], limit: float = 100.0) -> Limits:
    names = tuple(sensitivities)
    return Limits(("line/0 loading",), np.array([value]), np.array([limit]), np.array([1.0]),
                  np.array([100.0]), names, np.array([[sensitivities[n] for n in names]]))


# a feeder-head line at 110 % of 100 %; loading falls 2 %/MW of CHP, 1 %/MW of curtailed load
FEEDER = {"chp": -2.0, "ka": -1.0, "homes": -1.0, "keyacc": -1.0, "upstream": 0.0}
BLOCKS = [Block("chp", 0.5, 80.0, True), Block("ka", 2.0, 150.0, True, 0, "interruptible contract"),
          Block("homes", 10.0, 300.0, True, 2), Block("keyacc", 5.0, 500.0, True, 4),
          Block("upstream", 100.0, 60.0, False)]


@pytest.mark.parametrize("rule", METHODS)
def test_hand_worked_feeder_relief_in_merit_order_then_by_priority(rule):
    """CHP first (20 per MWh over the import for 2 %/MW: 10 per %), then the interruptible
    contract (90 per %), then involuntary curtailment, priority 1 (tier 2) before 3 (tier 4).

    By hand: CHP 0.5 MW -> 109 %; contract 2 MW -> 107 %; homes 7 MW -> 100 %; the
    import falls by 9.5 MW. Cost 0.5·80 + 2·150 + 7·300 − 9.5·60 = 1870 per h.
    """
    result = rule(BLOCKS, _line(110.0, FEEDER), margin=0.0)
    assert result.delta_mw == pytest.approx({"chp": 0.5, "ka": 2.0, "homes": 7.0, "upstream": -9.5})
    assert result.cost_per_h == pytest.approx(1870.0)
    assert result.violated == ("line/0 loading 110 > 100",) and result.unresolved == ()
    assert {a.participant for a in result.actions} == {"chp", "ka", "homes", "upstream"}


@pytest.mark.parametrize("rule", METHODS)
def test_a_move_stops_where_it_would_violate_another_limit(rule):
    """A second line at 99.5 % that the CHP loads (+2 %/MW) lets it move 0.25 MW only:
    then 0.5 % of relief from it, 2 % from the contract, 7.5 % from the homes."""
    limits = Limits(("line/0 loading", "line/9 loading"), np.array([110.0, 99.5]), np.array([100.0, 100.0]),
                    np.ones(2), np.full(2, 100.0), tuple(FEEDER),
                    np.array([list(FEEDER.values()), [2.0, 0.0, 0.0, 0.0, 0.0]]))
    result = rule(BLOCKS, limits, margin=0.0)
    assert result.delta_mw["chp"] == pytest.approx(0.25)
    assert result.delta_mw["ka"] == pytest.approx(2.0)
    assert result.delta_mw["homes"] == pytest.approx(7.5)
    assert result.unresolved == ()


@pytest.mark.parametrize("rule", METHODS)
def test_low_voltage_is_a_lower_limit(rule):
    """0.94 pu against 0.95 pu, +0.01 pu per MW of curtailed load: 1 MW, from the import."""
    limits = Limits(("bus/7 voltage",), np.array([0.94]), np.array([0.95]), np.array([-1.0]),
                    np.array([1.0]), ("ka", "upstream"), np.array([[0.01, 0.0]]))
    result = rule([Block("ka", 3.0, 150.0, True), Block("upstream", 50.0, 60.0, False)], limits, margin=0.0)
    assert result.delta_mw == pytest.approx({"ka": 1.0, "upstream": -1.0})
    assert result.violated == ("bus/7 voltage 0.94 < 0.95",)


@pytest.mark.parametrize("rule", METHODS)
def test_what_cannot_be_removed_is_reported(rule):
    """Only 1 MW of curtailment for a 10 % overload at 1 %/MW: 9 % are left."""
    result = rule([Block("ka", 1.0, 150.0, True), Block("upstream", 50.0, 60.0, False)],
                  _line(110.0, {"ka": -1.0, "upstream": 0.0}), margin=0.0)
    assert result.delta_mw == pytest.approx({"ka": 1.0, "upstream": -1.0})
    assert result.unresolved == ("line/0 loading 109 > 100",)


def test_margin_brings_the_limit_that_far_inside():
    result = merit_order(BLOCKS, _line(110.0, FEEDER), margin=0.01)  # 1 % of the rating
    assert result.delta_mw["homes"] == pytest.approx(8.0)


def test_redispatch_names_the_rules():
    assert redispatch("least_cost", BLOCKS, _line(110.0, FEEDER)).delta_mw.keys() == \
        redispatch("merit_order", BLOCKS, _line(110.0, FEEDER)).delta_mw.keys()
    with pytest.raises(ValueError, match="merit_order"):
        redispatch("greedy", BLOCKS, _line(110.0, FEEDER))


# ------------------------------------------------------------- brute force
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0.1, 3.0), st.floats(60.0, 400.0), st.floats(0.2, 3.0)),
                min_size=1, max_size=5),
       st.floats(0.5, 15.0))
def test_one_limit_least_cost_equals_brute_force_over_filling_orders(items, overload):
    """Blocks (size, price, relief per MW) against an import at 60 with no sensitivity: the
    cheapest relief of one limit, found by trying every order of filling the blocks."""
    # not at the edge of feasible: the rules count a limit within tol (1e-6 pu, 1e-4 %) as held
    assume(abs(sum(q * r for q, _, r in items) - overload) > 1e-3)
    names = [f"p{k}" for k in range(len(items))]
    blocks = [Block(n, q, p, True) for n, (q, p, _) in zip(names, items)]
    blocks.append(Block("upstream", 1e4, 60.0, False))
    limits = _line(100.0 + overload, {**{n: -r for n, (_, _, r) in zip(names, items)}, "upstream": 0.0})
    need = overload
    best = math.inf
    for order in itertools.permutations(range(len(items))):
        cost, left = 0.0, need
        for k in order:
            q, p, r = items[k]
            take = min(q, left / r)
            cost += take * (p - 60.0)
            left -= take * r
            if left <= 1e-12:
                break
        if left <= 1e-9:
            best = min(best, cost)
    for rule in METHODS:
        result = rule(blocks, limits, margin=0.0)
        if math.isinf(best):
            assert result.unresolved
        else:
            assert result.unresolved == ()
            assert result.cost_per_h == pytest.approx(best, rel=1e-6, abs=1e-5)


# ------------------------------------------------------------- properties
@st.composite
def _problems(draw):
    n = draw(st.integers(1, 4))
    n_c = draw(st.integers(1, 3))
    blocks = []
    for k in range(n):
        for up in (True, False):
            if draw(st.booleans()):
                blocks.append(Block(f"p{k}", draw(st.floats(0.0, 3.0)), draw(st.floats(0.0, 300.0)), up))
    blocks.append(Block("upstream", draw(st.floats(0.0, 20.0)), 60.0, False))
    blocks.append(Block("upstream", draw(st.floats(0.0, 20.0)), 60.0, True))
    value = np.array([draw(st.floats(80.0, 120.0)) for _ in range(n_c)])
    sensitivity = np.array([[draw(st.floats(-3.0, 3.0)) for _ in range(n)] + [0.0] for _ in range(n_c)])
    limits = Limits(tuple(f"line/{c} loading" for c in range(n_c)), value, np.full(n_c, 100.0),
                    np.ones(n_c), np.full(n_c, 100.0), tuple([f"p{k}" for k in range(n)] + ["upstream"]),
                    sensitivity)
    return blocks, limits


def _after(blocks, limits, result) -> np.ndarray:
    return limits.excess(limits.block_columns(blocks) @ np.array(result.used_mw))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_problems())
def test_redispatch_balances_keeps_blocks_and_creates_no_violation(problem):
    blocks, limits = problem
    before = limits.excess()
    results = {rule.__name__: rule(blocks, limits, margin=0.0) for rule in METHODS}
    for name, result in results.items():
        used = np.array(result.used_mw)
        assert np.all(used >= 0) and np.all(used <= [b.quantity_mw + 1e-9 for b in blocks]), name
        assert math.fsum(result.delta_mw.values()) == pytest.approx(0.0, abs=1e-7), name
        after = _after(blocks, limits, result)
        fine = before <= 1e-6
        assert np.all(after[fine] <= 1e-6), name  # no limit that held is broken
        assert len(result.unresolved) == int(np.sum(after > 1e-6)), name
    greedy, lp = results["merit_order"], results["least_cost"]
    if not greedy.unresolved:
        assert not lp.unresolved
        assert lp.cost_per_h <= greedy.cost_per_h + 1e-5 * (1.0 + abs(greedy.cost_per_h))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_problems(), st.floats(0.0, 5.0))
def test_involuntary_tier_only_where_priced_moves_cannot(problem, firm_mw):
    """Adding a firm load (tier 2) never changes a redispatch the priced blocks already solve."""
    blocks, limits = problem
    priced = merit_order(blocks, limits)
    firm = Block("firm", firm_mw, 500.0, True, 2)
    limits_firm = Limits(limits.names, limits.value, limits.limit, limits.sign, limits.scale,
                         limits.participants + ("firm",),
                         np.hstack([limits.sensitivity, -np.ones((len(limits.names), 1))]))
    both = merit_order(blocks + [firm], limits_firm)
    if not priced.unresolved:
        assert both.used_mw[-1] == 0.0
        assert both.delta_mw == pytest.approx(priced.delta_mw)


# ------------------------------------------------------------- orders -> blocks
def test_blocks_from_orders_prices_moves_at_least_at_the_market():
    offers = [Offer("north/chp", 1.0, 80.0), Offer("upstream", 10.0, 60.0), Offer("north/pv", 2.0, 0.0)]
    bids = [Bid("north/ka", 0.8, 400.0), Bid("upstream", 5.0, 20.0), Bid("north/load", 3.0, 3000.0)]
    movable = {"north/chp": Movable(raise_offers=True, lower_offers=True),
               "north/pv": Movable(lower_offers=True),
               "north/ka": Movable(lower_bids=True, curtail_price=150.0, curtail_label="interruptible contract"),
               "upstream": Movable(True, True, True, True)}
    price = {name: 100.0 for name in ("north/chp", "upstream", "north/pv", "north/ka", "north/load")}
    blocks = blocks_from_orders(offers, bids, [0.0, 4.0, 2.0], [0.8, 0.0, 3.0], price, movable)
    got = {(b.participant, b.up, b.side): (round(b.quantity_mw, 9), b.price) for b in blocks}
    assert got == {
        ("north/chp", True, "offer"): (1.0, 100.0),      # unaccepted at 80, but paid at least 100
        ("upstream", True, "offer"): (6.0, 100.0),
        ("upstream", False, "offer"): (4.0, 60.0),
        ("north/pv", False, "offer"): (2.0, 0.0),
        ("north/ka", True, "bid"): (0.8, 150.0),          # the contract's price, above the market's
        ("upstream", False, "bid"): (5.0, 20.0),
    }  # north/load: not movable, nothing


def test_curtailment_bounded_by_the_contract():
    blocks = blocks_from_orders([], [Bid("ka", 2.0, 400.0)], [], [2.0], {"ka": 50.0},
                                {"ka": Movable(lower_bids=True, curtail_mw=0.5, curtail_tier=3)})
    assert [(b.quantity_mw, b.price, b.tier) for b in blocks] == [(0.5, 400.0, 3)]


# ------------------------------------------------------------- service levels
def test_ledger_counts_per_period_and_bounds_duration():
    level = ServiceLevel(0, True, max_interruptions=2, max_duration_ms=2 * 3_600_000, period_ms=86_400_000)
    ledger, h = InterruptionLedger(3_600_000), 3_600_000
    pattern = [1, 1, 0, 1, 0]  # two interruptions on day one (hours 0-1 and 3)
    texts = [ledger.record("ka", level, k * h, bool(x)) if ledger.allows("ka", level, k * h) or not x
             else "refused" for k, x in enumerate(pattern)]
    assert texts[:2] == ["interruption 1 of 2 starts", "interruption 1 of 2 continues (2 h)"]
    assert not ledger.allows("ka", level, 5 * h)  # both used today
    assert ledger.allows("ka", level, 24 * h)  # a new day
    assert ledger.total == {"ka": 2}
    long = ServiceLevel(0, True, max_duration_ms=h)
    ledger = InterruptionLedger(h)
    ledger.record("ka", long, 0, True)
    assert not ledger.allows("ka", long, h) and ledger.allows("ka", long, 2 * h)
    assert not ledger.allows("firm", ServiceLevel(), 0)
    assert curtailment_tier(ServiceLevel(priority=3)) == 4


def test_redispatch_payments_balance_with_the_account_and_pay_as_bid():
    used = [(Block("ka", 2.0, 150.0, True), 2.0), (Block("chp", 1.0, 90.0, True), 0.5),
            (Block("upstream", 9.0, 60.0, False), 2.5)]
    price = {"ka": 60.0, "chp": 60.0, "upstream": 60.0}
    money = redispatch_payments(used, price, 0.5)
    assert money == pytest.approx({"ka": 2.0 * 90 * 0.5, "chp": 0.5 * 30 * 0.5, "upstream": 0.0})
    # the award moved by Δ at the market price plus these = Δ at each block's own price
    own = sum((mw if b.up else -mw) * b.price for b, mw in used) * 0.5
    market = sum((mw if b.up else -mw) * 60.0 for b, mw in used) * 0.5
    assert market + sum(money.values()) == pytest.approx(own)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["flat", "tou", "rtp"]), st.floats(0.0, 0.9), st.floats(0.0, 23.99),
       st.floats(-100.0, 3000.0))
def test_discounted_tariff_is_the_price_times_one_minus_discount(kind, discount, hour, market):
    tariff = {"flat": {"kind": "flat", "price": 120.0},
              "tou": {"kind": "tou", "periods": [{"from": "22:00", "to": "06:00", "price": 80.0}],
                      "otherwise": 150.0},
              "rtp": {"kind": "rtp", "factor": 1.2, "adder": 30.0}}[kind]
    full = retail_price_per_mwh(tariff, np.array([hour]), market)
    cut = retail_price_per_mwh(discounted_tariff(tariff, discount), np.array([hour]), market)
    assert cut[0] == pytest.approx((1.0 - discount) * full[0], rel=1e-12, abs=1e-9)
