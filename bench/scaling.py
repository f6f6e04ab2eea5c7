"""Per-step cost of hiergrid against grid size and against the number of controlled units.

Two series of runs at 15-min steps from 2016-01-01, each timed as the
stepping loop alone (``Engine(build(scenario)).run()``, after an untimed
warm-up of a few steps of the same case):

* **grid size**, profiles only (no units, one ``rest`` area, no market):
  CIGRE MV (15 buses, synthetic profiles), SimBench ``1-MV-semiurb--0-sw``
  (117), ``1-HVMV-mixed-1.105-0-sw`` (401), ``1-HVMV-mixed-all-0-sw``
  (1,942 buses, 3,459 loads and sgens), ``1-MVLV-semiurb-all-0-sw``
  (9,099 buses, 9,566 loads and sgens);
* **controlled units**: volt-var (IEEE 1547 category B) on the first 10,
  100, 1,000 and all rated sgens (1,727 of its 1,773 have ``sn_mva > 0``)
  of ``1-HVMV-mixed-all-0-sw``, no market.

Printed: steps/s, ms/step, buses, elements (loads + sgens + storage + gen),
controlled units, power-flow solves per step (above 1: the unit controllers
iterated to their fixed point) and ms per solve, Newton-Raphson iterations
per step and the cost per bus and iteration [µs] (flat = the solver scales
linearly; the iteration count depends on how much a grid's injections move
between steps, not on its size), and the slope of log(ms/step) against
log(buses) or log(units) between consecutive rows (1 = linear growth; below
1 = sublinear, the fixed cost per step still dominates).

Usage (repository root; ~5 min with the defaults on 2 cores)::

    python bench/scaling.py [--steps 200] [--repeat 1] [--only grids|units]
"""
from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass

#: SimBench grids of the grid-size series, smallest first.
SIMBENCH_GRIDS: tuple[str, ...] = (
    "1-MV-semiurb--0-sw", "1-HVMV-mixed-1.105-0-sw", "1-HVMV-mixed-all-0-sw",
    "1-MVLV-semiurb-all-0-sw")
#: Grid of the controlled-units series and its unit counts (None: all sgens).
UNITS_GRID: str = "1-HVMV-mixed-all-0-sw"
#: Unit counts (None: every sgen with a rating sn_mva > 0).
UNIT_COUNTS: tuple[int | None, ...] = (0, 10, 100, 1000, None)
#: Steps of the untimed warm-up of each case.
WARMUP_STEPS: int = 4
#: Newton-Raphson iterations per step of the last timed run of each case (by label).
ITERATIONS: dict[str, float] = {}


@dataclass
class Case:
    """One benchmark case: a scenario mapping without ``time`` and what it holds."""

    label: str
    scenario: dict
    buses: int
    elements: int
    units: int


def base_scenario(grid: dict, profiles: str) -> dict:
    """Scenario mapping without ``time``: no units, one ``rest`` area, no market, no plots."""
    return {"name": "scaling", "grid": grid, "profiles": {"source": profiles},
            "areas": [{"id": "all", "buses": "rest", "coordinator": {"policy": "none"}}],
            "market": {"mechanism": "none"}, "outputs": {"plots": False}}


def _counts(net) -> tuple[int, int]:
    elements = sum(len(net[table]) for table in ("load", "sgen", "storage", "gen"))
    return len(net.bus), elements


def grid_cases() -> list[Case]:
    """The grid-size series (profiles only)."""
    from hierarchy.plant.network import load_net

    cigre = {"source": "pandapower", "name": "create_cigre_network_mv",
             "options": {"with_der": "all"}}
    cases = [Case("CIGRE MV", base_scenario(cigre, "synthetic"),
                  *_counts(load_net("pandapower", name=cigre["name"], options=cigre["options"])), 0)]
    for code in SIMBENCH_GRIDS:
        grid = {"source": "simbench", "code": code}
        cases.append(Case(code, base_scenario(grid, "simbench"),
                          *_counts(load_net("simbench", code=code)), 0))
    return cases


def unit_cases() -> list[Case]:
    """The controlled-units series: volt-var on the first k sgens of :data:`UNITS_GRID`."""
    from hierarchy.plant.network import load_net

    net = load_net("simbench", code=UNITS_GRID)
    buses, elements = _counts(net)
    rated = net.sgen.index[net.sgen["sn_mva"].to_numpy(float) > 0]  # volt-var needs a rating
    sgens = [f"sgen/{index}" for index in rated]
    cases = []
    for count in UNIT_COUNTS:
        chosen = sgens if count is None else sgens[:count]
        scenario = base_scenario({"source": "simbench", "code": UNITS_GRID}, "simbench")
        if chosen:
            scenario["units"] = [{"id": "pv", "elements": chosen, "policy": "volt_var",
                                  "params": {"curve": "ieee1547_cat_b"}}]
        cases.append(Case(f"volt_var on {len(chosen)}", scenario, buses, elements, len(chosen)))
    return cases


def time_case(case: Case, n_steps: int) -> tuple[float, float]:
    """(wall time [s], power-flow solves per step) of the engine over ``n_steps`` steps.

    Solves are counted by the power flow itself: more than one per step
    means the unit controllers needed fixed-point iterations. Cases without
    units run open loop (solved and recorded in blocks, ``hierarchy.sim.open_loop``).
    """
    from hierarchy.scenario import load_scenario
    from hierarchy.sim.build import build
    from hierarchy.sim.engine import Engine

    def scenario(steps: int):
        timing = {"start": "2016-01-01 00:00", "duration": f"{15 * steps}min", "step": "15min"}
        return load_scenario({**case.scenario, "time": timing})

    Engine(build(scenario(WARMUP_STEPS))).run()
    runtime = build(scenario(n_steps))
    flow = runtime.plant.powerflow
    solves_before = flow.n_solves  # step by step or in open-loop blocks, each solve counts
    iterations_before = flow.n_iterations
    start = time.perf_counter()
    Engine(runtime).run()
    wall_s = time.perf_counter() - start
    ITERATIONS[case.label] = (flow.n_iterations - iterations_before) / n_steps
    return wall_s, (flow.n_solves - solves_before) / n_steps


def print_table(title: str, rows: list[tuple[Case, float, float]], by: str) -> None:
    """Print one series; ``by`` is the size column of the slope (``buses`` or ``units``)."""
    print(f"\n{title}")
    print(f"{'case':26s} {'buses':>6s} {'elements':>8s} {'units':>6s} {'steps/s':>8s} "
          f"{'ms/step':>8s} {'pf/step':>7s} {'ms/pf':>6s} {'NR it/step':>10s} "
          f"{'us/(bus*it)':>11s} {'slope':>6s}")
    previous = None
    for case, ms, solves in rows:
        size = getattr(case, by)
        slope = ""
        if previous is not None and previous[0] > 0 and size > previous[0]:
            slope = f"{math.log(ms / previous[1]) / math.log(size / previous[0]):6.2f}"
        iterations = ITERATIONS.get(case.label, float("nan"))
        per_bus_iteration = 1000 * ms / (case.buses * iterations) if iterations > 0 else float("nan")
        print(f"{case.label:26s} {case.buses:6d} {case.elements:8d} {case.units:6d} "
              f"{1000 / ms:8.1f} {ms:8.2f} {solves:7.2f} {ms / solves:6.2f} {iterations:10.2f} "
              f"{per_bus_iteration:11.3f} {slope:>6s}")
        previous = (size, ms)


def main(argv: list[str] | None = None) -> dict[str, list[tuple[Case, float, float]]]:
    """Run the series, print their tables; return (case, median ms/step, solves/step) rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed 15-min steps per case")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per case (median)")
    parser.add_argument("--only", choices=("grids", "units"), help="run one series only")
    args = parser.parse_args(argv)
    series = {"grids": (grid_cases, "buses", "Grid size (profiles only, no controllers)"),
              "units": (unit_cases, "units", f"Controlled units (volt-var, {UNITS_GRID})")}
    results = {}
    for name, (make_cases, by, title) in series.items():
        if args.only not in (None, name):
            continue
        rows = []
        for case in make_cases():
            timed = [time_case(case, args.steps) for _ in range(args.repeat)]
            wall_s = statistics.median(wall for wall, _ in timed)
            rows.append((case, 1000 * wall_s / args.steps, timed[0][1]))
        print_table(f"{title}: {args.steps} steps, median of {args.repeat}", rows, by)
        results[name] = rows
    return results


if __name__ == "__main__":
    main()
