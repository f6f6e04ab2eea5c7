"""Load and validate scenario files (DESIGN.md, "Scenario file (v1)").

A scenario is YAML. :func:`load_scenario` reads it safely, validates it
into a frozen :class:`Scenario` whose attribute names are the YAML keys,
and reports any problem as one :class:`ScenarioError` that names the key
path (``areas[1].coordinator.period: '5 minutes' is not a duration ...``).

Resolved values:

* durations are ``int`` milliseconds under the same names
  (``scenario.time.step``), ``time.start`` is a ``datetime``;
* ``events[].at`` given as a date and time becomes an offset from
  ``time.start`` [ms];
* ``grid.path`` and ``profiles.path`` are made absolute against the
  scenario file's folder (:attr:`Scenario.base_dir`);
* ``areas`` empty or missing: one area ``grid`` holding all buses
  (``buses: rest``);
* ``communication.links[]`` without ``latency`` or ``loss`` take
  ``communication.default``'s;
* ``outputs.dir`` missing: ``results/<name>`` (relative to the working
  folder, like the CLI's ``--out``);
* ``add`` (added key): elements created in the grid before it is wired
  (:mod:`hierarchy.scenario.additions`);
* ``market.upstream`` (added key): the upstream grid as a market
  participant with ``import_price``/``export_price`` [per MWh] and
  ``import_limit_mw``/``export_limit_mw`` [MW];
* tariff bodies stay plain dicts, validated and with defaults filled.

Examples
--------
>>> scenario = load_scenario({"name": "demo", "grid": {"source": "simbench", "code": "x"},
...                           "time": {"duration": "1d", "step": "15min"}})
>>> scenario.time.step, scenario.areas[0].id, str(scenario.outputs.dir)
(900000, 'grid', 'results/demo')
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from hierarchy.kernel.durations import format_duration
from hierarchy.scenario.market_stages import ForecastConfig
from hierarchy.scenario.additions import AddConfig
from hierarchy.scenario.market import TARIFF_KINDS, MarketConfig
from hierarchy.scenario.run_settings import (
    ControlConfig,
    FrequencyConfig,
    GridConfig,
    OutputsConfig,
    ProfilesConfig,
    TimeConfig,
)
from hierarchy.scenario.schema import (
    Config,
    Identifier,
    KeyPathError,
    StrictInt,
    describe,
    is_datetime_like,
    to_datetime,
)
from hierarchy.scenario.sections import (
    EVENT_KINDS,
    AreaConfig,
    CommunicationConfig,
    Event,
    UnitConfig,
)

__all__ = ["Scenario", "ScenarioError", "load_scenario", "scenario_json_schema", "resolved_dict"]


class ScenarioError(ValueError):
    """An invalid scenario: ``str(error)`` is ``"<key path>: <message>"``.

    Attributes
    ----------
    path : str
        Key path such as ``areas[1].coordinator.period``; ``<scenario>`` for
        the document itself, ``line L, column C`` for YAML syntax errors.
    message : str
        One-line human message.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class Scenario(Config):
    """A validated scenario; attribute names are the YAML keys of DESIGN.md."""

    name: Identifier
    seed: StrictInt = Field(0, ge=0)
    grid: GridConfig
    time: TimeConfig
    profiles: ProfilesConfig = Field(default_factory=ProfilesConfig)
    forecast: ForecastConfig = Field(default_factory=ForecastConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    frequency: FrequencyConfig = Field(default_factory=FrequencyConfig)
    add: tuple[AddConfig, ...] = ()
    areas: tuple[AreaConfig, ...] = Field((), validate_default=True)
    units: tuple[UnitConfig, ...] = ()
    market: MarketConfig = Field(default_factory=MarketConfig)
    communication: CommunicationConfig = Field(default_factory=CommunicationConfig)
    events: tuple[Event, ...] = ()
    outputs: OutputsConfig = Field(default_factory=OutputsConfig, validate_default=True)
    #: folder that relative paths were resolved against (not a YAML key)
    base_dir: SkipJsonSchema[Path | None] = Field(None, exclude=True)

    @classmethod
    def _prepare(cls, data: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        base_dir = (info.context or {}).get("base_dir")
        return data if base_dir is None else {**data, "base_dir": Path(base_dir)}

    @field_validator("areas")
    @classmethod
    def _default_area(cls, areas: tuple[AreaConfig, ...]) -> tuple[AreaConfig, ...]:
        return areas or (AreaConfig(id="grid", buses="rest"),)

    @field_validator("outputs")
    @classmethod
    def _default_dir(cls, outputs: OutputsConfig, info: ValidationInfo) -> OutputsConfig:
        name = info.data.get("name")
        if outputs.dir is not None or name is None:
            return outputs
        return outputs.model_copy(update={"dir": Path("results") / name})

    @field_validator("events", mode="before")
    @classmethod
    def _event_datetimes(cls, events: Any, info: ValidationInfo) -> Any:
        time = info.data.get("time")
        if time is None or not isinstance(events, (list, tuple)):
            return events
        return [_offset_event(index, event, time.start) for index, event in enumerate(events)]

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        _check_areas(self.areas)
        for index, first in _first_seen([entry.name for entry in self.add]).items():
            raise KeyPathError(("add", index, "name"), f"duplicate name {self.add[index].name!r} "
                                                       f"(also add[{first}])")
        _check_units(self.units, [area.id for area in self.areas])
        for index, event in enumerate(self.events):
            if event.at >= self.time.duration:
                raise KeyPathError(("events", index, "at"), (
                    f"{format_duration(event.at)} is not inside the run "
                    f"(time.duration {format_duration(self.time.duration)})"))
        if self.profiles.source == "simbench" and self.grid.source == "pandapower":
            raise KeyPathError(("profiles", "source"), "simbench profiles need grid.source "
                                                       "simbench (or a file saved from a SimBench "
                                                       "net, with its net.profiles)")
        return self


def _offset_event(index: int, event: Any, start: datetime) -> Any:
    """Write an event's ``at`` given as a date and time as an offset from ``start``."""
    if not isinstance(event, Mapping) or not is_datetime_like(event.get("at")):
        return event
    try:
        moment = to_datetime(event["at"])
    except ValueError as exc:
        raise KeyPathError((index, "at"), str(exc)) from None
    offset_ms = round((moment - start).total_seconds() * 1000)
    if offset_ms < 0:
        raise KeyPathError((index, "at"), f"{moment} is before time.start ({start})")
    return {**event, "at": format_duration(offset_ms)}


def _first_seen(values: list[Any]) -> dict[int, int]:
    """Map the index of every repeated value to the index of its first occurrence."""
    first: dict[Any, int] = {}
    repeats = {}
    for index, value in enumerate(values):
        if value in first:
            repeats[index] = first[value]
        first.setdefault(value, index)
    return repeats


def _check_areas(areas: tuple[AreaConfig, ...]) -> None:
    for index, first in _first_seen([area.id for area in areas]).items():
        raise KeyPathError(("areas", index, "id"),
                           f"duplicate area id {areas[index].id!r} (also areas[{first}])")
    rest = [index for index, area in enumerate(areas) if area.buses == "rest"]
    if len(rest) > 1:
        raise KeyPathError(("areas", rest[1], "buses"),
                           f"only one area can take the rest of the buses (also areas[{rest[0]}])")
    owner: dict[str, int] = {}
    for index, area in enumerate(areas):
        for bus in area.buses if isinstance(area.buses, tuple) else ():
            if bus in owner:
                raise KeyPathError(("areas", index, "buses"),
                                   f"{bus} is already in areas[{owner[bus]}]")
            owner[bus] = index


def _check_units(units: tuple[UnitConfig, ...], area_ids: list[str]) -> None:
    for index, first in _first_seen([unit.id for unit in units]).items():
        raise KeyPathError(("units", index, "id"),
                           f"duplicate unit id {units[index].id!r} (also units[{first}])")
    owner: dict[str, int] = {}
    for index, unit in enumerate(units):
        if unit.area is not None and unit.area not in area_ids:
            raise KeyPathError(("units", index, "area"),
                               f"unknown area {unit.area!r}; areas: {', '.join(area_ids)}")
        for element in unit.elements if isinstance(unit.elements, tuple) else ():
            if element in owner:
                raise KeyPathError(("units", index, "elements"),
                                   f"{element} is already in units[{owner[element]}]")
            owner[element] = index


# ---------------------------------------------------------------- errors
_TYPE_MESSAGES = {
    "missing": "required key is missing",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "finite_number": "expected a finite number",
}
_BOUNDS = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
           "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}


def _clean_loc(loc: tuple[Any, ...], data: Any, missing: bool) -> list[Any]:
    """Keep the parts of a pydantic error location that are keys or indices of ``data``.

    Pydantic puts the tag of a union member (``'load_step'``, ``'list'``) in
    the location; such parts are not in the input and are dropped.
    """
    cleaned: list[Any] = []
    node = data
    for position, part in enumerate(loc):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and isinstance(part, int) \
                and not isinstance(part, bool) and -len(node) <= part < len(node):
            node = node[part]
        elif not (missing and position == len(loc) - 1):
            continue
        cleaned.append(part)
    return cleaned


def _format_path(parts: list[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<scenario>"


def _message(error: Mapping[str, Any], parts: list[Any]) -> str:
    kind, ctx, msg = error["type"], error.get("ctx") or {}, error["msg"]
    if kind in ("value_error", "assertion_error"):
        return msg.split(", ", 1)[1] if msg.startswith(("Value error, ", "Assertion")) else msg
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        kinds = EVENT_KINDS if parts[:1] == ["events"] else TARIFF_KINDS
        found = f"unknown kind {ctx['tag']!r}" if "tag" in ctx else "required key is missing"
        return f"{found}; expected one of {', '.join(kinds)}"
    if kind == "literal_error":
        text = f"expected {ctx['expected']}"
    elif kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        text = f"must be {words} {ctx[key]}"
    elif kind == "too_short":
        text = "must not be empty"
    elif error["loc"][-1:] == ("[key]",):
        text = "keys must be strings"
    else:
        text = _TYPE_MESSAGES.get(kind, msg)
    if kind in ("missing", "too_short"):
        return text
    return f"{text}; got {describe(error.get('input'))}"


def error_from_validation(exc: ValidationError, data: Any) -> ScenarioError:
    """Turn the first error of a pydantic ``ValidationError`` into a :class:`ScenarioError`."""
    error = exc.errors(include_url=False)[0]
    parts = _clean_loc(error["loc"], data, missing=error["type"] == "missing")
    inner = (error.get("ctx") or {}).get("error")
    if isinstance(inner, KeyPathError):
        return ScenarioError(_format_path([*parts, *inner.loc]), inner.message)
    message = _message(error, parts)
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        parts.append("kind")
    return ScenarioError(_format_path(parts), message)


# ---------------------------------------------------------------- loading
class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: SafeLoader reports it below
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(file: Path) -> Any:
    """Read a YAML file safely (no Python tags); errors as :class:`ScenarioError`."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(file), f"cannot read the scenario file: {exc}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else str(file)
        problem = exc.problem or exc.context or "syntax error"
        raise ScenarioError(where, f"invalid YAML in {file.name}: {problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(str(file), f"invalid YAML: {exc}") from None


def load_scenario(source: str | os.PathLike | Mapping, *,
                  base_dir: str | os.PathLike | None = None) -> Scenario:
    """Read and validate a scenario.

    Parameters
    ----------
    source : str or os.PathLike or Mapping
        Path of a YAML file, or an already parsed mapping (validated as is).
    base_dir : str or os.PathLike, optional
        Folder that relative paths are resolved against; default: the YAML
        file's folder, or the working folder for a mapping.

    Returns
    -------
    Scenario
        The validated scenario, defaults filled in, durations in [ms].

    Raises
    ------
    ScenarioError
        One error naming the key path of the first problem found.
    """
    if isinstance(source, Mapping):
        data: Any = source
        folder = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        file = Path(source)
        data = _read_yaml(file)
        folder = Path(base_dir) if base_dir is not None else file.resolve().parent
    try:
        return Scenario.model_validate(data, context={"base_dir": folder.resolve()})
    except ValidationError as exc:
        raise error_from_validation(exc, data) from None


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the scenario format, for ``hiergrid schema``.

    Defaults are written as in a scenario file (durations with units).
    """
    from hierarchy.scenario.schema import ScenarioJsonSchema

    schema = Scenario.model_json_schema(mode="validation", schema_generator=ScenarioJsonSchema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://hiergrid.org/schema/scenario-v1.json",
            **schema, "title": "hiergrid scenario (v1)"}


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain YAML-able data, defaults filled in, durations with units.

    Loading the result again gives the same scenario.
    """
    return scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
