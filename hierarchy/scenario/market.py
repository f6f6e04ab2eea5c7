"""The scenario's market section: mechanism, timing, tariffs, reserve, upstream grid, transfer limits.

Part of the typed scenario model (DESIGN.md, "Scenario file (v1)"):
:class:`MarketConfig` is ``market``; its day-ahead stage, continuous
trading and the areas' forecasts are in :mod:`hierarchy.scenario.market_stages`,
its security check and customer classes in :mod:`hierarchy.scenario.security`.
Tariffs are a discriminated union on ``kind``, so that an error names one
key path and one readable message.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from annotated_types import MinLen
from pydantic import AfterValidator, Field, PlainSerializer, model_validator

from hierarchy.kernel.durations import format_duration
from hierarchy.scenario.market_stages import ContinuousConfig, DayAheadConfig
from hierarchy.scenario.schema import (
    Config,
    Duration,
    FiniteFloat,
    Identifier,
    KeyPathError,
    PositiveDuration,
    StrictBool,
    TimeOfDay,
    policy_name,
)
from hierarchy.scenario.security import CustomerClassConfig, SecurityConfig

__all__ = ["FlatTariff", "TouPeriod", "TouTariff", "RtpTariff", "TARIFF_KINDS", "Tariff",
           "ReserveConfig", "UpstreamMarketConfig", "TransferLimitConfig", "MarketConfig"]


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
