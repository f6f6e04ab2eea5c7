"""Sweep files: a base scenario and the scenario keys to vary.

A sweep file is YAML::

    base: quickstart.yaml          # relative to the sweep file's folder
    mode: grid                     # grid (every combination, default) | zip
    set:                           # optional: fixed changes to the base
      outputs.plots: false
    vary:                          # dotted key path -> list of values
      seed: [1, 2, 3]
      units[0].policy: [volt_var, const_pf]
      communication.default.latency: [1s, 10s]

A key path names a scenario key by its dotted path, list items by index
(``units[0].params.curve``); the same notation as the key paths of
:class:`~hierarchy.scenario.ScenarioError`. ``mode: grid`` runs the
Cartesian product of the value lists (the first key varies slowest, like
:func:`itertools.product`); ``mode: zip`` runs the i-th values of all keys
together (all lists must have the same length).

:func:`expand_sweep` validates every run's scenario with
:func:`~hierarchy.scenario.load_scenario` before anything runs, so that a bad
key path or value fails the whole sweep at once, naming it
(``vary.units[7].policy: units has 3 items``).

This module imports neither pandapower nor any tier.

Examples
--------
>>> parse_key_path("units[0].params.curve")
('units', 0, 'params', 'curve')
>>> data = {"units": [{"policy": "volt_var"}]}
>>> set_key_path(data, "units[0].policy", "const_pf")
>>> data
{'units': [{'policy': 'const_pf'}]}
"""
from __future__ import annotations

import copy
import itertools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hierarchy.scenario.load import Scenario, ScenarioError, _read_yaml, load_scenario

__all__ = ["Sweep", "SweepRun", "load_sweep", "expand_sweep", "parse_key_path", "set_key_path",
           "is_sweep_file", "blame"]

SWEEP_KEYS = ("base", "mode", "set", "vary")
MODES = ("grid", "zip")
_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[[0-9]+\])*)")
_INDEX = re.compile(r"\[([0-9]+)\]")


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file.

    Attributes
    ----------
    base : pathlib.Path
        Absolute path of the base scenario file.
    mode : str
        ``grid`` or ``zip``.
    vary : dict
        Key path -> list of values, in file order.
    fixed : dict
        Key path -> value, set on the base before the varied keys (``set:``).
    """

    base: Path
    mode: str
    vary: dict[str, list[Any]]
    fixed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep.

    Attributes
    ----------
    run_id : str
        Name of its folder under the sweep folder (``run_003``).
    values : dict
        Varied key path -> its value in this run.
    mapping : dict
        The scenario as a plain mapping (base, ``set`` and ``values`` applied).
    scenario : Scenario
        ``mapping`` validated against the base scenario's folder.
    """

    run_id: str
    values: dict[str, Any]
    mapping: dict[str, Any]
    scenario: Scenario


def parse_key_path(path: str) -> tuple[str | int, ...]:
    """Split a dotted key path (``units[0].params.curve``) into keys and indices.

    Raises
    ------
    ValueError
        If ``path`` is not keys joined by dots, each optionally followed by
        ``[index]``.
    """
    parts: list[str | int] = []
    for segment in path.split(".") if isinstance(path, str) else [""]:
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise ValueError(f"{path!r} is not a key path; write e.g. seed, "
                             "units[0].policy or communication.default.latency")
        parts.append(match.group(1))
        parts.extend(int(index) for index in _INDEX.findall(match.group(2)))
    return tuple(parts)


def _format(parts: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p)
                   for i, p in enumerate(parts))


def set_key_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set the key at ``path`` in a nested scenario mapping, in place.

    Missing mappings along the way are created (``communication.default``
    in a scenario without ``communication``); list items must exist.

    Raises
    ------
    ValueError
        If the path is malformed, an index is past the end of its list, or a
        part of the path runs into a value that is not a mapping or list.
    """
    parts = parse_key_path(path)
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = _format(parts[:depth]) or "the scenario"
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ValueError(f"{where} is not a list")
            if part >= len(node):
                raise ValueError(f"{where} has {len(node)} item{'s' * (len(node) != 1)}")
        elif not isinstance(node, dict):
            raise ValueError(f"{where} is not a mapping")
        elif not last and node.get(part) is None:
            node[part] = {} if isinstance(parts[depth + 1], str) else []
        if last:
            node[part] = copy.deepcopy(value)
        else:
            node = node[part]


def _check_file(data: Any) -> None:
    if not isinstance(data, Mapping):
        raise ScenarioError("<sweep>", "expected a mapping with keys " + ", ".join(SWEEP_KEYS))
    for key in data:
        if key not in SWEEP_KEYS:
            raise ScenarioError(str(key), f"unknown key {key!r}; valid keys: {', '.join(SWEEP_KEYS)}")
    if not isinstance(data.get("base"), str) or not data["base"]:
        raise ScenarioError("base", "required: the base scenario file, relative to the sweep file")
    if data.get("mode", "grid") not in MODES:
        raise ScenarioError("mode", f"expected one of {', '.join(MODES)}; got {data['mode']!r}")
    for section in ("vary", "set"):
        if not isinstance(data.get(section) or {}, Mapping):
            raise ScenarioError(section, "expected a mapping of key paths")
    vary = data.get("vary") or {}
    if not vary:
        raise ScenarioError("vary", "required: at least one key path with a list of values")
    for key in {**(data.get("set") or {}), **vary}:
        section = "vary" if key in vary else "set"
        try:
            parse_key_path(key)
        except ValueError as exc:
            raise ScenarioError(f"{section}.{key}", str(exc)) from None
    for key, values in vary.items():
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"vary.{key}", "expected a non-empty list of values")
    lengths = {len(values) for values in vary.values()}
    if data.get("mode") == "zip" and len(lengths) > 1:
        raise ScenarioError("vary", "mode zip needs value lists of one length; got "
                            + ", ".join(f"{k}: {len(v)}" for k, v in vary.items()))


def is_sweep_file(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is YAML holding a mapping with ``base`` and ``vary``
    (a sweep file rather than a scenario); False for anything else."""
    try:
        data = _read_yaml(Path(path))
    except ScenarioError:
        return False
    return isinstance(data, Mapping) and "base" in data and "vary" in data


def load_sweep(path: str | os.PathLike[str]) -> Sweep:
    """Read and check a sweep file (not yet its scenarios: see :func:`expand_sweep`).

    Raises
    ------
    ScenarioError
        Naming the key of the first problem (``vary.seed: expected a
        non-empty list of values``).
    """
    file = Path(path)
    data = _read_yaml(file)
    _check_file(data)
    base = (file.resolve().parent / data["base"]).resolve()
    if not base.is_file():
        raise ScenarioError("base", f"{data['base']!r}: no such file (looked for {base})")
    return Sweep(base=base, mode=data.get("mode", "grid"), vary=dict(data["vary"]),
                 fixed=dict(data.get("set") or {}))


def combinations(sweep: Sweep) -> list[dict[str, Any]]:
    """The varied values of each run, in run order."""
    keys = list(sweep.vary)
    rows = (itertools.product(*sweep.vary.values()) if sweep.mode == "grid"
            else zip(*sweep.vary.values()))
    return [dict(zip(keys, row)) for row in rows]


def blame(error: ScenarioError, values: dict[str, Any], fixed: dict[str, Any],
           run_id: str) -> ScenarioError:
    """Re-address a scenario error to the sweep key that caused it."""
    try:
        error_parts = parse_key_path(error.path)
    except ValueError:
        error_parts = ()
    for section, keys in (("vary", values), ("set", fixed)):
        for key in keys:
            parts = parse_key_path(key)
            n = min(len(parts), len(error_parts))
            if n and parts[:n] == error_parts[:n]:
                detail = error.message if error_parts == parts else str(error)
                value = keys[key]
                shown = repr(value) in detail or str(value) in detail
                return ScenarioError(f"{section}.{key}",
                                     detail if shown else f"{detail} (value {value!r})")
    combination = ", ".join(f"{k}={v!r}" for k, v in values.items())
    return ScenarioError("vary", f"{run_id} ({combination}): {error}")


def expand_sweep(sweep: Sweep) -> list[SweepRun]:
    """Every run of a sweep, each scenario set up and validated.

    Returns
    -------
    list of SweepRun
        In run order; run ids ``run_000``, ``run_001`` ... (zero-padded to
        the width of the largest).

    Raises
    ------
    ScenarioError
        For the first run whose scenario is invalid; the path names the sweep
        key (``vary.units[0].policy: unknown unit policy 'x' ...``).
    """
    base = _read_yaml(sweep.base)
    if not isinstance(base, dict):
        raise ScenarioError("base", f"{sweep.base.name} is not a scenario mapping")
    rows = combinations(sweep)
    width = max(3, len(str(len(rows) - 1)))
    runs = []
    for index, values in enumerate(rows):
        run_id = f"run_{index:0{width}d}"
        mapping = copy.deepcopy(base)
        for section, keys in (("set", sweep.fixed), ("vary", values)):
            for key, value in keys.items():
                try:
                    set_key_path(mapping, key, value)
                except ValueError as exc:
                    raise ScenarioError(f"{section}.{key}", str(exc)) from None
        try:
            scenario = load_scenario(mapping, base_dir=sweep.base.parent)
        except ScenarioError as exc:
            raise blame(exc, values, sweep.fixed, run_id) from None
        runs.append(SweepRun(run_id, values, mapping, scenario))
    return runs
