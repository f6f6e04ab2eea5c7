"""The command line and the output contract (DESIGN.md "Outputs (v1 contract)")."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hierarchy.outputs.files import read_parquet
from tests.conftest import ROOT, quickstart_dict

SUMMARY_KEYS = [
    "steps", "runtime.wall_s", "runtime.steps_per_s",
    *(f"energy.{k}" for k in ("load_mwh", "not_served_mwh", "generation_mwh", "curtailed_mwh",
                              "losses_mwh", "import_mwh", "export_mwh")),
    "voltage.min_pu", "voltage.max_pu", "voltage.violation_bus_hours",
    "lines.max_loading_percent", "lines.overload_line_hours",
    "market.intervals", "market.mean_price", "market.cleared_mwh",
    "control.nonconverged_steps", "control.messages_sent", "control.messages_lost",
    "powerflow.nonconverged_steps",
]
AREA_KEYS = ["frequency_min_hz", "frequency_max_hz", "frequency_final_hz",
             "net_export_final_mw", "schedule_deviation_mwh"]
TABLES = ["bus_vm_pu", "line_loading_percent", "unit_p_mw", "unit_q_mvar", "area_frequency_hz",
          "area_net_export_mw", "area_ace_mw", "market_price", "market_award_mw", "battery_soc"]


def hiergrid(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "hierarchy.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _get(summary: dict, dotted: str):
    value = summary
    for key in dotted.split("."):
        value = value[key]
    return value


@pytest.fixture(scope="module")
def quickstart_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quickstart")
    done = hiergrid("run", "scenarios/quickstart.yaml", "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert "quickstart: 96 steps" in done.stdout
    return out


def test_run_writes_the_whole_contract(quickstart_out: Path):
    summary = json.loads((quickstart_out / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        _get(summary, key)
    for area in ("north", "south"):
        for key in AREA_KEYS:
            assert key in summary["areas"][area]
    assert summary["steps"] == 96 and summary["complete"] is True
    for name in TABLES:
        frame = read_parquet(quickstart_out / "timeseries" / f"{name}.parquet")
        assert len(frame) > 0, name
    vm = read_parquet(quickstart_out / "timeseries" / "bus_vm_pu.parquet")
    assert vm.shape == (96, 15) and list(vm.columns)[:2] == ["bus/0", "bus/1"]
    for plot in ("voltage_band", "line_loading", "net_export", "market_price", "battery_soc", "grid",
                 "overview"):
        assert (quickstart_out / "plots" / f"{plot}.png").stat().st_size > 10_000
    resolved = yaml.safe_load((quickstart_out / "scenario.resolved.yaml").read_text())
    assert resolved["name"] == "quickstart"
    provenance = json.loads((quickstart_out / "provenance.json").read_text())
    assert provenance["seed"] == 7 and len(provenance["scenario_sha256"]) == 64


def test_python_api_mirrors_the_cli(quickstart_out: Path, quickstart_run):
    """hierarchy.run gives the same numbers as the CLI's files."""
    cli = json.loads((quickstart_out / "summary.json").read_text())
    api = quickstart_run.summary
    assert api["energy"] == pytest.approx(cli["energy"], rel=1e-12)
    vm = read_parquet(quickstart_out / "timeseries" / "bus_vm_pu.parquet")
    assert (quickstart_run.frame("bus_vm_pu").to_numpy() == vm.to_numpy()).all()


def test_validate_accepts_the_shipped_scenarios():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        done = hiergrid("validate", str(path))
        assert done.returncode == 0, (path, done.stderr)


@pytest.mark.parametrize("change, path, words", [
    (lambda d: d.update(colour="red"), "colour", "unknown key"),
    (lambda d: d["areas"][1].update(buses=["bus/999"]), "areas[1].buses", "bus 999 is not in the grid"),
    (lambda d: d["time"].update(step="2d"), "time.step", ""),
    (lambda d: d["units"][0].update(policy="no_such_policy"), "units[0].policy", "no_such_policy"),
    (lambda d: d["units"][2].update(elements=["load/1"]), "units[2].elements", "storage"),
    (lambda d: d["units"][0]["params"].update(curve="cat_z"), "units[0].params", "cat_z"),
    (lambda d: d["units"][1]["params"].update(colour=1), "units[1].params.colour", "unknown parameter"),
    (lambda d: d["areas"][0].update(buses={"feeder_of": "bus/77"}), "areas[0].buses", "bus 77"),
])
def test_bad_scenarios_exit_2_with_the_key_path(tmp_path, change, path, words):
    data = quickstart_dict()
    change(data)
    file = tmp_path / "bad.yaml"
    file.write_text(yaml.safe_dump(data))
    for command in ("validate", "run"):
        done = hiergrid(command, str(file), "--quiet") if command == "run" else hiergrid(command, str(file))
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr
        assert lines[0].startswith(f"hiergrid: {path}"), lines[0]
        assert words in lines[0]


def test_unreadable_yaml_exits_2(tmp_path):
    file = tmp_path / "broken.yaml"
    file.write_text("name: x\ngrid: [unclosed\n")
    done = hiergrid("validate", str(file))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    missing = hiergrid("run", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr


def test_schema_is_json():
    done = hiergrid("schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert "grid" in schema["properties"]
