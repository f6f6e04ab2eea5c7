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
# # 4 · Market control: double auction and economic dispatch
#
# The market tier clears, for each delivery interval, the sell **offers** and
# buy **bids** that the areas send before gate closure. hiergrid has two
# mechanisms, both pure functions in `market_control` that you can call on
# small examples.
#
# **Double auction** (uniform price). Offers sorted by price ascending form the
# supply curve $S(p)$, bids sorted descending the demand curve $D(p)$. The
# cleared quantity is the largest $Q$ at which accepted supply meets accepted
# demand, and one price $p^*$ — set by the marginal (partly accepted) offer or
# bid — applies to everyone: every accepted offer is priced at or below
# $p^*$, every accepted bid at or above. hiergrid follows the clearing rules of
# GridLAB-D's `auction` object, tie cases included (`DESIGN.md`, appendix).
#
# **Economic dispatch** minimises the cost of meeting a fixed demand $D$ with
# generators of cost $C_i(P_i) = a_i + b_i P_i + c_i P_i^2$:
#
# $$\min_{P} \sum_i C_i(P_i) \quad \text{s.t.} \quad \sum_i P_i = D,\quad P_i^{\min} \le P_i \le P_i^{\max}.$$
#
# At the optimum every unit not at a limit runs at the same incremental cost
# $\lambda = b_i + 2 c_i P_i$ (Wood & Wollenberg, *Power Generation, Operation
# and Control*, ch. 3), so with no limit binding
#
# $$\lambda = \frac{D + \sum_i b_i/(2c_i)}{\sum_i 1/(2c_i)}, \qquad P_i = \frac{\lambda - b_i}{2 c_i},$$
#
# and $\lambda$ is the price: the marginal cost of one more MWh of demand.

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

from market_control import Bid, Generator, Offer, double_auction, economic_dispatch

# %% [markdown]
# ## A double auction by hand
#
# Three offers and three bids for one hour. Supply runs out of cheap offers at
# 5 MW (PV and CHP); the next offer (gas at 80) is dearer than any bid still
# open. The factory, bidding 60 for 2.5 MW, gets only 2 MW of it: it is the
# partly accepted, marginal buyer, and its bid sets the price for everyone.

# %%
offers = [Offer("pv", 2.0, 0.0), Offer("chp", 3.0, 45.0), Offer("gas", 4.0, 80.0)]
bids = [Bid("homes", 3.0, 3000.0), Bid("factory", 2.5, 60.0), Bid("heat pumps", 2.0, 30.0)]
clearing = double_auction(offers, bids)
print(f"price {clearing.price} per MWh, cleared {clearing.quantity_mw} MW, marginal: {clearing.marginal}")
print(clearing.awards)


def steps(orders, descending):
    orders = sorted(orders, key=lambda o: o.price, reverse=descending)
    q = np.cumsum([0.0] + [o.quantity_mw for o in orders])
    p = [o.price for o in orders]
    return q, p + [p[-1]]


fig, ax = plt.subplots(figsize=(6, 4))
q, p = steps(offers, False); ax.step(q, p, where="post", label="supply (offers)")
q, p = steps(bids, True); ax.step(q, np.minimum(p, 150), where="post", label="demand (bids; 3000 drawn at 150)")
ax.plot(clearing.quantity_mw, clearing.price, "ko", label="clearing")
ax.set_xlabel("quantity [MW]"); ax.set_ylabel("price [per MWh]"); ax.set_ylim(-5, 155); ax.legend()

# supply 2 + 3 MW up to 45, then 80; demand 3 MW at the cap, then 2.5 MW at 60: the factory is marginal
assert clearing.price == 60.0 and clearing.quantity_mw == 5.0 and clearing.marginal == "buyer"
assert clearing.awards["factory"] == -2.0
# the two examples of DESIGN.md's appendix
assert double_auction([Offer("a", 7, 30), Offer("b", 9, 30)], [Bid("c", 6, 40), Bid("d", 8, 40)]).price == 30
assert double_auction([Offer("a", 1, 10), Offer("b", 1, 30)], [Bid("c", 1, 25), Bid("d", 1, 20)]).price == 20.0001

# %% [markdown]
# ## Economic dispatch: Wood & Wollenberg, Example 3A
#
# Three thermal units, costs in \$/h (fuel price × heat-rate curve), 850 MW of
# demand. The book's answer: $\lambda = 9.148$ \$/MWh, $P = (393.2, 334.6, 122.2)$
# MW. The closed form above and `economic_dispatch` (a HiGHS optimisation)
# agree with it.

# %%
units = [Generator("unit 1", 561.0, 7.92, 0.001562, 150.0, 600.0),
         Generator("unit 2", 310.0, 7.85, 0.00194, 100.0, 400.0),
         Generator("unit 3", 78.0, 7.97, 0.00482, 50.0, 200.0)]
demand_mw = 850.0
b = np.array([u.b for u in units]); c = np.array([u.c for u in units])
lam = (demand_mw + np.sum(b / (2 * c))) / np.sum(1 / (2 * c))
p_hand = (lam - b) / (2 * c)
ed = economic_dispatch(units, demand_mw)
print(f"by hand:  lambda {lam:.3f}, P {np.round(p_hand, 1)}")
print(f"solver:   lambda {ed.price:.3f}, P {[round(ed.awards[u.participant], 1) for u in units]}")
assert abs(lam - 9.148) < 1e-3 and abs(ed.price - lam) < 1e-4
assert np.allclose([ed.awards[u.participant] for u in units], [393.2, 334.6, 122.2], atol=0.05)

p = np.linspace(0, 600, 301)
fig, ax = plt.subplots(figsize=(6, 4))
for u in units:
    mask = (p >= u.p_min_mw) & (p <= u.p_max_mw)
    ax.plot(p[mask], u.b + 2 * u.c * p[mask], label=f"{u.participant}: b + 2cP")
ax.axhline(lam, color="k", ls="--", label=f"lambda = {lam:.3f}")
ax.plot(p_hand, [lam] * 3, "ko")
ax.set_xlabel("output [MW]"); ax.set_ylabel("incremental cost [$/MWh]"); ax.legend()

# %% [markdown]
# ## In the simulation
#
# `scenarios/market_week.yaml` is a winter week of a SimBench semi-urban MV
# grid with three areas; here its third and fourth days. Each hour the areas
# offer their wind, PV, hydro and biomass and bid their load; the upstream grid
# offers imports at 60 and bids for exports at 20 per MWh, up to 8 MW of
# import. Key accounts pay a time-of-use tariff, heat pumps the real-time
# price plus 30.
#
# While the wind blows the price sits at the upstream prices (20 exporting, 60
# importing). On the evening of the 27th the wind is weak and the import limit
# binds: twice the auction cannot serve the unresponsive load, the price goes
# to the cap (3000) and the shortfall is reported (`market_clearing`). On the
# 28th the biomass unit and the flexible loads' bids set prices of 120–145,
# and the 10 % reserve the auction only reports is often short.

# %%
data = load("market_week.yaml")
data["time"]["start"] = "2016-01-27 00:00"
data["time"]["duration"] = "2d"
market = run(data)
m = market.summary["market"]
print(f"{m['intervals']} intervals, mean price {m['mean_price']:.1f} per MWh, {m['cleared_mwh']:.1f} MWh cleared")

price = market.frame("market_price")["system"]
retail = market.frame("market_retail_price")
awards = market.frame("market_award_mw")
clearing = market.frame("market_clearing")
fig, ax = plt.subplots(3, 1, figsize=(12, 9), sharex=True)
ax[0].step(price.index, price, where="post", color="k", lw=2, label="clearing price")
for col in ("west/key_account", "west/heat_pump"):
    ax[0].step(retail.index, retail[col], where="post", label=f"retail {col}")
ax[0].set_ylabel("price [per MWh]"); ax[0].set_yscale("log"); ax[0].legend()
sellers = awards.clip(lower=0)
sellers = sellers.loc[:, sellers.sum() > 0]
ax[1].stackplot(sellers.index, sellers.T.to_numpy(), labels=sellers.columns, step="post")
ax[1].set_ylabel("awarded supply [MW]"); ax[1].legend(fontsize=7, ncol=3, loc="upper left")
ax[2].bar(clearing.index, clearing["shortfall_mw"], width=1 / 48, label="energy shortfall")
ax[2].bar(clearing.index, clearing["reserve_shortfall_mw"], width=1 / 48, bottom=clearing["shortfall_mw"],
          label="reserve shortfall")
ax[2].set_ylabel("shortfall [MW]"); ax[2].legend()
fig.autofmt_xdate(); fig.tight_layout()

# %% [markdown]
# Checks on the clearing: each interval's awards sum to zero (what is sold is
# bought), a price at the cap comes with a shortfall, and the time-of-use tariff of the key accounts is 180 in the morning
# peak (07:00–11:00), 200 in the evening peak (17:00–20:00) and 95 otherwise,
# whatever the clearing price; the heat pumps' price is clearing price + 30.

# %%
assert np.allclose(awards.sum(axis=1), 0.0, atol=1e-6)
assert (clearing.loc[price >= 3000.0, "shortfall_mw"] > 0).all()   # a price at the cap is a failed clearing
hours = retail.index.hour
tou = np.where((hours >= 7) & (hours < 11), 180.0, np.where((hours >= 17) & (hours < 20), 200.0, 95.0))
assert np.allclose(retail["west/key_account"], tou)
assert np.allclose(retail["west/heat_pump"], price + 30.0)

settlement = market.frame("market_settlement")
paid = settlement.drop(columns=["energy_account", "imbalance_account", "residual"]).sum()
fig, ax = plt.subplots(figsize=(10, 4))
paid.sort_values().plot.barh(ax=ax)
ax.set_xlabel("money received over two days (negative: paid)")
fig.tight_layout()
