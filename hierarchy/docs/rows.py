"""One row per scenario key and per policy parameter: type, unit, default, meaning.

:func:`schema_rows` walks the JSON Schema the loader validates with
(:func:`hierarchy.scenario.scenario_json_schema`), sections depth first;
:func:`policy_rows` reads the ``defaults`` of every registered unit policy
and area coordinator. Meanings come from the schema's descriptions or from
:mod:`hierarchy.docs.meanings`; a key without one is an error.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from hierarchy.docs.meanings import MEANINGS, PARAM_MEANINGS

__all__ = ["Row", "schema_rows", "policy_rows"]

#: parameters the builder sets itself (not settable in a scenario)
_INTERNAL_PARAMS = {("agc", "period_s")}
_GENERIC = ("positive duration with units", "duration with units", "date and time, e.g.")
_SUFFIX_UNITS = (("_mwh", "MWh"), ("_mw", "MW"), ("_hz", "Hz"), ("_pu", "pu"), ("_percent", "%"),
                 ("_s", "s"), ("_mva", "MVA"), ("price", "per MWh"), ("penalty", "per MWh"),
                 ("otherwise", "per MWh"), ("adder", "per MWh"))


@dataclass(frozen=True)
class Row:
    """One documented key: its path, type, unit, default and meaning."""

    path: str
    type: str
    unit: str
    default: str
    meaning: str


def _deref(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _is_duration(node: dict) -> bool:
    return "duration with units" in node.get("description", "")


def _type(schema: dict, node: dict) -> str:
    if "$ref" in node:
        return "mapping"
    if "const" in node:
        return f"`{_value_text(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            kinds = [_type(schema, n) for n in node[key] if n.get("type") != "null"]
            if node.get("description", "").startswith("offset from"):
                return "duration \\| date/time"
            return " \\| ".join(dict.fromkeys(kinds)) + (" \\| none" if len(kinds) < len(node[key]) else "")
    kind = node.get("type", "any")
    if _is_duration(node):
        return "duration"
    if node.get("description", "").startswith("date and time"):
        return "date/time"
    if kind == "string" and "pattern" in node:
        match = re.fullmatch(r"\^\(([a-z_|]+)\)/\[0-9\]\+\$", node["pattern"])
        tables = match.group(1).split("|") if match else []
        if 0 < len(tables) <= 3:
            return " \\| ".join(f"`{t}/N`" for t in tables)
        if tables:
            return "`table/N`"
    if kind == "array":
        items = node.get("items") or {}
        inner = "mappings" if "$ref" in items or "oneOf" in items else _type(schema, items) if items else "2 values"
        return f"list of {inner}"
    if kind == "object":
        return "mapping"
    return kind + _bounds(node)


def _bounds(node: dict) -> str:
    parts = [f"≥ {node['minimum']:g}" if "minimum" in node else "",
             f"> {node['exclusiveMinimum']:g}" if "exclusiveMinimum" in node else "",
             f"≤ {node['maximum']:g}" if "maximum" in node else ""]
    text = ", ".join(p for p in parts if p)
    return f" ({text})" if text else ""


def _default(node: dict, required: bool) -> str:
    if required:
        return "required"
    if "default" not in node:
        return "—"
    return _value_text(node["default"], _is_duration(node) or _is_duration_any(node))


def _is_duration_any(node: dict) -> bool:
    return any(_is_duration(n) for n in node.get("anyOf", []))


def _value_text(value: Any, duration: bool = False) -> str:
    from hierarchy.kernel.durations import format_duration

    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if duration and isinstance(value, int):
        return format_duration(value)
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _unit(name: str, node: dict) -> str:
    match = re.search(r"\[([^\]]+)\]", node.get("description", ""))
    if match:
        return match.group(1)
    if _is_duration(node) or _is_duration_any(node):
        return "ms, s, min, h, d"
    return next((unit for suffix, unit in _SUFFIX_UNITS if name.endswith(suffix)), "")


def _meaning(path: str, node: dict) -> str:
    for key in (path, re.sub(r"\[kind=\w+\]", "[kind=*]", path)):
        if key in MEANINGS:
            return MEANINGS[key]
    if "const" in node:
        return "Selects this variant."
    text = re.sub(r"\s*\[[^\]]*\]", "", node.get("description", "")).strip()
    if not text or text.startswith(_GENERIC):
        raise ValueError(f"scenario key {path!r} has no meaning: give its schema field a description "
                         "or add it to MEANINGS in hierarchy/docs/meanings.py")
    return " ".join(text.replace("``", "`").split("\n\n")[0].split())


def _walk(schema: dict, model: dict, prefix: str, rows: list[Row]) -> None:
    model = _deref(schema, model)
    required = set(model.get("required", []))
    for name, node in model.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        target = _deref(schema, node)
        rows.append(Row(path, _type(schema, node), _unit(name, node), _default(node, name in required),
                        _meaning(path, target if "$ref" in node and path not in MEANINGS else node)))
        _children(schema, node, path, rows)


def _children(schema: dict, node: dict, path: str, rows: list[Row]) -> None:
    if "$ref" in node:
        _walk(schema, node, path, rows)
        return
    items = node.get("items") if node.get("type") == "array" else None
    values = node.get("additionalProperties") if isinstance(node.get("additionalProperties"), dict) else None
    inner, inner_path = (items, f"{path}[]") if items else (values, f"{path}.<class>") if values else (None, "")
    if inner is not None and "oneOf" in inner:
        if values is not None:
            rows.append(Row(inner_path, "mapping", "", "—", _meaning(inner_path, inner)))
        for variant in inner["oneOf"]:
            kind = _deref(schema, variant)["properties"]["kind"]["const"]
            _walk(schema, variant, f"{inner_path.removesuffix('[]')}[kind={kind}]", rows)
    elif inner is not None and "$ref" in inner:
        _walk(schema, inner, inner_path, rows)
    for variant in node.get("oneOf", []) + node.get("anyOf", []):  # anyOf: an optional section
        if "$ref" in variant:
            _walk(schema, variant, path, rows)


def schema_rows() -> list[Row]:
    """A row per key of the scenario schema, in schema order (sections depth first)."""
    from hierarchy.scenario import scenario_json_schema

    schema = scenario_json_schema()
    rows: list[Row] = []
    _walk(schema, schema, "", rows)
    return rows


def policy_rows() -> dict[tuple[str, str], list[Row]]:
    """(tier, registered name) → a row per parameter of that policy's ``params``."""
    from hierarchy.kernel import registry
    from hierarchy.sim.wiring import GROUP_PARAMS

    out: dict[tuple[str, str], list[Row]] = {}
    for tier in ("unit", "area"):
        for name in registry.names(tier):
            cls = registry.resolve(tier, name)
            params = {**GROUP_PARAMS, **dict(cls.defaults)} if tier == "unit" else dict(cls.defaults)
            if tier == "unit" and "h_s" not in cls.defaults:
                params.pop("h_s", None)
            rows = []
            for key, default in params.items():
                if (name, key) in _INTERNAL_PARAMS:
                    continue
                meaning = PARAM_MEANINGS.get(f"{name}.{key}") or PARAM_MEANINGS.get(f"*.{key}")
                if meaning is None:
                    raise ValueError(f"parameter {key!r} of {tier} policy {name!r} has no meaning: "
                                     "add it to PARAM_MEANINGS in hierarchy/docs/meanings.py")
                unit = next((m for m in re.finditer(r"\s*\[([^\]]+)\]", meaning)
                             if meaning[:m.start()].count("`") % 2 == 0), None)  # not inside `code`
                text = meaning[:unit.start()] + meaning[unit.end():] if unit else meaning
                rows.append(Row(key, "", unit.group(1) if unit else _unit(key, {}), _value_text(default), text))
            out[(tier, name)] = rows
    return out
