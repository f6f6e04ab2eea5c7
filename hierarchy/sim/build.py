"""The builder: a validated scenario becomes a wired :class:`~hierarchy.sim.runtime.Runtime`.

Configuration flows one way: YAML → :class:`~hierarchy.scenario.Scenario`
→ plain constructor arguments. The builder loads the network and profiles,
assigns buses to areas, constructs every policy, coordinator and market,
and wires them with links. Everything that can only be checked against the
grid (elements, buses, policy/element fit) is checked here and raised as a
:class:`~hierarchy.scenario.ScenarioError` naming the key path.

The steps that need the grid are in :mod:`hierarchy.sim.wiring` (areas,
coordinators) and :mod:`hierarchy.sim.wiring_units` (unit groups); the
market's, from its mechanism to its forecast service and security check,
in :mod:`hierarchy.sim.wiring_market`.
"""
from __future__ import annotations

import re

import numpy as np
import simpy

from hierarchy.kernel.links import Link
from hierarchy.scenario import Scenario, ScenarioError
from hierarchy.sim.area_meters import AreaMeters
from hierarchy.sim.runtime import AreaRuntime, Runtime
from hierarchy.sim.wiring import (
    area_net_export_matrices,
    assign_areas,
    build_groups,
    check_event_targets,
    coordinator_for,
    group_infos,
)
from hierarchy.sim.wiring_market import market_for, stages_for, wire_market_services

__all__ = ["build"]

TIERS = ("unit", "area", "market")
#: the key that names the grid for each grid.source
_GRID_KEY = {"simbench": "code", "pandapower": "name", "file": "path"}


def build(scenario: Scenario, trace: bool = False) -> Runtime:
    """Wire a run from a validated scenario.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    trace : bool
        Keep a trace of every message (sent, lost, delivered) for tests.

    Returns
    -------
    Runtime

    Raises
    ------
    ScenarioError
        If the scenario does not fit the grid.
    """
    from hierarchy.plant.plant import Plant
    from hierarchy.sim.additions import apply_additions
    from hierarchy.sim.recorder import Recorder

    net, profiles = _grid_and_profiles(scenario)
    profiles, added = apply_additions(scenario, net, profiles)
    check_event_targets(net, scenario.events)
    area_ids, area_of_bus = assign_areas(net, scenario.areas)
    plant = Plant(net, profiles, backend=scenario.grid.solver)
    groups = build_groups(scenario, net, plant, area_of_bus)
    env = simpy.Environment()
    trace_list: list | None = [] if trace else None
    links = _links(scenario, env, np.random.default_rng(scenario.seed), trace_list)
    market = market_for(scenario)
    areas = _areas(scenario, env, area_ids, groups, net, area_of_bus)
    rt = _runtime(scenario, env, plant, groups, areas, area_of_bus, links, market, trace_list)
    rt.frequency = _grid_frequency(scenario, plant, groups, area_of_bus, area_ids)
    rt.frequency_step_ms = int(scenario.frequency.step)
    rt.stages = stages_for(scenario, rt)
    rt.added = added
    rt.recorder = Recorder(rt)
    rt.frequency.on_event = rt.recorder.event
    wire_market_services(rt)
    return rt


def _n_steps(scenario: Scenario) -> int:
    return int(scenario.time.duration // scenario.time.step)


def _grid_and_profiles(scenario: Scenario):
    """The pandapower net and its profiles; a failure to load either as a ScenarioError."""
    from hierarchy.plant.network import load_net
    from hierarchy.plant.profiles import build_profiles

    grid, time = scenario.grid, scenario.time
    try:
        net = load_net(grid.source, code=grid.code, name=grid.name, options=grid.options,
                       path=grid.path)
    except (ValueError, OSError) as exc:
        raise _section_error("grid", exc, f"grid.{_GRID_KEY[grid.source]}") from None
    try:
        profiles = build_profiles(net, scenario.profiles.source, time.start, time.step, _n_steps(scenario),
                                  scenario.seed, path=scenario.profiles.path and str(scenario.profiles.path))
    except (ValueError, OSError) as exc:
        raise _section_error("profiles", exc, "profiles.path" if scenario.profiles.path
                             else "profiles.source") from None
    return net, profiles


def _areas(scenario: Scenario, env, area_ids: list[str], groups, net, area_of_bus) -> list[AreaRuntime]:
    """Every area with its coordinator, its state and its inbox."""
    areas = []
    for index, (area_id, config) in enumerate(zip(area_ids, scenario.areas)):
        infos = group_infos(groups, index, area_id)
        coordinator, state = coordinator_for(scenario, index, config, infos, groups, net, area_of_bus)
        areas.append(AreaRuntime(area_id, index, config.coordinator.policy, coordinator, state,
                                 simpy.Store(env), config.coordinator.period))
    return areas


def _runtime(scenario: Scenario, env, plant, groups, areas, area_of_bus, links, market,
             trace_list) -> Runtime:
    """The runtime of the wired parts, with the areas' meters and the run's timing."""
    matrices, uncontrolled = area_net_export_matrices(plant.net, area_of_bus, groups)
    time, n_steps = scenario.time, _n_steps(scenario)
    return Runtime(
        scenario=scenario, env=env, plant=plant, groups=groups, areas=areas,
        area_of_bus=area_of_bus, links=links,
        unit_inbox={g.id: simpy.Store(env) for g in groups}, market_inbox=simpy.Store(env),
        market=market, recorder=None, events=list(scenario.events), trace=trace_list,
        export_matrices=matrices, uncontrolled_gen=uncontrolled,
        meters=AreaMeters(plant, [a.id for a in areas], area_of_bus, matrices, uncontrolled),
        customer_class={g.id: str(g.policy.params.get("customer_class", "default")) for g in groups},
        f0_hz=scenario.grid.f0_hz, step_ms=time.step, n_steps=n_steps, duration_ms=n_steps * time.step,
        interval_ms=scenario.market.interval, gate_closure_ms=scenario.market.gate_closure,
        control_tol=scenario.control.tol, control_max_iter=scenario.control.max_iter,
        control_method=scenario.control.method,
    )


def _grid_frequency(scenario: Scenario, plant, groups, area_of_bus, area_ids: list[str]):
    """The islands' frequency model (:class:`~hierarchy.plant.frequency_coupling.GridFrequency`)."""
    from hierarchy.plant.frequency_coupling import GridFrequency

    grid = scenario.grid
    return GridFrequency(plant, groups, area_of_bus, [area.load_damping_pu for area in scenario.areas],
                         grid.f0_hz, grid.upstream, _ufls_stages(scenario), area_ids,
                         _load_priority(scenario, plant.net, groups))


def _section_error(section: str, exc: Exception, default_path: str) -> ScenarioError:
    """``exc`` from loading the grid or profiles as a ScenarioError at its key path.

    Messages that start with a key of the section (``grid.code: ...``) keep
    that key as the path; others are reported at ``default_path``.
    """
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    match = re.match(rf"^({section}\.[a-z_]+): (.*)$", message)
    return ScenarioError(*match.groups()) if match else ScenarioError(default_path, message)


def _ufls_stages(scenario: Scenario) -> list:
    """Load-shedding stages per area; each threshold must lie below ``grid.f0_hz``."""
    from hierarchy.plant.frequency_ufls import UflsStage

    stages = []
    for a, area in enumerate(scenario.areas):
        for k, stage in enumerate(area.ufls):
            if stage.f_hz >= scenario.grid.f0_hz:
                raise ScenarioError(f"areas[{a}].ufls[{k}].f_hz", f"{stage.f_hz:g} Hz is not below "
                                    f"grid.f0_hz {scenario.grid.f0_hz:g} Hz")
        stages.append([UflsStage(s.f_hz, s.fraction, s.delay / 1000.0) for s in area.ufls])
    return stages


def _load_priority(scenario: Scenario, net, groups) -> np.ndarray | None:
    """Shedding priority of every load (``market.customer_classes``), None where all are equal."""
    classes = scenario.market.customer_classes
    if not classes:
        return None

    def priority(name: str) -> int:
        return classes[name].priority if name in classes else 1

    load_priority = np.full(len(net.load), priority("default"), dtype=int)
    for g in groups:
        if g.kind == "flexible_load" and g.table == "load":
            load_priority[g.positions] = priority(str(g.policy.params.get("customer_class", "default")))
    return load_priority if np.unique(load_priority).size > 1 else None


def _links(scenario: Scenario, env, rng, trace) -> dict[tuple[str, str], Link]:
    comm = scenario.communication
    links = {}
    for a in TIERS:
        for b in TIERS:
            if a == b or {a, b} == {"unit", "market"}:
                continue
            latency, loss = comm.default.latency, comm.default.loss
            for override in comm.links:
                if set(override.between) == {a, b}:
                    latency = override.latency if override.latency is not None else latency
                    loss = override.loss if override.loss is not None else loss
            links[(a, b)] = Link(env, f"{a}->{b}", int(latency), float(loss), rng, trace)
    return links
