"""The frequency model on the running plant: islands, droop units, inputs.

:class:`GridFrequency` finds the synchronous islands after every topology
change (:func:`hierarchy.plant.topology.islands`), decides which follow the
swing equation (no in-service ext_grid, or ``grid.upstream`` a finite
machine), reads each island's load, generation and losses from the plant
after every solve, and gives every bus and area its island's frequency.
Droop units are the units of groups with a finite ``droop`` parameter;
their reference ``P_ref`` is the unit's command at nominal frequency. Gens
with droop share the slack of islands without ext_grid in the power flow
with weights ``P_rated / R`` (:meth:`PowerFlow.set_slack_weights`). Loads
in dynamic islands consume ``P·(1 + D·Δf/f0)`` (load damping). Under-frequency
load-shedding relays (:mod:`hierarchy.plant.frequency_ufls`) open stages of
the areas' loads while the frequency is low.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from hierarchy.plant.frequency import FrequencyModel, IslandInputs
from hierarchy.plant.frequency_ufls import LoadShedding
from hierarchy.plant.topology import element_bus, islands as topology_islands

__all__ = ["GridFrequency"]

_SIGN = {"load": -1.0, "sgen": 1.0, "storage": -1.0, "gen": 1.0}


def _droop_of(group) -> np.ndarray:
    droop = group.policy.params.get("droop")
    if droop is None or (isinstance(droop, str) and droop.lower() == "none"):
        return np.full(group.n_units, np.nan)
    return np.broadcast_to(np.asarray(droop, dtype=float), (group.n_units,)).copy()


def _inertia_mws(group) -> np.ndarray:
    h_s = getattr(group.policy, "h_s", group.policy.params.get("h_s", 0.0))
    return np.broadcast_to(np.asarray(h_s if h_s is not None else 0.0, float), (group.n_units,)) * group.rating_mw


class GridFrequency:
    """Island frequencies of one run.

    Parameters
    ----------
    plant : Plant
    groups : list of UnitGroup
    area_of_bus : ndarray
        Area index per bus position.
    load_damping_pu : sequence of float
        ``D`` per area [pu/pu].
    f0_hz : float
    upstream : "infinite" or object with ``h_s, s_mva, droop, damping_pu``
    ufls : list of list of UflsStage, optional
        Load-shedding stages per area.
    area_ids : list of str, optional
        Area ids (event targets).

    Attributes
    ----------
    on_event : callable or None
        Called ``on_event(time_ms, kind, target, detail)`` when a relay acts
        (the builder connects the recorder); else the event goes to ``events``.
    """

    def __init__(self, plant, groups, area_of_bus: np.ndarray, load_damping_pu, f0_hz: float,
                 upstream="infinite", ufls=None, area_ids=None, load_priority=None) -> None:
        self.plant, self.groups, self.f0_hz = plant, groups, float(f0_hz)
        self.area_of_bus = np.asarray(area_of_bus)
        self.n_areas = int(self.area_of_bus.max()) + 1 if self.area_of_bus.size else 0
        self.upstream = None if upstream == "infinite" else upstream
        net = plant.net
        self.elem_bus = {t: plant.bus_positions(element_bus(net, t)) if len(net[t]) else np.zeros(0, int)
                         for t in _SIGN}
        self.load_d = np.asarray(load_damping_pu, float)[self.area_of_bus[self.elem_bus["load"]]]
        self.area_ids = list(area_ids) if area_ids is not None else [str(a) for a in range(self.n_areas)]
        self.relays = LoadShedding(list(ufls) if ufls else [[] for _ in range(self.n_areas)],
                                   self.area_of_bus[self.elem_bus["load"]], load_priority,
                                   net.load["p_mw"].to_numpy(dtype=float) if load_priority is not None else None)
        plant.load_served = self.relays.served  # the plant serves what the relays leave connected
        self.on_event = None
        self.time_ms = 0
        self._droop_units(groups)
        self.model = FrequencyModel(f0_hz, self.k, self.t, self.lo, self.hi)
        self.bus_island = np.zeros(len(net.bus), dtype=int)
        self.bus_f_hz = np.full(len(net.bus), self.f0_hz)
        self.area_f_hz = np.full(self.n_areas, self.f0_hz)
        self._known = np.zeros(self.k.size, dtype=bool)  # state initialised
        gen_weight = np.zeros(len(net.gen))
        for (table, position), k in zip(self.elements, self.k):
            if table == "gen":
                gen_weight[position] += k * self.f0_hz
        self.distributed = bool(np.any(gen_weight > 0))
        self.events: list[tuple[str, str]] = []
        self.refresh_topology()
        if self.distributed:
            plant.powerflow.set_slack_weights(gen_weight)
            plant.solve()

    # --------------------------------------------------------------- set-up
    def _droop_units(self, groups) -> None:
        k, t, lo, hi, rows, elements = [], [], [], [], [], []
        self.inertia = np.zeros(0)
        inertia_elements, inertia = [], []
        for g in groups:
            droop = _droop_of(g)
            h_mws = _inertia_mws(g)
            for r in range(g.n_units):
                element = (g.table, int(g.positions[r]))
                if h_mws[r] > 0:
                    inertia_elements.append(element)
                    inertia.append(2.0 * h_mws[r] / self.f0_hz)
                if not np.isfinite(droop[r]) or droop[r] <= 0 or g.table not in _SIGN:
                    continue
                k.append(g.rating_mw[r] / (droop[r] * self.f0_hz))
                t_gov = g.policy.params.get("governor_t_s", 0.0) if g.kind == "dispatchable" else 0.0
                t.append(float(np.broadcast_to(np.asarray(t_gov or 0.0, float), (g.n_units,))[r]))
                p_min = getattr(g.policy, "p_min_mw", None)
                p_max = getattr(g.policy, "p_max_mw", g.rating_mw)
                lo.append(float(p_min[r]) if p_min is not None else -float(np.asarray(p_max)[r]))
                hi.append(float(np.broadcast_to(np.asarray(p_max, float), (g.n_units,))[r]))
                rows.append((g, r))
                elements.append(element)
        if self.upstream is not None:
            up = self.upstream
            k.append(up.s_mva / (up.droop * self.f0_hz))
            t.append(0.0)
            lo.append(-np.inf)
            hi.append(np.inf)
            rows.append((None, 0))
            elements.append(("ext_grid", 0))
            inertia_elements.append(("ext_grid", 0))
            inertia.append(2.0 * up.h_s * up.s_mva / self.f0_hz)
        self.k, self.t = np.asarray(k, float), np.asarray(t, float)
        self.lo, self.hi = np.asarray(lo, float), np.asarray(hi, float)
        self.unit_rows, self.elements = rows, elements
        self.inertia_elements, self.inertia = inertia_elements, np.asarray(inertia, float)

    def _element_bus(self, element) -> int:
        table, position = element
        if table == "ext_grid":
            return int(self.plant.bus_positions([self.plant.net.ext_grid.bus.iloc[0]])[0])
        return int(self.elem_bus[table][position])

    # ------------------------------------------------------------- topology
    def refresh_topology(self) -> None:
        """Find the islands again; carry each island's Δf over to its successor."""
        pf_net = self.plant.powerflow.network
        found = [self.plant.bus_positions(b) for b in topology_islands(pf_net)]
        old_island, old_df = self.bus_island.copy(), self.model.df_hz.copy()
        eg = pf_net.ext_grid
        eg_bus = set(self.plant.bus_positions(eg.bus[eg.in_service.astype(bool)]).tolist()) if len(eg) else set()
        dynamic, df = [], []
        self.bus_island[:] = -1
        for i, buses in enumerate(found):
            self.bus_island[buses] = i
            has_eg = bool(eg_bus.intersection(buses.tolist()))
            dynamic.append(not has_eg or self.upstream is not None)
            previous = old_df[old_island[buses]] if old_df.size else np.zeros(1)
            df.append(0.0 if not dynamic[-1] else float(np.mean(previous)))
        had_islands = bool(self.model.dynamic.size)  # not the first call, from the constructor
        was = self.model.dynamic[old_island] if had_islands else np.zeros(len(old_island), bool)
        now = np.asarray(dynamic, bool)[self.bus_island]
        if self.model.dynamic.size and np.any(now & ~was):
            self.events.append(("island", f"{int(np.sum(now & ~was))} buses islanded"))
        if self.model.dynamic.size and np.any(was & ~now):
            self.events.append(("resynchronise", f"{int(np.sum(was & ~now))} buses back on the grid"))
        self.model.set_islands([IslandInputs() for _ in found], np.asarray(dynamic), np.asarray(df))
        unit_bus = np.array([self._element_bus(e) for e in self.elements], dtype=int)
        unit_island = self.bus_island[unit_bus]
        self.unit_island = unit_island
        if self.k.size:
            newly = np.asarray(dynamic)[unit_island] if unit_island.size else np.zeros(0, bool)
            self._known &= newly
            if had_islands:
                self._carry_outputs(newly & ~was[unit_bus] & ~self._known)
        self._publish()

    def _carry_outputs(self, entering: np.ndarray) -> None:
        """Droop units whose island has just become dynamic keep their output [MW].

        A unit's governor output is continuous (DESIGN.md: T_j·dP_j/dt = ...):
        the moment a feeder is cut off, its units still deliver what they did
        before (the last solve, taken before the event's), and the island's
        frequency falls at RoCoF = −ΔP/M. Taken from the island's first power
        flow instead, a gen would start with its whole slack share, i.e. the
        lost import, and the frequency would not start to fall at once.
        Units without a solved output (no solve yet, a de-energised bus) are
        left to :meth:`_references`.
        """
        solved = np.isfinite(self.plant.powerflow.vm_pu)
        for j in np.flatnonzero(entering):
            group, r = self.unit_rows[j]
            if group is None or not solved[self._element_bus(self.elements[j])]:
                continue
            output = float(group.p_mw[r])
            if group.table == "gen":
                output += float(np.nan_to_num(self.plant.powerflow.gen_slack_p_mw[group.positions[r]]))
            self.model.p_mw[j] = output
            self._known[j] = True

    # --------------------------------------------------------------- inputs
    def sync(self, observe, time_ms: int) -> None:
        """Read references, load, generation and losses from the plant after a solve."""
        plant, pf = self.plant, self.plant.powerflow
        model = self.model
        self.time_ms = int(time_ms)
        if not model.dynamic.any():
            return
        n = len(model.inputs)
        p_load, d, p_other, p_loss, m = (np.zeros(n) for _ in range(5))
        droop_set = set(self.elements)
        served = {t: np.where(np.isfinite(pf.vm_pu[self.elem_bus[t]]), 1.0, 0.0) for t in _SIGN}
        for table, sign in _SIGN.items():
            p_pp = plant.tables[table].p_mw
            if not p_pp.size:
                continue
            island = self.bus_island[self.elem_bus[table]]
            inj = sign * p_pp * served[table]
            if table == "load":
                p_pp = p_pp * plant.load_served
                inj = sign * p_pp * served[table]
                factor = plant.load_factor
                np.add.at(p_load, island, p_pp * served[table])
                np.add.at(d, island, self.load_d * p_pp * served[table] / self.f0_hz)
                np.add.at(p_loss, island, inj * factor)
                continue
            if table == "gen":
                inj = inj + np.nan_to_num(pf.gen_slack_p_mw)
            np.add.at(p_loss, island, inj)
            free = np.array([(table, p) not in droop_set for p in range(p_pp.size)])
            np.add.at(p_other, island[free], inj[free])
        if len(plant.net.ext_grid):
            eg_island = self.bus_island[self.plant.bus_positions(plant.net.ext_grid.bus)]
            np.add.at(p_loss, eg_island, np.nan_to_num(pf.ext_grid_p_mw))
            if self.upstream is None:
                np.add.at(p_other, eg_island, np.nan_to_num(pf.ext_grid_p_mw))
        for element, m_j in zip(self.inertia_elements, self.inertia):
            m[self.bus_island[self._element_bus(element)]] += m_j
        self._references(observe, time_ms)
        model.inputs = [IslandInputs(m[i], d[i], p_load[i], p_other[i], p_loss[i],
                                     np.flatnonzero(self.unit_island == i)) for i in range(n)]
        for i in range(n):  # units without droop: their output is part of P_other
            model.dynamic[i] &= bool(np.isfinite(pf.vm_pu[self.bus_island == i]).any())

    def _references(self, observe, time_ms: int) -> None:
        """P_ref of every droop unit: its command at nominal frequency [MW]."""
        model, df_unit = self.model, self.model.df_hz[self.unit_island] if self.k.size else np.zeros(0)
        cache = {}
        for j, (group, r) in enumerate(self.unit_rows):
            if group is None:  # the upstream machine: its import at the first solve
                if not self._known[j]:
                    ext = float(np.nansum(self.plant.powerflow.ext_grid_p_mw))
                    model.p_ref_mw[j] = ext + self.k[j] * df_unit[j]
                    model.p_mw[j] = ext
                continue
            if group.id not in cache:
                cache[group.id] = _reference_mw(group, observe(group, time_ms))
            ref, lo, hi = cache[group.id]
            model.p_ref_mw[j], model.p_min_mw[j], model.p_max_mw[j] = ref[r], lo[r], hi[r]
            if not self._known[j]:
                output = float(group.p_mw[r])
                if group.table == "gen":
                    output += float(np.nan_to_num(self.plant.powerflow.gen_slack_p_mw[group.positions[r]]))
                model.p_mw[j] = output
        self._known[:] = True

    # -------------------------------------------------------------- results
    def _publish(self) -> None:
        """Bus, area frequencies [Hz] and the load damping factors from the state."""
        df = self.model.df_hz
        on = self.bus_island >= 0
        self.bus_f_hz = np.where(on, self.f0_hz + np.where(on, df[np.maximum(self.bus_island, 0)], 0.0),
                                 np.nan)
        for a in range(self.n_areas):
            buses = np.flatnonzero((self.area_of_bus == a) & on)
            if buses.size:
                main = np.bincount(self.bus_island[buses]).argmax()
                self.area_f_hz[a] = self.f0_hz + df[main]
        load_f = self.bus_f_hz[self.elem_bus["load"]]
        self.plant.load_factor = 1.0 + self.load_d * np.nan_to_num(load_f - self.f0_hz) / self.f0_hz

    def advance(self, dt_s: float) -> None:
        """Integrate over ``dt_s`` [s]; snap settled islands to their steady state."""
        self.model.advance(dt_s)
        self.time_ms += int(round(dt_s * 1000))
        if any(self.relays.stages):  # the relays see the frequency at the end of the step
            self._publish()
            self._shed(self.relays.step(dt_s, self.bus_f_hz[self.elem_bus["load"]]))
        for i in range(len(self.model.inputs)):
            if self.model.dynamic[i] and self.model.settled(i):
                self.model.snap(i)
        self._publish()

    def _shed(self, trips) -> None:
        """Take opened load stages out of the islands' inputs; report them."""
        p_mw = self.plant.tables["load"].p_mw
        for a, k, rows in trips:
            stage = self.relays.stages[a][k]
            share = self.relays.fraction(a, k)
            if np.ndim(share):  # by priority: the loads' own shares, the ones that shed
                share = share[np.searchsorted(self.relays.rows[a], rows)]
                rows, share = rows[share > 0], share[share > 0]
            shed_mw = share * p_mw[rows]
            for island in np.unique(self.bus_island[self.elem_bus["load"][rows]]):
                mine = self.bus_island[self.elem_bus["load"][rows]] == island
                if island < 0 or island >= len(self.model.inputs):
                    continue
                inputs = self.model.inputs[island]
                inputs.p_load_mw -= float(np.sum(shed_mw[mine]))
                inputs.d_mw_per_hz -= float(np.sum(self.load_d[rows][mine] * shed_mw[mine])) / self.f0_hz
            detail = (f"stage {k + 1} ({stage.f_hz:g} Hz, {stage.delay_s:g} s): shed "
                      f"{float(np.sum(shed_mw)):.4f} MW of {rows.size} loads")
            if self.on_event is not None:
                self.on_event(self.time_ms, "ufls", self.area_ids[a], detail)
            else:
                self.events.append(("ufls", detail))

    def settled(self) -> bool:
        return self.model.all_settled() and not self.relays.pending(self.bus_f_hz[self.elem_bus["load"]])


def _reference_mw(group, obs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference and limits [MW] of a group's droop units at nominal frequency.

    A generator's reference is its setpoint (or schedule) within its limits,
    0 when stopped; a battery's is its request at nominal frequency within
    its power and state-of-charge limits. Another policy's is its command
    at nominal frequency, its limits its reported capability.
    """
    policy = group.policy
    nominal = dataclasses.replace(obs, f_hz=np.full(group.n_units, obs.f0_hz))
    if hasattr(policy, "_reference_mw") and hasattr(policy, "on"):
        on = policy.on
        lo, hi = np.where(on, policy.p_min_mw, 0.0), np.where(on, policy.p_max_mw, 0.0)
        return np.clip(policy._reference_mw(nominal), lo, hi), lo, hi
    if hasattr(policy, "_request_mw") and hasattr(policy, "_limits_mw"):
        lo, hi = policy._limits_mw(max(obs.step_s, 1.0))
        return np.clip(policy._request_mw(nominal), lo, hi), lo, hi
    cap = policy.capability(nominal)
    return np.asarray(policy.step(nominal).p_mw, float), cap.p_min_mw, cap.p_max_mw
