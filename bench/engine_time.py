"""Time of each phase of one ``hierarchy.run`` of a scenario, engine per step.

Prints the import, build, engine (also per step and per power flow),
summary and output-writing times of one run. ``--code DIR`` imports
hiergrid from another checkout (``git worktree add /tmp/old REV``), so
two versions can be compared *at the same time*, one per core: on a
machine whose speed drifts within the hour, that is a fairer comparison
than two runs one after the other::

    python bench/engine_time.py /tmp/cut.yaml --code /tmp/old > old.txt &
    python bench/engine_time.py /tmp/cut.yaml > new.txt; wait

Usage (repository root)::

    python bench/engine_time.py SCENARIO [--out DIR] [--code DIR] [--no-write]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("--out", default=None, help="results folder (default: a temporary one)")
    parser.add_argument("--code", default=None,
                        help="import hiergrid from this checkout (default: this one)")
    parser.add_argument("--no-write", action="store_true", help="run without writing outputs")
    args = parser.parse_args()
    sys.path.insert(0, args.code or str(Path(__file__).resolve().parents[1]))
    start = time.perf_counter()
    import hierarchy.api as api
    import hierarchy.outputs.summary
    import hierarchy.outputs.write
    import hierarchy.sim.build

    phases: dict[str, float] = {"imports": time.perf_counter() - start}
    built = []

    def timed(module, name: str, label: str) -> None:
        function = getattr(module, name)

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                result = function(*a, **k)
                if label == "build":
                    built.append(result)
                return result
            finally:
                phases[label] = phases.get(label, 0.0) + time.perf_counter() - t

        setattr(module, name, wrapper)

    timed(hierarchy.sim.build, "build", "build")
    timed(api, "_run_engine", "engine")
    timed(hierarchy.outputs.summary, "summarize", "summary")
    timed(hierarchy.outputs.write, "write_results", "outputs (waits for the plots)")
    with tempfile.TemporaryDirectory() as tmp:
        api.run(args.scenario, out=args.out or tmp, write=not args.no_write)
    phases["total"] = time.perf_counter() - start
    rt = built[0]
    solves = rt.plant.powerflow.n_solves
    print(f"{args.scenario}: {rt.n_steps} steps, code from {hierarchy.__file__}")
    print(f"engine {phases['engine'] / rt.n_steps * 1e3:.4f} ms/step, "
          f"{solves / rt.n_steps:.2f} power flows/step")
    for label, seconds in phases.items():
        print(f"  {label:30s} {seconds:8.2f} s")


if __name__ == "__main__":
    main()
