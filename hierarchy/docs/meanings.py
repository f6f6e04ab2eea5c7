"""The meanings of scenario keys and policy parameters that the code does not give.

A scenario key's meaning is its schema field's description
(:mod:`hierarchy.scenario`); where that is missing or only a unit, it is
here, in :data:`MEANINGS`. A policy's parameters are its class's
``defaults``; their meanings are here, in :data:`PARAM_MEANINGS`. The
generator (:mod:`hierarchy.docs.rows`) stops at a key or parameter with no
meaning, so that none goes undocumented.
"""
from __future__ import annotations

__all__ = ["MEANINGS", "PARAM_MEANINGS"]

#: meanings of the scenario keys whose schema description is missing or only a unit
MEANINGS: dict[str, str] = {
    "name": "Run name: the default results folder is `results/<name>`.",
    "seed": "Seed of every random draw (synthetic profiles, message loss); same seed, same run.",
    "grid": "The network.",
    "grid.source": "`pandapower` (a `pandapower.networks` function), `simbench` (a SimBench code, "
                   "with its profiles) or `file` (a pandapower JSON file).",
    "grid.code": "SimBench grid code, e.g. `1-MV-rural--2-sw` (source `simbench`).",
    "grid.name": "`pandapower.networks` function, e.g. `create_cigre_network_mv` (source `pandapower`).",
    "grid.options": "Keyword arguments of that function, e.g. `{with_der: all}`.",
    "grid.path": "pandapower JSON file, relative to the scenario file (source `file`).",
    "grid.upstream": "`infinite`: the ext_grid holds f = f0; or a finite machine (keys below) "
                     "whose island follows the swing equation.",
    "grid.solver": "Power-flow solver: `lightsim2grid` (fast, falls back to pandapower) or `pandapower`.",
    "time.start": "First instant of the run; profiles are read from here.",
    "time.duration": "Length of the run.",
    "time.step": "Physics step: profiles, unit controllers, power flow and recording.",
    "profiles.path": "CSV file of profiles, relative to the scenario file (source `csv`).",
    "profiles.source": "`simbench` (the grid's own year), `csv`, `synthetic` (from the seed) or `none` "
                       "(the grid's static values).",
    "control.max_iter": "Most unit-controller/power-flow iterations per step; a step that does not "
                        "settle is counted in `control.nonconverged_steps`.",
    "frequency.step": "Integration step of the swing equation and governors.",
    "frequency.rocof_window": "Window of the rate of change of frequency in summary.json, "
                              "(f(t) − f(t − window))/window (500 ms: ENTSO-E's RoCoF practice).",
    "frequency.settling_band_hz": "summary.json's settling time: when the frequency enters this "
                                  "band around its settled value for good.",
    "add": "Elements created in the grid before it is wired (pandapower's create functions): a "
           "battery here, more PV there. Units select them like any other element, e.g. "
           "`{table: storage, where: {name: NAME}}`; they take the next free indices of their "
           "table (summary.json `added` lists them).",
    "add[].name": "The elements' pandapower `name` (all elements of the entry share it).",
    "add[].table": "pandapower table of the new elements.",
    "add[].bus": "Where: one bus (`bus/N` or the bus index `N`), a list of them, `{zone: NAME}`, "
                 "`{feeder_of: bus/N}` (one element per bus of the selection) or "
                 "`{feeder_ends: true}` (one per feeder, at its bus farthest from the substation "
                 "along the lines).",
    "add[].bus.zone": "Value of the pandapower `bus.zone` column (or a SimBench subnet part).",
    "add[].bus.feeder_of": "The bus that starts the feeder.",
    "add[].bus.feeder_ends": "`true`: the end bus of every feeder.",
    "add[].columns": "Column values of each new element, pandapower's names, units and signs "
                     "(`p_mw`, `q_mvar`, `sn_mva`, `max_e_mwh`, `soc_percent`, `type` ...): "
                     "parameters of `pandapower.create_<table>` or columns the table has; "
                     "`p_mw` required (storage: 0), storage also `max_e_mwh`.",
    "add[].profile": "`constant` (the `p_mw` column, and a load's `q_mvar`, at every step), "
                     "`{csv: FILE, column: NAME, scale: X}`, `{simbench: PROFILE}` or "
                     "`{copy: table/N, scale: X}`.",
    "add[].profile.csv": "CSV file in the format of `profiles.path` (a `time` column), relative "
                         "to the scenario file; values in MW, pandapower's sign.",
    "add[].profile.column": "The CSV column to read.",
    "add[].profile.scale": "Multiplies the series.",
    "add[].profile.simbench": "A SimBench profile name (`PV4`, `G2-A`): its relative values times "
                              "the element's `p_mw` (loads also `q_mvar`), as SimBench scales its "
                              "own elements; needs a grid with SimBench profiles.",
    "add[].profile.copy": "An element of the grid (or one added above) whose series is copied.",
    "areas": "Control areas; every bus belongs to exactly one. Default: one area (`grid`) holding all buses.",
    "areas[].id": "Area id (column name in the area tables).",
    "areas[].buses": "The area's buses: a list of `bus/N` (or bus indices `N`), `{zone: NAME}`, "
                     "`{feeder_of: bus/N}` or `rest` (all buses no other area holds).",
    "areas[].buses.zone": "Value of the pandapower `bus.zone` column.",
    "areas[].buses.feeder_of": "The bus that starts the feeder: it and every bus downstream of it.",
    "areas[].load_damping_pu": "Load damping D: per-unit load change per per-unit frequency change.",
    "areas[].ufls": "Under-frequency load-shedding stages of the area, in order of falling frequency.",
    "areas[].ufls[].f_hz": "The stage trips while the frequency is below this.",
    "areas[].ufls[].fraction": "Share of the area's load the stage sheds.",
    "areas[].ufls[].delay": "How long the frequency must stay below the threshold.",
    "areas[].coordinator.policy": "Area coordinator: a registered name (see Policy parameters "
                                  "below) or `package.module:Class`.",
    "areas[].coordinator.period": "How often the coordinator runs.",
    "areas[].coordinator.params": "The coordinator's parameters (see Policy parameters below).",
    "units": "Unit groups: devices run by one unit policy.",
    "units[].id": "Group id (prefix of its market participant names).",
    "units[].elements": "A list of elements (`sgen/3`) or a query `{table: ..., where: {column: value}}`.",
    "units[].elements.table": "pandapower table of the elements.",
    "units[].elements.where": "Column → value (or list of values) that rows must match.",
    "units[].policy": "Unit policy: a registered name (see below) or `package.module:Class`.",
    "units[].params": "The policy's parameters (see Policy parameters below).",
    "units[].area": "Area whose coordinator controls the group (default: each unit's area by its bus).",
    "market.mechanism": "Clearing mechanism: `double_auction`, `economic_dispatch`, `none` (no "
                        "market, no awards) or `package.module:Class`.",
    "market.interval": "Length of a delivery interval.",
    "market.gate_closure": "How long before an interval starts orders stop being accepted; "
                           "the market clears then.",
    "market.price_cap": "Highest price; inflexible load bids at it.",
    "market.tariffs": "Retail tariff per customer class (`default` for all others).",
    "market.tariffs.<class>": "One tariff: `kind` flat, tou or rtp.",
    "market.tariffs.<class>[kind=flat].price": "The price.",
    "market.tariffs.<class>[kind=tou].periods": "Daily periods with their own price.",
    "market.tariffs.<class>[kind=tou].periods[].from": "Start of the period, `HH:MM`.",
    "market.tariffs.<class>[kind=tou].periods[].to": "End of the period, `HH:MM` (may wrap midnight).",
    "market.tariffs.<class>[kind=tou].periods[].price": "Price during the period.",
    "market.tariffs.<class>[kind=tou].otherwise": "Price outside every period.",
    "market.tariffs.<class>[kind=rtp].factor": "Multiplier of the clearing price.",
    "market.tariffs.<class>[kind=rtp].adder": "Added to the scaled clearing price.",
    "market.reserve.fraction_of_load": "Upward reserve required, as a share of the inflexible load.",
    "market.reserve.largest_unit": "Also require the largest participant's offered capacity (N-1).",
    "market.upstream.import_price": "Price of the upstream grid's offer (import).",
    "market.upstream.export_price": "Price of the upstream grid's bid (export).",
    "market.upstream.import_limit_mw": "Most the upstream grid sells per interval.",
    "market.upstream.export_limit_mw": "Most the upstream grid buys per interval.",
    "market.imbalance_penalty": "Dual imbalance pricing: short pays price + penalty, long is paid "
                                "price − penalty; 0 = single price.",
    "market.transfer_limits": "Interfaces between areas for `economic_dispatch`; areas without one "
                              "do not exchange (a price per area where one binds).",
    "market.transfer_limits[].limit_mw": "Transfer limit, each way.",
    "market.transfer_limits[].between": "The two area ids of the interface.",
    "market.security": "Security check of every clearing: a power flow of the awarded schedule against "
                       "voltage and loading limits, and a sensitivity-based redispatch where it violates one.",
    "market.customer_classes": "Service level per customer class (a `market.tariffs` class or `default`): "
                               "shedding priority and an interruptible contract.",
    "market.day_ahead": "A day-ahead stage before the per-interval market: cleared once a day; "
                        "its awards are settled at its price, the change in the per-interval "
                        "market at that market's price (two settlements). None: no day-ahead stage.",
    "market.day_ahead.gate_closure": "Time of day (`HH:MM`) the day-ahead market clears the next "
                                     "day; the areas send their orders one `market.gate_closure` before.",
    "market.day_ahead.slot": "Length of a day-ahead slot; a whole number of `market.interval`.",
    "market.day_ahead.horizon": "How much of the next day, from midnight, is cleared (at most 1d, "
                                "a whole number of slots).",
    "market.day_ahead.mechanism": "`double_auction` or `economic_dispatch` (needed with "
                                  "`market.transfer_limits`).",
    "market.continuous": "Timing of continuous trading (`market.mechanism: continuous`): each "
                         "delivery interval has an order book (price-time priority, each trade at "
                         "the price of the order in the book) until its gate closure.",
    "market.continuous.open": "How long before delivery an interval's book opens; longer than "
                              "`market.gate_closure`.",
    "market.continuous.period": "How often each area trades: it withdraws its orders and sends "
                                "what takes it from its position to its newest forecast.",
    "forecast": "How the areas forecast each profile kind when they bid (a service outside the "
                "tiers, delivered without a link).",
    "forecast.load": "Forecast of the loads' demand.",
    "forecast.pv": "Forecast of PV output (sgens of type PV or lv_RES).",
    "forecast.wind": "Forecast of wind output (sgens of type wind, WT, WP).",
    "communication.default": "Latency and loss of every link not listed in `links`.",
    "communication.default.latency": "Delivery delay of every message.",
    "communication.default.loss": "Probability that a message is lost.",
    "communication.links": "Links with their own latency or loss.",
    "communication.links[].between": "The two tiers the link joins (`unit`, `area`, `market`).",
    "communication.links[].latency": "Delivery delay (unset: the default's).",
    "communication.links[].loss": "Loss probability (unset: the default's).",
    "events": "Scenario events at given times.",
    "events[kind=*].at": "When: an offset from `time.start` (`3d12h`, `90s`) or a date and time.",
    "events[kind=load_step].target": "The load.",
    "events[kind=load_step].delta_mw": "Added to the load's demand from then on (consumption positive).",
    "events[kind=unit_trip].target": "The element (`sgen/N`, `gen/N`, `storage/N`) to disconnect.",
    "events[kind=line_outage].target": "The line or transformer.",
    "events[kind=line_restore].target": "The line or transformer.",
    "events[kind=comm_outage].between": "The two tiers whose link drops every message.",
    "events[kind=comm_outage].duration": "How long the outage lasts.",
    "outputs.dir": "Results folder (relative to the working folder; `--out` overrides).",
    "outputs.plots": "Write `plots/*.png`.",
}

#: the keys of every profile kind's forecast (``forecast.load``, ``.pv``, ``.wind``)
_FORECAST_MEANINGS = {
    "method": "`persistence` (the value at the last step before bidding: the "
                              "latest measurements), `perfect` (the profile's mean over the "
                              "interval) or `noisy` (perfect × (1 + ε), ε an AR(1) series).",
    "std_pu": "`noisy`: relative standard deviation of the per-interval "
                              "market's forecast error.",
    "day_ahead_std_pu": "`noisy`: relative standard deviation of the day-ahead "
                                        "forecast error (default: `std_pu`).",
    "autocorrelation": "`noisy`: lag-1 autocorrelation of the error between "
                                       "values one hour apart (0 ≤ ρ < 1).",
}
MEANINGS.update({f"forecast.{kind}.{key}": text for kind in ("load", "pv", "wind")
                 for key, text in _FORECAST_MEANINGS.items()})

#: meanings of policy parameters: ``policy.param`` or ``*.param`` for all of a tier's policies
PARAM_MEANINGS: dict[str, str] = {
    "*.rating_mw": "Rating; per-unit bases and the apparent-power limit [MW] (none: the element's sn_mva).",
    "*.h_s": "Inertia constant [s] (synchronous machines; virtual inertia of an inverter).",
    "*.offer_price": "Price of the group's market offers for its forecast output [per MWh].",
    "*.ride_through": "IEEE 1547 trip and enter-service settings, e.g. `{category: II}`; none = off.",
    "external.p_limit": "What P the outside may set: `rating` (between -rating and rating) or "
                        "`profile` (between 0 and the profile's value: curtail a source, shed a load); "
                        "Q within the rating circle. Set from a Gymnasium agent or a co-simulator "
                        "(docs/policies.md).",
    "battery.capacity_mwh": "Energy capacity [MWh] (none: the element's max_e_mwh, else 1 h at rating).",
    "battery.p_max_mw": "Charge and discharge limit [MW] (none: rating).",
    "battery.soc_init": "State of charge at the start [pu].",
    "battery.soc_min": "Lowest state of charge [pu].",
    "battery.soc_max": "Highest state of charge [pu].",
    "battery.eta_charge": "Charging efficiency [pu].",
    "battery.eta_discharge": "Discharging efficiency [pu].",
    "battery.droop": "Primary frequency droop [pu]; none = no frequency response.",
    "battery.price_charge": "Without a setpoint: charge at full power at or below this price [per MWh].",
    "battery.price_discharge": "Without a setpoint: discharge at full power at or above this price [per MWh].",
    "battery.bid_blocks": "Charge and discharge blocks the area bids per interval into the "
                          "per-interval market, priced from state of charge and price forecast "
                          "(0: the battery does not bid).",
    "const_pf.pf": "Power factor, signed: positive injects Q, negative absorbs.",
    "flexible_load.bid_price": "What the load pays for its profile demand; its market bid [per MWh].",
    "flexible_load.elasticity": "Constant price elasticity of demand (≤ 0; 0 = inflexible).",
    "flexible_load.shed_price": "Shed the sheddable share at or above this price [per MWh]; none = never.",
    "flexible_load.shed_fraction": "Sheddable share of the demand [pu].",
    "flexible_load.max_factor": "Most the demand may grow at low prices [pu of profile].",
    "flexible_load.customer_class": "Tariff the load faces (`market.tariffs` key).",
    "freq_watt.deadband_hz": "Dead band each side of f0 [Hz] (IEEE 1547 Table 24).",
    "freq_watt.droop": "Droop [pu] (IEEE 1547 Table 24).",

    "generator.p_min_mw": "Lowest output while running [MW].",
    "generator.p_max_mw": "Highest output [MW] (none: rating).",
    "generator.ramp_mw_per_min": "Ramp limit [MW/min].",
    "generator.cost": "Cost per hour a + b·P + c·P² (`{a, b, c}`); offers at marginal cost b + 2·c·P.",
    "generator.droop": "Governor droop R [pu]; none = no primary response.",
    "generator.governor_t_s": "Governor time constant [s].",
    "generator.min_up": "Minimum up time [s].",
    "generator.min_down": "Minimum down time [s].",
    "generator.offer_blocks": "Number of equal offer blocks from p_min_mw to p_max_mw.",
    "generator.on_init": "Running at the start.",
    "oltc.vm_set_pu": "Voltage setpoint of the controlled (LV) bus [pu].",
    "oltc.deadband_pu": "Half-width of the voltage band [pu].",
    "oltc.delay_s": "Time outside the band before a tap move [s].",
    "oltc.tap_min": "Lowest tap position (default: the transformer's data).",
    "oltc.tap_max": "Highest tap position (default: the transformer's data).",
    "oltc.tap_init": "Tap position at the start (default: the transformer's data).",
    "oltc.direction": "−1: a higher tap lowers the controlled voltage; +1 the reverse.",
    "volt_var.curve": "`ieee1547_cat_a`, `ieee1547_cat_b` or `{v: [4 pu], q: [4 pu of rating]}`.",
    "volt_var.priority": "`reactive`: P is reduced to make room for Q; `active`: Q is limited.",
    "volt_watt.curve": "`ieee1547` (1.06 pu → 1.0, 1.10 pu → 0.2) or `{v: [v1, v2], p: [1.0, p2]}`.",
    "agc.ki": "Integral gain: the area's P reference moves at −ki·ACE [1/s].",
    "agc.kp": "Proportional gain [MW per MW of ACE].",
    "agc.bias_mw_per_hz": "Frequency bias B [MW/Hz]; `auto` = the area's β.",
    "agc.participation": "Unit id or group id → participation factor (default: by rating).",
    "*.gain": "Fraction of the ACE corrected per call.",
    "*.deadband_mw": "No correction while the absolute ACE is below this [MW].",
    "*.voltage_band_pu": "Voltage support: keep the area's buses between v_min and v_max, a list of two [pu]; none = off.",
    "*.max_loading_percent": "Congestion support: keep the area's lines below this loading [%]; none = off.",
    "*.voltage_margin_pu": "Support acts one margin inside the band, releases two margins inside [pu].",
    "*.loading_margin_percent": "Support acts one margin below the limit, releases two below [%]."
}
