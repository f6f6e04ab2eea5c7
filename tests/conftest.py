"""Shared fixtures: small scenarios and one quickstart run per session."""
from __future__ import annotations

import copy
import uuid
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def quickstart_dict() -> dict:
    """The quickstart scenario as a mapping (a fresh copy)."""
    data = yaml.safe_load((SCENARIOS / "quickstart.yaml").read_text())
    data["outputs"] = {"dir": "unused", "plots": False}
    return copy.deepcopy(data)


@pytest.fixture(scope="session")
def quickstart_run():
    """One traced quickstart run without files, shared by the tests that only read it."""
    import hierarchy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hierarchy.run(quickstart_dict(), write=False, trace=True)


def scenario_locations(node: Any, path: tuple = ()) -> list[tuple]:
    """Every key path in a scenario mapping (dict keys and list indices), root first."""
    found = [path]
    children = (node.items() if isinstance(node, dict)
                else enumerate(node) if isinstance(node, list) else ())
    for key, child in children:
        found += scenario_locations(child, (*path, key))
    return found


def importable_module(tmp_path: Path, monkeypatch, prefix: str, source: str) -> str:
    """Write ``source`` as a uniquely named module on ``sys.path``; return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


#: summary keys that differ between two equal runs (wall-clock time)
_WALL = ("wall_s", "steps_per_s")


def assert_same_results(first, second) -> None:
    """Every table, the events and the summary (but wall-clock time) equal, bit for bit."""
    assert first.frame_names == second.frame_names
    for name in first.frame_names:
        pd.testing.assert_frame_equal(first.frame(name), second.frame(name), check_exact=True,
                                      obj=name)
    pd.testing.assert_frame_equal(first.events, second.events, check_exact=True)
    one, two = (copy.deepcopy(r.summary) for r in (first, second))
    for summary in (one, two):
        for key in _WALL:
            summary["runtime"].pop(key)
    assert one == two
