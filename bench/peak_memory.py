"""Wall time and peak memory of one ``hiergrid run`` (default: the year benchmark).

Runs ``python -m hierarchy.cli run SCENARIO --quiet --out DIR`` in a child
process and reads its peak resident set size from
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the same figure as
``/usr/bin/time -v``'s "Maximum resident set size"; POSIX only). Exit
status 0 when the run succeeded within both limits, 1 otherwise.

Usage (repository root)::

    python bench/peak_memory.py [bench/year_mv.yaml] [--out /tmp/year]
                                [--limit-s 60] [--limit-gb 2]

Equivalent by hand::

    /usr/bin/time -v python -m hierarchy.cli run bench/year_mv.yaml --quiet --out /tmp/year
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

#: Bytes per unit of ``ru_maxrss``: kibibytes on Linux, bytes on macOS.
RU_MAXRSS_BYTES: int = 1 if sys.platform == "darwin" else 1024


def run_measured(scenario: Path, out: Path) -> tuple[int, float, float]:
    """(exit status, wall time [s], peak RSS [GB]) of one CLI run in a child process."""
    command = [sys.executable, "-m", "hierarchy.cli", "run", str(scenario), "--quiet",
               "--out", str(out)]
    start = time.perf_counter()
    status = subprocess.run(command, check=False).returncode
    wall_s = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * RU_MAXRSS_BYTES / 1e9
    return status, wall_s, peak_gb


def main(argv: list[str] | None = None) -> int:
    """Run, print wall time and peak memory against the limits; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", type=Path,
                        default=Path(__file__).with_name("year_mv.yaml"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/hiergrid-peak-memory"))
    parser.add_argument("--limit-s", type=float, default=60.0, help="wall-time target [s]")
    parser.add_argument("--limit-gb", type=float, default=2.0, help="peak-memory target [GB]")
    args = parser.parse_args(argv)
    status, wall_s, peak_gb = run_measured(args.scenario, args.out)
    wall_ok, peak_ok = wall_s <= args.limit_s, peak_gb <= args.limit_gb
    print(f"{args.scenario}: exit {status}, wall {wall_s:.1f} s "
          f"({'ok' if wall_ok else 'over'} the {args.limit_s:g} s target), peak RSS {peak_gb:.2f} GB "
          f"({'ok' if peak_ok else 'over'} the {args.limit_gb:g} GB target)")
    return 0 if status == 0 and wall_ok and peak_ok else 1


if __name__ == "__main__":
    sys.exit(main())
