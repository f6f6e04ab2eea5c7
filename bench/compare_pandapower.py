"""Per-step time of hiergrid (profiles only) against pandapower's ``run_timeseries``.

One process, one grid, the same SimBench profiles and steps, three runs:

1. pandapower ``run_timeseries`` as its users write it: one ``ConstControl``
   per profiled quantity reading ``simbench.get_absolute_values`` through a
   ``DFData`` source, an ``OutputWriter`` logging ``res_bus.vm_pu`` (in
   memory), the default ``run`` (``runpp``), with ``lightsim2grid=False``;
2. the same with pandapower's default (``lightsim2grid="auto"``: lightsim2grid
   where installed and applicable);
3. hiergrid with no controllers: a scenario with no units, one ``rest``
   area, ``market: none``, ``hierarchy.run(..., write=False)``.

Each is warmed up untimed first (numba JIT, SimBench loading and caches).
Do not pass your own ``run=`` to ``run_timeseries``: that silently turns off
its recycle path (``get_recycle_settings`` only recognises ``runpp`` by
name) and makes the baseline ~5x slower than what a user gets.

Times are per step [ms]. pandapower's is the ``run_timeseries`` call (its
controllers and data source are built untimed); hiergrid's "run" is the
whole ``hierarchy.run`` call with warm caches, "engine" the stepping loop
``Engine(build(scenario)).run()`` alone. The voltage check is the
largest |ΔV| [pu] between hiergrid's ``bus_vm_pu`` and the OutputWriter's
``res_bus.vm_pu`` over all buses and steps.

Usage (repository root)::

    python bench/compare_pandapower.py --grid 1-MV-semiurb--0-sw --steps 500 [--repeat 3]
"""
from __future__ import annotations

import argparse
import copy
import logging
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd

#: Profiled (table, column) pairs that get a ConstControl, as in simbench's absolute values.
PROFILED: tuple[tuple[str, str], ...] = (
    ("load", "p_mw"), ("load", "q_mvar"), ("sgen", "p_mw"), ("gen", "p_mw"), ("storage", "p_mw"))
#: Steps of the untimed warm-up runs.
WARMUP_STEPS: int = 8


def pandapower_case(code: str) -> tuple[Any, dict]:
    """A SimBench net with ConstControls on its absolute profiles and an OutputWriter.

    Returns
    -------
    (pandapowerNet, dict)
        The net (controllers and writer attached) and the absolute profiles
        ``{(table, column): DataFrame}`` [MW, Mvar].
    """
    import simbench
    from pandapower.control import ConstControl
    from pandapower.timeseries import DFData, OutputWriter

    net = simbench.get_simbench_net(code)
    profiles = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
    for (table, column), frame in profiles.items():
        if frame.shape[1] == 0 or len(net[table]) == 0:
            continue
        ConstControl(net, element=table, variable=column, element_index=frame.columns,
                     data_source=DFData(frame), profile_name=frame.columns)
    OutputWriter(net, output_path=None, log_variables=[("res_bus", "vm_pu")])
    return net, profiles


def time_pandapower(case: Any, n_steps: int, **runpp_kwargs: Any) -> tuple[float, pd.DataFrame, bool]:
    """Time ``run_timeseries`` over steps 0..n-1 on a fresh copy of ``case``.

    Each call (warm-up and timed) gets its own deep copy: ``run_timeseries``
    rewrites the OutputWriter's log variables on its recycle path, so a
    second call with the same writer silently runs without it.

    Returns
    -------
    (float, pandas.DataFrame, bool)
        Wall time [s], the logged ``res_bus.vm_pu`` [pu] (a row per step, a
        column per bus index), and whether lightsim2grid solved the steps.
    """
    from pandapower.timeseries import run_timeseries

    run_timeseries(copy.deepcopy(case), time_steps=range(WARMUP_STEPS), verbose=False,
                   **runpp_kwargs)
    net = copy.deepcopy(case)
    start = time.perf_counter()
    run_timeseries(net, time_steps=range(n_steps), verbose=False, **runpp_kwargs)
    wall_s = time.perf_counter() - start
    writer = net.output_writer.at[0, "object"]
    return wall_s, writer.output["res_bus.vm_pu"], bool(net._options.get("lightsim2grid", False))


def hiergrid_scenario(code: str, n_steps: int) -> dict:
    """Profiles-only scenario: SimBench grid and profiles, no units, one area, no market."""
    return {
        "name": "compare_pandapower", "grid": {"source": "simbench", "code": code},
        "time": {"start": "2016-01-01 00:00", "duration": f"{15 * n_steps}min", "step": "15min"},
        "profiles": {"source": "simbench"},
        "areas": [{"id": "all", "buses": "rest", "coordinator": {"policy": "none"}}],
        "market": {"mechanism": "none"},
        "outputs": {"plots": False},
    }


def time_hiergrid(code: str, n_steps: int) -> tuple[float, float, pd.DataFrame]:
    """(run wall [s], engine wall [s], bus voltages [pu]) of the profiles-only scenario.

    "run" is the whole ``hierarchy.run(..., write=False)`` call; "engine" is
    ``Engine(build(scenario)).run()`` alone, the stepping loop without
    loading the grid and profiles.
    """
    import hierarchy
    from hierarchy.scenario import load_scenario
    from hierarchy.sim.build import build
    from hierarchy.sim.engine import Engine

    hierarchy.run(hiergrid_scenario(code, WARMUP_STEPS), write=False)
    scenario = hiergrid_scenario(code, n_steps)
    start = time.perf_counter()
    result = hierarchy.run(scenario, write=False)
    run_s = time.perf_counter() - start
    runtime = build(load_scenario(scenario))
    start = time.perf_counter()
    Engine(runtime).run()
    engine_s = time.perf_counter() - start
    return run_s, engine_s, result.frame("bus_vm_pu")


def max_voltage_difference_pu(hiergrid_vm: pd.DataFrame, pandapower_vm: pd.DataFrame) -> float:
    """Largest |V_hiergrid − V_pandapower| [pu] over all steps and buses, matched by bus index."""
    columns = [int(str(c).split("/")[-1]) for c in hiergrid_vm.columns]
    ours = hiergrid_vm.set_axis(columns, axis=1).to_numpy(float)
    theirs = pandapower_vm.reindex(columns=columns).to_numpy(float)
    if ours.shape != theirs.shape:
        raise ValueError(f"step or bus count differs: hiergrid {ours.shape}, pandapower {theirs.shape}")
    return float(np.nanmax(np.abs(ours - theirs)))


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the comparison, print the table; return the medians [ms/step] and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="1-MV-semiurb--0-sw", help="SimBench code")
    parser.add_argument("--steps", type=int, default=500, help="15-min steps from 2016-01-01")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each (median)")
    args = parser.parse_args(argv)
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    n = args.steps
    case, _ = pandapower_case(args.grid)
    times: dict[str, list[float]] = {"pp": [], "ls": [], "run": [], "engine": []}
    for _ in range(args.repeat):
        wall_pp, vm_pp, _ = time_pandapower(case, n, lightsim2grid=False)
        wall_ls, vm_ls, used_ls = time_pandapower(case, n)
        run_s, engine_s, vm_hg = time_hiergrid(args.grid, n)
        times["pp"].append(wall_pp / n)
        times["ls"].append(wall_ls / n)
        times["run"].append(run_s / n)
        times["engine"].append(engine_s / n)
    med = {key: 1000 * statistics.median(values) for key, values in times.items()}
    dv_pp = max_voltage_difference_pu(vm_hg, vm_pp)
    dv_ls = max_voltage_difference_pu(vm_hg, vm_ls)
    print(f"grid {args.grid}, {n} steps of 15 min, median of {args.repeat}; "
          f"pandapower default used lightsim2grid: {used_ls}")
    print(f"{'run':44s} {'ms/step':>9s} {'hiergrid run x':>15s} {'engine x':>9s}")
    for label, key in (("pandapower run_timeseries, lightsim2grid=False", "pp"),
                       ("pandapower run_timeseries, default", "ls")):
        print(f"{label:44s} {med[key]:9.3f} {med[key] / med['run']:15.1f} "
              f"{med[key] / med['engine']:9.1f}")
    print(f"{'hiergrid hierarchy.run (profiles only)':44s} {med['run']:9.3f}")
    print(f"{'hiergrid engine loop only (no build)':44s} {med['engine']:9.3f}")
    print(f"max |dV| hiergrid vs pandapower: {dv_pp:.2e} pu (lightsim2grid=False), "
          f"{dv_ls:.2e} pu (default)")
    return {**med, "ratio_pp": med["pp"] / med["run"], "ratio_ls": med["ls"] / med["run"],
            "dv_pp": dv_pp, "dv_ls": dv_ls}


if __name__ == "__main__":
    main()
