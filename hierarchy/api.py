"""The Python API, mirroring the CLI: ``hierarchy.run(path_or_scenario) -> Result``.

Examples
--------
>>> import hierarchy
>>> result = hierarchy.run("scenarios/quickstart.yaml", out="/tmp/hiergrid-doc")  # doctest: +SKIP
>>> result.summary["energy"]["load_mwh"]  # doctest: +SKIP
>>> result.frame("bus_vm_pu").min().min()  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hierarchy.scenario import Scenario, load_scenario, resolved_dict
from hierarchy.sim.stop import RunInterrupted, StopRequest

__all__ = ["run", "Result", "RunInterrupted", "result_of", "scenario_of"]


class Result:
    """What a run produced: its summary and its timeseries tables.

    Attributes
    ----------
    summary : dict
        The content of ``summary.json``.
    out_dir : Path or None
        Where the files were written (None if nothing was written).
    events : pandas.DataFrame
        Scenario events, trips and reconnects, late orders (time, kind, target, detail).
    trace : list or None
        The message trace (when run with ``trace=True``).
    """

    def __init__(self, summary: dict, frames: dict[str, pd.DataFrame], out_dir: Path | None,
                 events: pd.DataFrame, trace: list | None = None, runtime: Any = None):
        self.summary = summary
        self._frames = frames
        self.out_dir = out_dir
        self.events = events
        self.trace = trace
        self.runtime = runtime

    def frame(self, name: str) -> pd.DataFrame:
        """One timeseries table by its contract name (``bus_vm_pu``, ``market_price`` ...)."""
        if name not in self._frames:
            raise KeyError(f"no table {name!r}; tables: {', '.join(sorted(self._frames))}")
        return self._frames[name]

    @property
    def frame_names(self) -> list[str]:
        return sorted(self._frames)

    def __repr__(self) -> str:
        return f"Result({self.summary.get('name')!r}, steps={self.summary.get('steps')}, out_dir={self.out_dir})"


def _scenario_of(source) -> tuple[Scenario, bytes]:
    if isinstance(source, Scenario):
        return source, yaml.safe_dump(resolved_dict(source)).encode()
    if isinstance(source, Mapping):
        return load_scenario(source), yaml.safe_dump(dict(source)).encode()
    path = Path(source)
    scenario = load_scenario(path)
    return scenario, path.read_bytes()


@contextmanager
def _sigterm_as_exception():
    def handler(signum, frame):
        raise RunInterrupted("terminated by SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(source: str | os.PathLike | Mapping | Scenario, *, out: str | os.PathLike | None = None,
        seed: int | None = None, quiet: bool = True, write: bool = True, trace: bool = False,
        progress: bool | None = None) -> Result:
    """Run a scenario through all three tiers.

    Parameters
    ----------
    source : path, mapping or Scenario
        The scenario (YAML file, its content as a mapping, or validated).
    out : path, optional
        Output folder (default: the scenario's ``outputs.dir``).
    seed : int, optional
        Overrides the scenario's ``seed``.
    quiet : bool
        No progress bar.
    write : bool
        Write the output files (summary, timeseries, plots, provenance).
    trace : bool
        Keep the message trace in ``Result.trace``.

    Returns
    -------
    Result

    Raises
    ------
    ScenarioError
        If the scenario is invalid (nothing is run).
    """
    from hierarchy.sim.build import build

    scenario, raw = _scenario_of(source)
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": int(seed)})
    with _sigterm_as_exception():
        wall_start = time.perf_counter()
        rt = build(scenario, trace=trace)
        out_dir = Path(out) if out is not None else Path(scenario.outputs.dir)
        failure = _run_engine(rt, quiet if progress is None else not progress)
        result = result_of(rt, raw, time.perf_counter() - wall_start, failure,
                           out_dir if write else None)
    if failure is not None:
        failure.result = result  # type: ignore[attr-defined]
        raise failure
    return result


def result_of(rt, raw: bytes, wall_s: float, failure: BaseException | None = None,
              out_dir: Path | None = None) -> Result:
    """The :class:`Result` of a run that has stopped, written to ``out_dir`` if given.

    Parameters
    ----------
    rt : Runtime
        The run (run to its end by :func:`run`, or stepped from outside by
        :mod:`hierarchy.coupling`).
    raw : bytes
        The scenario as given (its sha256 goes into ``provenance.json``).
    wall_s : float
        Wall-clock time of the run [s].
    failure : exception or None
        What stopped the run early (its message goes into the summary).
    out_dir : path or None
        Where to write summary, tables, plots and provenance (None: nothing).
    """
    from hierarchy.outputs.summary import summarize
    from hierarchy.outputs.write import start_plots, write_results

    scenario = rt.scenario
    plots_done = None
    if out_dir is not None and scenario.outputs.plots:  # drawn while the summary and tables are made
        frames = {**rt.recorder.frames(scenario.time.start, rt.step_ms, settlement=False),
                  "events": rt.recorder.events_frame(scenario.time.start)}
        plots_done = start_plots(frames, Path(out_dir) / "plots", scenario.name, rt.grid_geometry(),
                                 _line_limits(scenario))
    summary = summarize(rt, wall_s, failure is None)
    if failure is not None:
        summary["error"] = f"{type(failure).__name__}: {failure}"
    frames = rt.recorder.frames(scenario.time.start, rt.step_ms)
    events = rt.recorder.events_frame(scenario.time.start)
    result = Result(summary, frames, None if out_dir is None else Path(out_dir), events, rt.trace, rt)
    if out_dir is not None:
        write_results(result, scenario, raw, hashlib.sha256(raw).hexdigest(), plots_done)
    return result


def _line_limits(scenario: Scenario) -> dict[str, float]:
    """Line -> loading limit [%] of the market's security check, where it is on."""
    security = scenario.market.security
    if not security.enabled:
        return {}
    return {name: float(v) for name, v in security.branch_limits_percent.items() if name.startswith("line/")}


def scenario_of(source: str | os.PathLike | Mapping | Scenario) -> tuple[Scenario, bytes]:
    """The validated scenario and its bytes as given (a Scenario: its resolved YAML)."""
    return _scenario_of(source)


def _run_engine(rt, quiet: bool) -> BaseException | None:
    """Run the engine; return what stopped it early (None if it finished).

    Ctrl-C, SIGTERM and exceptions from the run are caught so that the
    caller can write the results up to the last complete step first.
    """
    from hierarchy.sim.engine import Engine

    bar = _progress_bar(rt.n_steps, quiet)
    stop = StopRequest()
    engine = Engine(rt, progress=bar.update if bar is not None else None, stop=stop)
    try:
        with stop.installed():
            engine.run()
    except (KeyboardInterrupt, RunInterrupted) as exc:
        return exc
    except Exception as exc:  # kept with the partial results, then re-raised
        return exc
    finally:
        if bar is not None:
            bar.close()
    return None


def _progress_bar(total: int, disabled: bool):
    if disabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="step", file=sys.stderr, delay=2.0, mininterval=0.5,
                dynamic_ncols=True, desc="hiergrid")
