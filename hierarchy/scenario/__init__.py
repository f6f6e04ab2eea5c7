"""Reading scenario files: YAML → a validated, frozen :class:`Scenario`.

* :mod:`~hierarchy.scenario.load`: :func:`load_scenario`, the resolved
  scenario and the one-line :class:`ScenarioError` naming the key path;
* :mod:`~hierarchy.scenario.schema`: the base model and the shared field
  types (durations, times of day, element and bus names, policy names);
* :mod:`~hierarchy.scenario.run_settings`: the sections that set up the
  run (grid, time, profiles, control, frequency, outputs);
* :mod:`~hierarchy.scenario.sections`: areas, units, communication, events;
* :mod:`~hierarchy.scenario.market`: the market section and its tariffs;
  :mod:`~hierarchy.scenario.market_stages` its day-ahead stage, continuous
  trading and forecasts, :mod:`~hierarchy.scenario.security` its security
  check and customer classes;
* :mod:`~hierarchy.scenario.additions`: the elements a scenario adds.

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
