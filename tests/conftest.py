"""Shared fixtures: small scenarios and one quickstart run per session."""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

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
