"""The area-control protocol: what every tier-2 coordinator implements.

An area coordinator sees its region only through messages: the latest
:class:`~hierarchy.messages.UnitStatus` of each unit group and the latest
:class:`~hierarchy.messages.AreaMeasurement`, both delayed by their links,
and the market's awards and prices. The engine collects what has arrived
into an :class:`AreaState` and calls the coordinator at its period.

Required methods (all three):

* :meth:`AreaCoordinator.control` — setpoints for the unit groups and the
  area control error (ACE) it acted on;
* :meth:`AreaCoordinator.orders` — offers and bids for a delivery interval
  (aggregation);
* :meth:`AreaCoordinator.dispatch` — unit setpoints from the awards of the
  interval that is being delivered (disaggregation).

Sign convention: generation and export positive. ``ACE = (P_tie − P_sched)
+ B·Δf`` [MW], B > 0 [MW/Hz].
"""
from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from area_control.intraday import residual_orders
from hierarchy.messages import (
    REAL_TIME,
    AreaMeasurement,
    Award,
    Bid,
    Forecast,
    Offer,
    Price,
    UnitGroupInfo,
    UnitStatus,
)

__all__ = ["AreaState", "AreaAction", "AreaCoordinator"]


@dataclass
class AreaState:
    """What an area knows: the latest messages it received.

    Attributes
    ----------
    area : str
        Area id.
    f0_hz : float
        Nominal frequency [Hz].
    time_ms : int
        Now [ms since start].
    units : dict
        Latest :class:`UnitStatus` per unit group id.
    measurement : AreaMeasurement or None
        Latest meter readings.
    awards : dict
        Delivery interval start [ms] → participant → :class:`Award`.
    prices : dict
        Delivery interval start [ms] → price kind → :class:`Price`.
    interval_ms : int
        Length of a market delivery interval [ms].
    bounded_awards : bool
        Whether the market's security check may send awards with bounds
        (``Award.min_mw``, ``max_mw``); the coordinators look for them only then.
    stage : str
        The market stage orders are asked for (:meth:`AreaCoordinator.orders`):
        ``real_time`` (the per-interval market) or ``day_ahead``.
    forecasts : dict
        Delivery interval start [ms] → :class:`Forecast` of the stage being
        bid (set just before the orders are asked for; empty when the
        forecasts are persistence: bid from the latest measurements).
    day_ahead : dict
        Delivery interval start [ms] → participant → day-ahead :class:`Award`.
    traded_mw : dict
        Delivery interval start [ms] → participant → net quantity traded so
        far in continuous trading [MW] (sold positive), from the trades
        confirmed to the area.
    """

    area: str
    f0_hz: float
    interval_ms: int
    time_ms: int = 0
    units: dict[str, UnitStatus] = field(default_factory=dict)
    measurement: AreaMeasurement | None = None
    awards: dict[int, dict[str, Award]] = field(default_factory=dict)
    prices: dict[int, dict[str, Price]] = field(default_factory=dict)
    bounded_awards: bool = False
    stage: str = REAL_TIME
    forecasts: dict[int, Forecast] = field(default_factory=dict)
    day_ahead: dict[int, dict[str, Award]] = field(default_factory=dict)
    traded_mw: dict[int, dict[str, float]] = field(default_factory=dict)

    def interval_start_ms(self, time_ms: int | None = None) -> int:
        """Start of the delivery interval holding ``time_ms`` (default now) [ms]."""
        now = self.time_ms if time_ms is None else time_ms
        return (now // self.interval_ms) * self.interval_ms

    def schedule_mw(self, time_ms: int | None = None) -> float:
        """Scheduled net export of the area for the interval holding ``time_ms`` [MW].

        The sum of the area's awards (sells positive, buys negative); NaN if
        no award has arrived for that interval.
        """
        awards = self.awards.get(self.interval_start_ms(time_ms))
        if not awards:
            return math.nan
        return float(sum(award.quantity_mw for award in awards.values()))

    def price(self, kind: str = "clearing", time_ms: int | None = None) -> float:
        """Price of ``kind`` for the interval holding ``time_ms`` [per MWh]; NaN if none."""
        prices = self.prices.get(self.interval_start_ms(time_ms), {})
        return prices[kind].price if kind in prices else math.nan

    def position_mw(self, interval_start_ms: int) -> dict[str, float]:
        """Position held for an interval per participant [MW], sold positive:
        day-ahead award plus what was traded continuously so far."""
        position = {name: award.quantity_mw
                    for name, award in self.day_ahead.get(interval_start_ms, {}).items()}
        for name, quantity_mw in self.traded_mw.get(interval_start_ms, {}).items():
            position[name] = position.get(name, 0.0) + quantity_mw
        return position

    def committed_mw(self, interval_start_ms: int) -> dict[str, float]:
        """Position per participant for an interval [MW]: its awards once published,
        else what :meth:`position_mw` holds so far."""
        awards = self.awards.get(interval_start_ms)
        if awards is not None:
            return {name: award.quantity_mw for name, award in awards.items()}
        return self.position_mw(interval_start_ms)

    def price_forecast(self, time_ms: int | None = None, window_ms: int = 86_400_000) -> list[float]:
        """Prices the area knows for the intervals within ``window_ms`` either side of
        ``time_ms`` [per MWh]: clearing prices received and day-ahead prices published
        (a persistence forecast of the price pattern, sharpened by the day-ahead market)."""
        start = self.interval_start_ms(time_ms)
        known = []
        for t in range(start - window_ms, start + window_ms + 1, self.interval_ms):
            prices = self.prices.get(t)
            if prices:
                known += [prices[kind].price for kind in ("clearing", "day_ahead") if kind in prices]
        return known


@dataclass
class AreaAction:
    """What a coordinator decided at one call.

    Attributes
    ----------
    p_set_mw : dict
        Unit group id → setpoint per unit [MW] (NaN = no setpoint).
    ace_mw : float
        Area control error the decision was based on [MW] (NaN if unknown).
    actions : list of str
        What the coordinator did beyond balancing (voltage and congestion
        support), in the order it did it; the engine logs each as an
        ``area_action`` event.
    """

    p_set_mw: dict[str, np.ndarray]
    ace_mw: float = math.nan
    actions: list[str] = field(default_factory=list)


class AreaCoordinator(abc.ABC):
    """Base class of every area (tier-2) coordinator.

    Parameters
    ----------
    area : str
        Area id.
    groups : sequence of UnitGroupInfo
        The unit groups (restricted to this area's units) it coordinates.
    params : mapping
        Parameters, already merged with :attr:`defaults`.
    price_cap : float
        Market price cap [per MWh], the bid price of inflexible load.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(
        self,
        area: str,
        groups: list[UnitGroupInfo],
        params: Mapping[str, Any],
        price_cap: float = 3000.0,
    ):
        self.area = area
        self.groups = {info.group: info for info in groups}
        self.params = dict(params)
        self.price_cap = float(price_cap)

    @abc.abstractmethod
    def control(self, state: AreaState) -> AreaAction:
        """Setpoints for the unit groups from what the area knows now."""

    @abc.abstractmethod
    def orders(self, state: AreaState, interval_start_ms: int) -> tuple[list[Offer], list[Bid]]:
        """Offers and bids of the area for the delivery interval starting then."""

    @abc.abstractmethod
    def dispatch(self, state: AreaState) -> dict[str, np.ndarray]:
        """Unit setpoints [MW] per group from the awards of the current interval."""

    def intraday_orders(self, state: AreaState, interval_start_ms: int) -> tuple[list[Offer], list[Bid]]:
        """Orders of one round of continuous trading for an interval.

        What :meth:`orders` wishes, less the position already held
        (:meth:`AreaState.position_mw`), per participant
        (:func:`area_control.intraday.residual_orders`). The engine withdraws
        the area's resting orders for the interval before sending these.
        """
        offers, bids = self.orders(state, interval_start_ms)
        return residual_orders(offers, bids, state.position_mw(interval_start_ms), self.price_cap)
