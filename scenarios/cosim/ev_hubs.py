"""A tiny mosaik simulator of EV charging hubs, written for the hiergrid co-simulation example.

Each ``Hub`` entity is a fleet of electric vehicles behind one grid
connection: they plug in at ``arrive_h`` needing ``energy_mwh`` in all and
leave at ``depart_h``. The hub charges at full power (``p_max_mw``) while
the price it faces is at or below ``price_low`` and its voltage at or above
``v_min_pu``; otherwise at the lowest constant power that still finishes by
departure. It knows nothing of hiergrid: it reads a voltage and a price and
sends a power (``p_set_mw``, charging negative, generation-positive signs).

Inputs: ``vm_pu`` [pu], ``price_per_mwh`` (NaN or None while unknown). Outputs:
``p_set_mw`` [MW], ``energy_left_mwh`` [MWh]. Written with mosaik-api-v3
only; ``log`` (a CSV path) keeps every decision.
"""
from __future__ import annotations

import csv
import math

import mosaik_api_v3

META = {
    "api_version": "3.0",
    "type": "time-based",
    "models": {
        "Hub": {"public": True,
                "params": ["p_max_mw", "energy_mwh", "arrive_h", "depart_h", "price_low", "v_min_pu"],
                "attrs": ["vm_pu", "price_per_mwh", "p_set_mw", "energy_left_mwh"]},
    },
}


def charging_mw(energy_left_mwh: float, hours_left: float, p_max_mw: float, cheap: bool,
                step_h: float) -> float:
    """Charging power [MW] over the next step [h]: full when cheap, else just enough to
    finish by departure; never more than is left to charge."""
    if energy_left_mwh <= 0 or hours_left <= 0:
        return 0.0
    need_mw = energy_left_mwh / hours_left
    return min(p_max_mw if cheap else need_mw, p_max_mw, energy_left_mwh / step_h)


def _known(value) -> bool:
    return value is not None and math.isfinite(value)


class Hubs(mosaik_api_v3.Simulator):
    """EV charging hubs (see the module); ``step_s`` is the step, ``start_h`` the hour at time 0."""

    def __init__(self):
        super().__init__(META)
        self.hubs: dict[str, dict] = {}
        self.rows: list[list] = []

    def init(self, sid, time_resolution=1.0, step_s=900, start_h=0.0, log=None):
        self.time_resolution = float(time_resolution)
        self.step_size = int(step_s / self.time_resolution)
        self.start_h, self.log = float(start_h), log
        return self.meta

    def create(self, num, model, p_max_mw=0.4, energy_mwh=2.0, arrive_h=17.0, depart_h=7.0,
               price_low=100.0, v_min_pu=0.97):
        entities = []
        for _ in range(num):
            eid = f"hub_{len(self.hubs)}"
            self.hubs[eid] = {"p_max_mw": p_max_mw, "energy_mwh": energy_mwh, "arrive_h": arrive_h,
                              "depart_h": depart_h, "price_low": price_low, "v_min_pu": v_min_pu,
                              "energy_left_mwh": 0.0, "p_set_mw": 0.0}
            entities.append({"eid": eid, "type": model})
        return entities

    def step(self, time, inputs, max_advance):
        step_h = self.step_size * self.time_resolution / 3600.0
        hour = (self.start_h + time * self.time_resolution / 3600.0) % 24.0
        for eid, hub in self.hubs.items():
            seen = inputs.get(eid, {})
            vm_pu = next(iter(seen.get("vm_pu", {}).values()), None)
            price = next(iter(seen.get("price_per_mwh", {}).values()), None)
            if abs(hour - hub["arrive_h"]) < 1e-9:  # the fleet plugs in
                hub["energy_left_mwh"] = hub["energy_mwh"]
            plugged = not (hub["depart_h"] <= hour < hub["arrive_h"])
            hours_left = (hub["depart_h"] - hour) % 24.0
            cheap = (_known(price) and price <= hub["price_low"]
                     and _known(vm_pu) and vm_pu >= hub["v_min_pu"])
            p_mw = (charging_mw(hub["energy_left_mwh"], hours_left, hub["p_max_mw"], cheap, step_h)
                    if plugged else 0.0)
            hub["energy_left_mwh"] = max(hub["energy_left_mwh"] - p_mw * step_h, 0.0)
            hub["p_set_mw"] = 0.0 - p_mw  # charging is consumption: negative
            self.rows.append([time, eid, vm_pu, price, hub["p_set_mw"], hub["energy_left_mwh"]])
        return time + self.step_size

    def get_data(self, outputs):
        return {eid: {attr: self.hubs[eid][attr] for attr in attrs} for eid, attrs in outputs.items()}

    def finalize(self):
        if self.log is None:
            return
        with open(self.log, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["time", "hub", "vm_pu", "price_per_mwh", "p_set_mw", "energy_left_mwh"])
            writer.writerows(self.rows)
