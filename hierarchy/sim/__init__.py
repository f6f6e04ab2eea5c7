"""One simulation: build a scenario into a wired runtime, then run it.

* :mod:`~hierarchy.sim.build`: :func:`~hierarchy.sim.build.build` turns a
  scenario into a :class:`~hierarchy.sim.build.Runtime` (plant, unit
  groups, areas, market, links, recorder);
* :mod:`~hierarchy.sim.wiring`, :mod:`~hierarchy.sim.wiring_units`,
  :mod:`~hierarchy.sim.groups`: the builder's steps that need the grid
  (areas, unit groups, coordinators, market);
* :mod:`~hierarchy.sim.engine`: the SimPy processes of the tiers and the
  messages between them; :mod:`~hierarchy.sim.stop` ends a run on a signal;
* :mod:`~hierarchy.sim.fixed_point`: unit controllers and power flow
  settled to a fixed point in each physics step;
* :mod:`~hierarchy.sim.open_loop`: runs with nothing in the loop, solved in
  blocks;
* :mod:`~hierarchy.sim.recorder`: every step into preallocated arrays.
"""
