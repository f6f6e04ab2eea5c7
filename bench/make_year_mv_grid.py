"""Write ``bench/year_mv_grid.json``: SimBench 1-MV-semiurb--0-sw with one battery per feeder.

The SimBench net has no storage. This script adds one storage element per
feeder (``Feeder1`` … ``Feeder9``), at the feeder's 20 kV bus farthest from
the MV busbar along its lines (the end of the feeder, where a battery helps
voltage most), each ``BATTERY_MVA`` [MVA] with ``BATTERY_MWH`` [MWh]. The
net keeps its SimBench load and generation profiles (``net.profiles``, the
year 2016 at 15 min), so the scenario can use ``profiles: {source:
simbench}`` on the file exactly as on ``grid: {source: simbench}``: the
same ``simbench.get_absolute_values`` numbers. The new storage rows carry no
SimBench profile of their own: they get ``IDLE_PROFILE``, a year of zeros
added to ``net.profiles["storage"]`` (simbench refuses a storage row whose
``profile`` is empty), and their power comes from the battery policy.

The JSON is ~14 MB (the profile tables dominate), so it is generated, not
committed (``bench/.gitignore``). Run from the repository root::

    python bench/make_year_mv_grid.py            # ~10 s

References
----------
Meinecke et al., "SimBench -- A Benchmark Dataset of Electric Power Systems
to Compare Innovative Solutions Based on Power Flow Analysis", Energies
13(12), 3290, 2020. doi:10.3390/en13123290
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandapower as pp
import pandapower.topology as pp_topology
import pandas as pd
import simbench

#: SimBench code of the grid.
CODE: str = "1-MV-semiurb--0-sw"
#: Rating of each feeder battery [MVA] (= its power limit [MW]).
BATTERY_MVA: float = 0.5
#: Energy capacity of each feeder battery [MWh] (2 h at rating).
BATTERY_MWH: float = 1.0
#: Name of the all-zero storage profile the batteries carry.
IDLE_PROFILE: str = "battery_idle"
#: Default output file, next to this script.
OUT_PATH: Path = Path(__file__).with_name("year_mv_grid.json")


def feeder_names(net: pp.pandapowerNet) -> list[str]:
    """SimBench feeder names (``Feeder1`` …) found as ``_``-parts of ``bus.subnet``."""
    parts = net.bus["subnet"].fillna("").astype(str).str.split("_")
    names = {part for split in parts for part in split if part.startswith("Feeder")}
    return sorted(names, key=lambda name: int(name.removeprefix("Feeder")))


def feeder_end_buses(net: pp.pandapowerNet) -> dict[str, int]:
    """Per feeder, its bus farthest from the MV busbar by line length [km].

    The busbar is the low-voltage side of the HV/MV transformer
    (``trafo.lv_bus`` of row 0).
    """
    busbar = int(net.trafo["lv_bus"].iloc[0])
    distance_km = pp_topology.calc_distance_to_bus(net, busbar)
    parts = net.bus["subnet"].fillna("").astype(str).str.split("_")
    ends = {}
    for feeder in feeder_names(net):
        buses = net.bus.index[parts.map(lambda split, f=feeder: f in split).to_numpy(bool)]
        ends[feeder] = int(distance_km.reindex(buses).idxmax())
    return ends


def add_feeder_batteries(net: pp.pandapowerNet, p_mva: float = BATTERY_MVA,
                         e_mwh: float = BATTERY_MWH) -> pd.DataFrame:
    """Add one idle storage per feeder at its end bus; return the new rows.

    Parameters
    ----------
    net : pandapower.pandapowerNet
        A SimBench MV net; edited in place.
    p_mva : float
        Rating and power limit of each battery [MVA].
    e_mwh : float
        Energy capacity of each battery [MWh].

    Returns
    -------
    pandas.DataFrame
        The added ``net.storage`` rows (name ``battery Feeder<k>``).
    """
    added = []
    for feeder, bus in feeder_end_buses(net).items():
        subnet = net.bus.at[bus, "subnet"]
        added.append(pp.create_storage(
            net, bus=bus, p_mw=0.0, max_e_mwh=e_mwh, sn_mva=p_mva, soc_percent=50.0,
            min_e_mwh=0.0, name=f"battery {feeder}", type="battery",
            max_p_mw=p_mva, min_p_mw=-p_mva, subnet=subnet, profile=IDLE_PROFILE))
    time = net.profiles["load"]["time"]
    net.profiles["storage"] = pd.DataFrame({"time": time.to_numpy(), IDLE_PROFILE: 0.0},
                                           index=time.index)
    return net.storage.loc[added]


def main(argv: list[str] | None = None) -> Path:
    """Build the net and write it; return the path written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_PATH, help="JSON file to write")
    args = parser.parse_args(argv)
    net = simbench.get_simbench_net(CODE)
    batteries = add_feeder_batteries(net)
    pp.to_json(net, str(args.out))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): {len(net.bus)} buses, "
          f"{len(net.load)} loads, {len(net.sgen)} sgens, {len(batteries)} batteries")
    print(batteries[["name", "bus", "sn_mva", "max_e_mwh"]].to_string())
    return args.out


if __name__ == "__main__":
    main()
