"""Continuous double auction: a hand-worked sequence, and a brute-force matcher under hypothesis.

The order book (``market_control.OrderBook``) follows price-time priority;
an incoming order that crosses the best opposite order trades with it at
the resting order's price (EPEX SPOT continuous intraday rules). The
reference here is a plain matcher written independently: it keeps one list
of resting orders and, for each incoming order, scans the whole list for
the best crossing order again after every fill.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market_control import Bid, Offer, Order, OrderBook, Trade
from market_control.continuous import ContinuousMarket


def test_hand_worked_sequence():
    """Price priority, then time priority; partial fills; trades at the resting order's price."""
    book = OrderBook()
    assert book.submit(Order("A", "sell", 5.0, 40.0, 0, order_id="s1")) == []
    assert book.submit(Order("B", "sell", 3.0, 38.0, 1, order_id="s2")) == []
    assert book.submit(Order("C", "sell", 4.0, 40.0, 2, order_id="s3")) == []
    assert book.submit(Order("D", "buy", 2.0, 35.0, 3, order_id="b1")) == []  # below the best ask 38
    # E buys 10 up to 41: B's 3 at 38 (best price), A's 5 at 40 (same price as C, earlier), C's 2 at 40
    assert book.submit(Order("E", "buy", 10.0, 41.0, 4, order_id="b2")) == [
        Trade("E", "B", 3.0, 38.0, 4), Trade("E", "A", 5.0, 40.0, 4), Trade("E", "C", 2.0, 40.0, 4)]
    assert [(o.participant, o.quantity_mw) for o in book.orders("sell")] == [("C", 2.0)]
    cancelled = book.cancel("s3")  # C withdraws the 2 MW left of its order
    assert (cancelled.participant, cancelled.quantity_mw) == ("C", 2.0) and book.best_ask() is None
    assert book.cancel("s3") is None
    # F sells 4 down to 30: D's resting bid takes 2 at D's price 35, the rest rests at 30
    assert book.submit(Order("F", "sell", 4.0, 30.0, 6)) == [Trade("D", "F", 2.0, 35.0, 6)]
    assert book.submit(Order("G", "buy", 1.0, 30.0, 7)) == [Trade("G", "F", 1.0, 30.0, 7)]
    assert [(o.participant, o.quantity_mw, o.price) for o in book.orders("sell")] == [("F", 1.0, 30.0)]
    assert book.best_bid() is None and len(book) == 1


def test_cancel_all_of_participants_keeps_the_priority_of_the_rest():
    book = OrderBook()
    for k, who in enumerate(["x", "y", "x", "z"]):
        book.submit(Order(who, "buy", 1.0, 10.0, k))
    gone = book.cancel_all({"x"})
    assert [o.time_ms for o in gone] == [0, 2]
    assert [o.participant for o in book.orders("buy")] == ["y", "z"]
    assert book.submit(Order("s", "sell", 1.5, 5.0, 9)) == [Trade("y", "s", 1.0, 10.0, 9),
                                                            Trade("z", "s", 0.5, 10.0, 9)]


@pytest.mark.parametrize("bad", [dict(side="hold"), dict(quantity_mw=-1.0), dict(price=math.nan),
                                 dict(quantity_mw=math.inf)])
def test_bad_orders_are_refused(bad):
    order = Order(**{**dict(participant="a", side="buy", quantity_mw=1.0, price=1.0, time_ms=0), **bad})
    with pytest.raises(ValueError):
        OrderBook().submit(order)


# ----------------------------------------------------------------- brute force
def brute_force(operations) -> tuple[list[tuple], list[tuple]]:
    """Trades and the resting book from a plain rescanning matcher (the reference)."""
    resting: list[list] = []  # [order, remaining, sequence]
    trades = []
    for sequence, (kind, order) in enumerate(operations):
        if kind == "cancel":
            resting = [r for r in resting if r[0].order_id != order]
            continue
        left = order.quantity_mw
        while left > 1e-9:
            crossing = [r for r in resting if r[0].side != order.side and (
                order.price >= r[0].price if order.side == "buy" else order.price <= r[0].price)]
            if not crossing:
                break
            sign = 1 if order.side == "buy" else -1  # buy: lowest ask first; sell: highest bid first
            best = min(crossing, key=lambda r: (sign * r[0].price, r[0].time_ms, r[2]))
            q = min(left, best[1])
            buyer, seller = (order, best[0]) if order.side == "buy" else (best[0], order)
            trades.append((buyer.participant, seller.participant, q, best[0].price, order.time_ms))
            left -= q
            best[1] -= q
            if best[1] <= 1e-9:
                resting.remove(best)
        if left > 1e-9:
            resting.append([order, left, sequence])
    book = sorted(((r[0].order_id, r[0].side, r[1]) for r in resting))
    return trades, book


orders = st.builds(
    lambda side, q, p, who: (side, q, p, who),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]),
    st.integers(min_value=10, max_value=20).map(float),  # few prices: many ties
    st.sampled_from(["a", "b", "c"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(orders.map(lambda o: ("submit", o)), st.integers(0, 30).map(lambda k: ("cancel", k))),
                max_size=40),
       st.booleans())
def test_the_book_matches_a_brute_force_matcher(steps, same_times):
    operations = []
    for k, (kind, what) in enumerate(steps):
        if kind == "cancel":
            operations.append(("cancel", f"o{what}"))
        else:
            side, q, p, who = what
            operations.append(("submit", Order(who, side, q, p, 0 if same_times else k, order_id=f"o{k}")))
    book = OrderBook()
    got = []
    for kind, order in operations:
        if kind == "cancel":
            book.cancel(order)
        else:
            got += [(t.buyer, t.seller, t.quantity_mw, t.price, t.time_ms) for t in book.submit(order)]
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is None or ask is None or bid.price < ask.price  # never crossed at rest
    expected_trades, expected_book = brute_force(operations)
    assert len(got) == len(expected_trades)
    for g, e in zip(got, expected_trades):
        assert g[:2] == e[:2] and g[3:] == e[3:] and g[2] == pytest.approx(e[2], abs=1e-9)
    resting = sorted((o.order_id, o.side, o.quantity_mw) for side in ("buy", "sell") for o in book.orders(side))
    assert [r[:2] for r in resting] == [e[:2] for e in expected_book]
    assert [r[2] for r in resting] == pytest.approx([e[2] for e in expected_book], abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.lists(orders, min_size=1, max_size=30))
def test_volume_and_prices_are_conserved(specs):
    """What goes in is traded (counted on both sides) or rests; each trade is priced at a
    resting order's limit, within the incoming order's limit."""
    book = OrderBook()
    submitted = {}
    traded = {}
    for k, (side, q, p, who) in enumerate(specs):
        order = Order(who, side, q, p, k, order_id=f"o{k}")
        submitted[order.order_id] = order
        resting_prices = {o.price for o in book.orders("sell" if side == "buy" else "buy")}
        for trade in book.submit(order):
            assert trade.time_ms == k and trade.quantity_mw > 0
            assert trade.price in resting_prices
            assert (trade.price <= p) if side == "buy" else (trade.price >= p)
            traded[k] = traded.get(k, 0.0) + trade.quantity_mw
    resting = {o.order_id: o.quantity_mw for s in ("buy", "sell") for o in book.orders(s)}
    total_in = sum(o.quantity_mw for o in submitted.values())
    total_out = 2 * sum(traded.values()) + sum(resting.values())
    assert total_out == pytest.approx(total_in, abs=1e-9)


# ------------------------------------------------------------ continuous market
def test_continuous_market_in_one_call_pays_each_trade_its_price():
    """Offers rest; a bid at the cap sweeps them cheapest first; the money sums to zero."""
    market = ContinuousMarket(price_cap=3000.0)
    clearing = market.clear(0, [Offer("pv", 2.0, 10.0, sent_ms=0), Offer("gas", 2.0, 50.0, sent_ms=1)],
                            [Bid("load", 3.0, 3000.0, sent_ms=2), Bid("late", 1.0, 5.0, sent_ms=3)])
    assert clearing.awards == pytest.approx({"pv": 2.0, "gas": 1.0, "load": -3.0})
    assert clearing.traded_value_per_h == pytest.approx({"pv": 20.0, "gas": 50.0, "load": -70.0})
    assert sum(clearing.traded_value_per_h.values()) == pytest.approx(0.0, abs=1e-12)
    assert clearing.price == pytest.approx(70.0 / 3.0)  # volume-weighted mean of 2@10 and 1@50
    assert clearing.quantity_mw == pytest.approx(3.0)
    assert clearing.reserve_mw == pytest.approx(1.0)  # gas's 1 MW left in the book
    assert clearing.shortfall_mw == 0.0


def test_continuous_market_closes_with_day_ahead_positions_and_unmet_demand():
    market = ContinuousMarket(price_cap=100.0)
    market.open(3_600_000)
    market.submit(Bid("load", 2.0, 500.0, 3_600_000), 10)  # clipped to the cap: unresponsive
    assert market.submit(Offer("pv", 0.5, 20.0, 3_600_000), 11) == [Trade("load", "pv", 0.5, 100.0, 11, 3_600_000)]
    clearing = market.close(3_600_000, day_ahead_mw={"pv": 1.0, "load": -1.0}, fallback_price=42.0)
    assert clearing.awards == pytest.approx({"pv": 1.5, "load": -1.5})
    assert clearing.shortfall_mw == pytest.approx(1.5) and clearing.price == 100.0
    assert not market.is_open(3_600_000)
    # no trades: the fallback price; none given: the midpoint of what is left in the book
    market.open(0)
    market.submit(Bid("b", 1.0, 10.0, 0), 0)
    market.submit(Offer("s", 1.0, 30.0, 0), 0)
    assert market.close(0, fallback_price=None).price == 20.0
    market.open(0)
    assert market.close(0, fallback_price=42.0).price == 42.0


def test_cancel_by_area_withdraws_only_that_areas_participants():
    market = ContinuousMarket()
    market.open(0)
    market.submit(Offer("north/pv", 1.0, 10.0, 0), 0)
    market.submit(Offer("northern/pv", 1.0, 10.0, 0), 0)
    market.submit(Offer("upstream", 1.0, 10.0, 0, area="north"), 0)
    assert [o.participant for o in market.cancel("north", 0)] == ["north/pv"]
    assert market.submit(Bid("load", 5.0, 20.0, 0), 1) and market.close(0).awards == pytest.approx(
        {"northern/pv": 1.0, "upstream": 1.0, "load": -2.0})
