"""Long-run memory benchmark: a month at 1 min on a SimBench feeder (not in CI).

Runs ``hierarchy.run`` on ``1-MV-semiurb--0-sw`` with SimBench profiles,
volt-var on every PV and LV generator, and a few events (a line outage and
its restoration, load steps up and down), and samples the process's
resident set size (RSS, ``psutil``) through the run's progress hook (the
engine reports every 200 steps). It prints the RSS at 10 %, 50 %, 90 % and
100 % of the steps, next to the size of the preallocated result arrays.
Memory must stay flat once the run is going: growth between 10 % and
100 % beyond a few MB means something keeps state per step.

Usage (repository root)::

    python bench/long_run.py [--days 30] [--step 1min] [--out DIR]

Exit status 0 when the RSS grew by less than ``--limit-mb`` (default 50 MB)
from 10 % to 100 % of the steps, 1 otherwise.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hierarchy  # noqa: E402
import hierarchy.api  # noqa: E402

MB = 1024 * 1024
MARKS = (0.1, 0.5, 0.9, 1.0)


def scenario(days: int, step: str, out: str | None) -> dict:
    """The benchmark scenario as a mapping."""
    return {
        "name": "long_run", "seed": 11,
        "grid": {"source": "simbench", "code": "1-MV-semiurb--0-sw"},
        "time": {"start": "2016-06-01 00:00", "duration": f"{days}d", "step": step},
        "profiles": {"source": "simbench"},
        "areas": [{"id": "feeder", "buses": {"feeder_of": "bus/4"},
                   "coordinator": {"policy": "none"}},
                  {"id": "rest", "buses": "rest", "coordinator": {"policy": "none"}}],
        "units": [{"id": "pv", "elements": {"table": "sgen", "where": {"type": ["PV_MV", "lv_RES"]}},
                   "policy": "volt_var", "params": {"curve": "ieee1547_cat_b"}}],
        "market": {"mechanism": "none"},
        "events": [
            {"at": f"{days * 0.2:g}d", "kind": "line_outage", "target": "line/5"},
            {"at": f"{days * 0.2 + 0.25:g}d", "kind": "line_restore", "target": "line/5"},
            {"at": f"{days * 0.4:g}d", "kind": "load_step", "target": "load/3", "delta_mw": 0.5},
            {"at": f"{days * 0.6:g}d", "kind": "load_step", "target": "load/3", "delta_mw": -0.5},
            {"at": f"{days * 0.7:g}d", "kind": "load_step", "target": "load/10", "delta_mw": 0.3},
        ],
        "outputs": {"dir": out or "results/long_run", "plots": False},
    }


class RssSampler:
    """Stands in for the progress bar: ``update(n)`` every 200 steps samples the RSS [bytes]."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.process = psutil.Process()
        self.samples: list[tuple[int, int, float]] = []  # (steps done, rss [bytes], wall [s])
        self.start = time.perf_counter()

    def update(self, n: int) -> None:
        self.done += n
        self.samples.append((self.done, self.process.memory_info().rss,
                             time.perf_counter() - self.start))

    def close(self) -> None:
        pass

    def at(self, fraction: float) -> tuple[int, int, float]:
        """The first sample at or past ``fraction`` of the steps."""
        goal = fraction * self.total
        return next(s for s in self.samples if s[0] >= goal)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--step", default="1min")
    parser.add_argument("--out", help="write the results folder here (default: do not write)")
    parser.add_argument("--limit-mb", type=float, default=50.0)
    args = parser.parse_args(argv)

    samplers: list[RssSampler] = []

    def sampler(total: int, disabled: bool) -> RssSampler:
        samplers.append(RssSampler(total))
        return samplers[-1]

    hierarchy.api._progress_bar = sampler  # the run's progress hook, every 200 steps
    rss_start = psutil.Process().memory_info().rss
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = hierarchy.run(scenario(args.days, args.step, args.out), progress=True,
                               write=args.out is not None)
    rss_end = psutil.Process().memory_info().rss
    s, rec = samplers[0], result.runtime.recorder
    arrays_mb = sum(a.nbytes for a in rec.arrays.values()) / MB
    summary = result.summary
    print(f"{summary['steps']} steps ({args.days} d at {args.step}) in "
          f"{summary['runtime']['wall_s']:.1f} s, {summary['runtime']['steps_per_s']:.0f} steps/s; "
          f"power flow not converged: {summary['powerflow']['nonconverged_steps']}, "
          f"control not settled: {summary['control']['nonconverged_steps']}")
    print(f"RSS before the run {rss_start / MB:.0f} MB; preallocated result arrays "
          f"{arrays_mb:.1f} MB; events recorded {len(rec.events)}")
    for fraction in MARKS:
        steps, rss, wall_s = s.at(fraction)
        print(f"  {fraction:4.0%} of steps ({steps:6d}, {wall_s:7.1f} s): RSS {rss / MB:8.1f} MB")
    growth_mb = (s.at(1.0)[1] - s.at(0.1)[1]) / MB
    print(f"RSS growth 10 % -> 100 %: {growth_mb:+.1f} MB; after summary and tables: "
          f"{rss_end / MB:.0f} MB")
    return 0 if growth_mb < args.limit_mb else 1


if __name__ == "__main__":
    sys.exit(main())
