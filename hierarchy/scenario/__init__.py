"""Reading scenario files: YAML → a validated, frozen :class:`Scenario`.

* :mod:`~hierarchy.scenario.load`: :func:`load_scenario`, the resolved
  scenario and the one-line :class:`ScenarioError` naming the key path;
* :mod:`~hierarchy.scenario.schema`: the pydantic models of the top-level
  sections (grid, time, profiles, control, frequency, outputs) and the
  shared field types (durations, element and bus names);
* :mod:`~hierarchy.scenario.sections`: the models of areas, units, market,
  tariffs, communication and events.

Nothing here imports pandapower or a tier: a scenario is checked against
the grid itself only when it is built (:mod:`hierarchy.sim.build`).
"""
from hierarchy.scenario.load import (
                                     Scenario,
                                     ScenarioError,
                                     load_scenario,
                                     resolved_dict,
                                     scenario_json_schema,
)

__all__ = ["Scenario", "ScenarioError", "load_scenario", "scenario_json_schema", "resolved_dict"]
