"""What the security check moves under continuous trading, without a simulation.

References: the supply curve a participant wished for (the orders it would
send to one auction), evaluated by hand at prices between the steps, against
the curve rebuilt from the book's standing orders after rounds of continuous
trading against random counter-orders (hypothesis); a hand-worked book; and
the merit order's rule against moves of negligible relief (a hand-worked
feeder).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from area_control.intraday import residual_orders
from hierarchy.messages import Bid, Offer
from market_control.continuous import ContinuousMarket
from market_control.security import Block, Limits, merit_order
from market_control.security_orders import (
    Movable,
    blocks_from_orders,
    orders_at_position,
)

CAP = 3000.0
PRICES = np.arange(-60, 320) + 0.5  # between every integer step (and the 0.0001 nudges)


def _curve(offers, bids, prices=PRICES) -> np.ndarray:
    """Net supply [MW] at each price: offers at or below it, less bids above it."""
    out = np.zeros(len(prices))
    for o in offers:
        out += np.where(prices >= o.price, o.quantity_mw, 0.0)
    for b in bids:
        out -= np.where(prices < b.price, b.quantity_mw, 0.0)
    return out


_steps = st.lists(st.tuples(st.floats(0.1, 3.0), st.integers(-50, 300)), max_size=4)


@settings(max_examples=80, deadline=None)
@given(_steps, _steps, st.booleans(), st.floats(-4.0, 4.0), _steps, _steps, _steps, _steps)
def test_standing_orders_give_back_each_participants_last_wish(offers1, bids1, inflexible, day_ahead_mw,
                                                                counter1, counter2, offers2, bids2):
    """A participant trades in two rounds (each: withdraw, then the residual of its wish to its
    position), others trade against it before and after; at the gate its curve rebuilt from the
    standing orders is its last wish, cleared at its position, cheapest offers and dearest bids
    first."""
    assume(offers2 or bids2 or inflexible)  # an empty wish leaves the participant where it is
    name, market = "a/x", ContinuousMarket(price_cap=CAP)
    market.open(0)
    position = {name: day_ahead_mw}
    time_ms = 0

    def submit(order):
        nonlocal time_ms
        time_ms += 1
        for trade in market.submit(order, time_ms):
            for who, sign in ((trade.seller, 1.0), (trade.buyer, -1.0)):
                position[who] = position.get(who, 0.0) + sign * trade.quantity_mw

    def wish(offers, bids):
        o = [Offer(name, q, float(p)) for q, p in offers]
        b = [Bid(name, q, float(p)) for q, p in bids] + ([Bid(name, 1.5, CAP)] if inflexible else [])
        return o, b

    def counter(steps, sign):
        for q, p in steps:  # the others: sell below, buy above the middle of the range
            submit(Offer("b/y", q, float(p)) if sign > 0 else Bid("b/y", q, float(p)))

    for offers, bids, others in ((offers1, bids1, counter1), (offers2, bids2, counter2)):
        market.cancel("a", 0)
        o, b = residual_orders(*wish(offers, bids), {name: position[name]}, CAP)
        for order in (*o, *b):
            submit(order)
        counter(others[: len(others) // 2], +1)
        counter(others[len(others) // 2:], -1)
    clearing = market.close(0, {name: day_ahead_mw})
    assert clearing.awards[name] == pytest.approx(position[name], abs=1e-9)
    offers, bids, taken, used = orders_at_position(clearing.standing_orders, clearing.awards, CAP)
    mine = [k for k, o in enumerate(offers) if o.participant == name]
    mine_b = [k for k, b in enumerate(bids) if b.participant == name]
    rebuilt = _curve([offers[k] for k in mine], [bids[k] for k in mine_b])
    assert rebuilt == pytest.approx(_curve(*wish(offers2, bids2)), abs=1e-6)  # orders <= 1e-9 MW dropped
    assert sum(taken[k] for k in mine) - sum(used[k] for k in mine_b) == pytest.approx(position[name], abs=1e-9)
    # accepted in merit order: no offer accepted while a cheaper one is not full; bids the other way
    for side, ks, accepted, cheaper_first in ((offers, mine, taken, True), (bids, mine_b, used, False)):
        ranked = sorted(ks, key=lambda k: side[k].price if cheaper_first else -side[k].price)
        full = [accepted[k] >= side[k].quantity_mw - 1e-9 for k in ranked]
        some = [accepted[k] > 1e-9 for k in ranked]
        for i in range(1, len(ranked)):
            if some[i] and side[ranked[i]].price != side[ranked[i - 1]].price:
                assert full[i - 1]
    # every other participant: its submitted orders, cleared at its position, too
    others = [k for k, o in enumerate(offers) if o.participant == "b/y"]
    if "b/y" in position:
        assert sum(taken[k] for k in others) - sum(used[k] for k, b in enumerate(bids) if b.participant == "b/y") \
            == pytest.approx(position["b/y"], abs=1e-9)


def test_hand_worked_book_and_its_blocks():
    """A CHP sold 1 MW day-ahead; in its round (wish: 1 MW at 70, 1 MW at 80, its marginal
    costs) it offers 1 MW more at 80 and would buy its 1 MW back at 70; a load's bid of 1 MW
    at 90 takes the 1 MW at 80.

    At the gate: the CHP holds 2 MW on offers 1@70 and 1@80, both accepted: it can be lowered
    at 70 and at 80 (capped at the interval's price, 75) and not raised; the load's 1 MW can be
    curtailed at its contract's 150.
    """
    market = ContinuousMarket(price_cap=CAP)
    market.open(0)
    offers, bids = residual_orders([Offer("n/chp", 1.0, 70.0), Offer("n/chp", 1.0, 80.0)], [],
                                   {"n/chp": 1.0}, CAP)
    assert [(o.quantity_mw, o.price) for o in offers] == [(1.0, 80.0)]
    assert [(b.quantity_mw, b.price) for b in bids] == [(1.0, 70.0)]
    for order in (*offers, *bids):
        market.submit(order, 0)
    trades = market.submit(Bid("n/load", 1.0, 90.0), 1)
    assert [(t.seller, t.quantity_mw, t.price) for t in trades] == [("n/chp", 1.0, 80.0)]
    clearing = market.close(0, {"n/chp": 1.0, "upstream": -1.0})
    assert clearing.awards == pytest.approx({"n/chp": 2.0, "upstream": -1.0, "n/load": -1.0})
    offers, bids, taken, used = orders_at_position(clearing.standing_orders, clearing.awards, CAP)
    chp = [(o.quantity_mw, o.price, t) for o, t in zip(offers, taken) if o.participant == "n/chp"]
    assert chp == [(1.0, 70.0, 1.0), (1.0, 80.0, 1.0)]
    movable = {"n/chp": Movable(raise_offers=True, lower_offers=True),
               "n/load": Movable(lower_bids=True, curtail_price=150.0, curtail_label="interruptible contract")}
    price = {name: 75.0 for name in ("n/chp", "n/load", "upstream")}
    blocks = blocks_from_orders(offers, bids, taken, used, price, movable)
    assert [(b.participant, b.quantity_mw, b.price, b.up) for b in blocks] == [
        ("n/chp", 1.0, 70.0, False), ("n/chp", 1.0, 75.0, False), ("n/load", 1.0, 150.0, True)]


def _feeder(value: float, reach=None) -> Limits:
    """A line into an area: 'near' (a load at its end) relieves it 1 %/MW curtailed, 'far' (a unit
    beside the substation) 0.001 %/MW raised; the upstream grid is the slack."""
    names = ("far", "near", "upstream")
    return Limits(("line/0 loading",), np.array([value]), np.array([100.0]), np.array([1.0]),
                  np.array([100.0]), names, np.array([[-0.001, -1.0, 0.0]]), reach)


def test_merit_order_leaves_moves_of_negligible_relief_alone():
    """'far' at the market price costs nothing per MW (the cheapest by cost per relief) but
    relieves 1/1000 of what 'near' does: only 'near' is curtailed, by the 4 % the line is over
    (4 MW at 150 against the import at 60: 360 per h); with 'near' used up (its block gone, the
    reach carried over), nothing moves and the violation is reported."""
    blocks = [Block("far", 5.0, 60.0, True), Block("near", 10.0, 150.0, True, 0, "interruptible contract"),
              Block("upstream", 100.0, 60.0, False)]
    result = merit_order(blocks, _feeder(104.0), margin=0.0)
    assert result.delta_mw == pytest.approx({"near": 4.0, "upstream": -4.0})
    assert result.cost_per_h == pytest.approx(360.0) and result.unresolved == ()
    spent = merit_order([blocks[0], blocks[2]], _feeder(104.0, reach=_feeder(104.0).spread()), margin=0.0)
    assert spent.delta_mw == {} and spent.unresolved == ("line/0 loading 104 > 100",)
    assert _feeder(104.0).spread() == pytest.approx([0.01])  # 'near' against the slack: 1 %/MW
