"""Scenario sections of the controlled system: areas, units, links, events.

Part of the typed scenario model (DESIGN.md, "Scenario file (v1)"); the
field types are in :mod:`hierarchy.scenario.schema`, the grid, time and the
other settings of the run in :mod:`hierarchy.scenario.run_settings`, the
market in :mod:`hierarchy.scenario.market`.
Unions (bus selections, element selections, events) are
discriminated, so that an error names one key path and one readable message.
"""
from __future__ import annotations

import math

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from annotated_types import MinLen
from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
)

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
    TierPair,
    UnitElementName,
    describe,
    policy_name,
)

__all__ = [
    "LinkDefault", "LinkConfig", "CommunicationConfig",
    "ZoneSelector", "FeederSelector", "BusSelection", "CoordinatorConfig", "UflsStage", "AreaConfig",
    "ElementQuery", "ElementSelection", "UnitConfig",
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
