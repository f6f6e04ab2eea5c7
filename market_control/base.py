"""The market-control protocol and the result every mechanism returns.

A market (tier 3) collects the :class:`~hierarchy.messages.Offer` and
:class:`~hierarchy.messages.Bid` messages sent for one delivery interval and
clears them into a :class:`Clearing`. The clearing rules themselves are pure
functions (:func:`market_control.double_auction`,
:func:`market_control.economic_dispatch`); a :class:`Market` subclass only
holds the mechanism's parameters and calls its function.

Sign convention, as everywhere in hiergrid: generation and export positive.
An award is positive for a seller (offer accepted) and negative for a buyer
(bid accepted). Prices are per MWh in the scenario's currency.
"""
from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Sequence

from hierarchy.messages import Award, Bid, Offer, Price

__all__ = ["Clearing", "Market", "to_messages"]


@dataclass(frozen=True)
class Clearing:
    """Result of clearing one delivery interval.

    Attributes
    ----------
    price : float or dict of str to float
        Clearing price [per MWh]: one number for a single (copper-plate)
        market, or area id -> price for a zonal economic dispatch.
    quantity_mw : float
        Cleared quantity, the accepted supply [MW].
    awards : dict of str to float
        Participant -> net accepted quantity [MW], offers positive, bids
        negative; a participant with several offers or bids gets their sum.
    shortfall_mw : float
        Demand that could not be served [MW]: unresponsive bids (at
        ``+price_cap``) left unmet by a failed auction, or unserved demand
        in an economic dispatch.
    reserve_shortfall_mw : float
        Reserve requirement left unmet by the dispatch [MW].
    surplus_mw : float
        Must-run output (above the demand) that had to be spilled [MW].
    marginal : str
        How the price was set: ``"seller"``, ``"buyer"``, ``"exact"``
        (both sides at one price), ``"price"`` (a price between the last
        accepted bid and offer), ``"null"`` (nothing cleared), ``"failure"``
        (unresponsive load unmet) or ``"dispatch"`` (dual of the balance).
    offers_accepted_mw, bids_accepted_mw : tuple of float
        Accepted quantity of each offer and bid [MW, >= 0], aligned with
        the sequences given to the mechanism (0 for ignored ones).
    flows_mw : dict of (str, str) to float
        Inter-area flow on each interface ``(from, to)`` [MW], positive from
        ``from`` to ``to`` (economic dispatch with transfer limits only).
    reserve_price : float
        Dual of the reserve requirement [per MW and hour] (economic dispatch).
    reserve_required_mw : float
        Upward reserve requirement of the interval [MW] (0: none asked).
    reserve_mw : float
        Upward reserve available after the clearing [MW]: offered capacity
        not accepted (double auction) or the reserve the dispatch holds.
    bounds_mw : dict of str to (float, float)
        Participant -> (lowest, highest) net output [MW] (NaN: no bound)
        set by the security check (:mod:`market_control.security`) where it
        re-dispatched the participant: raised, at least its new award;
        lowered, at most. Sent with the award
        (:attr:`~hierarchy.messages.Award.min_mw`, ``max_mw``).
    traded_value_per_h : dict of str to float
        Continuous trading only: participant -> value of its trades,
        ``Σ sold q·p − Σ bought q·p`` [currency per h of delivery], each
        trade at its own price; empty for uniform-price mechanisms, whose
        awards are paid at ``price``.
    standing_orders : tuple of Order
        Continuous trading only: each participant's supply curve at gate
        closure as book orders (:mod:`market_control.continuous`); the
        security check moves the positions along it
        (:func:`market_control.security_orders.orders_at_position`).
    """

    price: float | dict[str, float]
    quantity_mw: float
    awards: dict[str, float]
    shortfall_mw: float = 0.0
    reserve_shortfall_mw: float = 0.0
    surplus_mw: float = 0.0
    marginal: str = "null"
    offers_accepted_mw: tuple[float, ...] = ()
    bids_accepted_mw: tuple[float, ...] = ()
    flows_mw: dict[tuple[str, str], float] = field(default_factory=dict)
    reserve_price: float = 0.0
    reserve_required_mw: float = 0.0
    reserve_mw: float = 0.0
    bounds_mw: dict[str, tuple[float, float]] = field(default_factory=dict)
    traded_value_per_h: dict[str, float] = field(default_factory=dict)
    standing_orders: tuple = ()

    def price_of(self, area: str | None = None) -> float:
        """Price [per MWh] that applies in ``area`` (any area if uniform).

        Raises
        ------
        KeyError
            If the price is zonal and ``area`` is not one of its areas.
        """
        if isinstance(self.price, dict):
            if area not in self.price:
                raise KeyError(f"no price for area {area!r}; areas: {sorted(self.price)}")
            return self.price[area]
        return float(self.price)


class Market(abc.ABC):
    """Base class of every market (tier-3) mechanism.

    The constructor takes plain parameters and has no side effects; the
    engine calls :meth:`clear` once per delivery interval at gate closure.
    """

    @abc.abstractmethod
    def clear(self, interval_start_ms: int, offers: Sequence[Offer], bids: Sequence[Bid]) -> Clearing:
        """Clear the offers and bids sent for the interval starting at ``interval_start_ms``.

        Offers and bids whose ``interval_start_ms`` differs (late messages
        for another interval) are ignored.

        Returns
        -------
        Clearing
            Price [per MWh] and awards [MW], offers positive, bids negative.
        """


def for_interval(interval_start_ms: int, orders: Sequence[Offer] | Sequence[Bid]) -> list:
    """The orders among ``orders`` meant for the interval starting at ``interval_start_ms`` [ms]."""
    return [order for order in orders if order.interval_start_ms == interval_start_ms]


def to_messages(
    clearing: Clearing,
    area_of: Mapping[str, str | None],
    interval_start_ms: int,
    interval_ms: int,
    sent_ms: int = 0,
) -> tuple[list[Award], list[Price]]:
    """Turn a clearing into the messages sent down to the areas.

    Parameters
    ----------
    clearing : Clearing
        The cleared interval.
    area_of : mapping of str to str or None
        Participant -> area id (the ``area`` of its offers and bids).
    interval_start_ms, interval_ms : int
        Start [ms since start] and length [ms] of the delivery interval.
    sent_ms : int
        Sending time [ms since start].

    Returns
    -------
    awards : list of Award
        One per participant, ``quantity_mw`` positive for sellers, negative
        for buyers, priced at the participant's area price [per MWh].
    prices : list of Price
        One clearing price per area (a single one with ``area=None`` for a
        uniform price).
    """
    awards = [
        Award(name, quantity_mw, clearing.price_of(area_of.get(name)), interval_start_ms, area_of.get(name), sent_ms)
        for name, quantity_mw in sorted(clearing.awards.items())
    ]
    if isinstance(clearing.price, dict):
        zones = sorted(clearing.price.items())
        prices = [Price(price, interval_start_ms, interval_ms, area, "clearing", sent_ms) for area, price in zones]
    else:
        prices = [Price(float(clearing.price), interval_start_ms, interval_ms, None, "clearing", sent_ms)]
    return awards, prices
