"""Typed model of the scenario file (v1): the base model and the field types.

The attribute names are the YAML keys of DESIGN.md, "Scenario file (v1)".
Durations are ``int`` milliseconds, ``time.start`` a ``datetime``, times of
day ``HH:MM`` text. The sections are built of these: grid, time, profiles,
control, frequency and outputs in :mod:`hierarchy.scenario.run_settings`;
areas, units, links and events in :mod:`hierarchy.scenario.sections`; the
market in :mod:`hierarchy.scenario.market` (its stages, forecasts and
security check in :mod:`hierarchy.scenario.market_stages` and
:mod:`hierarchy.scenario.security`); the root model, loading, error
reporting and the JSON Schema in :mod:`hierarchy.scenario`.

Validators raise :class:`KeyPathError`, a ``ValueError`` that carries the
key path relative to the model it was raised in, so that the loader can
report e.g. ``grid.code: required when grid.source is simbench``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from hierarchy.kernel.durations import (
    DURATION_PATTERN,
    format_duration,
    parse_duration_ms,
)
from hierarchy.kernel.registry import BUILTIN

__all__ = [
    "KeyPathError", "describe", "ELEMENT_TABLES", "ELEMENT_PATTERN", "TIERS", "Config",
    "Duration", "PositiveDuration", "EventTime", "ElementName", "BusName", "BUS_FORMS",
    "bus_name", "Identifier",
    "FiniteFloat", "Probability", "StrictInt", "StrictBool", "TierPair", "StartTime",
    "ScenarioJsonSchema",
    "element_name", "policy_name", "is_datetime_like", "to_datetime", "TimeOfDay", "FilePath",
]

#: pandapower tables an element name may refer to
ELEMENT_TABLES = ("bus", "load", "sgen", "gen", "storage", "line", "trafo", "ext_grid", "switch")
ELEMENT_PATTERN = rf"^({'|'.join(ELEMENT_TABLES)})/[0-9]+$"
#: the three tiers a communication link joins
TIERS = ("unit", "area", "market")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DATETIME = re.compile(r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([ T].*)?$")
_POLICY_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class KeyPathError(ValueError):
    """A validation error with its key path relative to the model that raised it.

    Parameters
    ----------
    loc : tuple of str or int
        Keys and list indices below the model (``("links", 1, "between")``).
    message : str
        One-line human message.
    """

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def describe(value: Any) -> str:
    """Short description of an input value for error messages."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Config(BaseModel):
    """Base of every scenario section: frozen, unknown keys refused by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def input_keys(cls) -> list[str]:
        """The YAML keys this section accepts."""
        return [field.alias or name for name, field in cls.model_fields.items()
                if not field.exclude]

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, cls):
            return data
        valid = cls.input_keys()
        if not isinstance(data, Mapping):
            raise KeyPathError((), f"expected a mapping with keys {', '.join(valid)}; "
                                   f"got {describe(data)}")
        for key in data:
            if key not in valid:
                raise KeyPathError((key,), f"unknown key {key!r}; valid keys: {', '.join(valid)}")
        return cls._prepare(dict(data), info)

    @classmethod
    def _prepare(cls, data: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Adjust the raw keys of a section before its fields are validated."""
        return data


# ---------------------------------------------------------------- field types
def _duration_type(allow_zero: bool, description: str) -> Any:
    def validate(value: Any) -> int:
        return parse_duration_ms(value, allow_zero=allow_zero)

    return Annotated[
        int, BeforeValidator(validate),
        PlainSerializer(format_duration, return_type=str, when_used="json"),
        WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN,
                        "description": description}),
    ]


class ScenarioJsonSchema(GenerateJsonSchema):
    """JSON Schema generator that writes defaults as a scenario file writes them.

    pydantic applies a field's plain JSON serializer to its default only in
    serialization mode; the scenario schema is a validation schema, so a
    duration default would read ``300000`` (its value in ms) against a
    ``string`` type with a units pattern. Here the serializer is applied in
    validation mode too: durations read ``"5min"``
    (:func:`hierarchy.kernel.durations.format_duration`), ``time.start``
    ``"2016-01-01 00:00:00"``, so that every default validates against its
    own property schema.
    """

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        json_schema = super().default_schema(schema)
        serializer = schema["schema"].get("serialization") or {}
        if ("default" in json_schema and "default" in schema
                and serializer.get("type") == "function-plain"
                and serializer.get("when_used") in ("json", "always")
                and not serializer.get("info_arg")):
            json_schema["default"] = self.encode_default(serializer["function"](schema["default"]))
        return json_schema


#: duration ≥ 0 [ms], written with units ("1s", "0")
Duration = _duration_type(True, "duration with units, e.g. '500ms', '90s', '15min', '3d12h'")
#: duration > 0 [ms]
PositiveDuration = _duration_type(False, "positive duration with units, e.g. '15min', '4h'")

FiniteFloat = Annotated[float, Strict(), AllowInfNan(False)]
Probability = Annotated[FiniteFloat, Field(ge=0.0, le=1.0)]
StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]


def is_datetime_like(value: Any) -> bool:
    """Whether ``value`` is a date, datetime or a string that starts like ``YYYY-MM-DD``."""
    return isinstance(value, (date, datetime)) or (
        isinstance(value, str) and bool(_DATETIME.match(value)))


def to_datetime(value: Any) -> datetime:
    """Read ``"2016-06-01 00:00"`` (ISO 8601), a date or a datetime as a naive datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and _DATETIME.match(value):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a valid date and time") from None
    else:
        raise ValueError(f"expected a date and time such as '2016-06-01 00:00'; "
                         f"got {describe(value)}")
    if moment.tzinfo is not None:
        raise ValueError(f"{value!r} has a time zone; give local time without one")
    return moment


StartTime = Annotated[
    datetime, BeforeValidator(to_datetime),
    PlainSerializer(lambda moment: moment.isoformat(sep=" "), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T].*)?$",
                    "description": "date and time, e.g. '2016-06-01 00:00'"}),
]


def _event_time(value: Any) -> int:
    if is_datetime_like(value):
        raise ValueError("a date and time here needs a valid time.start")
    return parse_duration_ms(value)


#: event time: offset from time.start [ms] (datetimes are converted by the Scenario)
EventTime = Annotated[
    int, BeforeValidator(_event_time),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"anyOf": [
        {"type": "string", "pattern": DURATION_PATTERN},
        {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T].*)?$"}],
        "description": "offset from time.start ('3d12h') or a date and time"}),
]


def element_name(value: Any, tables: tuple[str, ...] = ELEMENT_TABLES) -> str:
    """Check an element name ``table/index`` (``sgen/3``) against the allowed tables."""
    if not isinstance(value, str):
        raise ValueError(f"expected an element name such as '{tables[0]}/3'; got {describe(value)}")
    match = re.match(ELEMENT_PATTERN, value)
    if match is None:
        raise ValueError(f"{value!r} is not an element name: write table/index such as "
                         f"'{tables[0]}/3', table one of {', '.join(ELEMENT_TABLES)}")
    if match.group(1) not in tables:
        raise ValueError(f"{value!r} is not allowed here: expected {' or '.join(tables)}/N")
    return value


def _element_type(tables: tuple[str, ...]) -> Any:
    pattern = rf"^({'|'.join(tables)})/[0-9]+$"
    return Annotated[str, BeforeValidator(lambda value: element_name(value, tables)),
                     WithJsonSchema({"type": "string", "pattern": pattern})]


ElementName = _element_type(ELEMENT_TABLES)
#: what a bus reference may be, for error messages
BUS_FORMS = "bus/N or the plain bus index N (e.g. bus/3 or 3; N is pandapower's bus index, net.bus.index)"


def bus_name(value: Any) -> str:
    """Read a bus reference: ``bus/N`` or the plain pandapower bus index ``N``, as ``"bus/N"``.

    A pandapower user types ``3``, a hiergrid scenario ``bus/3``; both name
    the row of ``net.bus`` whose index is 3 (not its position, not its name).

    Examples
    --------
    >>> bus_name(3), bus_name("bus/3"), bus_name("12")
    ('bus/3', 'bus/3', 'bus/12')
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{value} is not a bus index (they are >= 0); expected {BUS_FORMS}")
        return f"bus/{value}"
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return f"bus/{int(text)}"
        if re.match(r"^bus/[0-9]+$", text):
            return text
    raise ValueError(f"expected {BUS_FORMS}; got {describe(value)}")


BusName = Annotated[str, BeforeValidator(bus_name), WithJsonSchema({"anyOf": [
    {"type": "string", "pattern": r"^(bus)/[0-9]+$"}, {"type": "integer", "minimum": 0}],
    "description": "bus/N or the bus index N"})]
LoadName = _element_type(("load",))
UnitElementName = _element_type(("sgen", "gen", "storage"))
BranchName = _element_type(("line", "trafo"))


def _identifier(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a name; got {describe(value)}")
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a valid name: use letters, digits, '_', '.', '-' "
                         "(it becomes a file or column name)")
    return value


Identifier = Annotated[str, BeforeValidator(_identifier),
                       WithJsonSchema({"type": "string", "pattern": _IDENTIFIER.pattern})]


def policy_name(tier: str) -> Any:
    """Type of a policy name of ``tier``: registered short name or ``package.module:Class``."""

    def validate(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected a policy name; got {describe(value)}")
        if value not in BUILTIN[tier] and not _POLICY_PATH.match(value):
            raise ValueError(f"unknown {tier} policy {value!r}; registered: "
                             f"{', '.join(sorted(BUILTIN[tier]))} (or give package.module:Class)")
        return value

    return Annotated[str, BeforeValidator(validate), WithJsonSchema({"type": "string"})]


def _tier_pair(value: Any) -> Any:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"expected a pair of tiers such as [area, market]; got {describe(value)}")
    return value


TierPair = Annotated[tuple[Literal["unit", "area", "market"], Literal["unit", "area", "market"]],
                     BeforeValidator(_tier_pair)]


def _resolve_path(value: Path | None, info: ValidationInfo) -> Path | None:
    base_dir = (info.context or {}).get("base_dir")
    if value is None or value.is_absolute() or base_dir is None:
        return value
    return Path(base_dir) / value


def _path_text(value: Any) -> Any:
    if not isinstance(value, (str, Path)) or not str(value):
        raise ValueError(f"expected a file path; got {describe(value)}")
    return value


#: a file path, relative to the scenario file (resolved by the validator :func:`_resolve_path`)
FilePath = Annotated[Path, BeforeValidator(_path_text)]


def _time_of_day(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"expected a quoted time \"HH:MM\"; YAML read an unquoted time as the "
                         f"number {value}")
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":" \
            or not (value[:2] + value[3:]).isdigit():
        raise ValueError(f"expected a time \"HH:MM\"; got {describe(value)}")
    if not (int(value[:2]) < 24 and int(value[3:]) < 60 or value == "24:00"):
        raise ValueError(f"{value!r} is not a time of day")
    return value


#: a time of day ``HH:MM`` (``24:00``: the end of the day), kept as text
TimeOfDay = Annotated[str, BeforeValidator(_time_of_day),
                      WithJsonSchema({"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"})]
