"""Write ``two_area.json``: two 110 kV control areas tied by one line, no ext_grid.

Each area has two synchronous generators (pandapower ``gen``) and two loads;
the areas are joined by a 40 km tie line. There is no ext_grid: the two
areas form one synchronous island whose frequency follows the swing
equation (DESIGN.md "Frequency"). Run from the repository root::

    python scenarios/grids/build_two_area.py

References
----------
.. [1] P. Kundur, *Power System Stability and Control*, 1994, sec. 11.1.6
   (two-area system, tie-line power).
"""
from __future__ import annotations

from pathlib import Path

import pandapower as pp

LINE = dict(r_ohm_per_km=0.03, x_ohm_per_km=0.3, c_nf_per_km=10.0, max_i_ka=1.0)


def two_area_net() -> pp.pandapowerNet:
    """The network: buses 0-2 in area ``west``, 3-5 in ``east``, tie line 2-3."""
    net = pp.create_empty_network(name="two_area", f_hz=50.0, sn_mva=100.0)
    for k in range(6):
        pp.create_bus(net, vn_kv=110.0, name=f"bus {k}", zone="west" if k < 3 else "east")
    for f, t, km in ((0, 1, 20.0), (1, 2, 20.0), (0, 2, 30.0),
                     (3, 4, 20.0), (4, 5, 20.0), (3, 5, 30.0), (2, 3, 40.0)):
        pp.create_line_from_parameters(net, f, t, length_km=km, **LINE)
    pp.create_gen(net, 0, p_mw=120.0, vm_pu=1.02, sn_mva=200.0, name="west G1")
    pp.create_gen(net, 1, p_mw=60.0, vm_pu=1.01, sn_mva=100.0, name="west G2")
    pp.create_gen(net, 4, p_mw=100.0, vm_pu=1.02, sn_mva=200.0, name="east G1")
    pp.create_gen(net, 5, p_mw=80.0, vm_pu=1.01, sn_mva=150.0, name="east G2")
    pp.create_load(net, 2, p_mw=170.0, q_mvar=30.0, name="west load")
    pp.create_load(net, 1, p_mw=10.0, q_mvar=2.0, name="west load 2")
    pp.create_load(net, 3, p_mw=170.0, q_mvar=30.0, name="east load")
    pp.create_load(net, 5, p_mw=10.0, q_mvar=2.0, name="east load 2")
    return net


if __name__ == "__main__":
    pp.to_json(two_area_net(), str(Path(__file__).with_name("two_area.json")))
