"""hiergrid's kernel: clock, messages, links, registry, scenario, engine, recorder.

``hierarchy.run(path_or_scenario) -> Result`` runs a scenario (see
:mod:`hierarchy.api`). Importing this package imports neither pandapower nor
a tier package; they are loaded when a run is built.
"""
from __future__ import annotations

__all__ = ["run", "Result", "load_scenario", "ScenarioError"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("run", "Result"):
        from hierarchy import api

        return getattr(api, name)
    if name in ("load_scenario", "ScenarioError"):
        from hierarchy import scenario

        return getattr(scenario, name)
    raise AttributeError(f"module 'hierarchy' has no attribute {name!r}")
