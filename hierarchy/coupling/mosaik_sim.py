"""hiergrid as a mosaik simulator (extra ``cosim``): a scenario's units and areas as entities.

In a mosaik scenario::

    SIM_CONFIG = {"Hiergrid": {"python": "hierarchy.coupling.mosaik_sim:HiergridSimulator"}, ...}
    hiergrid = world.start("Hiergrid")
    grid = hiergrid.Grid(scenario="feeder.yaml")          # one per simulator
    units = {e.eid: e for e in grid.children if e.type == "Unit"}

Models (``META``):

* ``Grid`` (params ``scenario``: a path or mapping, ``seed``, ``out``: where to
  write the results at the end, as ``hiergrid run`` does): the run; its
  children are one ``Area`` per area (eid ``area/<id>``) and one ``Unit`` per
  unit of every unit group (eid the element, ``storage/0``).
* ``Unit``. Inputs, only for units of a group with ``policy: external``
  (:class:`unit_control.external.External`): ``p_set_mw`` [MW] and
  ``q_set_mvar`` [Mvar], held until the next input (values from several
  sources are added; None or NaN leaves the unit alone). Outputs: ``p_mw``,
  ``q_mvar`` (as settled), ``vm_pu`` (its bus), ``p_avail_mw`` (its profile),
  ``price_per_mwh`` (the retail price it faces).
* ``Area``. Outputs: ``net_export_mw``, ``schedule_mw``, ``price_per_mwh``
  (clearing), ``frequency_hz``, ``vm_min_pu``, ``vm_max_pu`` (over its buses).

Outputs are the last physics step's, as recorded: always a number, NaN where
nothing is known yet (no price before the first clearing, a de-energised bus),
as mosaik wants every output of a time-based simulator each step.
Time: mosaik's integer time times ``time_resolution`` [s] is the time since
``time.start``; the simulator steps at the scenario's ``time.step``, which
must be a whole number of mosaik time units. Inputs given at time t act from
the physics step at t on; outputs after the step at t are that step's. A
cycle with another simulator needs ``time_shifted=True`` on one side.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

try:
    import mosaik_api_v3
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("hierarchy.coupling.mosaik_sim needs mosaik: "
                      'pip install -e ".[cosim]" (mosaik, mosaik-api-v3)') from exc

from hierarchy.coupling.reward import clearing_prices
from hierarchy.coupling.stepper import SteppedRun
from unit_control.external import External

__all__ = ["HiergridSimulator", "META", "UNIT_INPUTS", "UNIT_OUTPUTS", "AREA_OUTPUTS"]

UNIT_INPUTS = ("p_set_mw", "q_set_mvar")
UNIT_OUTPUTS = ("p_mw", "q_mvar", "vm_pu", "p_avail_mw", "price_per_mwh")
AREA_OUTPUTS = ("net_export_mw", "schedule_mw", "price_per_mwh", "frequency_hz", "vm_min_pu",
                "vm_max_pu")

META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Grid": {"public": True, "params": ["scenario", "seed", "out"], "attrs": []},
        "Area": {"public": False, "params": [], "attrs": list(AREA_OUTPUTS)},
        "Unit": {"public": False, "params": [], "attrs": [*UNIT_INPUTS, *UNIT_OUTPUTS]},
    },
}


def _number(value: float) -> float:
    return float(value)


class HiergridSimulator(mosaik_api_v3.Simulator):
    """One hiergrid run as a time-based mosaik simulator (see the module)."""

    def __init__(self):
        super().__init__(META)
        self.time_resolution_s = 1.0
        self.stepped: SteppedRun | None = None
        self.out = None
        self.step_size = 0
        self._units: dict[str, tuple[Any, int]] = {}  # eid -> (group, row)
        self._areas: dict[str, int] = {}  # eid -> area index

    def init(self, sid, time_resolution: float = 1.0, **sim_params):
        if sim_params:
            raise ValueError(f"Hiergrid takes no simulator parameters; got {', '.join(sim_params)}")
        self.time_resolution_s = float(time_resolution)
        return self.meta

    def create(self, num: int, model: str, scenario=None, seed: int | None = None, out=None):
        """The ``Grid`` entity (one per simulator) with its areas and units as children."""
        from hierarchy.api import scenario_of

        if model != "Grid" or num != 1 or self.stepped is not None:
            raise ValueError("Hiergrid: create one Grid per simulator (start another for another run)")
        if scenario is None:
            raise ValueError("Hiergrid: Grid needs scenario= (a path or a mapping)")
        parsed = scenario_of(scenario if isinstance(scenario, Mapping) else str(scenario))[0]
        if seed is not None:
            parsed = parsed.model_copy(update={"seed": int(seed)})
        step_s = parsed.time.step / 1000.0
        steps = step_s / self.time_resolution_s
        if steps < 1 or abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"Hiergrid: time.step {step_s:g} s is not a whole number of mosaik "
                             f"time units ({self.time_resolution_s:g} s)")
        self.step_size = round(steps)
        self.stepped, self.out = SteppedRun(parsed), out
        rt = self.stepped.rt
        children = []
        for area in rt.areas:
            eid = f"area/{area.id}"
            self._areas[eid] = area.index
            children.append({"eid": eid, "type": "Area"})
        for group in rt.groups:
            for row, unit in enumerate(group.unit_ids):
                self._units[unit] = (group, row)
                children.append({"eid": unit, "type": "Unit"})
        return [{"eid": "grid", "type": "Grid", "children": children}]

    def step(self, time: int, inputs: dict, max_advance: int) -> int:
        """Hold the inputs, run up to the next step; return its time."""
        run = self._started()
        now_ms = round(time * self.time_resolution_s * 1000)
        if now_ms >= run.end_ms:
            raise ValueError(f"Hiergrid: the scenario ends at {run.end_ms / 1000:g} s; "
                             f"run mosaik until {run.end_ms / 1000 / self.time_resolution_s:g} at most")
        self._hold(inputs)
        run.advance(min(now_ms + round(self.step_size * self.time_resolution_s * 1000),
                        run.end_ms))
        return time + self.step_size

    def get_data(self, outputs: dict) -> dict:
        """The requested outputs of the last physics step."""
        k = self._started().steps_done - 1
        data: dict[str, dict[str, Any]] = {}
        for eid, attrs in outputs.items():
            if eid in self._units:
                values = self._unit_outputs(eid, k) if k >= 0 else {}
                meta = UNIT_INPUTS + UNIT_OUTPUTS
            elif eid in self._areas:
                values = self._area_outputs(self._areas[eid], k) if k >= 0 else {}
                meta = AREA_OUTPUTS
            else:
                raise ValueError(f"Hiergrid: no entity {eid!r}")
            for attr in attrs:
                if attr not in meta:
                    raise ValueError(f"Hiergrid: {eid} has no attribute {attr!r}")
            data[eid] = {attr: values.get(attr, math.nan) for attr in attrs}
        return data

    def finalize(self) -> None:
        """Write the results to ``out`` (if given); a run stopped early is marked so."""
        if self.stepped is None or self.out is None:
            return
        failure = None
        if not self.stepped.done:
            failure = RuntimeError(f"mosaik stopped at {self.stepped.now_ms / 1000:g} s, before the "
                                   f"scenario's end at {self.stepped.end_ms / 1000:g} s")
        self.stepped.result(self.out, failure)

    # ----------------------------------------------------------- internals
    def _started(self) -> SteppedRun:
        if self.stepped is None:
            raise ValueError("Hiergrid: create a Grid first")
        return self.stepped

    def _hold(self, inputs: dict) -> None:
        """Each unit's inputs (summed over sources) into its group's held P and Q."""
        held: dict[str, tuple[Any, np.ndarray, np.ndarray]] = {}
        for eid, attrs in inputs.items():
            if eid not in self._units:
                raise ValueError(f"Hiergrid: {eid} takes no inputs (only Units do)")
            group, row = self._units[eid]
            if not isinstance(group.policy, External):
                raise ValueError(f"Hiergrid: {eid} is in unit group {group.id!r} whose policy is "
                                 f"{group.policy_name!r}; give that group policy: external to "
                                 "set it from mosaik")
            if group.id not in held:
                held[group.id] = (group, group.policy.p_held_mw.copy(), group.policy.q_held_mvar.copy())
            for attr, sources in attrs.items():
                values = [float(v) for v in sources.values() if v is not None]
                value = math.fsum(values) if values else math.nan  # NaN in, NaN out: left alone
                held[group.id][UNIT_INPUTS.index(attr) + 1][row] = value
        for group, p_mw, q_mvar in held.values():
            group.policy.hold(p_mw, q_mvar)

    def _unit_outputs(self, eid: str, k: int) -> dict[str, Any]:
        group, row = self._units[eid]
        rec, rt = self.stepped.rt.recorder, self.stepped.rt
        column = rec.unit_names.index(eid)
        bus = int(group.bus_positions[row])
        return {"p_mw": _number(rec.step_rows("unit_p_mw", k, k + 1)[0, column]),
                "q_mvar": _number(rec.step_rows("unit_q_mvar", k, k + 1)[0, column]),
                "vm_pu": _number(rec.step_rows("bus_vm_pu", k, k + 1)[0, bus]),
                "p_avail_mw": _number(rt.profile_inputs(group)[0][row]),
                "price_per_mwh": _number(group.price_per_mwh[row]),
                **({"p_set_mw": _number(group.policy.p_held_mw[row]),
                    "q_set_mvar": _number(group.policy.q_held_mvar[row])}
                   if isinstance(group.policy, External) else {})}

    def _area_outputs(self, a: int, k: int) -> dict[str, Any]:
        rt = self.stepped.rt
        rec = rt.recorder
        vm_pu = rec.step_rows("bus_vm_pu", k, k + 1)[0, rt.area_of_bus == a]
        vm_pu = vm_pu[np.isfinite(vm_pu)]
        return {"net_export_mw": _number(rec.step_rows("area_net_export_mw", k, k + 1)[0, a]),
                "schedule_mw": _number(rec.step_rows("area_schedule_mw", k, k + 1)[0, a]),
                "price_per_mwh": _number(clearing_prices(rt, k, k + 1)[0, a]),
                "frequency_hz": _number(rec.step_rows("area_frequency_hz", k, k + 1)[0, a]),
                "vm_min_pu": _number(vm_pu.min()) if vm_pu.size else math.nan,
                "vm_max_pu": _number(vm_pu.max()) if vm_pu.size else math.nan}
