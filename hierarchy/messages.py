"""Messages between the tiers: small, frozen, typed, timestamped dataclasses.

Their types are the data-flow documentation of hiergrid:

* up, from units to their area: :class:`UnitStatus`, and from the area's
  meters: :class:`AreaMeasurement`;
* up, from areas to the market: :class:`Offer` and :class:`Bid` (and
  :class:`CancelOrders` in continuous trading); an :class:`Order` is an
  offer or bid as it rests in a continuous order book;
* down, from the market to areas: :class:`Award`, :class:`Price` and, in
  continuous trading, each :class:`Trade`;
* to areas from the forecast service (no link: an outside provider):
  :class:`Forecast`;
* down, from areas to units: :class:`UnitSetpoint`.

Sign convention, once for the whole package: generation and export are
positive; consumption and import are negative. Times are integer
milliseconds since ``time.start`` (``*_ms``).

Every message crosses a :class:`hierarchy.kernel.links.Link` (latency and loss);
no tier reads another tier's state directly.

Examples
--------
>>> Offer("pv_north", 2.0, 0.0)
Offer(participant='pv_north', quantity_mw=2.0, price=0.0, interval_start_ms=0, area=None, sent_ms=0)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "UnitStatus", "AreaMeasurement", "UnitSetpoint", "Offer", "Bid", "Award", "Price",
    "UnitGroupInfo", "StorageInfo", "Order", "Trade", "CancelOrders", "Forecast",
    "SIDES", "DAY_AHEAD", "REAL_TIME",
]

#: the sides of an :class:`Order`
SIDES = ("buy", "sell")
#: market stages: the forward (day-ahead) stage and the per-interval (real-time / intraday) stage
DAY_AHEAD = "day_ahead"
REAL_TIME = "real_time"


def _frozen_array(values) -> np.ndarray:
    array = np.array(values, dtype=float)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class UnitStatus:
    """State of one unit group inside one area, sent up to the area.

    All arrays are aligned with ``unit_ids``.

    Attributes
    ----------
    group : str
        Id of the unit group (the scenario's ``units[].id``).
    area : str
        Id of the area the units belong to.
    unit_ids : tuple of str
        Element names, ``table/index`` (``sgen/3``).
    p_mw, q_mvar : ndarray
        Output at the last settled step [MW], [Mvar] (generation positive).
    p_min_mw, p_max_mw : ndarray
        Range the units can reach at the next step [MW]; a battery's
        ``p_min_mw`` is negative (charging).
    energy_mwh : ndarray
        Stored energy [MWh] (NaN for units that store none).
    time_ms : int
        Measurement time [ms since start].
    """

    group: str
    area: str
    unit_ids: tuple[str, ...]
    p_mw: np.ndarray
    q_mvar: np.ndarray
    p_min_mw: np.ndarray
    p_max_mw: np.ndarray
    energy_mwh: np.ndarray
    time_ms: int

    def __post_init__(self) -> None:
        for name in _STATUS_ARRAYS:
            object.__setattr__(self, name, _frozen_array(getattr(self, name)))

    @classmethod
    def of_owned(cls, group: str, area: str, unit_ids: tuple[str, ...], p_mw: np.ndarray,
                 q_mvar: np.ndarray, p_min_mw: np.ndarray, p_max_mw: np.ndarray,
                 energy_mwh: np.ndarray, time_ms: int) -> "UnitStatus":
        """A status from read-only float arrays the sender made for it.

        Nothing is copied or checked (the engine's hot path, once per unit
        group, area and step): the arrays must be flagged read-only and held
        nowhere else writeable.
        """
        status = object.__new__(cls)
        object.__setattr__(status, "__dict__", {
            "group": group, "area": area, "unit_ids": unit_ids, "p_mw": p_mw, "q_mvar": q_mvar,
            "p_min_mw": p_min_mw, "p_max_mw": p_max_mw, "energy_mwh": energy_mwh, "time_ms": time_ms})
        return status


_STATUS_ARRAYS = ("p_mw", "q_mvar", "p_min_mw", "p_max_mw", "energy_mwh")


@dataclass(frozen=True)
class AreaMeasurement:
    """Meter readings of one area at a settled physics step, sent to the area.

    Attributes
    ----------
    area : str
        Area id.
    net_export_mw : float
        Sum of the active power flows leaving the area [MW] (export positive).
    load_mw : float
        Consumption of the area's loads, controlled or not [MW] (>= 0).
    uncontrolled_generation_mw : float
        Output of generators that no unit group controls [MW].
    frequency_hz : float
        Frequency of the area's island [Hz].
    time_ms : int
        Measurement time [ms since start].
    vm_min_pu, vm_max_pu : float
        Lowest and highest voltage magnitude of the area's energised buses
        [pu] (NaN if none), as its SCADA reads them.
    vm_min_bus, vm_max_bus : str
        Where they are (``bus/N``; empty if none).
    max_loading_percent : float
        Highest loading of the lines with an end in the area [% of rating]
        (NaN if none).
    max_loading_line : str
        That line (``line/N``; empty if none).
    max_loading_line_p_mw : float
        Active power through that line, absolute, at its more loaded end [MW].
    """

    area: str
    net_export_mw: float
    load_mw: float
    uncontrolled_generation_mw: float
    frequency_hz: float
    time_ms: int
    vm_min_pu: float = float("nan")
    vm_min_bus: str = ""
    vm_max_pu: float = float("nan")
    vm_max_bus: str = ""
    max_loading_percent: float = float("nan")
    max_loading_line: str = ""
    max_loading_line_p_mw: float = float("nan")

    @classmethod
    def of_fields(cls, fields: dict) -> AreaMeasurement:
        """A measurement from a dict holding every field, as Python numbers and
        strings; nothing is checked (the engine's hot path, once per area and step)."""
        measurement = object.__new__(cls)
        object.__setattr__(measurement, "__dict__", fields)
        return measurement


@dataclass(frozen=True)
class UnitSetpoint:
    """Setpoints and the price from an area to one of its unit groups.

    Attributes
    ----------
    group, area : str
        Destination unit group and the sending area.
    p_mw : ndarray
        Setpoint per unit [MW], aligned with the group's units in that area;
        NaN means "no setpoint, follow your local rule".
    time_ms : int
        Sending time [ms since start].
    price_per_mwh : float
        Retail price the group faces from now on [per MWh]; NaN = unchanged.
    """

    group: str
    area: str
    p_mw: np.ndarray
    time_ms: int
    price_per_mwh: float = float("nan")

    def __post_init__(self) -> None:
        object.__setattr__(self, "p_mw", _frozen_array(self.p_mw))


@dataclass(frozen=True)
class Offer:
    """A sell offer: up to ``quantity_mw`` at ``price`` [per MWh] or more.

    ``interval_start_ms`` is the start of the delivery interval it is for.
    """

    participant: str
    quantity_mw: float
    price: float
    interval_start_ms: int = 0
    area: str | None = None
    sent_ms: int = 0


@dataclass(frozen=True)
class Bid:
    """A buy bid: up to ``quantity_mw`` at ``price`` [per MWh] or less."""

    participant: str
    quantity_mw: float
    price: float
    interval_start_ms: int = 0
    area: str | None = None
    sent_ms: int = 0


@dataclass(frozen=True)
class Award:
    """Cleared quantity of one participant for one delivery interval.

    ``quantity_mw`` is positive for a seller (offer accepted), negative for a
    buyer (bid accepted). ``price`` is the price the participant settles at
    [per MWh]. ``min_mw`` and ``max_mw`` bound the participant's net
    output over the interval [MW] (generation positive: a buyer bounded by
    ``min_mw = −2`` consumes at most 2 MW) where the market's security
    check re-dispatched it, on the side it moved it; NaN: no bound, the
    award is a schedule only.
    [per MWh]. ``stage`` is :data:`REAL_TIME` for the per-interval market
    (the position the area is scheduled on) or :data:`DAY_AHEAD` for a
    day-ahead award of the slot starting at ``interval_start_ms``.
    """

    participant: str
    quantity_mw: float
    price: float
    interval_start_ms: int
    area: str | None = None
    sent_ms: int = 0
    min_mw: float = float("nan")
    max_mw: float = float("nan")
    stage: str = REAL_TIME


@dataclass(frozen=True)
class Price:
    """A price published for a delivery interval [per MWh].

    ``kind`` is ``"clearing"`` for the market price of ``area`` (or of the
    whole market when ``area`` is None), or a tariff's customer class name
    for a retail price.
    """

    price: float
    interval_start_ms: int
    interval_ms: int
    area: str | None = None
    kind: str = "clearing"
    sent_ms: int = field(default=0)


@dataclass(frozen=True)
class UnitGroupInfo:
    """What an area knows of one of its unit groups, given once at wiring.

    Not a message on a link: the static part of a unit's registration with
    its area (nameplate data and cost), which a real area controller holds in
    its asset register. Arrays are aligned with ``unit_ids``.

    Attributes
    ----------
    group, area : str
        Unit group id and area id.
    kind : str
        ``renewable``, ``storage``, ``dispatchable``, ``flexible_load``,
        ``tap`` or ``other``.
    unit_ids : tuple of str
        Element names (``sgen/3``).
    rating_mw : ndarray
        Rating per unit [MW].
    takes_setpoints : bool
        Whether the group's policy follows active-power setpoints.
    p_min_mw, p_max_mw : ndarray
        Technical output range per unit [MW].
    cost_a, cost_b, cost_c : ndarray
        Cost per hour ``a + b·P + c·P²`` [per h], [per MWh], [per MW²h].
    offer_blocks : int
        Number of equal offer blocks of a dispatchable unit.
    offer_price : float
        Offer price of a renewable group [per MWh].
    bid_price : float
        Bid price of a flexible load group [per MWh].
    customer_class : str
        Tariff class of a load group.
    ramp_mw_per_min : ndarray or None
        Ramp limit per unit [MW/min] (dispatchable units; None: unlimited).
    storage : StorageInfo or None
        Capacity, limits and bidding of a storage group (None for others).
    """

    group: str
    area: str
    kind: str
    unit_ids: tuple[str, ...]
    rating_mw: np.ndarray
    takes_setpoints: bool
    p_min_mw: np.ndarray
    p_max_mw: np.ndarray
    cost_a: np.ndarray
    cost_b: np.ndarray
    cost_c: np.ndarray
    offer_blocks: int = 1
    offer_price: float = 0.0
    bid_price: float = float("nan")
    customer_class: str = "default"
    ramp_mw_per_min: np.ndarray | None = None
    storage: StorageInfo | None = None

    def __post_init__(self) -> None:
        for name in ("rating_mw", "p_min_mw", "p_max_mw", "cost_a", "cost_b", "cost_c"):
            object.__setattr__(self, name, _frozen_array(getattr(self, name)))
        if self.ramp_mw_per_min is not None:
            object.__setattr__(self, "ramp_mw_per_min", _frozen_array(self.ramp_mw_per_min))


@dataclass(frozen=True)
class StorageInfo:
    """What an area knows of a storage group for bidding it (asset register).

    Arrays are aligned with the group's ``unit_ids`` in the area.

    Attributes
    ----------
    capacity_mwh : ndarray
        Usable energy capacity per unit [MWh].
    soc_min, soc_max : ndarray
        State-of-charge limits [pu of capacity].
    eta_charge, eta_discharge : ndarray
        Charge and discharge efficiencies [pu].
    price_charge, price_discharge : ndarray
        The unit's own price band [per MWh]: its bids and offers are priced
        inside it when no price forecast is known.
    bid_blocks : int
        Charge and discharge blocks bid per unit and interval (0: the
        battery does not bid).
    """

    capacity_mwh: np.ndarray
    soc_min: np.ndarray
    soc_max: np.ndarray
    eta_charge: np.ndarray
    eta_discharge: np.ndarray
    price_charge: np.ndarray
    price_discharge: np.ndarray
    bid_blocks: int = 0

    def __post_init__(self) -> None:
        for name in ("capacity_mwh", "soc_min", "soc_max", "eta_charge", "eta_discharge",
                     "price_charge", "price_discharge"):
            object.__setattr__(self, name, _frozen_array(getattr(self, name)))


@dataclass(frozen=True)
class Order:
    """An order of a continuous double auction: buy or sell up to ``quantity_mw`` at ``price``.

    A buy order pays at most ``price`` [per MWh], a sell order takes at
    least ``price``. ``time_ms`` is when the order reached the book (its
    time priority) [ms]; ``interval_start_ms`` the delivery interval the
    order is for; ``order_id`` names it for cancellation (optional).

    Examples
    --------
    >>> Order("pv", "sell", 2.0, 10.0, 0)
    Order(participant='pv', side='sell', quantity_mw=2.0, price=10.0, time_ms=0, interval_start_ms=0, area=None, order_id='')
    """

    participant: str
    side: str
    quantity_mw: float
    price: float
    time_ms: int
    interval_start_ms: int = 0
    area: str | None = None
    order_id: str = ""


@dataclass(frozen=True)
class Trade:
    """One match of a continuous double auction.

    ``seller`` sells ``quantity_mw`` [MW] over the delivery interval to
    ``buyer`` at ``price`` [per MWh], the price of the order that was
    resting in the book; ``time_ms`` is when it was matched [ms].
    """

    buyer: str
    seller: str
    quantity_mw: float
    price: float
    time_ms: int
    interval_start_ms: int = 0


@dataclass(frozen=True)
class CancelOrders:
    """Withdraw every resting order an area's participants hold for one delivery interval."""

    area: str
    interval_start_ms: int
    sent_ms: int = 0


@dataclass(frozen=True)
class Forecast:
    """A forecast of an area's uncontrolled quantities over one delivery interval.

    Means over ``[interval_start_ms, interval_start_ms + interval_ms)``,
    issued at ``issued_ms`` [ms] for market stage ``stage``.

    Attributes
    ----------
    group_p_mw : dict of str to float
        Unit group id -> forecast [MW]: available power of a renewable group
        (generation positive), demand of a flexible load group (consumption
        positive, before its price response).
    load_mw : float
        Demand of all the area's loads [MW] (consumption positive).
    other_generation_mw : float
        Output of the area's generation that no unit group controls [MW].
    """

    area: str
    interval_start_ms: int
    interval_ms: int
    group_p_mw: dict
    load_mw: float
    other_generation_mw: float
    issued_ms: int
    stage: str = REAL_TIME
