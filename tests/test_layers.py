"""The architecture holds: parts of the kernel import only parts below them, tiers only messages.

``hierarchy/`` is layered (docs/architecture.md); a module may import its own
part and the parts below it, never a part above. Imports inside functions
and under ``TYPE_CHECKING`` count too: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIERS = ("unit_control", "area_control", "market_control")
#: part of hierarchy/ -> rank; a module may import parts of equal or lower rank
RANK = {
    "messages": 0, "kernel": 0,   # the tiers' vocabulary; time, links, registry
    "scenario": 1,                # YAML -> validated Scenario
    "plant": 2,                   # the grid: pandapower, power flow, frequency
    "sim": 3,                     # build a runtime, run the engine, record
    "outputs": 4,                 # summary, tables, plots, comparison
    "api": 5,                     # hierarchy.run
    "sweep": 6,                   # many runs
    "cli": 7, "docs": 7, "compare": 7, "__init__": 7,  # entry points
    "coupling": 7, "gym_env": 7,  # control from outside: stepped runs, Gymnasium, mosaik
}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_of(file: Path) -> str:
    rel = file.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1 and parts[-2] != "hierarchy":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(file: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
            if node.module == "hierarchy":  # from hierarchy import api
                found += [f"hierarchy.{alias.name}" for alias in node.names]
    return found


KERNEL_FILES = sorted((ROOT / "hierarchy").rglob("*.py"))


def test_every_module_of_the_kernel_has_a_part():
    parts = {_part(_module_of(f)) for f in KERNEL_FILES}
    assert parts <= set(RANK), f"parts without a rank: {sorted(parts - set(RANK))}"
    assert len(KERNEL_FILES) > 30


def _upward(own: str, names: list[str]) -> list[str]:
    """The imports among ``names`` that a module of part ``own`` may not make."""
    bad = []
    for name in names:
        if name.split(".")[0] in TIERS and RANK[own] < RANK["sim"]:
            bad.append(name)  # below the builder, nothing knows the tiers
        elif name.startswith("hierarchy.") and RANK[_part(name)] > RANK[own]:
            bad.append(name)
    return bad


@pytest.mark.parametrize("file", KERNEL_FILES, ids=lambda f: str(f.relative_to(ROOT)))
def test_no_part_imports_a_part_above_it(file):
    own = _part(_module_of(file))
    assert _upward(own, _imports(file)) == [], f"{file.relative_to(ROOT)} is in part {own!r}"


@pytest.mark.parametrize("tier", TIERS)
def test_tiers_import_no_other_tier_and_only_the_messages_of_the_kernel(tier):
    for file in sorted((ROOT / tier).rglob("*.py")):
        for name in _imports(file):
            top = name.split(".")[0]
            assert top not in set(TIERS) - {tier}, f"{file.name} imports {name}"
            assert top not in ("pandapower", "simpy", "simbench"), f"{file.name} imports {name}"
            if top == "hierarchy":
                assert name == "hierarchy.messages", f"{file.name} imports {name}"


def test_importing_the_kernel_loads_no_physics_and_no_tier():
    code = ("import sys, hierarchy, hierarchy.messages, hierarchy.kernel.clock, "
            "hierarchy.kernel.links, hierarchy.kernel.registry, hierarchy.scenario, "
            "hierarchy.sim.engine, hierarchy.sim.build, hierarchy.sim.recorder; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('pandapower', 'simbench', 'lightsim2grid', 'unit_control', 'area_control', 'market_control')]; "
            "print(bad)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_rule_catches_upward_imports(tmp_path):
    """The check itself can fail: lazy and TYPE_CHECKING imports upward are found."""
    file = tmp_path / "bad.py"
    file.write_text("from typing import TYPE_CHECKING\n"
                    "from hierarchy.kernel.clock import tick\n"
                    "if TYPE_CHECKING:\n    from hierarchy.sim.build import Runtime\n"
                    "def f():\n    import market_control.auction\n"
                    "    from hierarchy import api\n")
    assert sorted(_upward("scenario", _imports(file))) == [
        "hierarchy.api", "hierarchy.sim.build", "market_control.auction"]
    assert _upward("cli", _imports(file)) == []
