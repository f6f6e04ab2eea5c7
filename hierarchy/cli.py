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
    validate = sub.add_parser("validate", help="check a scenario (and its grid) without running it")
    validate.add_argument("scenario")
    sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    return parser


def _fail(message: str, status: int) -> int:
    print(f"hiergrid: {message}", file=sys.stderr)
    return status


def _run(args) -> int:
    from hierarchy.api import RunInterrupted, run
    from hierarchy.engine import PolicyError
    from hierarchy.scenario import ScenarioError

    try:
        result = run(args.scenario, out=args.out, seed=args.seed, quiet=args.quiet)
    except ScenarioError as exc:
        return _fail(str(exc), 2)
    except (KeyboardInterrupt, RunInterrupted) as exc:
        out = getattr(getattr(exc, "result", None), "out_dir", None)
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


def _validate(args) -> int:
    from hierarchy.build import build
    from hierarchy.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario)
        build(scenario)
    except ScenarioError as exc:
        return _fail(str(exc), 2)
    print(f"{args.scenario}: valid")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hiergrid`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "validate":
        return _validate(args)
    from hierarchy.scenario import scenario_json_schema

    print(json.dumps(scenario_json_schema(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
