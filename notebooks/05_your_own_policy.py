# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5 · Your own policy
#
# Every tier is a small protocol. A **unit policy** subclasses
# `unit_control.UnitPolicy` and implements, vectorised over its group of units:
#
# * `step(obs) -> Command` — P and Q from the observations; called inside the
#   fixed-point loop with the power flow, so it must not change state;
# * `advance(obs, command)` — move the state once the step has settled;
# * `capability(obs) -> Capability` — the P range to report to the area.
#
# An **area coordinator** subclasses `area_control.AreaCoordinator`:
#
# * `control(state) -> AreaAction` — unit setpoints from what the area knows
#   (delayed unit status, meter readings, awards);
# * `orders(state, interval_start_ms) -> (offers, bids)` — what it trades;
# * `dispatch(state)` — unit setpoints from the market awards.
#
# A scenario names a class as `package.module:Class`. A class defined in a
# notebook cell has no module path, so the cells below write the classes to a
# file in a temporary folder that is put on `sys.path` (the repository stays
# clean). `docs/policies.md` and `docs/user_policies.md` say more.

# %%
# %matplotlib inline
import copy
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import yaml

import hierarchy
from hierarchy.scenario import load_scenario

SCENARIOS = Path("..") / "scenarios"   # the notebooks run from notebooks/


def load(name):
    """A scenario file as a plain dict, to edit before running."""
    return yaml.safe_load((SCENARIOS / name).read_text())


def run(data):
    """Run a scenario dict (relative paths as in scenarios/); nothing is written to disk."""
    return hierarchy.run(load_scenario(data, base_dir=SCENARIOS), write=False)

import sys
import tempfile

policy_dir = Path(tempfile.mkdtemp(prefix="hiergrid-policies-"))
sys.path.insert(0, str(policy_dir))
policy_file = policy_dir / "student_policies.py"

# %% [markdown]
# ## A unit policy: proportional volt-var
#
# The simplest volt-var law has no dead band:
#
# $$Q = \mathrm{clip}\left(-k\,(V - V_\mathrm{ref}),\ -Q_\max,\ Q_\max\right), \qquad
# P = \min\left(P_\mathrm{avail},\ \sqrt{S^2 - Q^2}\right)$$
#
# in per unit of the rating $S$: the active power gives way where $P^2 + Q^2$
# would exceed the rating. With $k = 7.3$ it has the
# slope of the IEEE category B curve, but acts from the first millivolt.
#
# ## An area coordinator: flat frequency control
#
# Before tie-line bias control, areas ran *flat frequency control*: integrate
# the frequency error alone and ignore the tie-line,
#
# $$\frac{dP_{\mathrm{ref},i}}{dt} = -k_i\,B_i\,\Delta f .$$
#
#  Frequency comes back to $f_0$, but every area takes part
# of a load change in any area, so tie-line flows leave their schedule (Wood &
# Wollenberg, ch. 10; Kundur §11.1.5). Running the cell writes both classes to
# `student_policies.py`.

# %%
# %%writefile $policy_file
"""Policies written in notebook 5."""
import math

import numpy as np

from area_control import AreaAction, AreaCoordinator
from unit_control import Capability, Command, UnitPolicy


class ProportionalVoltVar(UnitPolicy):
    """Q = -k (V - v_ref), clipped to +-q_max [pu of rating]; P reduced to stay within the rating."""

    name = "proportional_volt_var"
    tables = ("sgen",)
    defaults = {"rating_mw": None, "h_s": 0.0, "k_pu_per_pu": 7.3, "v_ref_pu": 1.0, "q_max_pu": 0.44}

    def step(self, obs):
        p = self.params
        q_pu = np.clip(-p["k_pu_per_pu"] * (obs.vm_pu - p["v_ref_pu"]), -p["q_max_pu"], p["q_max_pu"])
        q_mvar = q_pu * self.rating_mw
        p_mw = np.clip(obs.p_avail_mw, 0.0, self.rating_mw)
        p_mw = np.minimum(p_mw, np.sqrt(np.maximum(self.rating_mw**2 - q_mvar**2, 0.0)))
        return Command(p_mw=p_mw, q_mvar=q_mvar)

    def advance(self, obs, command):
        pass                                   # no state

    def capability(self, obs):
        zeros = np.zeros(self.n_units)
        return Capability(p_min_mw=zeros, p_max_mw=np.clip(obs.p_avail_mw, 0.0, self.rating_mw),
                          energy_mwh=np.full(self.n_units, math.nan),
                          cost_b_per_mwh=zeros.copy(), cost_c_per_mw2h=zeros.copy())


class FlatFrequency(AreaCoordinator):
    """Integral control of the frequency alone: the P reference moves at -ki * B * df [MW/s]."""

    name = "flat_frequency"
    defaults = {"ki": 0.05, "bias_mw_per_hz": 120.0, "period_s": 4.0}  # period_s: set by the engine

    def __init__(self, area, groups, params, price_cap=3000.0):
        super().__init__(area, groups, params, price_cap)
        self.p_ref_mw = None

    def control(self, state):
        units = [g for g in self.groups.values() if g.kind == "dispatchable" and g.takes_setpoints]
        status = [state.units.get(g.group) for g in units]
        if state.measurement is None or not units or any(s is None for s in status):
            return AreaAction({})
        ace_mw = self.params["bias_mw_per_hz"] * (state.measurement.frequency_hz - state.f0_hz)
        if self.p_ref_mw is None:
            self.p_ref_mw = sum(float(np.sum(s.p_mw)) for s in status)
        self.p_ref_mw -= self.params["ki"] * ace_mw * self.params["period_s"]
        rating = np.concatenate([g.rating_mw for g in units])
        p_min = np.concatenate([s.p_min_mw for s in status])
        p_max = np.concatenate([s.p_max_mw for s in status])
        target = np.clip(self.p_ref_mw * rating / rating.sum(), p_min, p_max)
        setpoints, start = {}, 0
        for g in units:
            setpoints[g.group] = target[start:start + len(g.unit_ids)]
            start += len(g.unit_ids)
        return AreaAction(setpoints, ace_mw)

    def orders(self, state, interval_start_ms):
        return [], []                          # this area does not trade

    def dispatch(self, state):
        return {}


# %% [markdown]
# Before using a unit policy in a run, check it against the contract every
# built-in policy passes (shapes, finite outputs, a pure `step`, determinism):

# %%
import importlib

import student_policies
importlib.reload(student_policies)
from unit_control.conformance import check_unit_policy

check_unit_policy(student_policies.ProportionalVoltVar, n_units=5)
print("ProportionalVoltVar passes the unit-policy contract check")

# %% [markdown]
# ## Plug in the unit policy and compare
#
# Two days of the rural feeder of notebook 2, PV under the built-in category B
# volt-var and under the proportional law.

# %%
base = load("der_feeder.yaml")
base["time"]["duration"] = "2d"
base["events"] = []
base["market"] = {"mechanism": "none"}
base["units"] = [u for u in base["units"] if u["id"] in ("pv", "oltc")]

runs = {}
for label, policy, params in [("unity pf", "const_pf", {"pf": 1.0}),
                              ("volt_var (IEEE cat B)", "volt_var", {"curve": "ieee1547_cat_b"}),
                              ("proportional (yours)", "student_policies:ProportionalVoltVar", {})]:
    data = copy.deepcopy(base)
    data["units"][0].update(policy=policy, params=params)
    runs[label] = run(data)

fig, ax = plt.subplots(1, 2, figsize=(13, 4))
for label, r in runs.items():
    vmax = r.frame("bus_vm_pu").max(axis=1)
    ax[0].plot(vmax.index, vmax, label=label)
    q = r.frame("unit_q_mvar").filter(like="sgen").sum(axis=1)
    ax[1].plot(q.index, q, label=label)
ax[0].axhline(1.05, color="r", ls="--"); ax[0].set_ylabel("highest bus voltage [pu]"); ax[0].legend()
ax[1].set_ylabel("total PV reactive power [Mvar]"); ax[1].legend()
fig.autofmt_xdate(); fig.tight_layout()
for label, r in runs.items():
    s = r.summary
    print(f"{label:24s} V max {s['voltage']['max_pu']:.4f} pu, losses {s['energy']['losses_mwh']:.3f} MWh")
assert runs["proportional (yours)"].summary["voltage"]["max_pu"] < runs["unity pf"].summary["voltage"]["max_pu"]

# %% [markdown]
# The proportional law holds the peak voltage about as well, but it absorbs reactive
# power all day, even at voltages the standard's dead band leaves alone, and
# the extra reactive current raises the losses: the dead band is there for a
# reason.
#
# ## Plug in the area coordinator and compare
#
# The two-area system of notebook 3, with built-in tie-line bias AGC and with
# flat frequency control in both areas.

# %%
tlb = load("two_area_lfc.yaml")
tlb["time"]["duration"] = "400s"
flat = copy.deepcopy(tlb)
for area in flat["areas"]:
    area["coordinator"] = {"policy": "student_policies:FlatFrequency", "period": "4s",
                           "params": {"ki": 0.05, "bias_mw_per_hz": 120.0}}
r_tlb, r_flat = run(tlb), run(flat)

fig, ax = plt.subplots(1, 2, figsize=(13, 4))
for label, r in (("tie-line bias AGC (built-in)", r_tlb), ("flat frequency (yours)", r_flat)):
    f = r.frame("area_frequency_hz")["east"]
    tie = r.frame("area_net_export_mw")["west"]
    ax[0].plot(f.index, f, label=label); ax[1].plot(tie.index, tie, label=label)
ax[0].set_ylabel("frequency [Hz]"); ax[0].legend()
ax[1].set_ylabel("west net export (tie-line) [MW]"); ax[1].legend()
fig.autofmt_xdate(); fig.tight_layout()

f_flat = r_flat.frame("area_frequency_hz")["east"].iloc[-1]
tie_flat = r_flat.frame("area_net_export_mw")["west"].iloc[-1]
tie_tlb = r_tlb.frame("area_net_export_mw")["west"].iloc[-1]
print(f"flat frequency: f = {f_flat:.4f} Hz, west export {tie_flat:.2f} MW; tie-line bias: {tie_tlb:.2f} MW")
assert abs(f_flat - 50.0) < 5e-3     # frequency restored ...
assert tie_flat > 2.0 > abs(tie_tlb)  # ... but west keeps supplying part of the east's load

# %% [markdown]
# Both restore the frequency. Flat frequency control leaves the west area
# exporting about half of the east's load change, because both areas integrate
# the same frequency error; tie-line bias control hands the whole load change
# to the east, where it happened. That is why interconnected systems use it.
