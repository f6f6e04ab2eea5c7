"""Write ``cigre_mv_microgrid.json``: CIGRE MV with a grid-forming diesel genset.

The CIGRE MV benchmark feeder with its DERs (``create_cigre_network_mv(
with_der="all")``), changed so that feeder 1 below line 0 (buses 2-11) can
run as a microgrid: the 0.31 MW CHP diesel at bus 9 (sgen 10) becomes a
2.5 MVA voltage-controlling synchronous genset (pandapower ``gen`` 0,
dispatched at 1 MW), and both batteries get 1 MW / 2 MWh. Run from the
repository root::

    python scenarios/grids/build_microgrid.py

References
----------
.. [1] CIGRE TF C6.04.02, "Benchmark Systems for Network Integration of
   Renewable and Distributed Energy Resources", 2014.
"""
from __future__ import annotations

from pathlib import Path

import pandapower as pp
import pandapower.networks as pn


def microgrid_net() -> pp.pandapowerNet:
    """The network (see the module docstring)."""
    net = pn.create_cigre_network_mv(with_der="all")
    diesel = net.sgen.index[net.sgen["type"] == "CHP diesel"][0]
    bus = int(net.sgen.at[diesel, "bus"])
    net.sgen = net.sgen.drop(index=diesel)
    pp.create_gen(net, bus, p_mw=1.0, vm_pu=1.0, sn_mva=2.5, name="diesel genset")
    net.storage["sn_mva"] = 1.0
    net.storage["max_e_mwh"] = 2.0
    net.storage["p_mw"] = 0.0
    return net


if __name__ == "__main__":
    pp.to_json(microgrid_net(), str(Path(__file__).with_name("cigre_mv_microgrid.json")))
