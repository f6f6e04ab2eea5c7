"""What a cleared interval can be re-dispatched by: the orders turned into :class:`~market_control.security.Block` s.

The market's security check (:mod:`market_control.security`) moves awards
along the orders the market cleared: a participant's accepted offers can
be lowered and its unaccepted ones raised at their prices, its accepted
bids curtailed at a curtailment price, as :class:`Movable` says for it
(the simulation decides by the kind of unit behind a participant: a
dispatchable unit follows its award, a renewable group takes a cap, a
flexible load a consumption cap, the upstream grid moves either way).

A continuously traded interval has no single set of cleared orders: each
participant holds a position (day-ahead award plus its trades) and has a
supply curve in its standing orders (what it would sell, or buy back, at
which price). :func:`orders_at_position` turns the two into the offers and
bids an auction would have cleared to the same positions, so that the same
blocks follow from them.

Examples
--------
>>> from hierarchy.messages import Bid, Offer
>>> blocks = blocks_from_orders([Offer("chp", 1.0, 80.0)], [Bid("ka", 0.5, 400.0)], [0.0], [0.5],
...                             {"chp": 60.0, "ka": 60.0},
...                             {"chp": Movable(raise_offers=True), "ka": Movable(lower_bids=True, curtail_price=150.0)})
>>> [(b.participant, b.quantity_mw, b.price, b.up) for b in blocks]
[('chp', 1.0, 80.0, True), ('ka', 0.5, 150.0, True)]
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hierarchy.messages import Bid, Offer
from market_control.security import Block

__all__ = ["Movable", "blocks_from_orders", "orders_at_position"]

#: blocks smaller than this are left out [MW]
_MW_EPS = 1e-9


def blocks_from_orders(offers: Sequence, bids: Sequence, offers_accepted_mw: Sequence[float],
                       bids_accepted_mw: Sequence[float], price_of: Mapping[str, float],
                       movable: Mapping[str, Movable]) -> list[Block]:
    """The blocks a cleared interval can be re-dispatched by.

    Parameters
    ----------
    offers, bids : sequence of Offer, Bid
        The orders the market cleared.
    offers_accepted_mw, bids_accepted_mw : sequence of float
        Accepted MW of each order (aligned).
    price_of : mapping of str to float
        Participant -> clearing price of its area [per MWh].
    movable : mapping of str to Movable
        Participant -> what may be done with its orders; participants not
        in it stay as awarded.

    Returns
    -------
    list of Block
        Per order: the unaccepted part of an offer as an up block and its
        accepted part as a down block, at the offer's price; the accepted
        part of a bid as an up block (curtailment) at the curtailment price
        and its unaccepted part as a down block at the bid's price. Each
        block's price is taken at least at the participant's clearing price
        for an up block and at most at it for a down block: a move is never
        paid less, or charged more, than the market price (re-dispatch does
        not trade against the market).
    """
    blocks: list[Block] = []
    for side, orders, accepted in (("offer", offers, offers_accepted_mw), ("bid", bids, bids_accepted_mw)):
        for k, (order, taken) in enumerate(zip(orders, accepted)):
            rule = movable.get(order.participant)
            if rule is None:
                continue
            market_price = float(price_of[order.participant])
            taken, rest = float(taken), max(float(order.quantity_mw) - float(taken), 0.0)
            if side == "offer":
                moves = [(rest, True, order.price, rule.raise_offers, 0, "offer"),
                         (taken, False, order.price, rule.lower_offers, 0, "offer")]
            else:
                price = order.price if rule.curtail_price is None else rule.curtail_price
                moves = [(min(taken, rule.curtail_mw), True, price, rule.lower_bids, rule.curtail_tier,
                          rule.curtail_label),
                         (rest, False, order.price, rule.raise_bids, 0, "bid")]
            for mw, up, price, allowed, tier, label in moves:
                if allowed and mw > _MW_EPS:
                    price = max(price, market_price) if up else min(price, market_price)
                    blocks.append(Block(order.participant, mw, float(price), up, tier, label, side, k))
    return blocks


@dataclass(frozen=True)
class Movable:
    """What the security check may do with one participant's orders.

    Attributes
    ----------
    raise_offers, lower_offers : bool
        Accept more, or less, of its offers (a dispatchable unit follows
        its award; a renewable group that takes a cap can only be lowered).
    lower_bids, raise_bids : bool
        Accept less of its bids (curtail its consumption), or more.
    curtail_price : float or None
        Price of curtailing its consumption [per MWh] (an interruptible
        contract's); None: its bid price.
    curtail_tier : int
        0: a priced move; ``k > 0``: involuntary, by priority (see :class:`Block`).
    curtail_mw : float
        At most this much of each bid may be curtailed [MW].
    curtail_label : str
        How the curtailment is reported.
    """

    raise_offers: bool = False
    lower_offers: bool = False
    lower_bids: bool = False
    raise_bids: bool = False
    curtail_price: float | None = None
    curtail_tier: int = 0
    curtail_mw: float = math.inf
    curtail_label: str = "curtailment"


def orders_at_position(standing: Sequence, position_mw: Mapping[str, float], price_cap: float,
                       interval_start_ms: int = 0) -> tuple[list[Offer], list[Bid], list[float], list[float]]:
    """A continuously traded interval as the offers and bids of an auction cleared to its positions.

    Each participant's net supply curve is what its standing orders say:
    ``S(p) = Σ_{sell, p_s <= p} q_s − Σ_{buy, p_b > p} q_b`` [MW], what it
    wants to have sold at price ``p`` (bought: negative). It steps up at
    the price of each order from ``−Σ q_b`` to ``Σ q_s``; below zero its
    steps are bids, above zero offers. Cleared at the participant's
    position ``P``: the offers from zero up to ``P`` and the bids from ``P``
    up to zero are accepted.

    Parameters
    ----------
    standing : sequence of Order
        Every participant's standing orders at gate closure
        (:attr:`~market_control.base.Clearing.standing_orders`), at the
        quantities sent, ``side`` ``"buy"`` or ``"sell"``.
    position_mw : mapping of str to float
        Participant -> position for delivery [MW], sold positive; within
        the range of its curve (clipped to it).
    price_cap : float
        Price limit [per MWh]: a participant with a position and no
        standing order holds it at any price (an order at ``±price_cap``).
    interval_start_ms : int
        Stamped on the orders made [ms].

    Returns
    -------
    offers, bids : list of Offer, Bid
        Per participant (in the order they first appear), area as its
        orders give it.
    offers_accepted_mw, bids_accepted_mw : list of float
        Accepted MW of each (aligned); per participant, accepted offers less
        accepted bids is its position.

    Examples
    --------
    A generator that had sold 3 MW sent a buy-back order for them at 70
    and a sell order of 1 MW more at 80, which was matched: offers of 3 MW
    at 70 and 1 MW at 80, both accepted. A load that holds 2 MW and has no
    order left: a bid of 2 MW at the cap, accepted.

    >>> from hierarchy.messages import Order
    >>> book = [Order("gen", "sell", 3.0, -3000.0, 0), Order("gen", "buy", 3.0, 70.0, 0),
    ...         Order("gen", "sell", 1.0, 80.0, 0)]
    >>> offers, bids, taken, used = orders_at_position(book, {"gen": 4.0, "load": -2.0}, 3000.0)
    >>> [(o.participant, o.quantity_mw, o.price) for o in offers], taken
    ([('gen', 3.0, 70.0), ('gen', 1.0, 80.0)], [3.0, 1.0])
    >>> [(b.participant, b.quantity_mw, b.price) for b in bids], used
    ([('gen', 3.0, -3000.0), ('load', 2.0, 3000.0)], [0.0, 2.0])
    """
    steps: dict[str, list[tuple[float, float]]] = {}
    bought_mw: dict[str, float] = {}
    area_of: dict[str, str | None] = {}
    for order in standing:
        name = order.participant
        steps.setdefault(name, []).append((float(order.price), float(order.quantity_mw)))
        area_of.setdefault(name, order.area)
        if order.side == "buy":
            bought_mw[name] = bought_mw.get(name, 0.0) + float(order.quantity_mw)
    for name, position in position_mw.items():
        if name not in steps and position != 0:
            steps[name] = [(-price_cap if position > 0 else price_cap, abs(float(position)))]
            bought_mw[name] = max(-float(position), 0.0)
    offers: list[Offer] = []
    bids: list[Bid] = []
    offers_mw: list[float] = []
    bids_mw: list[float] = []
    for name, curve in steps.items():
        level = -bought_mw.get(name, 0.0)
        position = min(max(float(position_mw.get(name, 0.0)), level), level + sum(q for _, q in curve))
        area = area_of.get(name)
        for price, q in sorted(curve, key=lambda step: step[0]):
            low, high = level, level + q
            level = high
            if low < 0:  # the part below zero: a bid, accepted from the position up
                top = min(high, 0.0)
                bids.append(Bid(name, top - low, price, interval_start_ms, area))
                bids_mw.append(min(max(top - max(low, position), 0.0), top - low))
            if high > 0:  # the part above zero: an offer, accepted up to the position
                bottom = max(low, 0.0)
                offers.append(Offer(name, high - bottom, price, interval_start_ms, area))
                offers_mw.append(min(max(min(high, position) - bottom, 0.0), high - bottom))
    keep_o = [k for k, o in enumerate(offers) if o.quantity_mw > _MW_EPS]
    keep_b = [k for k, b in enumerate(bids) if b.quantity_mw > _MW_EPS]
    return ([offers[k] for k in keep_o], [bids[k] for k in keep_b],
            [offers_mw[k] for k in keep_o], [bids_mw[k] for k in keep_b])
