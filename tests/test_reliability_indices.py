"""Reliability indices (IEEE 1366) against hand counts, and load shedding by priority.

* the quickstart with the head of feeder 1 (line/0) out from 10:00 to
  12:00: the 11 loads on buses 2..11 lose supply for 2 h, the 7 others
  keep it: SAIFI = 11/18, SAIDI = 22/18 h, CAIDI = 2 h; area north holds
  13 customers (R1 and CI1 sit on bus 1); energy not served by area sums to
  ``energy.not_served_mwh``;
* under-frequency load shedding with priorities: the 20 % stage of the
  two-area grid (360 MW of load) takes its 72 MW from the two loads of
  lowest priority only, 40 % of each (by hand);
* the run-length count of interruptions, by hand.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import hierarchy
from hierarchy.outputs.reliability import interruptions
from hierarchy.plant.frequency_ufls import LoadShedding, UflsStage, priority_shares
from tests.conftest import quickstart_dict
from tests.test_ufls import _scenario


def _run(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hierarchy.run(data, write=False)


@pytest.fixture(scope="module")
def outage():
    data = quickstart_dict()
    data["events"] = [{"at": "10h", "kind": "line_outage", "target": "line/0"},
                      {"at": "12h", "kind": "line_restore", "target": "line/0"}]
    return _run(data)


def test_feeder_outage_by_hand(outage):
    r = outage.summary["reliability"]
    vm = outage.frame("bus_vm_pu")
    dark = vm.isna().any(axis=1)
    assert dark.sum() == 8  # 10:15 .. 12:00 (the step at 10:00 was solved before the outage)
    assert r["customers"] == 18 and r["customer"] == "load element"
    assert r["interruptions"] == 11 and r["momentary_interruptions"] == 0
    assert r["saifi"] == pytest.approx(11 / 18)
    assert r["saidi_h"] == pytest.approx(22 / 18)
    assert r["caidi_h"] == pytest.approx(2.0)
    assert r["asai"] == pytest.approx(1 - (22 / 18) / 24)
    north, south = r["by_area"]["north"], r["by_area"]["south"]
    assert north["customers"] == 13 and north["interruptions"] == 11 and south["interruptions"] == 0
    assert north["saidi_h"] == pytest.approx(22 / 13)
    assert north["loss_of_load_hours"] == pytest.approx(2.0) and south["loss_of_load_hours"] == 0
    total = outage.summary["energy"]["not_served_mwh"]
    assert total > 0
    assert sum(a["energy_not_served_mwh"] for a in r["by_area"].values()) == pytest.approx(total, rel=1e-12)
    assert r["energy_not_served_mwh"] == pytest.approx(total, rel=1e-12)
    assert r["by_class"]["default"]["customers"] == 18


def test_no_interruption_no_index(quickstart_run):
    r = quickstart_run.summary["reliability"]
    assert r["saifi"] == 0 and r["saidi_h"] == 0 and r["caidi_h"] is None and r["asai"] == 1.0
    assert r["reserve_shortfall_hours"] == 0.0


def test_run_lengths_by_hand():
    flags = np.zeros((10, 3), bool)
    flags[2:5, 0] = True    # 3 steps
    flags[7, 0] = True      # 1 step
    flags[:, 1] = True      # all 10
    customer, first, length = interruptions(flags)
    assert list(zip(customer, first, length)) == [(0, 2, 3), (0, 7, 1), (1, 0, 10)]


def test_priority_shares_by_hand():
    shares = priority_shares([0.2, 0.1, 0.3], np.array([1, 0, 1, 2]), np.array([100.0, 50.0, 50.0, 200.0]))
    # total 400: priority 0 holds 50 (12.5 %), priority 1 150 (37.5 %), priority 2 200 (50 %)
    # stage 1 (0-20 %): all of priority 0, 7.5 % of 37.5 % of priority 1 -> 0.2 of each
    # stage 2 (20-30 %): 10 % of priority 1 -> 0.2667; stage 3 (30-60 %): 20 % (the rest of
    # priority 1, 0.5333 of it) and 10 % of priority 2 (0.2)
    assert shares[:, 1] == pytest.approx([1.0, 0.0, 0.0])
    assert shares[:, 0] == pytest.approx([0.2, 0.1 / 0.375, 0.2 / 0.375])
    assert shares[:, 3] == pytest.approx([0.0, 0.0, 0.2])
    assert (shares * np.array([100.0, 50.0, 50.0, 200.0])).sum(axis=1) == pytest.approx([80.0, 40.0, 120.0])
    equal = priority_shares([0.2], np.array([1, 1]), np.array([1.0, 3.0]))
    assert equal.tolist() == [[0.2, 0.2]]


def test_relays_shed_by_priority():
    relays = LoadShedding([[UflsStage(49.0, 0.25, 0.0)]], np.zeros(4, int), np.array([3, 1, 1, 3]),
                          np.array([10.0, 10.0, 10.0, 10.0]))
    relays.step(0.1, np.full(4, 48.5))
    assert relays.served.tolist() == [1.0, 0.5, 0.5, 1.0]


def test_ufls_spares_the_key_accounts():
    """Stage 1 sheds 20 % of 360 MW = 72 MW, all from the two default loads (priority 1, 180 MW)."""
    data = _scenario()
    data["units"] = list(data.get("units", [])) + [{"id": "vip", "elements": ["load/0", "load/1"], "policy": "flexible_load",
                      "params": {"customer_class": "key_account", "elasticity": 0.0}}]
    data["market"] = {"mechanism": "none", "tariffs": {"key_account": {"kind": "flat", "price": 100}},
                      "customer_classes": {"key_account": {"priority": 3}}}
    result = _run(data)
    ufls = result.events[result.events["kind"] == "ufls"]
    assert len(ufls) == 1
    assert "shed 72.0000 MW of 2 loads" in ufls["detail"].iloc[0]
    by_class = result.summary["reliability"]["by_class"]
    assert by_class["key_account"]["energy_not_served_mwh"] == 0.0
    assert by_class["default"]["energy_not_served_mwh"] > 0
    p = result.frame("unit_p_mw")
    vip = p[["load/0", "load/1"]].to_numpy()
    assert vip[-1] == pytest.approx(vip[0], rel=1e-9)  # their demand, served to the end
