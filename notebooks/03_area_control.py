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
# # 3 · Area control: frequency after a load step
#
# In a synchronous island every imbalance between generation and load shows as
# a change of frequency. With $\Delta f$ the deviation from $f_0$ (Hz), the
# aggregated swing equation (Kundur, *Power System Stability and Control*,
# 1994, §11.1) reads
#
# $$M\,\frac{d\Delta f}{dt} = \sum_j P_j - P_L\left(1 + D\,\frac{\Delta f}{f_0}\right) - P_\mathrm{loss},
# \qquad M = \sum_j \frac{2 H_j S_j}{f_0}.$$
#
# **Primary control** (seconds): each governor with droop $R_j$ moves its unit
# against the frequency, $T_j\,\dot P_j = P_{\mathrm{ref},j} - \frac{P_{j,\mathrm{rated}}}{R_j f_0}\Delta f - P_j$.
# In steady state the frequency stays off nominal by
#
# $$\Delta f = -\frac{\Delta P_L}{\sum_i \beta_i}, \qquad
# \beta_i = \sum_{j \in i} \frac{P_{j,\mathrm{rated}}}{R_j f_0} + \frac{D_i\,P_{L,i}}{f_0}\ \ [\mathrm{MW/Hz}],$$
#
# and each area takes its share $\beta_i / \sum \beta$ of the load change, so
# power flows over the tie-line from the other area.
#
# **Secondary control** (AGC, tens of seconds to minutes): each area integrates
# its area control error
#
# $$\mathrm{ACE}_i = (P_{\mathrm{tie},i} - P_{\mathrm{tie},i}^\mathrm{sched}) + B_i\,\Delta f$$
#
# and moves its units' references by $-k_i\,\mathrm{ACE}_i$ per second, until
# frequency and tie-line flows are back on schedule: the area where the load
# changed picks it up.

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
# `scenarios/two_area_lfc.yaml`: two 110 kV areas tied by one line, four
# generators with 5 % droop, no external grid. At 60 s the east load steps up
# by 10 MW. We run it for 5 minutes twice: with AGC in both areas (as in the
# file) and with the coordinators switched off (`policy: none`, primary control
# only).

# %%
agc_on = load("two_area_lfc.yaml")
agc_on["time"]["duration"] = "300s"
agc_off = copy.deepcopy(agc_on)
for area in agc_off["areas"]:
    area["coordinator"] = {"policy": "none", "period": "4s"}

on, off = run(agc_on), run(agc_off)
f_on, f_off = on.frame("area_frequency_hz")["east"], off.frame("area_frequency_hz")["east"]
tie_on, tie_off = on.frame("area_net_export_mw")["west"], off.frame("area_net_export_mw")["west"]

fig, ax = plt.subplots(1, 2, figsize=(13, 4))
ax[0].plot(f_off.index, f_off, label="primary only (AGC off)")
ax[0].plot(f_on.index, f_on, label="primary + AGC")
ax[0].set_ylabel("frequency [Hz]"); ax[0].legend()
ax[1].plot(tie_off.index, tie_off, label="primary only (AGC off)")
ax[1].plot(tie_on.index, tie_on, label="primary + AGC")
ax[1].set_ylabel("west net export (tie-line) [MW]"); ax[1].legend()
fig.autofmt_xdate(); fig.tight_layout()

# %% [markdown]
# ## The textbook formula next to the simulation
#
# $\beta$ from the grid data: the generators' ratings, the 5 % droop, the load
# damping $D = 1$ and each area's load after the step. The simulated $\Delta f$
# is the settled frequency after the step minus the settled frequency before it
# (the grid starts slightly off balance: its losses are not in the generators'
# set points).

# %%
net = off.runtime.plant.net
f0, droop, damping = 50.0, 0.05, 1.0
delta_load_mw = 10.0
zone = net.bus.zone
beta = {}
for area in ("west", "east"):
    gens = net.gen[zone.loc[net.gen.bus].to_numpy() == area]
    loads = net.load[zone.loc[net.load.bus].to_numpy() == area]
    p_load = loads.p_mw.sum() + (delta_load_mw if area == "east" else 0.0)
    beta[area] = (gens.sn_mva / (droop * f0)).sum() + damping * p_load / f0
beta_total = sum(beta.values())

df_formula = -delta_load_mw / beta_total
before = f_off[: "2024-01-15 08:00:59"].iloc[-1]
df_sim = f_off.iloc[-1] - before
tie_formula = delta_load_mw * beta["west"] / beta_total
tie_sim = tie_off.iloc[-1] - tie_off[: "2024-01-15 08:00:59"].iloc[-1]
print(f"beta west {beta['west']:.1f} MW/Hz, east {beta['east']:.1f} MW/Hz")
print(f"frequency deviation: formula {df_formula:.4f} Hz, simulated {df_sim:.4f} Hz")
print(f"tie-line change:     formula {tie_formula:.3f} MW, simulated {tie_sim:.3f} MW")
print(f"with AGC: final frequency {f_on.iloc[-1]:.4f} Hz, west export {tie_on.iloc[-1]:.3f} MW")
assert abs(df_sim - df_formula) < 0.03 * abs(df_formula)
assert abs(tie_sim - tie_formula) < 0.03 * tie_formula
assert abs(f_on.iloc[-1] - f0) < 1e-3 and abs(tie_on.iloc[-1]) < 0.05

# %% [markdown]
# ## Who picks up the load
#
# Primary control shares the 10 MW by $\beta$ (all four units move); AGC then
# hands it back to the east generators, where the load changed. The area
# control error of each area goes to zero.

# %%
fig, ax = plt.subplots(1, 2, figsize=(13, 4))
p_off, p_on = off.frame("unit_p_mw"), on.frame("unit_p_mw")
for col in p_on.columns:
    line, = ax[0].plot(p_on.index, p_on[col] - p_on[col].iloc[0], label=f"{col} AGC")
    ax[0].plot(p_off.index, p_off[col] - p_off[col].iloc[0], ls="--", color=line.get_color())
ax[0].set_ylabel("change of output [MW] (dashed: AGC off)"); ax[0].legend(fontsize=8)
ace = on.frame("area_ace_mw")
for col in ace.columns:
    ax[1].plot(ace.index, ace[col], label=col)
ax[1].set_ylabel("ACE [MW]"); ax[1].legend()
fig.autofmt_xdate(); fig.tight_layout()
