"""Writing a run's results folder (DESIGN.md "Outputs (v1 contract)").

Every file is written atomically: no half-written file ever carries its
final name.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from hierarchy.outputs import (provenance, write_json_atomic, write_parquet_atomic,
                               write_text_atomic)
from hierarchy.scenario import resolved_dict

__all__ = ["write_results"]


def write_results(result, scenario, raw: bytes, sha256: str) -> None:
    """Write summary, timeseries, events, plots, resolved scenario and provenance."""
    out = Path(result.out_dir)
    (out / "timeseries").mkdir(parents=True, exist_ok=True)
    for name in result.frame_names:
        write_parquet_atomic(out / "timeseries" / f"{name}.parquet", result.frame(name))
    write_parquet_atomic(out / "events.parquet", result.events.set_index("time"))
    write_text_atomic(out / "scenario.resolved.yaml",
                      yaml.safe_dump(resolved_dict(scenario), sort_keys=False))
    prov = provenance(sha256, scenario.seed)
    write_json_atomic(out / "provenance.json", prov)
    if scenario.outputs.plots:
        from hierarchy.plots import make_plots

        frames = {name: result.frame(name) for name in result.frame_names}
        make_plots(frames, out / "plots", title=scenario.name)
    # the summary goes last: its presence marks a finished results folder
    write_json_atomic(out / "summary.json", result.summary)
