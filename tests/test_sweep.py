"""Sweeps (hierarchy.sweep.run, ``hiergrid sweep``/``compare``) on local workers and
on a real Dask cluster (a ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1).

The reference for every run of a sweep is the same scenario run directly
with :func:`hierarchy.run`, and the same sweep run on local workers: the runs
must agree bit for bit (timeseries, events, summary apart from wall time).
"""
from __future__ import annotations

import copy
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hierarchy.outputs.files import read_parquet
from hierarchy.scenario import ScenarioError
from hierarchy.sweep.run import run_sweep
from hierarchy.sweep.spec import expand_sweep, load_sweep, parse_key_path, set_key_path
from tests.conftest import ROOT, quickstart_dict

CURVES = ["ieee1547_cat_a", "not_a_curve", "ieee1547_cat_b"]
SEEDS = [1, 2]
RUN_IDS = [f"run_{i:03d}" for i in range(6)]
FAILED = ["run_001", "run_004"]            # the not_a_curve runs: fail when built
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)}


def hiergrid(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hierarchy.cli", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)


def write_sweep(folder: Path, vary: dict, mode: str = "grid") -> Path:
    """A two-hour quickstart as the base scenario and a sweep file over it."""
    folder.mkdir(parents=True, exist_ok=True)
    base = quickstart_dict()
    base["time"]["duration"] = "2h"
    (folder / "short.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    sweep = {"base": "short.yaml", "mode": mode, "vary": vary}
    (folder / "sweep.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
    return folder / "sweep.yaml"


# ------------------------------------------------------------------ a real cluster
def _stop(process: subprocess.Popen) -> None:
    """Stop a process we started and its children (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """Address of a ``dask scheduler`` with two single-thread ``dask worker``s."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("cluster")
    scheduler_file = folder / "scheduler.json"
    common = {"cwd": ROOT, "env": ENV, "stdout": subprocess.DEVNULL,
              "stderr": subprocess.DEVNULL, "start_new_session": True}
    processes = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)], **common)]
    try:
        for _ in range(1200):  # up to 60 s for the scheduler to write its address
            if scheduler_file.is_file() and scheduler_file.stat().st_size:
                break
            assert processes[0].poll() is None, "dask scheduler exited"
            time.sleep(0.05)
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--nworkers", "1", "--host", "127.0.0.1", "--no-dashboard",
                 "--death-timeout", "60"], **common))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


# ------------------------------------------------------------------ sweep files
def test_key_paths_address_keys_and_list_items():
    assert parse_key_path("communication.default.latency") == ("communication", "default",
                                                               "latency")
    assert parse_key_path("units[1].params.curve") == ("units", 1, "params", "curve")
    for bad in ("", "units[0]..policy", "units[x].policy", "a.[0]"):
        with pytest.raises(ValueError):
            parse_key_path(bad)
    data = {"units": [{"policy": "volt_var"}, {"policy": "battery"}]}
    set_key_path(data, "units[1].params.soc_init", 0.3)  # missing mapping is created
    set_key_path(data, "communication.default.latency", "10s")
    assert data == {"units": [{"policy": "volt_var"},
                              {"policy": "battery", "params": {"soc_init": 0.3}}],
                    "communication": {"default": {"latency": "10s"}}}
    with pytest.raises(ValueError, match="units has 2 items"):
        set_key_path(data, "units[2].policy", "x")
    with pytest.raises(ValueError, match="units\\[0\\].policy is not a mapping"):
        set_key_path(data, "units[0].policy.name", "x")


def test_grid_is_the_product_and_zip_pairs_values(tmp_path: Path):
    vary = {"seed": [1, 2, 3], "communication.default.latency": ["1s", "10s", "1min"]}
    grid = expand_sweep(load_sweep(write_sweep(tmp_path / "g", vary)))
    expected = list(itertools.product(*vary.values()))
    assert [tuple(run.values.values()) for run in grid] == expected
    assert [(run.scenario.seed, run.scenario.communication.default.latency) for run in grid] == \
        [(seed, {"1s": 1000, "10s": 10_000, "1min": 60_000}[latency]) for seed, latency in expected]
    zipped = expand_sweep(load_sweep(write_sweep(tmp_path / "z", vary, mode="zip")))
    assert [tuple(run.values.values()) for run in zipped] == list(zip(*vary.values()))
    assert [run.run_id for run in zipped] == ["run_000", "run_001", "run_002"]


def test_bad_key_path_exits_2_before_anything_runs(tmp_path: Path):
    sweep = write_sweep(tmp_path, {"seed": [1, 2], "units[7].policy": ["const_pf"]})
    done = hiergrid("sweep", str(sweep), "--out", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 2
    assert done.stderr.strip() == "hiergrid: vary.units[7].policy: units has 3 items"
    assert not (tmp_path / "out").exists()


def test_bad_value_in_any_combination_is_named(tmp_path: Path):
    sweep = write_sweep(tmp_path, {"units[0].policy": ["volt_var", "no_such_policy"],
                                   "seed": [1, 2]})
    with pytest.raises(ScenarioError) as error:
        run_sweep(sweep, tmp_path / "out")
    assert error.value.path == "vary.units[0].policy"
    assert "unknown unit policy 'no_such_policy'" in error.value.message
    zipped = write_sweep(tmp_path / "zip", {"seed": [1, -1]}, mode="zip")
    with pytest.raises(ScenarioError, match="^vary.seed: must be at least 0; got -1$"):
        run_sweep(zipped, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_validate_builds_every_run_and_names_the_key(tmp_path: Path):
    sweep = write_sweep(tmp_path, {"seed": [1], "units[0].params.curve": CURVES})
    done = hiergrid("validate", str(sweep))
    assert done.returncode == 2
    assert done.stderr.startswith("hiergrid: vary.units[0].params.curve: ")
    assert "unknown curve 'not_a_curve'" in done.stderr and len(done.stderr.splitlines()) == 1


# ------------------------------------------------------------------ running sweeps
@pytest.fixture(scope="module")
def sweeps(tmp_path_factory, scheduler):
    """The same 6-run sweep on local workers (CLI) and on the cluster (API)."""
    folder = tmp_path_factory.mktemp("sweep")
    sweep = write_sweep(folder, {"seed": SEEDS, "units[0].params.curve": CURVES})
    local = hiergrid("sweep", str(sweep), "--out", str(folder / "local"), "--workers", "2",
                     "--quiet")
    assert local.returncode == 1, local.stderr  # some runs failed, all were recorded
    assert "6 runs run, 0 complete already skipped, 2 failed" in local.stdout
    outcome = run_sweep(sweep, folder / "cluster", scheduler=scheduler)
    assert outcome.ran == RUN_IDS and outcome.skipped == [] and outcome.failed == FAILED
    return folder, sweep


def _frames(run_dir: Path) -> dict[str, pd.DataFrame]:
    files = sorted((run_dir / "timeseries").glob("*.parquet")) + [run_dir / "events.parquet"]
    return {path.name: read_parquet(path) for path in files}


def _summary(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.pop("runtime")
    return summary


def assert_same_run(a: Path, b: Path) -> None:
    frames_a, frames_b = _frames(a), _frames(b)
    assert list(frames_a) == list(frames_b) and len(frames_a) > 10
    for name in frames_a:
        pd.testing.assert_frame_equal(frames_a[name], frames_b[name], check_exact=True, obj=name)
    assert _summary(a) == _summary(b)


def test_cluster_sweep_equals_local_sweep_run_for_run(sweeps):
    folder, _ = sweeps
    local = read_parquet(folder / "local" / "sweep.parquet")
    cluster = read_parquet(folder / "cluster" / "sweep.parquet")
    assert local["run_id"].tolist() == RUN_IDS
    assert local["seed"].tolist() == [s for s in SEEDS for _ in CURVES]
    assert local["units[0].params.curve"].tolist() == CURVES * len(SEEDS)
    assert local["status"].tolist() == ["failed" if r in FAILED else "ok" for r in RUN_IDS]
    assert all("unknown curve 'not_a_curve'" in local.loc[i, "error"] for i in (1, 4))
    runtime = [c for c in local.columns if c.startswith("runtime.")]
    pd.testing.assert_frame_equal(local.drop(columns=runtime), cluster.drop(columns=runtime),
                                  check_exact=True)
    for run_id in RUN_IDS:
        assert (folder / "local" / run_id).is_dir() == (run_id not in FAILED)
        if run_id not in FAILED:
            assert_same_run(folder / "local" / run_id, folder / "cluster" / run_id)
    # the table holds the numbers of each run's summary.json
    row = local.set_index("run_id").loc["run_002"]
    summary = json.loads((folder / "local" / "run_002" / "summary.json").read_text())
    assert row["energy.load_mwh"] == summary["energy"]["load_mwh"]
    assert row["areas.north.schedule_deviation_mwh"] == \
        summary["areas"]["north"]["schedule_deviation_mwh"]
    assert row["steps"] == summary["steps"] == 8


def test_sweep_run_equals_a_direct_run_of_its_scenario(sweeps):
    """run_005 (seed 2, curve cat_b) against hierarchy.run of that scenario by hand."""
    import hierarchy

    folder, _ = sweeps
    scenario = quickstart_dict()
    scenario["time"]["duration"] = "2h"
    scenario["seed"] = 2
    scenario["units"][0]["params"]["curve"] = "ieee1547_cat_b"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = hierarchy.run(copy.deepcopy(scenario), write=False)
    swept = _frames(folder / "cluster" / "run_005")
    for name in ("bus_vm_pu", "unit_q_mvar", "battery_soc", "market_price"):
        pd.testing.assert_frame_equal(swept[f"{name}.parquet"], direct.frame(name),
                                      check_exact=True, check_freq=False, obj=name)
    # and the curve matters: run_003 (cat_a) differs from run_005 (cat_b) in Q
    assert not swept["unit_q_mvar.parquet"].equals(
        _frames(folder / "cluster" / "run_003")["unit_q_mvar.parquet"])


def test_resumed_sweep_runs_only_the_missing_runs(sweeps, scheduler):
    folder, sweep = sweeps
    resumed = folder / "resumed"
    shutil.copytree(folder / "cluster", resumed)
    shutil.rmtree(resumed / "run_000")                      # never written
    summary_3 = json.loads((resumed / "run_003" / "summary.json").read_text())
    summary_3["complete"] = False                           # interrupted
    (resumed / "run_003" / "summary.json").write_text(json.dumps(summary_3))
    kept = {r: (resumed / r / "summary.json").read_bytes() for r in ("run_002", "run_005")}
    outcome = run_sweep(sweep, resumed, scheduler=scheduler)
    assert outcome.skipped == ["run_002", "run_005"]
    assert outcome.ran == ["run_000", "run_001", "run_003", "run_004"]  # failed ones retried
    assert outcome.failed == FAILED
    for run_id, content in kept.items():  # untouched: wall_s would differ if run again
        assert (resumed / run_id / "summary.json").read_bytes() == content
    for run_id in ("run_000", "run_003"):
        assert_same_run(resumed / run_id, folder / "local" / run_id)
    table = read_parquet(resumed / "sweep.parquet")
    assert table["run_id"].tolist() == RUN_IDS
    assert table["status"].tolist() == ["failed" if r in FAILED else "ok" for r in RUN_IDS]


def test_compare_a_sweep_folder(sweeps, tmp_path: Path):
    folder, _ = sweeps
    done = hiergrid("compare", str(folder / "local"), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "run_001: no summary.json" in done.stderr
    assert "energy.losses_mwh" in done.stdout and "units[0].params.curve" in done.stdout
    table = pd.read_csv(tmp_path / "compare.csv", index_col="key")
    ok = [r for r in RUN_IDS if r not in FAILED]
    assert table.columns.tolist() == ok
    for run_id in ok:
        summary = json.loads((folder / "local" / run_id / "summary.json").read_text())
        assert float(table.loc["energy.losses_mwh", run_id]) == summary["energy"]["losses_mwh"]
    for plot in ("voltage_band", "frequency", "market_price"):
        assert (tmp_path / "plots" / f"{plot}.png").stat().st_size > 10_000
    missing = hiergrid("compare", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "nowhere: no such folder" in missing.stderr
