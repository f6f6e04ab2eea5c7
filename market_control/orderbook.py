"""A continuous double auction: one limit order book with price-time priority.

Rules, as in the continuous intraday markets of European power exchanges
(EPEX SPOT, *Operational Rules*, "Continuous trading"; SIDC/XBID):

* a buy order pays at most its price, a sell order takes at least its price;
* resting orders are ranked by price (highest buy, lowest sell first), then
  by the time they reached the book, then by the order in which they were
  submitted (equal times);
* an incoming order that crosses the best opposite order trades with it at
  the **resting order's price** (the order that was in the book first sets
  the price), for the smaller of the two quantities; it goes on down the
  opposite side while it still crosses; what is left of it rests in the
  book (a limit order);
* a partly filled resting order keeps its place; an order can be withdrawn
  (cancelled) while it rests;
* orders of one participant may trade with each other (no self-trade
  prevention).

References: D. S. Kirschen, G. Strbac, *Fundamentals of Power System
Economics*, 2nd ed., Wiley, 2018, ch. 3 (electronic bilateral trading: an
open order book matched continuously, beside the managed spot market); EPEX
SPOT, product description "Intraday Continuous" (hourly contracts open the
afternoon before delivery and trade until minutes before it; a trade is made
at the price of the order that was in the book: pay-as-bid, not a uniform
clearing price).

Examples
--------
>>> book = OrderBook()
>>> book.submit(Order("wind", "sell", 5.0, 40.0, 0))
[]
>>> book.submit(Order("pv", "sell", 2.0, 30.0, 1000))
[]
>>> [(t.seller, t.quantity_mw, t.price) for t in book.submit(Order("load", "buy", 4.0, 45.0, 2000))]
[('pv', 2.0, 30.0), ('wind', 2.0, 40.0)]
>>> book.best_ask().quantity_mw, book.best_bid()
(3.0, None)
"""
from __future__ import annotations

import bisect
import math
from dataclasses import replace

from hierarchy.messages import SIDES, Order, Trade

__all__ = ["OrderBook", "QUANTITY_TOL_MW"]

#: A remainder at or below this is a filled order [MW] (floating-point rest of partial fills).
QUANTITY_TOL_MW = 1e-9


class OrderBook:
    """One order book (one delivery interval): submit, match, cancel.

    Resting orders are kept per side in priority order, each under the key
    ``(±price, time_ms, sequence)``; an order that is matched in part rests
    with its remaining quantity (``quantity_mw`` of the :class:`Order` kept
    in the book).
    """

    def __init__(self) -> None:
        self._keys: dict[str, list[tuple[float, int, int]]] = {"buy": [], "sell": []}
        self._orders: dict[str, list[Order]] = {"buy": [], "sell": []}
        self._sequence = 0

    # --------------------------------------------------------------- reading
    def best_bid(self) -> Order | None:
        """The best resting buy order (highest price, then earliest), or None."""
        return self._orders["buy"][0] if self._orders["buy"] else None

    def best_ask(self) -> Order | None:
        """The best resting sell order (lowest price, then earliest), or None."""
        return self._orders["sell"][0] if self._orders["sell"] else None

    def orders(self, side: str) -> list[Order]:
        """Resting orders of ``side`` in priority order (remaining quantities)."""
        return list(self._orders[_side(side)])

    def depth_mw(self, side: str) -> float:
        """Total resting quantity of ``side`` [MW]."""
        return math.fsum(order.quantity_mw for order in self._orders[_side(side)])

    def __len__(self) -> int:
        return len(self._orders["buy"]) + len(self._orders["sell"])

    # ------------------------------------------------------------- changing
    def submit(self, order: Order) -> list[Trade]:
        """Match ``order`` against the book; the rest of it rests there.

        Parameters
        ----------
        order : Order
            ``side`` ``"buy"`` or ``"sell"``, ``quantity_mw`` [MW] >= 0
            (0: ignored), finite ``price`` [per MWh]; ``time_ms`` is its
            arrival time and the time of its trades.

        Returns
        -------
        list of Trade
            In the order they happened, each at the resting order's price.

        Raises
        ------
        ValueError
            For an unknown side, a negative or non-finite quantity or a
            non-finite price.
        """
        side = _side(order.side)
        if not (math.isfinite(order.quantity_mw) and order.quantity_mw >= 0):
            raise ValueError(f"quantity_mw must be finite and >= 0, got {order.quantity_mw}")
        if not math.isfinite(order.price):
            raise ValueError(f"price must be finite, got {order.price}")
        other = "sell" if side == "buy" else "buy"
        left_mw = float(order.quantity_mw)
        trades: list[Trade] = []
        resting = self._orders[other]
        while left_mw > QUANTITY_TOL_MW and resting and _crosses(order, resting[0]):
            best = resting[0]
            quantity_mw = min(left_mw, best.quantity_mw)
            buyer, seller = (order, best) if side == "buy" else (best, order)
            trades.append(Trade(buyer.participant, seller.participant, quantity_mw, best.price,
                                order.time_ms, order.interval_start_ms))
            left_mw -= quantity_mw
            rest_mw = best.quantity_mw - quantity_mw
            if rest_mw > QUANTITY_TOL_MW:
                resting[0] = replace(best, quantity_mw=rest_mw)
            else:
                del resting[0]
                del self._keys[other][0]
        if left_mw > QUANTITY_TOL_MW:
            self._rest(replace(order, quantity_mw=left_mw) if trades else order)
        return trades

    def cancel(self, order_id: str) -> Order | None:
        """Withdraw the resting order named ``order_id``; return it (None if not resting)."""
        for side in SIDES:
            for k, order in enumerate(self._orders[side]):
                if order.order_id == order_id:
                    del self._orders[side][k]
                    del self._keys[side][k]
                    return order
        return None

    def cancel_all(self, participants=None) -> list[Order]:
        """Withdraw every resting order (of ``participants`` only, if given); return them."""
        chosen = None if participants is None else set(participants)
        cancelled = []
        for side in SIDES:
            keep = [k for k, order in enumerate(self._orders[side])
                    if chosen is not None and order.participant not in chosen]
            cancelled += [order for k, order in enumerate(self._orders[side]) if k not in set(keep)]
            self._orders[side] = [self._orders[side][k] for k in keep]
            self._keys[side] = [self._keys[side][k] for k in keep]
        return cancelled

    def _rest(self, order: Order) -> None:
        side = order.side
        key = (-order.price if side == "buy" else order.price, int(order.time_ms), self._sequence)
        self._sequence += 1
        k = bisect.bisect(self._keys[side], key)
        self._keys[side].insert(k, key)
        self._orders[side].insert(k, order)


def _side(side: str) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    return side


def _crosses(incoming: Order, resting: Order) -> bool:
    """Whether ``incoming`` trades with the opposite ``resting`` order."""
    if incoming.side == "buy":
        return incoming.price >= resting.price
    return incoming.price <= resting.price
