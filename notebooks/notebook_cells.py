"""The cells of the teaching notebooks: notebook name -> [(kind, source)], kind ``md`` or ``code``.

Written to ``notebooks/*.ipynb`` by ``build_notebooks.py``. Each notebook
runs in well under a minute, writes no files into the repository
(``hierarchy.run(..., write=False)``) and checks its own teaching claims
with ``assert`` so that the test suite fails when the code stops telling
the story the text tells.
"""

SETUP = r'''
%matplotlib inline
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
'''

QUICKSTART = [
    ("md", r"""
# 1 · Quickstart: one day of a feeder under three tiers of control

hiergrid simulates a power grid in which control is layered in three tiers:

* **unit control** (tier 1) sits at each device — a PV inverter, a battery, a
  generator — and keeps its connection stable and safe from local
  measurements (IEEE 1547-2018 volt-var, for instance);
* **area control** (tier 2) balances a region: it keeps the region's net
  export on the schedule the market gave it, and it turns the region's
  flexibility into offers and bids;
* **market control** (tier 3) clears those offers and bids once per delivery
  interval and sets prices.

Measurements go up, setpoints and prices come down, and every message between
tiers crosses a communication link with a delay. This notebook runs the
quickstart scenario — one summer day of the CIGRE medium-voltage benchmark
feeder with its DERs, at 15-minute steps — reads its summary and plots it.
"""),
    ("code", SETUP),
    ("md", r"""
## The scenario

A scenario is a YAML file: the grid, the time span, the areas with their
coordinators, the unit groups with their policies, the market, the
communication links and the events. Every key is listed in
`docs/scenario_reference.md`.
"""),
    ("code", r'''
print((SCENARIOS / "quickstart.yaml").read_text())
'''),
    ("md", r"""
## Run it

`hierarchy.run` is the Python twin of `hiergrid run SCENARIO.yaml`. With
`write=False` nothing goes to disk; the result holds the summary and every
timeseries table (`result.frame(name)`).
"""),
    ("code", r'''
result = hierarchy.run(SCENARIOS / "quickstart.yaml", write=False)
print(result)
print(result.frame_names)
'''),
    ("md", r"""
## Read the summary

`result.summary` is the content of `summary.json`. Energy is in MWh, with
generation and export positive. The energy balance of the whole grid must
close: what is generated or imported is consumed, lost in the lines, exported
or stored,

$$E_\mathrm{gen} + E_\mathrm{import} = E_\mathrm{load} + E_\mathrm{losses} + E_\mathrm{export} + E_\mathrm{storage\,charge}.$$

The voltage figure counts bus-hours outside the band $[0.95, 1.05]$ pu:

$$\text{violation bus-hours} = \sum_t \sum_b \mathbf{1}\left[V_{b,t} \notin [0.95, 1.05]\right]\,\Delta t.$$

Both are recomputed below from the tables and compared with the summary.
"""),
    ("code", r'''
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
'''),
    ("md", r"""
## Plot it

Four views of the day: the voltage band over all buses (the evening load
pulls the far end of the feeders below 0.95 pu), the northern area's net
export against the schedule the market gave it (the batteries close part of
the gap), the hourly clearing price, and the batteries' state of charge.
"""),
    ("code", r'''
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
'''),
    ("md", r"""
## Next

* The same run from a shell: `hiergrid run scenarios/quickstart.yaml` writes
  `results/quickstart/` (`docs/outputs.md` lists every file and column).
* Change the scenario as a dict: `data = load("quickstart.yaml")`, edit it,
  `run(data)` — the next notebooks do exactly that.
* Notebook 2 looks at tier 1 (volt-var, volt-watt), 3 at tier 2 (frequency
  and AGC), 4 at tier 3 (auctions and dispatch), 5 shows how to plug in your
  own policies.
"""),
]

UNIT_CONTROL = [
    ("md", r"""
# 2 · Unit control: volt-var and volt-watt on a feeder

Rooftop PV at the end of a long feeder raises the voltage there: the active
power $P$ flowing back towards the substation over a line of resistance $R$
and reactance $X$ lifts the voltage by approximately

$$\Delta V \approx \frac{R\,P + X\,Q}{V}.$$

An inverter can lower it in two ways: absorb reactive power ($Q < 0$,
**volt-var**) or cut its active power (**volt-watt**). IEEE 1547-2018 gives
both as piecewise-linear curves of the terminal voltage. Volt-var (clause
5.3.3, Table 8), with $Q$ in per unit of the nameplate rating and injection
positive:

$$Q(V) = \begin{cases} Q_1 & V \le V_1\\ \text{linear between the points} & V_1 < V < V_4 \\ Q_4 & V \ge V_4 \end{cases}$$

with category B defaults $(V_1..V_4) = (0.92, 0.98, 1.02, 1.08)$ pu and
$(Q_1..Q_4) = (0.44, 0, 0, -0.44)$. Volt-watt (clause 5.4.2, Table 10) caps
the active power at $P_\max(V) = 1$ up to $V_1 = 1.06$ pu, falling linearly to
$P_2 = 0.2$ at $V_2 = 1.10$ pu.

The laws are pure functions in `unit_control.laws`; the policies apply them
to whole groups of inverters inside a fixed-point loop with the power flow
(the voltage depends on the $Q$ it causes).
"""),
    ("code", SETUP + r'''
from unit_control import laws
'''),
    ("code", r'''
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
'''),
    ("md", r"""
## On a feeder

`scenarios/der_feeder.yaml` is a week of the SimBench rural MV grid with the
rooftop PV of its 2030s scenario. Here: two sunny days of it with only the PV
policy and the substation tap changer (no market, no event), run four times
with the PV under

1. unity power factor (`const_pf`, $Q = 0$) — the reference;
2. volt-var, category B;
3. volt-watt with the IEEE default curve;
4. volt-watt with a tighter curve, 1.03 → 1.06 pu.
"""),
    ("code", r'''
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
'''),
    ("md", r"""
What the curves do: volt-var takes the peak voltage below 1.05 pu without
curtailing any energy, at the price of slightly higher losses (the reactive
current flows in the lines too). The IEEE volt-watt curve starts at 1.06 pu,
above anything this feeder reaches, so it does nothing; the tighter curve
acts, but only by curtailing PV energy, and it cannot hold the voltage at its
knee because the cap follows the voltage.
"""),
    ("code", r'''
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
'''),
    ("md", r"""
## The simulated Q against V

Every PV unit with volt-var, every step: reactive power in per unit of its
rating against the voltage of its bus. The points lie on the category B
curve — the fixed-point loop has settled each step to within `control.tol`.
"""),
    ("code", r'''
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
'''),
]

AREA_CONTROL = [
    ("md", r"""
# 3 · Area control: frequency after a load step

In a synchronous island every imbalance between generation and load shows as
a change of frequency. With $\Delta f$ the deviation from $f_0$ (Hz), the
aggregated swing equation (Kundur, *Power System Stability and Control*,
1994, §11.1) reads

$$M\,\frac{d\Delta f}{dt} = \sum_j P_j - P_L\left(1 + D\,\frac{\Delta f}{f_0}\right) - P_\mathrm{loss},
\qquad M = \sum_j \frac{2 H_j S_j}{f_0}.$$

**Primary control** (seconds): each governor with droop $R_j$ moves its unit
against the frequency, $T_j\,\dot P_j = P_{\mathrm{ref},j} - \frac{P_{j,\mathrm{rated}}}{R_j f_0}\Delta f - P_j$.
In steady state the frequency stays off nominal by

$$\Delta f = -\frac{\Delta P_L}{\sum_i \beta_i}, \qquad
\beta_i = \sum_{j \in i} \frac{P_{j,\mathrm{rated}}}{R_j f_0} + \frac{D_i\,P_{L,i}}{f_0}\ \ [\mathrm{MW/Hz}],$$

and each area takes its share $\beta_i / \sum \beta$ of the load change, so
power flows over the tie-line from the other area.

**Secondary control** (AGC, tens of seconds to minutes): each area integrates
its area control error

$$\mathrm{ACE}_i = (P_{\mathrm{tie},i} - P_{\mathrm{tie},i}^\mathrm{sched}) + B_i\,\Delta f$$

and moves its units' references by $-k_i\,\mathrm{ACE}_i$ per second, until
frequency and tie-line flows are back on schedule: the area where the load
changed picks it up.
"""),
    ("code", SETUP),
    ("md", r"""
`scenarios/two_area_lfc.yaml`: two 110 kV areas tied by one line, four
generators with 5 % droop, no external grid. At 60 s the east load steps up
by 10 MW. We run it for 5 minutes twice: with AGC in both areas (as in the
file) and with the coordinators switched off (`policy: none`, primary control
only).
"""),
    ("code", r'''
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
'''),
    ("md", r"""
## The textbook formula next to the simulation

$\beta$ from the grid data: the generators' ratings, the 5 % droop, the load
damping $D = 1$ and each area's load after the step. The simulated $\Delta f$
is the settled frequency after the step minus the settled frequency before it
(the grid starts slightly off balance: its losses are not in the generators'
set points).
"""),
    ("code", r'''
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
'''),
    ("md", r"""
## Who picks up the load

Primary control shares the 10 MW by $\beta$ (all four units move); AGC then
hands it back to the east generators, where the load changed. The area
control error of each area goes to zero.
"""),
    ("code", r'''
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
'''),
]

MARKET = [
    ("md", r"""
# 4 · Market control: double auction and economic dispatch

The market tier clears, for each delivery interval, the sell **offers** and
buy **bids** that the areas send before gate closure. hiergrid has two
mechanisms, both pure functions in `market_control` that you can call on
small examples.

**Double auction** (uniform price). Offers sorted by price ascending form the
supply curve $S(p)$, bids sorted descending the demand curve $D(p)$. The
cleared quantity is the largest $Q$ at which accepted supply meets accepted
demand, and one price $p^*$ — set by the marginal (partly accepted) offer or
bid — applies to everyone: every accepted offer is priced at or below
$p^*$, every accepted bid at or above. hiergrid follows the clearing rules of
GridLAB-D's `auction` object, tie cases included (`DESIGN.md`, appendix).

**Economic dispatch** minimises the cost of meeting a fixed demand $D$ with
generators of cost $C_i(P_i) = a_i + b_i P_i + c_i P_i^2$:

$$\min_{P} \sum_i C_i(P_i) \quad \text{s.t.} \quad \sum_i P_i = D,\quad P_i^{\min} \le P_i \le P_i^{\max}.$$

At the optimum every unit not at a limit runs at the same incremental cost
$\lambda = b_i + 2 c_i P_i$ (Wood & Wollenberg, *Power Generation, Operation
and Control*, ch. 3), so with no limit binding

$$\lambda = \frac{D + \sum_i b_i/(2c_i)}{\sum_i 1/(2c_i)}, \qquad P_i = \frac{\lambda - b_i}{2 c_i},$$

and $\lambda$ is the price: the marginal cost of one more MWh of demand.
"""),
    ("code", SETUP + r'''
from market_control import Bid, Generator, Offer, double_auction, economic_dispatch
'''),
    ("md", r"""
## A double auction by hand

Three offers and three bids for one hour. Supply runs out of cheap offers at
5 MW (PV and CHP); the next offer (gas at 80) is dearer than any bid still
open. The factory, bidding 60 for 2.5 MW, gets only 2 MW of it: it is the
partly accepted, marginal buyer, and its bid sets the price for everyone.
"""),
    ("code", r'''
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
'''),
    ("md", r"""
## Economic dispatch: Wood & Wollenberg, Example 3A

Three thermal units, costs in \$/h (fuel price × heat-rate curve), 850 MW of
demand. The book's answer: $\lambda = 9.148$ \$/MWh, $P = (393.2, 334.6, 122.2)$
MW. The closed form above and `economic_dispatch` (a HiGHS optimisation)
agree with it.
"""),
    ("code", r'''
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
'''),
    ("md", r"""
## In the simulation

`scenarios/market_week.yaml` is a winter week of a SimBench semi-urban MV
grid with three areas; here its third and fourth days. Each hour the areas
offer their wind, PV, hydro and biomass and bid their load; the upstream grid
offers imports at 60 and bids for exports at 20 per MWh, up to 8 MW of
import. Key accounts pay a time-of-use tariff, heat pumps the real-time
price plus 30.

While the wind blows the price sits at the upstream prices (20 exporting, 60
importing). On the evening of the 27th the wind is weak and the import limit
binds: twice the auction cannot serve the unresponsive load, the price goes
to the cap (3000) and the shortfall is reported (`market_clearing`). On the
28th the biomass unit and the flexible loads' bids set prices of 120–145,
and the 10 % reserve the auction only reports is often short.
"""),
    ("code", r'''
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
'''),
    ("md", r"""
Checks on the clearing: each interval's awards sum to zero (what is sold is
bought), a price at the cap comes with a shortfall, and the time-of-use tariff of the key accounts is 180 in the morning
peak (07:00–11:00), 200 in the evening peak (17:00–20:00) and 95 otherwise,
whatever the clearing price; the heat pumps' price is clearing price + 30.
"""),
    ("code", r'''
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
'''),
]

OWN_POLICY = [
    ("md", r"""
# 5 · Your own policy

Every tier is a small protocol. A **unit policy** subclasses
`unit_control.UnitPolicy` and implements, vectorised over its group of units:

* `step(obs) -> Command` — P and Q from the observations; called inside the
  fixed-point loop with the power flow, so it must not change state;
* `advance(obs, command)` — move the state once the step has settled;
* `capability(obs) -> Capability` — the P range to report to the area.

An **area coordinator** subclasses `area_control.AreaCoordinator`:

* `control(state) -> AreaAction` — unit setpoints from what the area knows
  (delayed unit status, meter readings, awards);
* `orders(state, interval_start_ms) -> (offers, bids)` — what it trades;
* `dispatch(state)` — unit setpoints from the market awards.

A scenario names a class as `package.module:Class`. A class defined in a
notebook cell has no module path, so the cells below write the classes to a
file in a temporary folder that is put on `sys.path` (the repository stays
clean). `docs/policies.md` and `docs/user_policies.md` say more.
"""),
    ("code", SETUP + r'''
import sys
import tempfile

policy_dir = Path(tempfile.mkdtemp(prefix="hiergrid-policies-"))
sys.path.insert(0, str(policy_dir))
policy_file = policy_dir / "student_policies.py"
'''),
    ("md", r"""
## A unit policy: proportional volt-var

The simplest volt-var law has no dead band:

$$Q = \mathrm{clip}\left(-k\,(V - V_\mathrm{ref}),\ -Q_\max,\ Q_\max\right), \qquad
P = \min\left(P_\mathrm{avail},\ \sqrt{S^2 - Q^2}\right)$$

in per unit of the rating $S$: the active power gives way where $P^2 + Q^2$
would exceed the rating. With $k = 7.3$ it has the
slope of the IEEE category B curve, but acts from the first millivolt.

## An area coordinator: flat frequency control

Before tie-line bias control, areas ran *flat frequency control*: integrate
the frequency error alone and ignore the tie-line,

$$\frac{dP_{\mathrm{ref},i}}{dt} = -k_i\,B_i\,\Delta f .$$

 Frequency comes back to $f_0$, but every area takes part
of a load change in any area, so tie-line flows leave their schedule (Wood &
Wollenberg, ch. 10; Kundur §11.1.5). Running the cell writes both classes to
`student_policies.py`.
"""),
    ("code", r'''
%%writefile $policy_file
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
'''),
    ("md", r"""
Before using a unit policy in a run, check it against the contract every
built-in policy passes (shapes, finite outputs, a pure `step`, determinism):
"""),
    ("code", r'''
import importlib

import student_policies
importlib.reload(student_policies)
from unit_control.conformance import check_unit_policy

check_unit_policy(student_policies.ProportionalVoltVar, n_units=5)
print("ProportionalVoltVar passes the unit-policy contract check")
'''),
    ("md", r"""
## Plug in the unit policy and compare

Two days of the rural feeder of notebook 2, PV under the built-in category B
volt-var and under the proportional law.
"""),
    ("code", r'''
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
'''),
    ("md", r"""
The proportional law holds the peak voltage about as well, but it absorbs reactive
power all day, even at voltages the standard's dead band leaves alone, and
the extra reactive current raises the losses: the dead band is there for a
reason.

## Plug in the area coordinator and compare

The two-area system of notebook 3, with built-in tie-line bias AGC and with
flat frequency control in both areas.
"""),
    ("code", r'''
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
'''),
    ("md", r"""
Both restore the frequency. Flat frequency control leaves the west area
exporting about half of the east's load change, because both areas integrate
the same frequency error; tie-line bias control hands the whole load change
to the east, where it happened. That is why interconnected systems use it.
"""),
]

NOTEBOOKS = {
    "01_quickstart": QUICKSTART,
    "02_unit_control": UNIT_CONTROL,
    "03_area_control": AREA_CONTROL,
    "04_market": MARKET,
    "05_your_own_policy": OWN_POLICY,
}
