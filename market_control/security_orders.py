"""What a cleared interval can be re-dispatched by: the orders turned into :class:`~market_control.security.Block` s.

The market's security check (:mod:`market_control.security`) moves awards
along the orders the market cleared: a participant's accepted offers can
be lowered and its unaccepted ones raised at their prices, its accepted
bids curtailed at a curtailment price, as :class:`Movable` says for it
(the simulation decides by the kind of unit behind a participant: a
dispatchable unit follows its award, a renewable group takes a cap, a
flexible load a consumption cap, the upstream grid moves either way).

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

from market_control.security import Block

__all__ = ["Movable", "blocks_from_orders"]

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
