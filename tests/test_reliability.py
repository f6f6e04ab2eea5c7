"""Faults and interruptions never cost a user their work (issue 7)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import hierarchy
from hierarchy.outputs import read_parquet
from tests.conftest import ROOT, quickstart_dict


def _run(data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hierarchy.run(data, **kwargs)


def test_sigterm_keeps_the_steps_done(tmp_path):
    """SIGTERM mid-run: exit 130, summary complete=false, tables hold the steps done."""
    data = quickstart_dict()
    data["time"]["duration"] = "60d"
    data["outputs"] = {"dir": str(tmp_path / "out"), "plots": False}
    file = tmp_path / "long.yaml"
    file.write_text(yaml.safe_dump(data))
    process = subprocess.Popen([sys.executable, "-m", "hierarchy.cli", "run", str(file)],
                               cwd=ROOT, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONWARNINGS": "ignore"})
    # the progress bar (on stderr, shown once a run lasts 2 s) says the engine is stepping
    seen = b""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and b"step" not in seen and process.poll() is None:
        seen += os.read(process.stderr.fileno(), 4096)
    assert b"step" in seen, seen
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr.decode()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["complete"] is False
    assert 0 < summary["steps"] < 60 * 96
    vm = read_parquet(tmp_path / "out" / "timeseries" / "bus_vm_pu.parquet")
    assert len(vm) == summary["steps"] and np.isfinite(vm.to_numpy()).all()
    leftovers = [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_raising_user_policy_names_itself_and_keeps_results(tmp_path, monkeypatch):
    module = tmp_path / "bad_policy_mod.py"
    module.write_text(
        "import numpy as np\n"
        "from unit_control.inverter import VoltVar\n"
        "class Bad(VoltVar):\n"
        "    def step(self, obs):\n"
        "        if obs.time_ms >= 3 * 3_600_000:\n"
        "            raise RuntimeError('boom')\n"
        "        return super().step(obs)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = quickstart_dict()
    data["time"]["duration"] = "6h"
    data["units"][0]["policy"] = "bad_policy_mod:Bad"
    with pytest.raises(Exception) as caught:
        _run(data, out=tmp_path / "out")
    message = str(caught.value)
    assert "bad_policy_mod:Bad" in message and "'pv'" in message and "t=10800 s" in message
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["complete"] is False and summary["steps"] == 12
    assert "boom" in summary["error"]


def test_comm_outage_leaves_units_on_their_last_setpoints():
    """During an area->unit outage no setpoint arrives; the batteries hold the last one."""
    data = quickstart_dict()
    data["time"]["duration"] = "8h"
    data["events"] = [{"at": "3h", "kind": "comm_outage", "between": ["area", "unit"],
                       "duration": "2h"}]
    result = _run(data, write=False, trace=True)
    lost = [r for r in result.trace if r.link == "area->unit" and r.what == "lost"]
    assert lost and all(3 * 3_600_000 <= r.time_ms < 5 * 3_600_000 for r in lost)
    delivered = [r.time_ms for r in result.trace if r.link == "area->unit" and r.what == "delivered"]
    assert not any(3 * 3_600_000 + 1000 < t < 5 * 3_600_000 for t in delivered)
    assert result.summary["complete"] is True


def test_island_without_source_is_not_served():
    """Opening line 10 (bus 12 to 13), the only closed path to buses 13-14, de-energises them; their load is not served."""
    data = quickstart_dict()
    data["time"]["duration"] = "4h"
    data["events"] = [{"at": "1h", "kind": "line_outage", "target": "line/10"}]
    result = _run(data, write=False)
    vm = result.frame("bus_vm_pu")
    assert vm.loc[vm.index[4]:, ["bus/13", "bus/14"]].isna().all().all()
    assert vm.loc[:vm.index[3], ["bus/13", "bus/14"]].notna().all().all()
    balance = result.frame("system_balance_mw")
    assert (balance["not_served_mw"].iloc[:4] == 0).all()
    assert (balance["not_served_mw"].iloc[4:] > 0).all()
    e = result.summary["energy"]
    supply = e["generation_mwh"] + e["import_mwh"]
    use = e["load_mwh"] + e["losses_mwh"] + e["export_mwh"] + e["storage_charge_mwh"]
    assert abs(supply - use) < 1e-6
