"""Write ``cigre_mv_congestion.json``: CIGRE MV with a large PV park at the end of feeder 1.

The CIGRE MV benchmark feeder with its DERs (``create_cigre_network_mv(
with_der="all")``), with a 7 MWp PV park ("PV park 11", type ``PV``) added
at bus 11, the far end of feeder 1, and both batteries moved next to it
(bus 11) and resized to 0.5 MW / 2 MWh. At a clear summer noon the park pushes more power back
through feeder 1 than its 5 MVA cables carry and lifts the feeder's
voltage.

It also writes ``congestion_feeder_profiles.csv``, one clear day (21 June)
at 5 min without noise: loads × :func:`hierarchy.plant.profiles.load_shape`,
PV × :func:`~hierarchy.plant.profiles.clear_sky_fraction`, the wind
turbine at 30 % and the other generators at their table value. Run from the
repository root::

    python scenarios/grids/build_congestion_feeder.py

References
----------
.. [1] CIGRE TF C6.04.02, "Benchmark Systems for Network Integration of
   Renewable and Distributed Energy Resources", 2014.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandas as pd

from hierarchy.plant.profiles import clear_sky_fraction, load_shape

#: PV park rating [MVA]
PARK_MVA = 7.0


def congestion_net() -> pp.pandapowerNet:
    """The network (see the module docstring)."""
    net = pn.create_cigre_network_mv(with_der="all")
    pp.create_sgen(net, 11, p_mw=PARK_MVA, q_mvar=0.0, sn_mva=PARK_MVA, name="PV park 11", type="PV park")
    net.storage["bus"] = 11  # next to the park, so that charging relieves its lines too
    net.storage["sn_mva"] = 0.5
    net.storage["max_e_mwh"] = 2.0
    net.storage["p_mw"] = 0.0
    return net


def clear_day_profiles(net: pp.pandapowerNet, step_min: int = 5) -> pd.DataFrame:
    """Smooth profiles of one clear summer day [MW, Mvar], pandapower signs."""
    minutes = np.arange(0, 24 * 60 + step_min, step_min)
    hour_of_day = minutes / 60.0
    frame = {"time": [f"{m}min" for m in minutes]}
    shape = load_shape(hour_of_day)
    for index, row in net.load.iterrows():
        frame[f"load/{index}"] = np.round(shape * row.p_mw, 6)
        frame[f"load/{index}:q_mvar"] = np.round(shape * row.q_mvar, 6)
    sun = clear_sky_fraction(hour_of_day, np.full(hour_of_day.size, 173))
    for index, row in net.sgen.iterrows():
        kind = str(row.type).lower()
        level = sun if "pv" in kind else np.full(hour_of_day.size, 0.3 if kind == "wp" else 1.0)
        frame[f"sgen/{index}"] = np.round(level * row.sn_mva, 6)
    return pd.DataFrame(frame)


if __name__ == "__main__":
    here = Path(__file__).parent
    net = congestion_net()
    pp.to_json(net, str(here / "cigre_mv_congestion.json"))
    clear_day_profiles(net).to_csv(here / "congestion_feeder_profiles.csv", index=False)
