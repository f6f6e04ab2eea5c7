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
# # 1 · Quickstart: one day of a feeder under three tiers of control
#
# hiergrid simulates a power grid in which control is layered in three tiers:
#
# * **unit control** (tier 1) sits at each device — a PV inverter, a battery, a
#   generator — and keeps its connection stable and safe from local
#   measurements (IEEE 1547-2018 volt-var, for instance);
# * **area control** (tier 2) balances a region: it keeps the region's net
#   export on the schedule the market gave it, and it turns the region's
#   flexibility into offers and bids;
# * **market control** (tier 3) clears those offers and bids once per delivery
#   interval and sets prices.
#
# Measurements go up, setpoints and prices come down, and every message between
# tiers crosses a communication link with a delay. This notebook runs the
# quickstart scenario — one summer day of the CIGRE medium-voltage benchmark
# feeder with its DERs, at 15-minute steps — reads its summary and plots it.

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


# %% [markdown]
# ## The scenario
#
# A scenario is a YAML file: the grid, the time span, the areas with their
# coordinators, the unit groups with their policies, the market, the
# communication links and the events. Every key is listed in
# `docs/scenario_reference.md`.

# %%
print((SCENARIOS / "quickstart.yaml").read_text())

# %% [markdown]
# ## Run it
#
# `hierarchy.run` is the Python twin of `hiergrid run SCENARIO.yaml`. With
# `write=False` nothing goes to disk; the result holds the summary and every
# timeseries table (`result.frame(name)`).

# %%
result = hierarchy.run(SCENARIOS / "quickstart.yaml", write=False)
print(result)
print(result.frame_names)

# %% [markdown]
# ## Read the summary
#
# `result.summary` is the content of `summary.json`. Energy is in MWh, with
# generation and export positive. The energy balance of the whole grid must
# close: what is generated or imported is consumed, lost in the lines, exported
# or stored,
#
# $$E_\mathrm{gen} + E_\mathrm{import} = E_\mathrm{load} + E_\mathrm{losses} + E_\mathrm{export} + E_\mathrm{storage\,charge}.$$
#
# The voltage figure counts bus-hours outside the band $[0.95, 1.05]$ pu:
#
# $$\text{violation bus-hours} = \sum_t \sum_b \mathbf{1}\left[V_{b,t} \notin [0.95, 1.05]\right]\,\Delta t.$$
#
# Both are recomputed below from the tables and compared with the summary.

# %%
e = result.summary["energy"]
for key in ("load_mwh", "generation_mwh", "import_mwh", "export_mwh", "losses_mwh", "storage_charge_mwh"):
    print(f"{key:20s} {e[key]:10.3f}")
residual = (e["generation_mwh"] + e["import_mwh"]
            - e["load_mwh"] - e["losses_mwh"] - e["export_mwh"] - e["storage_charge_mwh"])
print(f"energy balance residual {residual:.2e} MWh")
assert abs(residual) < 1e-3

vm = result.frame("bus_vm_pu")
step_h = (vm.index[1] - vm.index[0]) / np.timedelta64(1, "h")
outside = ((vm < 0.95) | (vm > 1.05)).to_numpy().sum() * step_h
print("violation bus-hours: table", outside, "summary", result.summary["voltage"]["violation_bus_hours"])
assert abs(outside - result.summary["voltage"]["violation_bus_hours"]) < 1e-9

# %% [markdown]
# ## Plot it
#
# Four views of the day: the voltage band over all buses (the evening load
# pulls the far end of the feeders below 0.95 pu), the northern area's net
# export against the schedule the market gave it (the batteries close part of
# the gap), the hourly clearing price, and the batteries' state of charge.

# %%
fig, ax = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
ax[0, 0].fill_between(vm.index, vm.min(axis=1), vm.max(axis=1), alpha=0.4, label="all buses")
ax[0, 0].axhline(0.95, color="r", ls="--"); ax[0, 0].axhline(1.05, color="r", ls="--")
ax[0, 0].set_ylabel("voltage [pu]"); ax[0, 0].legend()

export = result.frame("area_net_export_mw")["north"]
schedule = result.frame("area_schedule_mw")["north"]
ax[0, 1].plot(export.index, export, label="net export (measured)")
ax[0, 1].step(schedule.index, schedule, where="post", label="schedule (market)")
ax[0, 1].set_ylabel("north net export [MW]"); ax[0, 1].legend()

price = result.frame("market_price")
ax[1, 0].step(price.index, price["system"], where="post")
ax[1, 0].set_ylabel("clearing price [per MWh]")

soc = result.frame("battery_soc")
for col in soc.columns:
    ax[1, 1].plot(soc.index, soc[col], label=col)
ax[1, 1].set_ylabel("state of charge [pu]"); ax[1, 1].legend()
fig.autofmt_xdate(); fig.tight_layout()

# %% [markdown]
# ## Next
#
# * The same run from a shell: `hiergrid run scenarios/quickstart.yaml` writes
#   `results/quickstart/` (`docs/outputs.md` lists every file and column).
# * Change the scenario as a dict: `data = load("quickstart.yaml")`, edit it,
#   `run(data)` — the next notebooks do exactly that.
# * Notebook 2 looks at tier 1 (volt-var, volt-watt), 3 at tier 2 (frequency
#   and AGC), 4 at tier 3 (auctions and dispatch), 5 shows how to plug in your
#   own policies.
