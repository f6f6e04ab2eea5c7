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
# # 2 · Unit control: volt-var and volt-watt on a feeder
#
# Rooftop PV at the end of a long feeder raises the voltage there: the active
# power $P$ flowing back towards the substation over a line of resistance $R$
# and reactance $X$ lifts the voltage by approximately
#
# $$\Delta V \approx \frac{R\,P + X\,Q}{V}.$$
#
# An inverter can lower it in two ways: absorb reactive power ($Q < 0$,
# **volt-var**) or cut its active power (**volt-watt**). IEEE 1547-2018 gives
# both as piecewise-linear curves of the terminal voltage. Volt-var (clause
# 5.3.3, Table 8), with $Q$ in per unit of the nameplate rating and injection
# positive:
#
# $$Q(V) = \begin{cases} Q_1 & V \le V_1\\ \text{linear between the points} & V_1 < V < V_4 \\ Q_4 & V \ge V_4 \end{cases}$$
#
# with category B defaults $(V_1..V_4) = (0.92, 0.98, 1.02, 1.08)$ pu and
# $(Q_1..Q_4) = (0.44, 0, 0, -0.44)$. Volt-watt (clause 5.4.2, Table 10) caps
# the active power at $P_\max(V) = 1$ up to $V_1 = 1.06$ pu, falling linearly to
# $P_2 = 0.2$ at $V_2 = 1.10$ pu.
#
# The laws are pure functions in `unit_control.laws`; the policies apply them
# to whole groups of inverters inside a fixed-point loop with the power flow
# (the voltage depends on the $Q$ it causes).

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

from unit_control import laws

# %%
v = np.linspace(0.88, 1.12, 241)
fig, ax = plt.subplots(1, 2, figsize=(12, 4))
ax[0].plot(v, laws.volt_var_q_pu(v, *laws.VOLT_VAR_CAT_A), label="category A")
ax[0].plot(v, laws.volt_var_q_pu(v, *laws.VOLT_VAR_CAT_B), label="category B")
ax[0].set_xlabel("voltage [pu]"); ax[0].set_ylabel("Q [pu of rating], injection +")
ax[0].set_title("IEEE 1547-2018 volt-var (Table 8)"); ax[0].legend(); ax[0].grid(alpha=0.3)
ax[1].plot(v, laws.volt_watt_p_pu(v, *laws.VOLT_WATT_IEEE1547))
ax[1].set_xlabel("voltage [pu]"); ax[1].set_ylabel("P cap [pu of rated P]")
ax[1].set_title("IEEE 1547-2018 volt-watt (Table 10)"); ax[1].grid(alpha=0.3)
fig.tight_layout()

# the table values, point by point
assert np.allclose(laws.volt_var_q_pu(np.array([0.92, 0.98, 1.02, 1.08]), *laws.VOLT_VAR_CAT_B),
                   [0.44, 0.0, 0.0, -0.44])
assert np.allclose(laws.volt_watt_p_pu(np.array([1.06, 1.10]), *laws.VOLT_WATT_IEEE1547), [1.0, 0.2])

# %% [markdown]
# ## On a feeder
#
# `scenarios/der_feeder.yaml` is a week of the SimBench rural MV grid with the
# rooftop PV of its 2030s scenario. Here: two sunny days of it with only the PV
# policy and the substation tap changer (no market, no event), run four times
# with the PV under
#
# 1. unity power factor (`const_pf`, $Q = 0$) — the reference;
# 2. volt-var, category B;
# 3. volt-watt with the IEEE default curve;
# 4. volt-watt with a tighter curve, 1.03 → 1.06 pu.

# %%
base = load("der_feeder.yaml")
base["time"]["duration"] = "2d"
base["events"] = []
base["market"] = {"mechanism": "none"}
base["units"] = [u for u in base["units"] if u["id"] in ("pv", "oltc")]

cases = {
    "unity pf": ("const_pf", {"pf": 1.0}),
    "volt-var B": ("volt_var", {"curve": "ieee1547_cat_b"}),
    "volt-watt IEEE": ("volt_watt", {"curve": "ieee1547"}),
    "volt-watt 1.03-1.06": ("volt_watt", {"curve": {"v": [1.03, 1.06], "p": [1.0, 0.2]}}),
}
results = {}
for label, (policy, params) in cases.items():
    data = copy.deepcopy(base)
    data["units"][0].update(policy=policy, params=params)
    results[label] = run(data)
    s = results[label].summary
    print(f"{label:20s} V max {s['voltage']['max_pu']:.4f} pu, "
          f"{s['voltage']['violation_bus_hours']:5.2f} bus-h outside band, "
          f"curtailed {s['energy']['curtailed_mwh']:.3f} MWh, losses {s['energy']['losses_mwh']:.3f} MWh")

# %% [markdown]
# What the curves do: volt-var takes the peak voltage below 1.05 pu without
# curtailing any energy, at the price of slightly higher losses (the reactive
# current flows in the lines too). The IEEE volt-watt curve starts at 1.06 pu,
# above anything this feeder reaches, so it does nothing; the tighter curve
# acts, but only by curtailing PV energy, and it cannot hold the voltage at its
# knee because the cap follows the voltage.

# %%
fig, ax = plt.subplots(1, 2, figsize=(13, 4))
for label, r in results.items():
    vmax = r.frame("bus_vm_pu").max(axis=1)
    ax[0].plot(vmax.index, vmax, label=label)
ax[0].axhline(1.05, color="r", ls="--")
ax[0].set_ylabel("highest bus voltage [pu]"); ax[0].legend(); fig.autofmt_xdate()

labels = list(results)
curtailed = [results[k].summary["energy"]["curtailed_mwh"] for k in labels]
violations = [results[k].summary["voltage"]["violation_bus_hours"] for k in labels]
x = np.arange(len(labels))
ax[1].bar(x - 0.2, violations, 0.4, label="bus-hours outside 0.95-1.05 pu")
ax[1].bar(x + 0.2, curtailed, 0.4, label="curtailed PV [MWh]")
ax[1].set_xticks(x, labels, rotation=15); ax[1].legend()
fig.tight_layout()

s = {k: r.summary for k, r in results.items()}
assert s["volt-var B"]["voltage"]["max_pu"] < s["unity pf"]["voltage"]["max_pu"]
assert s["volt-var B"]["energy"]["curtailed_mwh"] < 1e-6
assert s["volt-watt 1.03-1.06"]["energy"]["curtailed_mwh"] > 0

# %% [markdown]
# ## The simulated Q against V
#
# Every PV unit with volt-var, every step: reactive power in per unit of its
# rating against the voltage of its bus. The points lie on the category B
# curve — the fixed-point loop has settled each step to within `control.tol`.

# %%
r = results["volt-var B"]
group = next(g for g in r.runtime.groups if g.id == "pv")
q_pu = r.frame("unit_q_mvar")[group.unit_ids].to_numpy() / group.rating_mw
buses = r.runtime.plant.net.sgen.loc[[int(u.split("/")[1]) for u in group.unit_ids], "bus"]
v_pu = r.frame("bus_vm_pu")[[f"bus/{b}" for b in buses]].to_numpy()

fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(v_pu.ravel(), q_pu.ravel(), s=3, alpha=0.3, label="simulated (unit, step)")
v = np.linspace(0.96, 1.06, 101)
ax.plot(v, laws.volt_var_q_pu(v, *laws.VOLT_VAR_CAT_B), "k", label="IEEE 1547 category B")
ax.set_xlabel("bus voltage [pu]"); ax.set_ylabel("Q [pu of rating]"); ax.legend(); ax.grid(alpha=0.3)

error = np.abs(q_pu - laws.volt_var_q_pu(v_pu, *laws.VOLT_VAR_CAT_B))
print(f"largest distance from the curve: {np.nanmax(error):.2e} pu over {np.isfinite(error).sum()} points")
assert np.nanmax(error) < 1e-2
