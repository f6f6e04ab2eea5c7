"""Control from outside: a run advanced in increments, a Gymnasium environment, a mosaik simulator.

* :mod:`~hierarchy.coupling.stepper`: :class:`~hierarchy.coupling.stepper.SteppedRun`,
  one scenario run that the outside advances in increments of simulated
  time (the engine's own processes, ``env.run(until=...)``), reading the
  state and setting the decisions of ``external`` policies in between;
* :mod:`~hierarchy.coupling.gym_env`: :class:`~hierarchy.coupling.gym_env.HiergridEnv`,
  an area coordinator or a unit group as a Gymnasium agent (extra ``rl``);
* :mod:`~hierarchy.coupling.reward`: the reward's terms, from the figures
  the summary reports;
* :mod:`~hierarchy.coupling.mosaik_sim`: hiergrid as a mosaik simulator
  (extra ``cosim``).

Importing this package imports neither Gymnasium nor mosaik; their modules
do, and are imported only when used.
"""
