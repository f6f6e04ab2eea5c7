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

from hierarchy.messages import AreaMeasurement, Award, Bid, Offer, Price, UnitGroupInfo, UnitStatus

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
