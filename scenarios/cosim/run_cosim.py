"""Co-simulation example: hiergrid's feeder and an EV charging simulator, coupled by mosaik.

    pip install -e ".[cosim]"
    python scenarios/cosim/run_cosim.py [--out results/cosim]

mosaik runs both simulators in this process (``sim_config`` entries
``python: module:Class``). Each EV hub (``ev_hubs.py``) reads the voltage
and retail price at its storage element from hiergrid and sends the
element's P back (``p_set_mw``); the feeder's unit group ``ev_hubs`` has
``policy: external`` (``feeder.yaml``). hiergrid's results go to ``--out``
as with ``hiergrid run``, the hubs' decisions to ``ev_hubs.csv`` there.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import mosaik

HERE = Path(__file__).resolve().parent
SIM_CONFIG = {
    "Hiergrid": {"python": "hierarchy.coupling.mosaik_sim:HiergridSimulator"},
    "EVHubs": {"python": "ev_hubs:Hubs"},
}
STEP_S = 900  # the feeder's time.step, 15 min
DURATION_S = 24 * 3600  # its time.duration
#: EV hub -> the storage element it charges through
HUBS = {"hub_0": "storage/0", "hub_1": "storage/1"}


def main(out: str | Path = "results/cosim", scenario: str | Path = HERE / "feeder.yaml",
         quiet: bool = False) -> Path:
    """Run the co-simulation; return the output folder."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))  # ev_hubs, for mosaik's in-process start
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    world = mosaik.World(SIM_CONFIG, skip_greetings=quiet, configure_logging=not quiet)
    grid = world.start("Hiergrid").Grid(scenario=str(scenario), out=str(out))
    units = {entity.eid: entity for entity in grid.children if entity.type == "Unit"}
    hubs = world.start("EVHubs", step_s=STEP_S, start_h=12.0, log=str(out / "ev_hubs.csv")).Hub.create(
        len(HUBS), p_max_mw=0.4, energy_mwh=2.0, arrive_h=17.0, depart_h=7.0, price_low=100.0,
        v_min_pu=0.97)
    for hub in hubs:
        unit = units[HUBS[hub.eid]]
        world.connect(hub, unit, "p_set_mw")
        world.connect(unit, hub, "vm_pu", "price_per_mwh", time_shifted=True,
                      initial_data={"vm_pu": math.nan, "price_per_mwh": math.nan})
    world.run(until=DURATION_S, print_progress=not quiet)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/cosim", help="output folder")
    print(f"results in {main(parser.parse_args().out)}")
