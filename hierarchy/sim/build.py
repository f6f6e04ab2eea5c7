"""The builder: a validated scenario becomes a wired :class:`Runtime`.

Configuration flows one way: YAML → :class:`~hierarchy.scenario.Scenario`
→ plain constructor arguments. The builder loads the network and profiles,
assigns buses to areas, constructs every policy, coordinator and market,
and wires them with links. Everything that can only be checked against the
grid (elements, buses, policy/element fit) is checked here and raised as a
:class:`~hierarchy.scenario.ScenarioError` naming the key path.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from hierarchy.kernel.links import Link
from hierarchy.scenario import Scenario, ScenarioError
from hierarchy.sim.wiring import (
    area_net_export_matrices,
    assign_areas,
    build_groups,
    check_event_targets,
    coordinator_for,
    day_ahead_market_for,
    group_infos,
    market_for,
)

__all__ = ["Runtime", "AreaRuntime", "build"]

TIERS = ("unit", "area", "market")
#: the key that names the grid for each grid.source
_GRID_KEY = {"simbench": "code", "pandapower": "name", "file": "path"}


#: flows whose sum over an area's boundary is its net export (:meth:`Runtime.net_export_mw`)
_EXPORT_FLOWS = ("line_p_from_mw", "line_p_to_mw", "trafo_p_hv_mw", "trafo_p_lv_mw", "ext_grid_p_mw")


@dataclass
class AreaRuntime:
    """One area at run time: its coordinator, inbox and what it knows."""

    id: str
    index: int
    policy_name: str
    coordinator: Any
    state: Any
    inbox: simpy.Store
    period_ms: int
    ace_mw: float = float("nan")
    last_sent: dict = field(default_factory=dict)


@dataclass
class Runtime:
    """Everything the engine runs: plant, tiers, links, recorder."""

    scenario: Scenario
    env: simpy.Environment
    plant: Any
    groups: list
    areas: list[AreaRuntime]
    area_of_bus: np.ndarray
    links: dict[tuple[str, str], Link]
    unit_inbox: dict[str, simpy.Store]
    market_inbox: simpy.Store
    market: Any
    recorder: Any
    events: list
    trace: list | None
    export_matrices: dict[str, Any]
    uncontrolled_gen: dict[str, np.ndarray]
    customer_class: dict[str, str]
    f0_hz: float
    step_ms: int
    n_steps: int
    duration_ms: int
    interval_ms: int
    gate_closure_ms: int
    control_tol: float
    control_max_iter: int
    control_method: str
    frequency: Any = None  # GridFrequency: island frequencies (hierarchy.plant.frequency_coupling)
    security: Any = None  # SecurityStep after each clearing (market.security), or None
    frequency_step_ms: int = 100
    stages: Any = None  # market_stages.Stages: day-ahead and continuous trading
    forecast: Any = None  # forecast.ForecastService (None without a market)
    #: what the scenario's ``add`` section created (:class:`hierarchy.sim.additions.Added`)
    added: list = field(default_factory=list)
    _export_cache: tuple = (-1, None)
    _meter_cache: tuple = (-1, None)
    _readings_cache: tuple = (-1, None)
    _grid_meter_names: tuple = ((), ())
    _grid_meter_index: dict = field(default_factory=dict)  # area -> (bus, line positions)
    #: group id -> (plant.inputs_version, p_avail_mw, q_base_mvar) of :meth:`profile_inputs`
    _profile_inputs: dict = field(default_factory=dict)
    #: group id -> (frequency.bus_f_hz, the group's slice of it, read-only) of :meth:`observe`
    _f_hz_kept: dict = field(default_factory=dict)

    @property
    def area_index(self) -> dict[str, int]:
        return {area.id: area.index for area in self.areas}

    # ----------------------------------------------------- unit observations
    def observe(self, group, time_ms: int):
        """The group's :class:`~unit_control.base.Observation` now (no link)."""
        from unit_control.base import Observation  # tiers are imported lazily

        plant = self.plant
        p_avail, q_base = self.profile_inputs(group)
        bus_f_hz = self.frequency.bus_f_hz  # replaced, never written in place, when it moves
        kept = self._f_hz_kept.get(group.id)
        if kept is None or kept[0] is not bus_f_hz:
            f_hz = bus_f_hz[group.bus_positions]
            f_hz.setflags(write=False)
            self._f_hz_kept[group.id] = kept = (bus_f_hz, f_hz)
        return Observation(
            time_ms=time_ms, step_s=self.step_ms / 1000.0,
            vm_pu=plant.vm_pu[group.bus_positions], f_hz=kept[1],
            f0_hz=self.f0_hz, p_avail_mw=p_avail, q_base_mvar=q_base,
            # never written in place (the engine replaces them): no copies needed
            p_set_mw=group.p_set_mw, price_per_mwh=group.price_per_mwh,
            p_mw=group.p_mw, q_mvar=group.q_mvar,
        )

    def profile_inputs(self, group) -> tuple[np.ndarray, np.ndarray]:
        """The group's available power [MW] and profile reactive power [Mvar] this
        step (``Observation.p_avail_mw``, ``q_base_mvar``), read-only.

        Computed once per step and shared by the step's observations; a new
        profile row, a load step or a trip (``Plant.inputs_version``) renews them.
        """
        plant = self.plant
        version, p_avail, q_base = self._profile_inputs.get(group.id, (-1, None, None))
        if version != plant.inputs_version:
            if group.table in plant.tables:
                p_avail = plant.available_mw(group.table, group.positions)
                q_base = plant.base_q_mvar(group.table, group.positions)
            else:
                p_avail, q_base = np.zeros(group.n_units), np.zeros(group.n_units)
            p_avail.setflags(write=False)
            q_base.setflags(write=False)
            self._profile_inputs[group.id] = (plant.inputs_version, p_avail, q_base)
        return p_avail, q_base

    # ----------------------------------------------------------- measurement
    def net_export_mw(self) -> np.ndarray:
        """Net export of every area [MW]: the flows leaving it (export positive).

        One matrix product over all branch-end flows and ext_grid supplies,
        cached for the latest solution.
        """
        pf = self.plant.powerflow
        if self._export_cache[0] == pf.n_solves:
            return self._export_cache[1]
        export = self._export_of([getattr(pf, name) for name in _EXPORT_FLOWS])
        self._export_cache = (pf.n_solves, export)
        return export

    def net_export_rows(self, flows: dict) -> np.ndarray:
        """Net export of every area [MW] per row of a block of solutions, as
        :meth:`net_export_mw` (``flows``: :meth:`PowerFlow.solve_many`'s result)."""
        return self._export_of([flows[name] for name in _EXPORT_FLOWS])

    def _export_of(self, flows: list) -> np.ndarray:
        """Area exports [MW] from branch-end flows and ext_grid supply, ``(..., n)`` each."""
        stacked = np.concatenate(flows, axis=-1)
        stacked[np.isnan(stacked)] = 0.0
        return np.asarray(self.export_matrices["all"] @ stacked.T).T

    def measure_area(self, a: int, time_ms: int):
        """Meter readings of area ``a`` at the latest solution."""
        from hierarchy.messages import AreaMeasurement

        return AreaMeasurement.of_fields({**self._area_readings()[a], "time_ms": time_ms,
                                          "frequency_hz": float(self.frequency.area_f_hz[a])})

    def _area_readings(self) -> list[dict]:
        """Per area: the fields of its :class:`~hierarchy.messages.AreaMeasurement` but
        time and frequency (net export, load, uncontrolled generation and the SCADA
        of :meth:`_grid_meters`), as Python numbers, cached per solve."""
        pf = self.plant.powerflow
        if self._readings_cache[0] == pf.n_solves:
            return self._readings_cache[1]
        load_mw, other_mw = self._area_meters()
        readings = [dict(zip(_READING_FIELDS, (area.id, export, load, other, *grid)))
                    for area, export, load, other, grid in zip(
                        self.areas, self.net_export_mw().tolist(), load_mw.tolist(),
                        other_mw.tolist(), self._grid_meters())]
        self._readings_cache = (pf.n_solves, readings)
        return readings

    def _grid_meters(self) -> list[tuple]:
        """SCADA of every area: lowest and highest bus voltage [pu] and where, most
        loaded line with an end in the area [%], which, and its flow [MW].

        Vectorised over the areas on NaN-padded (areas, members) index tables;
        computed once per solve by :meth:`_area_readings`.
        """
        if not self._grid_meter_index:
            self._index_grid_meters()
        pf, (bus_names, line_names) = self.plant.powerflow, self._grid_meter_names
        bus_idx, line_idx = self._grid_meter_index["bus"], self._grid_meter_index["line"]
        vm_pu = np.append(pf.vm_pu, np.nan)  # the padding position reads NaN
        loading = np.append(np.asarray(pf.line_loading_percent, float), np.nan)
        (lo, hi), (top,) = (_nanargs(vm_pu[bus_idx], bus_idx, low=True),
                            _nanargs(loading[line_idx], line_idx, low=False))
        vm_lo_pu, vm_hi_pu, top_loading = vm_pu[lo].tolist(), vm_pu[hi].tolist(), loading[top].tolist()
        flow_mw: list = []  # (rows with top = −1 read the last line here: not used)
        if loading.size > 1:
            flow = np.fmax(np.abs(pf.line_p_from_mw[top]), np.abs(pf.line_p_to_mw[top]))
            flow_mw = np.where(np.isnan(flow), 0.0, flow).tolist()
        nan = float("nan")
        meters = []
        for a, (b_lo, b_hi, t) in enumerate(zip(lo.tolist(), hi.tolist(), top.tolist())):
            bus_part = ((vm_lo_pu[a], bus_names[b_lo], vm_hi_pu[a], bus_names[b_hi]) if b_lo >= 0
                        else (nan, "", nan, ""))  # −1: no energised bus
            line_part = (top_loading[a], line_names[t], flow_mw[a]) if t >= 0 else (nan, "", nan)
            meters.append(bus_part + line_part)
        return meters

    def _index_grid_meters(self) -> None:
        net, n_areas = self.plant.net, len(self.areas)
        line_area = [self.area_of_bus[self.plant.bus_positions(net.line[end])]
                     for end in ("from_bus", "to_bus")]
        members = {"bus": [np.flatnonzero(self.area_of_bus == k) for k in range(n_areas)],
                   "line": [np.flatnonzero((line_area[0] == k) | (line_area[1] == k))
                            for k in range(n_areas)]}
        sentinel = {"bus": len(net.bus), "line": len(net.line)}
        for kind, rows in members.items():
            width = max((r.size for r in rows), default=0)
            index = np.full((n_areas, max(width, 1)), sentinel[kind], dtype=int)
            for k, r in enumerate(rows):
                index[k, :r.size] = r
            self._grid_meter_index[kind] = index
        self._grid_meter_names = ([f"bus/{b}" for b in net.bus.index],
                                  [f"line/{b}" for b in net.line.index])

    def _area_meters(self) -> tuple[np.ndarray, np.ndarray]:
        """Load [MW] and generation no group controls [MW] of every area, cached per solve."""
        pf, plant = self.plant.powerflow, self.plant
        if self._meter_cache[0] == pf.n_solves:
            return self._meter_cache[1]
        n = len(self.areas)
        load = np.bincount(self.export_matrices["load_area"], weights=plant.load_p_mw,
                           minlength=n)
        other = np.zeros(n)
        for table, (positions, areas) in self.uncontrolled_gen.items():
            if positions.size:
                other += np.bincount(areas, weights=plant.tables[table].p_mw[positions], minlength=n)
        self._meter_cache = (pf.n_solves, (load, other))
        return load, other

    def grid_geometry(self):
        """The grid's drawing for the plots (:func:`hierarchy.plant.geometry.grid_geometry`)."""
        from hierarchy.plant.geometry import grid_geometry

        return grid_geometry(self.plant.net)

    # ----------------------------------------------------------------- market
    def market_intervals(self) -> list[int]:
        """Delivery interval starts [ms] that have a market (bids sent after t=0)."""
        starts = range(0, self.duration_ms, self.interval_ms)
        return [t for t in starts if t - 2 * self.gate_closure_ms > 0]

    def upstream_orders(self, start_ms: int):
        """The upstream grid as a market participant: import offer, export bid."""
        from hierarchy.messages import Bid, Offer

        up = self.scenario.market.upstream
        ext = self.export_matrices["ext_grid"]  # the area of the (first) ext_grid
        area = self.areas[int(np.argmax(ext[:, 0]))].id if ext.size else None
        offers = [Offer("upstream", up.import_limit_mw, up.import_price, start_ms, area)]
        bids = [Bid("upstream", up.export_limit_mw, up.export_price, start_ms, area)]
        return [o for o in offers if o.quantity_mw > 0], [b for b in bids if b.quantity_mw > 0]

    @property
    def tariffs(self) -> dict[str, dict]:
        """Tariff per customer class; an interruptible contract's discount applied
        (``market.customer_classes``, :func:`market_control.tariffs.discounted_tariff`)."""
        tariffs = {name: (t.model_dump(by_alias=True) if hasattr(t, "model_dump") else dict(t))
                   for name, t in self.scenario.market.tariffs.items()}
        for name, level in self.scenario.market.customer_classes.items():
            if level.interruptible and level.discount > 0 and name in tariffs:
                from market_control.tariffs import discounted_tariff

                tariffs[name] = discounted_tariff(tariffs[name], level.discount)
        return tariffs

    def retail_price(self, tariff: dict, start_ms: int, clearing_price: float) -> float:
        from market_control.tariffs import retail_price_per_mwh

        start = self.scenario.time.start
        hour = (start.hour + start.minute / 60 + start_ms / 3_600_000) % 24
        return float(np.asarray(retail_price_per_mwh(tariff, np.array([hour]), clearing_price))[0])

    # ----------------------------------------------------------------- events
    def apply_event(self, event) -> None:
        from hierarchy.plant.topology import parse_element

        if event.kind == "comm_outage":
            pair = tuple(event.between)
            for key, link in self.links.items():
                if set(key) == set(pair):
                    link.outage(event.duration)
            return
        table, index = parse_element(event.target)
        position = int(np.flatnonzero(self.plant.net[table].index == index)[0])
        if event.kind == "load_step":
            self.plant.add_load(position, float(event.delta_mw))
        elif event.kind == "unit_trip":
            self.plant.trip(table, position)
        elif event.kind in ("line_outage", "line_restore"):
            if table == "line":
                self.plant.set_line(position, event.kind == "line_restore")
            else:  # a transformer (BranchName allows line/N and trafo/N)
                self.plant.powerflow.set_in_service(table, position, event.kind == "line_restore")
        if event.kind in ("unit_trip", "line_outage", "line_restore"):
            self.frequency.refresh_topology()

    def describe_event(self, event) -> str:
        if event.kind == "comm_outage":
            return f"{'-'.join(event.between)} for {event.duration / 1000:g} s"
        if event.kind == "load_step":
            return f"{event.delta_mw:+g} MW"
        return ""


def build(scenario: Scenario, trace: bool = False):
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
    from hierarchy.plant.network import load_net
    from hierarchy.plant.plant import Plant
    from hierarchy.plant.profiles import build_profiles
    from hierarchy.sim.recorder import Recorder

    grid = scenario.grid
    try:
        net = load_net(grid.source, code=grid.code, name=grid.name, options=grid.options,
                       path=grid.path)
    except (ValueError, OSError) as exc:
        raise _section_error("grid", exc, f"grid.{_GRID_KEY[grid.source]}") from None
    time = scenario.time
    n_steps = int(time.duration // time.step)
    try:
        profiles = build_profiles(net, scenario.profiles.source, time.start, time.step, n_steps,
                                  scenario.seed, path=scenario.profiles.path and str(scenario.profiles.path))
    except (ValueError, OSError) as exc:
        raise _section_error("profiles", exc, "profiles.path" if scenario.profiles.path
                             else "profiles.source") from None
    from hierarchy.sim.additions import apply_additions

    profiles, added = apply_additions(scenario, net, profiles)
    check_event_targets(net, scenario.events)
    area_ids, area_of_bus = assign_areas(net, scenario.areas)
    plant = Plant(net, profiles, backend=grid.solver)
    groups = build_groups(scenario, net, plant, area_of_bus)
    env = simpy.Environment()
    rng = np.random.default_rng(scenario.seed)
    trace_list: list | None = [] if trace else None
    links = _links(scenario, env, rng, trace_list)
    market = market_for(scenario)
    interval_ms = scenario.market.interval
    areas = []
    for index, (area_id, config) in enumerate(zip(area_ids, scenario.areas)):
        infos = group_infos(groups, index, area_id)
        coordinator, state = coordinator_for(scenario, index, config, infos, groups, net, area_of_bus)
        areas.append(AreaRuntime(area_id, index, config.coordinator.policy, coordinator, state,
                                 simpy.Store(env), config.coordinator.period))
    matrices, uncontrolled = area_net_export_matrices(net, area_of_bus, groups)
    rt = Runtime(
        scenario=scenario, env=env, plant=plant, groups=groups, areas=areas,
        area_of_bus=area_of_bus, links=links,
        unit_inbox={g.id: simpy.Store(env) for g in groups}, market_inbox=simpy.Store(env),
        market=market, recorder=None, events=list(scenario.events), trace=trace_list,
        export_matrices=matrices, uncontrolled_gen=uncontrolled,
        customer_class={g.id: str(g.policy.params.get("customer_class", "default")) for g in groups},
        f0_hz=grid.f0_hz, step_ms=time.step, n_steps=n_steps, duration_ms=n_steps * time.step,
        interval_ms=interval_ms, gate_closure_ms=scenario.market.gate_closure,
        control_tol=scenario.control.tol, control_max_iter=scenario.control.max_iter,
        control_method=scenario.control.method,
    )
    from hierarchy.plant.frequency_coupling import GridFrequency

    rt.frequency = GridFrequency(plant, groups, area_of_bus,
                                 [area.load_damping_pu for area in scenario.areas], grid.f0_hz,
                                 grid.upstream, _ufls_stages(scenario), area_ids,
                                 _load_priority(scenario, net, groups))
    rt.frequency_step_ms = int(scenario.frequency.step)
    rt.stages = _stages(scenario, rt)
    rt.added = added
    rt.recorder = Recorder(rt)
    if market is not None:
        from hierarchy.sim.forecast import build_forecast

        rt.forecast = rt.recorder.forecast = build_forecast(rt, scenario.forecast)
    rt.frequency.on_event = rt.recorder.event
    from hierarchy.sim.security import build_security

    rt.security = build_security(rt)
    return rt


def _stages(scenario: Scenario, rt: Runtime):
    """The day-ahead stage and the timing of continuous trading (:class:`Stages`)."""
    from hierarchy.scenario.market_stages import ContinuousConfig
    from hierarchy.sim.market_stages import Stages, continuous_rounds, day_ahead_gates

    market = scenario.market
    stages = Stages(continuous=market.mechanism == "continuous")
    if market.day_ahead is not None:
        stages.day_ahead_market = day_ahead_market_for(scenario)
        stages.day_ahead_inbox = simpy.Store(rt.env)
        stages.day_ahead_slot_ms = market.day_ahead.slot
        stages.day_ahead_gates = day_ahead_gates(scenario.time.start, rt.duration_ms,
                                                 market.day_ahead, market.gate_closure)
    if stages.continuous:
        timing = market.continuous or ContinuousConfig()
        stages.rounds = continuous_rounds(list(range(0, rt.duration_ms, rt.interval_ms)), timing.open,
                                          timing.period, market.gate_closure)
        stages.intervals = sorted({t for starts in stages.rounds.values() for t in starts})
    return stages


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


#: the fields of an AreaMeasurement that :meth:`Runtime._area_readings` gives, in order
_READING_FIELDS = ("area", "net_export_mw", "load_mw", "uncontrolled_generation_mw", "vm_min_pu",
                   "vm_min_bus", "vm_max_pu", "vm_max_bus", "max_loading_percent",
                   "max_loading_line", "max_loading_line_p_mw")


def _nanargs(values: np.ndarray, index: np.ndarray, low: bool) -> list[np.ndarray]:
    """Per row of ``values``, the element (from ``index``, same shape) with the highest
    value ignoring NaN, and before it the one with the lowest if ``low``; the first of
    equals; −1 in rows that are all NaN."""
    missing = np.isnan(values)
    start = np.arange(0, index.size, max(index.shape[1], 1))  # each row's first element
    picks = [np.where(missing, -np.inf, values).argmax(axis=1)]
    if low:
        picks.insert(0, np.where(missing, np.inf, values).argmin(axis=1))
    found = [index.take(start + column) for column in picks]
    empty = missing.all(axis=1)
    if empty.any():
        for positions in found:
            positions[empty] = -1
    return found
