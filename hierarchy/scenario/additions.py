"""The ``add`` section: elements added to the grid before it is wired.

A researcher's first question is often "what if this feeder had a battery
here, or 2 MW more PV there". Each entry of ``add`` creates elements of one
pandapower table (``sgen``, ``storage``, ``gen``, ``load``) with
pandapower's own create function, one per bus of its bus selection, all
named ``name`` (the pandapower ``name`` column), so that unit groups select
them like any other element (``{table: storage, where: {name: NAME}}``).

Checks that need the grid (buses, column names and values, profile names)
are made when the scenario is built (:mod:`hierarchy.sim.additions`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from annotated_types import MinLen
from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator

from hierarchy.scenario.schema import (
    BusName,
    Config,
    FilePath,
    FiniteFloat,
    Identifier,
    KeyPathError,
    _element_type,
    _resolve_path,
    describe,
)
from hierarchy.scenario.sections import FeederSelector, ZoneSelector

__all__ = ["ADD_TABLES", "FeederEnds", "AddBuses", "CsvProfile", "SimbenchProfile", "CopyProfile",
           "AddProfile", "AddConfig"]

#: tables the ``add`` section creates elements in
ADD_TABLES = ("sgen", "storage", "gen", "load")
#: columns that have keys of their own (or are hiergrid's), never set through ``columns``
RESERVED_COLUMNS = ("bus", "name", "index", "profile")

InjectionName = _element_type(ADD_TABLES)


class FeederEnds(Config):
    """One bus per feeder: its end, the bus farthest from the substation busbar along the lines."""

    feeder_ends: Literal[True]


def _add_buses_tag(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, (ZoneSelector, FeederSelector, FeederEnds)):
        return type(value).__name__
    if isinstance(value, Mapping):
        for key, tag in (("zone", "ZoneSelector"), ("feeder_of", "FeederSelector"),
                         ("feeder_ends", "FeederEnds")):
            if key in value:
                return tag
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return "bus"
    return None


#: one bus, a list of buses, ``{zone: NAME}``, ``{feeder_of: bus/N}`` or ``{feeder_ends: true}``
AddBuses = Annotated[
    Union[Annotated[BusName, Tag("bus")],
          Annotated[tuple[BusName, ...], MinLen(1), Tag("list")],
          Annotated[ZoneSelector, Tag("ZoneSelector")],
          Annotated[FeederSelector, Tag("FeederSelector")],
          Annotated[FeederEnds, Tag("FeederEnds")]],
    Discriminator(_add_buses_tag, custom_error_type="add_bus_type", custom_error_message=(
        "expected a bus (bus/N or N), a list of them, {zone: ...}, {feeder_of: bus/N} or "
        "{feeder_ends: true}")),
]


class CsvProfile(Config):
    """Active power [MW, pandapower's sign] from a CSV column, times ``scale``.

    The file has the format of ``profiles.path``: a ``time`` column (dates
    and times or offsets, evenly spaced) and the series as columns.
    """

    csv: FilePath
    column: Annotated[str, MinLen(1)]
    scale: FiniteFloat = 1.0

    _resolve = field_validator("csv")(_resolve_path)


class SimbenchProfile(Config):
    """A SimBench profile by name (``PV5``, ``H0-A``): its relative values times the
    element's ``p_mw`` (loads: ``q_mvar`` too), as SimBench scales its own elements."""

    simbench: Annotated[str, MinLen(1)]


class CopyProfile(Config):
    """The series of an element of the grid (or one added before), times ``scale``."""

    copy_of: InjectionName = Field(alias="copy")
    scale: FiniteFloat = 1.0


def _profile_tag(value: Any) -> str | None:
    if value == "constant":
        return "constant"
    if isinstance(value, (CsvProfile, SimbenchProfile, CopyProfile)):
        return type(value).__name__
    if isinstance(value, Mapping):
        for key, tag in (("csv", "CsvProfile"), ("simbench", "SimbenchProfile"),
                         ("copy", "CopyProfile")):
            if key in value:
                return tag
    return None


#: ``constant`` (the ``p_mw`` column at every step), ``{csv, column}``, ``{simbench}`` or ``{copy}``
AddProfile = Annotated[
    Union[Annotated[Literal["constant"], Tag("constant")],
          Annotated[CsvProfile, Tag("CsvProfile")],
          Annotated[SimbenchProfile, Tag("SimbenchProfile")],
          Annotated[CopyProfile, Tag("CopyProfile")]],
    Discriminator(_profile_tag, custom_error_type="add_profile_type", custom_error_message=(
        "expected 'constant', {csv: FILE, column: NAME}, {simbench: PROFILE} or "
        "{copy: table/N, scale: X}")),
]


def _check_columns(columns: Any) -> Any:
    if not isinstance(columns, Mapping):
        return columns  # reported as "expected a mapping"
    for key, value in columns.items():
        if not isinstance(key, str) or not key:
            raise KeyPathError((), f"column names must be strings; got {describe(key)}")
        if key in RESERVED_COLUMNS:
            where = {"bus": "add[].bus", "name": "add[].name", "profile": "add[].profile",
                     "index": "none: pandapower gives the next free index"}[key]
            raise KeyPathError((key,), f"not set through columns (its key: {where})")
        if not isinstance(value, (str, int, float, bool)):
            raise KeyPathError((key,), "expected a number, a string or true/false; "
                                       f"got {describe(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise KeyPathError((key,), f"expected a finite number; got {describe(value)}")
    return dict(columns)


class AddConfig(Config):
    """Elements of ``table`` created at each bus of ``bus``, with ``columns`` and a profile."""

    name: Identifier
    table: Literal["sgen", "storage", "gen", "load"]
    bus: AddBuses
    columns: Annotated[dict[str, Any], BeforeValidator(_check_columns)] = Field(
        default_factory=dict)
    profile: AddProfile = "constant"
