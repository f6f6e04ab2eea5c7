"""Scenario sections with structure of their own: areas, units, links, market, events.

Part of the typed scenario model (DESIGN.md, "Scenario file (v1)"); the
field types and simple sections are in :mod:`hierarchy.scenario.schema`.
Unions (bus selections, element selections, tariffs, events) are
discriminated, so that an error names one key path and one readable message.
"""
from __future__ import annotations

import math

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from annotated_types import MinLen
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from hierarchy.kernel.durations import format_duration
from hierarchy.scenario.market_stages import ContinuousConfig, DayAheadConfig
from hierarchy.scenario.schema import (
    ELEMENT_TABLES,
    BranchName,
    BusName,
    Config,
    Duration,
    ElementName,
    EventTime,
    FiniteFloat,
    Identifier,
    KeyPathError,
    LoadName,
    PositiveDuration,
    Probability,
    StrictBool,
    TierPair,
    UnitElementName,
    describe,
    policy_name,
)
from hierarchy.scenario.security import CustomerClassConfig, SecurityConfig

__all__ = [
    "LinkDefault", "LinkConfig", "CommunicationConfig",
    "ZoneSelector", "FeederSelector", "BusSelection", "CoordinatorConfig", "UflsStage", "AreaConfig",
    "ElementQuery", "ElementSelection", "UnitConfig",
    "FlatTariff", "TouPeriod", "TouTariff", "RtpTariff", "TARIFF_KINDS",
    "ReserveConfig", "UpstreamMarketConfig", "TransferLimitConfig", "MarketConfig",
    "SecurityConfig", "CustomerClassConfig",
    "LoadStep", "UnitTrip", "LineOutage", "LineRestore", "CommOutage", "Event", "EVENT_KINDS",
]


# ---------------------------------------------------------------- areas
class ZoneSelector(Config):
    """The buses whose pandapower ``bus.zone`` equals ``zone``."""

    zone: Annotated[str, MinLen(1)]


class FeederSelector(Config):
    """The buses fed through ``feeder_of`` (the bus and everything downstream of it)."""

    feeder_of: BusName


def _buses_tag(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, (ZoneSelector, FeederSelector)):
        return type(value).__name__
    if isinstance(value, Mapping):
        if "zone" in value:
            return "ZoneSelector"
        return "FeederSelector" if "feeder_of" in value else None
    return "rest" if value == "rest" else None


#: a list of ``bus/N``, ``{zone: NAME}``, ``{feeder_of: bus/N}`` or ``"rest"``
BusSelection = Annotated[
    Union[Annotated[tuple[BusName, ...], MinLen(1), Tag("list")],
          Annotated[ZoneSelector, Tag("ZoneSelector")],
          Annotated[FeederSelector, Tag("FeederSelector")],
          Annotated[Literal["rest"], Tag("rest")]],
    Discriminator(_buses_tag, custom_error_type="buses_type", custom_error_message=(
        "expected a list of bus/N, {zone: ...}, {feeder_of: bus/N} or 'rest'")),
]


class CoordinatorConfig(Config):
    """The area's coordinator policy, its period and parameters."""

    policy: policy_name("area") = "none"
    period: PositiveDuration = 300_000
    params: dict[str, Any] = Field(default_factory=dict)


class UflsStage(Config):
    """One under-frequency load-shedding stage: below ``f_hz`` for ``delay``, shed ``fraction``."""

    f_hz: FiniteFloat = Field(gt=0, description="threshold [Hz]")
    fraction: FiniteFloat = Field(gt=0, le=1, description="of the area's load [pu]")
    delay: Duration = 0


class AreaConfig(Config):
    """One control area: its buses, load damping, coordinator and load-shedding relays."""

    id: Identifier
    buses: BusSelection
    load_damping_pu: FiniteFloat = Field(1.0, ge=0, description="D [pu load / pu frequency]")
    coordinator: CoordinatorConfig = Field(default_factory=CoordinatorConfig)
    ufls: tuple[UflsStage, ...] = ()

    @field_validator("ufls")
    @classmethod
    def _check_ufls(cls, stages: tuple[UflsStage, ...]) -> tuple[UflsStage, ...]:
        total = 0.0
        for index, stage in enumerate(stages):
            if index and stage.f_hz >= stages[index - 1].f_hz:
                raise KeyPathError((index, "f_hz"), f"{stage.f_hz} Hz is not below stage "
                                   f"{index - 1}'s {stages[index - 1].f_hz} Hz (stages shed in "
                                   "order of falling frequency)")
            total += stage.fraction
            if total > 1.0 + 1e-12:
                raise KeyPathError((index, "fraction"), f"the stages shed {total:g} of the load "
                                   "in all; at most 1")
        return stages


# ---------------------------------------------------------------- units
def _check_where(where: dict[str, Any]) -> dict[str, Any]:
    scalar = (str, int, float, bool)
    for column, value in where.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(item, scalar) for item in values):
            raise KeyPathError((column,), "expected a value or a non-empty list of values "
                                          f"(strings, numbers, booleans); got {describe(value)}")
        if any(isinstance(item, float) and not math.isfinite(item) for item in values):
            raise KeyPathError((column,), f"{describe(value)} matches no element (NaN equals nothing; "
                                          "infinities are no column value): give a finite number")
    return where


class ElementQuery(Config):
    """All rows of ``table`` whose columns equal ``where`` (a value or any of a list)."""

    table: Literal[ELEMENT_TABLES]  # type: ignore[valid-type]
    where: Annotated[dict[str, Any], AfterValidator(_check_where)] = Field(default_factory=dict)


def _elements_tag(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        return "list"
    return "query" if isinstance(value, (Mapping, ElementQuery)) else None


#: a list of ``table/N`` or ``{table: ..., where: {...}}``
ElementSelection = Annotated[
    Union[Annotated[tuple[ElementName, ...], MinLen(1), Tag("list")],
          Annotated[ElementQuery, Tag("query")]],
    Discriminator(_elements_tag, custom_error_type="elements_type", custom_error_message=(
        "expected a list of table/N (e.g. [sgen/0, sgen/4]) or {table: ..., where: {...}}")),
]


class UnitConfig(Config):
    """A group of devices run by one unit policy (optionally pinned to an area)."""

    id: Identifier
    elements: ElementSelection
    policy: policy_name("unit")
    params: dict[str, Any] = Field(default_factory=dict)
    area: Identifier | None = None


# ---------------------------------------------------------------- communication
class LinkDefault(Config):
    """Latency [ms] and loss probability of every link not listed in ``links``."""

    latency: Duration = 1000
    loss: Probability = 0.0


class LinkConfig(Config):
    """One link between two tiers; unset latency or loss come from ``default``."""

    between: TierPair
    latency: Duration | None = None
    loss: Probability | None = None


class CommunicationConfig(Config):
    """Latency and loss of the links between tiers."""

    default: LinkDefault = Field(default_factory=LinkDefault)
    links: tuple[LinkConfig, ...] = ()

    @field_validator("links")
    @classmethod
    def _fill_links(cls, links: tuple[LinkConfig, ...],
                    info: ValidationInfo) -> tuple[LinkConfig, ...]:
        default = info.data.get("default")
        if default is None:
            return links
        seen: dict[frozenset[str], int] = {}
        filled = []
        for index, link in enumerate(links):
            pair = frozenset(link.between)
            if pair in seen:
                raise KeyPathError((index, "between"), f"a second link between "
                                   f"{' and '.join(link.between)} (first: links[{seen[pair]}])")
            seen[pair] = index
            filled.append(link.model_copy(update={
                "latency": default.latency if link.latency is None else link.latency,
                "loss": default.loss if link.loss is None else link.loss}))
        return tuple(filled)


# ---------------------------------------------------------------- market
def _hhmm(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"expected a quoted time \"HH:MM\"; YAML read an unquoted time as the "
                         f"number {value}")
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":" \
            or not (value[:2] + value[3:]).isdigit():
        raise ValueError(f"expected a time \"HH:MM\"; got {describe(value)}")
    if not (int(value[:2]) < 24 and int(value[3:]) < 60 or value == "24:00"):
        raise ValueError(f"{value!r} is not a time of day")
    return value


TimeOfDay = Annotated[str, BeforeValidator(_hhmm),
                      WithJsonSchema({"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"})]


def _minutes(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


class FlatTariff(Config):
    """One retail price at all times [per MWh]."""

    kind: Literal["flat"]
    price: FiniteFloat


class TouPeriod(Config):
    """A daily period ``from``–``to`` (local time, may wrap midnight) and its price [per MWh]."""

    from_: TimeOfDay = Field(alias="from")
    to: TimeOfDay
    price: FiniteFloat


class TouTariff(Config):
    """Time-of-use prices: ``periods`` of the day, ``otherwise`` elsewhere [per MWh]."""

    kind: Literal["tou"]
    periods: Annotated[tuple[TouPeriod, ...], MinLen(1)]
    otherwise: FiniteFloat

    @model_validator(mode="after")
    def _check_overlap(self) -> TouTariff:
        owner: dict[int, int] = {}
        for index, period in enumerate(self.periods):
            start, end = _minutes(period.from_), _minutes(period.to)
            if start == end:
                raise KeyPathError(("periods", index, "to"), "a period must not be empty")
            span = range(start, end) if start < end else [*range(start, 1440), *range(end)]
            for minute in span:
                if minute in owner:
                    raise KeyPathError(("periods", index), f"overlaps periods[{owner[minute]}]")
                owner[minute] = index
        return self


class RtpTariff(Config):
    """Real-time price: ``factor`` · market price + ``adder`` [per MWh]."""

    kind: Literal["rtp"]
    factor: FiniteFloat = 1.0
    adder: FiniteFloat = 0.0


TARIFF_KINDS = ("flat", "tou", "rtp")
#: a tariff body, validated, kept as a plain dict (defaults filled, ``from`` as key)
Tariff = Annotated[
    Union[FlatTariff, TouTariff, RtpTariff], Field(discriminator="kind"),
    AfterValidator(lambda tariff: tariff.model_dump(mode="json", by_alias=True)),
    PlainSerializer(lambda body: body, return_type=dict),
]


class ReserveConfig(Config):
    """Reserve requirement cleared with the energy (economic dispatch)."""

    fraction_of_load: FiniteFloat = Field(0.0, ge=0, le=1, description="[pu of load]")
    largest_unit: StrictBool = False


class UpstreamMarketConfig(Config):
    """The upstream grid as a market participant: prices [per MWh] and limits [MW]."""

    import_price: FiniteFloat = 60.0
    export_price: FiniteFloat = 20.0
    import_limit_mw: FiniteFloat = Field(1e9, ge=0)
    export_limit_mw: FiniteFloat = Field(1e9, ge=0)

    @model_validator(mode="after")
    def _check_spread(self) -> UpstreamMarketConfig:
        if self.export_price > self.import_price:
            raise KeyPathError(("export_price",), f"{self.export_price} is above import_price "
                               f"{self.import_price} (buying and selling back would pay)")
        return self


class TransferLimitConfig(Config):
    """An interface between two areas and its transfer limit each way [MW] (economic dispatch)."""

    between: tuple[Identifier, Identifier]
    limit_mw: FiniteFloat = Field(ge=0, description="[MW], each way")


class MarketConfig(Config):
    """The market operator: mechanism, timing, caps, reserve, tariffs, upstream.

    ``imbalance_penalty`` [per MWh]: a participant short of its award pays
    the clearing price plus it for the missing energy, one long is paid
    the clearing price minus it (dual imbalance pricing); 0 = single price.
    ``transfer_limits``: interfaces between areas for ``economic_dispatch``
    (a price per area) or a market class of one's own; areas without one do
    not exchange. ``mechanism``: a registered name or ``package.module:Class``.
    ``day_ahead``: a day-ahead stage before the per-interval one (None:
    none); ``continuous``: the timing of ``mechanism: continuous``.
    """

    mechanism: policy_name("market") = "none"
    interval: PositiveDuration = 3_600_000
    gate_closure: Duration = 900_000
    price_cap: FiniteFloat = Field(3000.0, gt=0, description="[per MWh]")
    reserve: ReserveConfig = Field(default_factory=ReserveConfig)
    tariffs: dict[Annotated[str, MinLen(1)], Tariff] = Field(default_factory=dict)
    upstream: UpstreamMarketConfig = Field(default_factory=UpstreamMarketConfig)
    imbalance_penalty: FiniteFloat = Field(0.0, ge=0, description="[per MWh]")
    transfer_limits: tuple[TransferLimitConfig, ...] = ()
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    customer_classes: dict[Annotated[str, MinLen(1)], CustomerClassConfig] = Field(default_factory=dict)
    day_ahead: DayAheadConfig | None = None
    continuous: ContinuousConfig | None = None

    @model_validator(mode="after")
    def _check_stages(self) -> MarketConfig:
        continuous = self.mechanism == "continuous"
        if self.continuous is not None and not continuous:
            raise KeyPathError(("continuous",), f"only used with mechanism continuous, not "
                                                f"{self.mechanism}")
        if continuous and (self.continuous or ContinuousConfig()).open <= self.gate_closure:
            raise KeyPathError(("continuous", "open"), "must be longer than market.gate_closure "
                               f"({format_duration(self.gate_closure)}): trading stops then")
        if self.day_ahead is None:
            return self
        if self.mechanism == "none":
            raise KeyPathError(("day_ahead",), "needs a per-interval market after it: "
                                               "mechanism double_auction, economic_dispatch or continuous")
        if self.day_ahead.slot % self.interval:
            raise KeyPathError(("day_ahead", "slot"), f"{format_duration(self.day_ahead.slot)} is not "
                               f"a whole number of market.interval ({format_duration(self.interval)})")
        if self.transfer_limits and self.day_ahead.mechanism != "economic_dispatch":
            raise KeyPathError(("day_ahead", "mechanism"), "must be economic_dispatch with "
                                                           "market.transfer_limits")
        return self

    @model_validator(mode="after")
    def _check_transfer_limits(self) -> MarketConfig:
        seen: dict[frozenset[str], int] = {}
        for index, interface in enumerate(self.transfer_limits):
            pair = frozenset(interface.between)
            if len(pair) == 1:
                raise KeyPathError(("transfer_limits", index, "between"), "needs two different areas")
            if pair in seen:
                raise KeyPathError(("transfer_limits", index, "between"), f"a second limit between "
                                   f"{' and '.join(interface.between)} (first: transfer_limits[{seen[pair]}])")
            seen[pair] = index
        if self.transfer_limits and self.mechanism in ("double_auction", "continuous", "none"):
            raise KeyPathError(("transfer_limits",), f"needs mechanism economic_dispatch (or a "
                               f"market class of your own), not {self.mechanism}")
        for name in self.customer_classes:
            if name != "default" and name not in self.tariffs:
                valid = ", ".join(sorted({"default", *self.tariffs}))
                raise KeyPathError(("customer_classes", name), f"no tariff {name!r} in market.tariffs "
                                                               f"(classes: {valid})")
        return self


# ---------------------------------------------------------------- events
class _EventBase(Config):
    at: EventTime


class LoadStep(_EventBase):
    """Add ``delta_mw`` [MW] to a load's demand from ``at`` on."""

    kind: Literal["load_step"]
    target: LoadName
    delta_mw: FiniteFloat


class UnitTrip(_EventBase):
    """Disconnect a generating or storage unit."""

    kind: Literal["unit_trip"]
    target: UnitElementName


class LineOutage(_EventBase):
    """Take a line or transformer out of service."""

    kind: Literal["line_outage"]
    target: BranchName


class LineRestore(_EventBase):
    """Put a line or transformer back in service."""

    kind: Literal["line_restore"]
    target: BranchName


class CommOutage(_EventBase):
    """Drop every message on the link ``between`` for ``duration``."""

    kind: Literal["comm_outage"]
    between: TierPair
    duration: PositiveDuration


EVENT_KINDS = ("load_step", "unit_trip", "line_outage", "line_restore", "comm_outage")
Event = Annotated[Union[LoadStep, UnitTrip, LineOutage, LineRestore, CommOutage],
                  Field(discriminator="kind")]
