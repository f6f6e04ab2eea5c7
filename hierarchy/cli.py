"""The ``hiergrid`` command line.

Exit status: 0 done; 2 the input is invalid (one message on stderr naming
the key path, no traceback); 1 the run failed (results up to the failure are
kept); 130 interrupted (results up to the last complete step are kept).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hiergrid", description=(
        "Three-tier hierarchical control of power grids with DERs: unit, area and market "
        "control in one SimPy run on pandapower feeders."))
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario and write its results folder")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--out", help="output folder (default: the scenario's outputs.dir)")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    validate = sub.add_parser("validate", help="check a scenario (and its grid) without running "
                                               "it; or every run of a sweep file")
    validate.add_argument("scenario", help="scenario or sweep YAML file")
    sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    sweep = sub.add_parser("sweep", help="run every scenario of a sweep file (docs/sweeps.md)")
    sweep.add_argument("sweep", help="sweep YAML file: base scenario and the keys to vary")
    sweep.add_argument("--out", required=True,
                       help="sweep folder: a folder per run and sweep.parquet; runs already "
                            "complete there are skipped")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help="local worker processes (default: the number of cores)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on an existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    compare = sub.add_parser("compare", help="compare finished runs: table, CSV, overlay plots")
    compare.add_argument("folders", nargs="+", metavar="DIR",
                         help="run folders, or sweep folders (all their finished runs)")
    compare.add_argument("--out", help="folder for compare.csv and plots/ (default: "
                                       "SWEEP/compare for one sweep folder, else results/compare)")
    return parser


def _fail(message: str, status: int) -> int:
    print(f"hiergrid: {message}", file=sys.stderr)
    return status


def _run(args) -> int:
    from hierarchy.api import RunInterrupted, run
    from hierarchy.plant.profiles import hold_simbench_values
    from hierarchy.scenario import ScenarioError
    from hierarchy.sim.engine import PolicyError

    hold_simbench_values(0)  # one run per process: nothing to reuse them for
    try:
        result = run(args.scenario, out=args.out, seed=args.seed, quiet=args.quiet)
    except ScenarioError as exc:
        return _fail(str(exc), 2)
    except (KeyboardInterrupt, RunInterrupted) as exc:
        out = getattr(getattr(exc, "result", None), "out_dir", None)
        if out is None:
            return _fail("interrupted before the first step; nothing was written", 130)
        return _fail(f"interrupted; results up to the last complete step are in {out}", 130)
    except PolicyError as exc:
        out = getattr(getattr(exc, "result", None), "out_dir", None)
        return _fail(f"{exc} (results up to then are in {out})", 1)
    except Exception as exc:  # a run failure: one line, not a traceback
        out = getattr(getattr(exc, "result", None), "out_dir", None)
        where = f" (results up to then are in {out})" if out else ""
        return _fail(f"run failed: {type(exc).__name__}: {exc}{where}", 1)
    s = result.summary
    print(f"{s['name']}: {s['steps']} steps in {s['runtime']['wall_s']:.1f} s -> {result.out_dir}")
    e, v = s["energy"], s["voltage"]
    print(f"  load {e['load_mwh']:.2f} MWh, generation {e['generation_mwh']:.2f} MWh, "
          f"import {e['import_mwh']:.2f} MWh, export {e['export_mwh']:.2f} MWh, "
          f"losses {e['losses_mwh']:.3f} MWh")
    if v["min_pu"] is not None:
        print(f"  voltage {v['min_pu']:.4f}..{v['max_pu']:.4f} pu, "
              f"{v['violation_bus_hours']:.2f} bus-hours outside {v['band_pu']}")
    m = s["market"]
    if m["intervals"]:
        print(f"  market: {m['intervals']} intervals, mean price {m['mean_price']:.2f}/MWh, "
              f"{m['cleared_mwh']:.2f} MWh cleared")
    return 0


def _validate_sweep(path: str) -> int:
    """Validate a sweep file: every run's scenario, and build each one's grid."""
    from hierarchy.scenario import ScenarioError
    from hierarchy.sim.build import build
    from hierarchy.sweep.spec import blame, expand_sweep, load_sweep

    try:
        sweep = load_sweep(path)
        runs = expand_sweep(sweep)
        for run in runs:
            try:
                build(run.scenario)
            except ScenarioError as exc:
                raise blame(exc, run.values, sweep.fixed, run.run_id) from None
    except ScenarioError as exc:
        return _fail(str(exc), 2)
    print(f"{path}: valid sweep of {len(runs)} runs")
    return 0


def _validate(args) -> int:
    from hierarchy.scenario import ScenarioError, load_scenario
    from hierarchy.sim.build import build
    from hierarchy.sweep.spec import is_sweep_file

    if is_sweep_file(args.scenario):
        return _validate_sweep(args.scenario)
    try:
        scenario = load_scenario(args.scenario)
        build(scenario)
    except ScenarioError as exc:
        return _fail(str(exc), 2)
    print(f"{args.scenario}: valid")
    return 0


def _sweep(args) -> int:
    from hierarchy.scenario import ScenarioError
    from hierarchy.sweep.run import run_sweep

    if args.workers is not None and args.workers < 1:
        return _fail(f"--workers: must be at least 1; got {args.workers}", 2)
    try:
        outcome = run_sweep(args.sweep, args.out, workers=args.workers,
                            scheduler=args.scheduler, quiet=args.quiet)
    except ScenarioError as exc:
        return _fail(str(exc), 2)
    except OSError as exc:  # scheduler unreachable, no workers, folder not writable
        return _fail(f"sweep failed: {type(exc).__name__}: {exc}", 1)
    table = outcome.table
    for run_id, error in zip(table["run_id"], table["error"]):
        if error:
            print(f"  {run_id} failed: {error}")
    print(f"sweep: {len(outcome.ran)} runs run, {len(outcome.skipped)} complete already skipped, "
          f"{len(outcome.failed)} failed -> {Path(args.out) / 'sweep.parquet'}")
    if outcome.interrupted:
        return _fail("interrupted; start the same sweep again to run the rest", 130)
    return 1 if outcome.failed else 0


def _compare(args) -> int:
    import pandas as pd

    from hierarchy.outputs.compare import compare_runs, run_folders, sweep_values

    try:
        runs, missing = run_folders(args.folders)
    except FileNotFoundError as exc:
        return _fail(f"compare: {exc}", 2)
    if not runs:
        return _fail("compare: no finished run to compare", 2)
    sweeps = [sweep_values(folder) for folder in args.folders]
    default = (Path(args.folders[0]) / "compare" if len(args.folders) == 1 and sweeps[0] is not None
               else Path("results") / "compare")
    out = Path(args.out) if args.out else default
    try:
        table = compare_runs(runs, out)
    except (FileNotFoundError, ValueError) as exc:
        return _fail(f"compare: {exc}", 2)
    for values in (s for s in sweeps if s is not None):
        print(values.to_string(), end="\n\n")
    with pd.option_context("display.max_rows", None, "display.width", 200,
                           "display.max_columns", None):
        print(table.to_string())
    for run in missing:
        print(f"  {run}: no summary.json (failed before it started), left out", file=sys.stderr)
    print(f"compare: {len(runs)} runs -> {out / 'compare.csv'}, {out / 'plots'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hiergrid`` console script."""
    try:
        return _main(argv)
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stderr.close()
        return 0


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "compare":
        return _compare(args)
    from hierarchy.scenario import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
