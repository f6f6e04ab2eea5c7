"""The runtime of one run: everything the engine runs, and what the processes ask of it.

:class:`Runtime` holds the plant, the unit groups, the areas
(:class:`AreaRuntime`), the market, the links and the recorder that
:func:`hierarchy.sim.build.build` wired, and answers the engine's
questions: a unit group's observation (:meth:`Runtime.observe`), an area's
meter readings (:meth:`Runtime.measure_area`, from
:class:`~hierarchy.sim.area_meters.AreaMeters`), the market's intervals
and upstream orders, retail prices, and how a scenario event changes the
grid (:meth:`Runtime.apply_event`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from hierarchy.kernel.links import Link
from hierarchy.scenario import Scenario
from hierarchy.sim.area_meters import AreaMeters

__all__ = ["Runtime", "AreaRuntime"]


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
    meters: AreaMeters  # what the areas' meters read (net export, load, SCADA)
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
    def measure_area(self, a: int, time_ms: int):
        """Meter readings of area ``a`` at the latest solution (:class:`AreaMeters`)."""
        from hierarchy.messages import AreaMeasurement

        return AreaMeasurement.of_fields({**self.meters.readings()[a], "time_ms": time_ms,
                                          "frequency_hz": float(self.frequency.area_f_hz[a])})

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
