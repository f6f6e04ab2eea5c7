"""One simulation: build a scenario into a wired runtime, then run it.

* :mod:`~hierarchy.sim.build`: :func:`~hierarchy.sim.build.build` turns a
  scenario into a :class:`~hierarchy.sim.runtime.Runtime` (plant, unit
  groups, areas, market, links, recorder); :mod:`~hierarchy.sim.runtime`
  answers what the processes ask of it, :mod:`~hierarchy.sim.area_meters`
  what the areas' meters read;
* :mod:`~hierarchy.sim.wiring`, :mod:`~hierarchy.sim.wiring_units`,
  :mod:`~hierarchy.sim.wiring_market`, :mod:`~hierarchy.sim.groups`,
  :mod:`~hierarchy.sim.additions`: the builder's steps that need the grid
  (areas, coordinators, unit groups; the market, its stages, forecasts and
  security check; the elements a scenario adds);
* :mod:`~hierarchy.sim.engine`: the SimPy processes of the tiers and the
  messages between them; the market's processes are in
  :mod:`~hierarchy.sim.market_interval` (per delivery interval) and
  :mod:`~hierarchy.sim.market_stages` (day-ahead, continuous trading), the
  check of each clearing in :mod:`~hierarchy.sim.security`, the areas'
  forecasts in :mod:`~hierarchy.sim.forecast`; :mod:`~hierarchy.sim.stop`
  ends a run on a signal;
* :mod:`~hierarchy.sim.fixed_point`: unit controllers and power flow
  settled to a fixed point in each physics step;
* :mod:`~hierarchy.sim.open_loop`: runs with nothing in the loop, solved in
  blocks;
* :mod:`~hierarchy.sim.recorder`: every step into preallocated arrays; the
  balance and the participants' metering in :mod:`~hierarchy.sim.metering`,
  the market's records and settlement in :mod:`~hierarchy.sim.market_records`,
  the stages' in :mod:`~hierarchy.sim.stage_records`.
"""
