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
# # 7 · An agent in the loop: hiergrid as a Gymnasium environment
#
# Reinforcement learning needs an environment with the four-method API of
# [Gymnasium](https://gymnasium.farama.org): `reset`, `step`, an
# `observation_space` and an `action_space`. `hierarchy.gym_env.HiergridEnv(scenario, agent)`
# makes one decision maker of a scenario the agent; everything else runs as
# the scenario says, on the same engine and power flow as `hiergrid run`.
#
# Here the agent is the **north area's coordinator** of the quickstart day
# (`agent="areas.north"`). Every 5 minutes, when the coordinator would act, it
# sees what the coordinator sees (all of it delayed by the links): the area's
# net export, its market schedule and price, and its flexible units' output
# and range. Its action is a setpoint for each unit that takes one: the two
# CHP units and the two batteries [MW].
#
# The reward after each decision is made of the figures `summary.json`
# reports, over the physics steps since the last decision:
#
# $$r_j = -\Big(w_\mathrm{s}\sum_k \left|P_{\mathrm{export},k} - P_{\mathrm{sched},k}\right|\Delta t
# \;+\; w_\mathrm{v}\sum_k N^\mathrm{out}_k\,\Delta t
# \;+\; w_\mathrm{c}\sum_k -P_{\mathrm{export},k}\,\lambda_k\,\Delta t\Big)$$
#
# with $N^\mathrm{out}_k$ the area's buses outside 0.95–1.05 pu at step $k$,
# $\lambda_k$ the clearing price and $\Delta t$ = 15 min. The weights default
# to $w_\mathrm{s} = w_\mathrm{v} = 1$, $w_\mathrm{c} = 0$ (`reward=` changes them).
# Nothing is trained here: a random agent and a rule-based one play the same day.

# %%
# %matplotlib inline
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np

import hierarchy
from hierarchy.gym_env import HiergridEnv

warnings.simplefilter("ignore")  # the solvers' deprecation notices
QUICKSTART = "../scenarios/quickstart.yaml"   # the notebooks run from notebooks/

env = HiergridEnv(QUICKSTART, agent="areas.north")
print("actions:", env.action_units, env.action_space)
print("observations:", list(env.observation_space))

# %% [markdown]
# ## Two agents
#
# The **random** agent samples setpoints uniformly from the action space. The
# **rule-based** agent keeps the area on its schedule: it asks its units for
# the megawatts the area is missing, $P_\mathrm{sched} - P_\mathrm{export}$,
# the batteries first and the CHP units for the rest, each within the range
# its unit last reported. Before the first award there is no schedule, and it
# holds the units where they are.

# %%
low, high = env.action_space.low, env.action_space.high
BATTERIES, CHP = [2, 3], [0, 1]   # positions in env.action_units


def random_agent(obs):
    return env.action_space.sample()


def keep_schedule(obs):
    p_mw = obs["unit_p_mw"]
    target = np.clip(p_mw, low, high)
    if not obs["schedule_known"][0]:
        return target
    missing_mw = obs["schedule_mw"][0] - obs["net_export_mw"][0]
    for rows in (BATTERIES, CHP):
        lo = np.maximum(obs["unit_p_min_mw"][rows], low[rows])
        hi = np.minimum(obs["unit_p_max_mw"][rows], high[rows])
        target[rows] = np.clip(p_mw[rows] + missing_mw / len(rows), lo, hi)
        missing_mw -= float(np.sum(target[rows] - p_mw[rows]))
    return target


def play(agent, seed=7):
    """One episode (the day); the rewards' terms per decision and the run's results."""
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    rewards, terms = [], []
    while True:
        obs, reward, terminated, truncated, info = env.step(agent(obs))
        rewards.append(reward)
        terms.append(info)
        if terminated or truncated:
            return np.array(rewards), terms, env.result()


episodes = {name: play(agent) for name, agent in [("random", random_agent), ("rule-based", keep_schedule)]}
for name, (rewards, terms, result) in episodes.items():
    deviation = math.fsum(t["schedule_deviation_mwh"] for t in terms)
    volts = math.fsum(t["voltage_violation_bus_hours"] for t in terms)
    print(f"{name:>10}: {len(rewards)} decisions, return {rewards.sum():7.2f}, "
          f"off schedule {deviation:5.2f} MWh, outside the band {volts:5.2f} bus-hours")

# %% [markdown]
# The reward's schedule term is the summary's own figure, step by step: summed
# over the episode it equals `areas.north.schedule_deviation_mwh` of the run's
# summary. For comparison, the scenario as written (the built-in
# `schedule_tracking` coordinator in the north) is run with `hierarchy.run`.

# %%
built_in = hierarchy.run(QUICKSTART, write=False)
off = {name: result.summary["areas"]["north"]["schedule_deviation_mwh"]
       for name, (_, _, result) in episodes.items()}
off["built-in"] = built_in.summary["areas"]["north"]["schedule_deviation_mwh"]
for name, (_, terms, _) in episodes.items():
    assert math.isclose(math.fsum(t["schedule_deviation_mwh"] for t in terms), off[name], rel_tol=1e-12)
print({name: round(value, 2) for name, value in off.items()})

# the rule keeps the area closer to its schedule than chance, and about as close as the built-in
assert off["rule-based"] < 0.85 * off["random"]
assert abs(off["rule-based"] - off["built-in"]) < 0.05 * off["built-in"]
assert episodes["rule-based"][0].sum() > episodes["random"][0].sum()

# %%
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
schedule = built_in.frame("area_schedule_mw")["north"]
ax1.step(schedule.index, schedule, where="post", color="black", lw=1.5, label="schedule (awards)")
for (name, (rewards, terms, result)), colour in zip(episodes.items(), ("tab:red", "tab:blue")):
    export = result.frame("area_net_export_mw")["north"]
    ax1.plot(export.index, export, color=colour, label=f"net export, {name}")
    times = built_in.frame("bus_vm_pu").index[0] + np.array([t["time_ms"] for t in terms], "timedelta64[ms]")
    ax2.plot(times, np.cumsum(rewards), color=colour, label=name)
export = built_in.frame("area_net_export_mw")["north"]
ax1.plot(export.index, export, color="tab:green", ls="--", label="net export, built-in schedule_tracking")
ax1.set_ylabel("north [MW]")
ax1.legend(fontsize=8, loc="lower left")
ax2.set_ylabel("cumulative reward")
ax2.set_xlabel("time")
ax2.legend(fontsize=8)
fig.suptitle("North area: an agent as its coordinator (quickstart day)")
fig.tight_layout()

# %% [markdown]
# The schedule is what the area bid, from the load it measured when bidding,
# so it trails the morning and evening ramps by an hour or more; 0.9 MW of
# flexible units cannot close gaps of several MW there, and that is where most
# of the deviation comes from, for any agent. Between the ramps the rule-based
# agent follows the schedule as closely as the built-in coordinator (its line
# lies under the dashed one), and its return falls more slowly than the
# random agent's.
#
# To learn a policy instead, hand the environment to a library such as
# Stable-Baselines3 (`pip install stable-baselines3`; not needed here): the
# observations are a `Dict` of arrays (`MultiInputPolicy`, or
# `gymnasium.wrappers.FlattenObservation`), the actions a `Box` in MW
# (`gymnasium.wrappers.RescaleAction` maps them to [-1, 1]). The environment
# is registered too: `gymnasium.make("hiergrid/Scenario-v0", scenario=..., agent=...)`
# after `import hierarchy.gym_env`. An agent can also be a unit group
# (`agent="units.pv"`: P and Q of each inverter at every physics step); see
# [docs/policies.md](../docs/policies.md).
