"""Double auction: the DESIGN.md appendix rules, each branch worked by hand.

Each case lists the walk of the appendix in its comment; expected values
are computed by hand from those rules (and agree with GridLAB-D's
``auction::clear_market``, which the rules transcribe).
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market_control import Bid, Clearing, Offer, double_auction
from market_control.markets import DoubleAuctionMarket, NoMarket


def offers(*pairs: tuple[float, float]) -> list[Offer]:
    """Offers from (price, quantity_mw) pairs, named o0, o1, ..."""
    return [Offer(f"o{k}", quantity, price) for k, (price, quantity) in enumerate(pairs)]


def bids(*pairs: tuple[float, float]) -> list[Bid]:
    """Bids from (price, quantity_mw) pairs, named b0, b1, ..."""
    return [Bid(f"b{k}", quantity, price) for k, (price, quantity) in enumerate(pairs)]


def clear(offer_pairs, bid_pairs, price_cap: float = 3000.0) -> Clearing:
    return double_auction(offers(*offer_pairs), bids(*bid_pairs), price_cap)


def test_appendix_example_ties_marginal_seller():
    # 6 vs 7: bid used (Q=6, cand 30); 14 vs 7: offer used (Q=7, cand 40); 14 vs 16: bid used (Q=14, cand 30).
    result = clear([(30, 7), (30, 9)], [(40, 6), (40, 8)])
    assert result.quantity_mw == 14.0 and result.price == 30.0 and result.marginal == "seller"
    # Both offers sit exactly at the price: they share 14 MW pro rata (7/16, 9/16).
    assert result.offers_accepted_mw == pytest.approx((14 * 7 / 16, 14 * 9 / 16))
    assert result.bids_accepted_mw == (6.0, 8.0)
    assert result.awards == pytest.approx({"o0": 6.125, "o1": 7.875, "b0": -6.0, "b1": -8.0})


def test_appendix_example_exact_match_nudged_above_next_bid():
    # 1 vs 1 exact: a=25, b=10; next bid 20 < next offer 30 stops the walk.
    # m=17.5, next bid 20 != a, next offer 30 != b, m < 20 -> 20 + 0.0001.
    result = clear([(10, 1), (30, 1)], [(25, 1), (20, 1)])
    assert result.quantity_mw == 1.0
    assert result.price == pytest.approx(20.0001, abs=1e-12)
    assert result.marginal == "price"
    assert result.awards == pytest.approx({"o0": 1.0, "o1": 0.0, "b0": -1.0, "b1": 0.0})


def test_marginal_buyer_demand_step_crosses_vertical_supply_segment():
    # 8 vs 5: offer used, Q=5, cand 30; next offer 50 > 30 ends the walk.
    result = clear([(10, 5), (50, 5)], [(30, 8)])
    assert (result.quantity_mw, result.price, result.marginal) == (5.0, 30.0, "buyer")
    assert result.bids_accepted_mw == (5.0,)


def test_marginal_buyer_ties_share_pro_rata():
    # 4 vs 5: bid used (Q=4, cand 20); 10 vs 5: offer used (Q=5, cand 50); no offers left.
    result = clear([(20, 5)], [(50, 4), (50, 6)])
    assert (result.quantity_mw, result.price, result.marginal) == (5.0, 50.0, "buyer")
    assert result.bids_accepted_mw == pytest.approx((2.0, 3.0))


def test_walk_that_matched_exactly_then_went_on_ends_on_its_last_step():
    # 5 vs 5 exact (a=40, b=20); then 8 vs 6: offer used, Q=6, cand 30 -> price 30.
    result = clear([(20, 5), (25, 1)], [(40, 5), (30, 3)])
    assert (result.quantity_mw, result.price, result.marginal) == (6.0, 30.0, "buyer")


def test_exact_match_equal_prices():
    result = clear([(30, 5)], [(30, 5)])
    assert (result.quantity_mw, result.price, result.marginal) == (5.0, 30.0, "exact")


def test_exact_match_no_bids_left_next_offer_at_b():
    # exact at a=40, b=20; no bids left; next offer 20 == b -> 20 (marginal seller).
    result = clear([(20, 5), (20, 3)], [(40, 5)])
    assert (result.quantity_mw, result.price, result.marginal) == (5.0, 20.0, "seller")
    assert result.offers_accepted_mw == pytest.approx((5 * 5 / 8, 3 * 5 / 8))


def test_exact_match_no_offers_left_next_bid_at_a():
    result = clear([(20, 5)], [(40, 5), (40, 3)])
    assert (result.quantity_mw, result.price, result.marginal) == (5.0, 40.0, "buyer")
    assert result.bids_accepted_mw == pytest.approx((5 * 5 / 8, 3 * 5 / 8))


def test_exact_match_both_left_next_bid_at_a():
    # exact at a=40, b=20; next bid 40 < next offer 50 stops; next bid == a -> 40.
    result = clear([(20, 5), (50, 2)], [(40, 5), (40, 3)])
    assert (result.quantity_mw, result.price, result.marginal) == (5.0, 40.0, "buyer")
    assert result.offers_accepted_mw == (5.0, 0.0)


def test_exact_match_both_left_next_offer_at_b():
    result = clear([(20, 5), (20, 2)], [(40, 5), (10, 3)])
    assert (result.quantity_mw, result.price, result.marginal) == (5.0, 20.0, "seller")
    assert result.offers_accepted_mw == pytest.approx((25 / 7, 10 / 7))


def test_exact_match_midpoint_between_next_bid_and_next_offer():
    # m = 30 lies between next bid 25 and next offer 35 -> 30.
    result = clear([(20, 5), (35, 1)], [(40, 5), (25, 1)])
    assert (result.quantity_mw, result.price, result.marginal) == (5.0, 30.0, "price")


def test_exact_match_nudged_below_next_offer():
    # m = 30 > next offer 25 (and not < next bid 10) -> 25 - 0.0001.
    result = clear([(20, 5), (25, 1)], [(40, 5), (10, 1)])
    assert result.price == pytest.approx(24.9999, abs=1e-12)
    assert result.offers_accepted_mw == (5.0, 0.0)


def test_exact_match_nothing_left_on_either_side_is_midpoint():
    result = clear([(20, 5)], [(40, 5)])
    assert (result.quantity_mw, result.price, result.marginal) == (5.0, 30.0, "price")


@pytest.mark.parametrize(("next_offer", "expected"), [(25.0, 24.9999), (35.0, 30.0)])
def test_exact_match_no_bids_left_side_without_orders_imposes_no_bound(next_offer, expected):
    result = clear([(20, 5), (next_offer, 1)], [(40, 5)])
    assert result.price == pytest.approx(expected, abs=1e-12)


def test_nothing_crosses():
    result = clear([(20, 5)], [(10, 5)])
    assert (result.quantity_mw, result.price, result.marginal) == (0.0, 15.0, "null")
    assert result.awards == {"o0": 0.0, "b0": 0.0}


def test_only_offers_only_bids_and_empty():
    assert clear([(25, 1), (20, 5)], []).price == pytest.approx(19.9999, abs=1e-12)
    assert clear([], [(10, 5), (30, 1)]).price == pytest.approx(30.0001, abs=1e-12)
    empty = clear([], [])
    assert (empty.price, empty.quantity_mw, empty.awards) == (0.0, 0.0, {})


def test_zero_quantity_orders_are_ignored():
    # Counted, the zero bid at 50 would cross the offer (Q=0, price 20); ignored: only offers.
    result = clear([(20, 5)], [(50, 0)])
    assert result.price == pytest.approx(19.9999, abs=1e-12)
    assert result.awards == {"o0": 0.0}


def test_unresponsive_load_unmet_fails_at_price_cap_with_shortfall():
    # 10 vs 6: offer used, Q=6, cand 3000; 6 < 10 MW bid at the cap -> failure.
    result = clear([(20, 6)], [(3000, 10), (50, 5)])
    assert (result.quantity_mw, result.price, result.marginal) == (6.0, 3000.0, "failure")
    assert result.shortfall_mw == 4.0
    assert result.bids_accepted_mw == (6.0, 0.0)


def test_prices_are_clipped_to_the_cap():
    # A bid above the cap is unresponsive load at the cap; only bids: cap + 0.0001 clipped.
    result = clear([], [(5000, 2)], price_cap=100.0)
    assert (result.price, result.marginal, result.shortfall_mw) == (100.0, "failure", 2.0)
    # An offer below -cap is clipped and sets the price as marginal seller.
    result = clear([(-5000, 5)], [(10, 3)], price_cap=100.0)
    assert (result.quantity_mw, result.price) == (3.0, -100.0)


def test_negative_quantity_is_rejected():
    with pytest.raises(ValueError, match="quantity_mw"):
        clear([(10, -1)], [])


def test_markets_clear_only_their_interval():
    market = DoubleAuctionMarket(price_cap=3000.0)
    late = Offer("late", 5.0, 1.0, interval_start_ms=0)
    result = market.clear(3_600_000, [Offer("pv", 1.0, 10.0, 3_600_000), late], [Bid("home", 1.0, 25.0, 3_600_000)])
    assert result.awards == {"pv": 1.0, "home": -1.0}
    assert NoMarket().clear(0, [late], []).awards == {}


def _reference_quantity(offer_list: list[Offer], bid_list: list[Bid], cap: float) -> float:
    """Largest quantity traded where supply at price p meets demand at p, over all order prices."""
    def clip(price: float) -> float:
        return min(max(price, -cap), cap)

    prices = {clip(o.price) for o in offer_list} | {clip(b.price) for b in bid_list}
    best = 0.0
    for price in prices:
        supply = sum(o.quantity_mw for o in offer_list if clip(o.price) <= price)
        demand = sum(b.quantity_mw for b in bid_list if clip(b.price) >= price)
        best = max(best, min(supply, demand))
    return best


orders = st.lists(
    st.tuples(st.integers(-120, 120).map(float), st.integers(0, 8).map(lambda k: k * 0.5)), max_size=7
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(orders, orders)
def test_property_prices_and_balance(offer_pairs, bid_pairs):
    cap = 100.0
    offer_list, bid_list = offers(*offer_pairs), bids(*bid_pairs)
    result = double_auction(offer_list, bid_list, price_cap=cap)
    for order, accepted in zip(offer_list, result.offers_accepted_mw):
        assert 0.0 <= accepted <= order.quantity_mw + 1e-12
        if accepted > 0:
            assert min(max(order.price, -cap), cap) <= result.price
    for order, accepted in zip(bid_list, result.bids_accepted_mw):
        assert 0.0 <= accepted <= order.quantity_mw + 1e-12
        if accepted > 0:
            assert min(max(order.price, -cap), cap) >= result.price
    assert sum(result.awards.values()) == pytest.approx(0.0, abs=1e-9)
    assert sum(result.offers_accepted_mw) == pytest.approx(result.quantity_mw, abs=1e-9)
    assert sum(result.bids_accepted_mw) == pytest.approx(result.quantity_mw, abs=1e-9)
    assert result.quantity_mw == pytest.approx(_reference_quantity(offer_list, bid_list, cap), abs=1e-9)
    assert -cap <= result.price <= cap
