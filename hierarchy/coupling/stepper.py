"""One scenario run, advanced from outside in increments of simulated time.

The engine's own SimPy processes run unchanged (:meth:`Engine.start`); the
outside only decides how far the environment runs each time
(``env.run(until=...)``): to an instant, or into an instant up to one tier's
turn (:func:`~hierarchy.kernel.clock.pause_before`). Between increments it
reads the state and sets what ``external`` policies hold
(:class:`unit_control.external.External`,
:class:`area_control.external.ExternalCoordinator`). A run stepped this way
gives the same numbers, bit for bit, as the same run made in one go: the
pauses are events of their own, between the run's events, and the engine's
hot path is the same.
"""
from __future__ import annotations

import time
from typing import Any

from hierarchy.kernel.clock import Order, pause_before
from hierarchy.scenario import Scenario

__all__ = ["SteppedRun", "Order"]


class SteppedRun:
    """A built run whose processes are started and that the caller advances.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario (groups and areas that the outside drives
        name the policy ``external``).
    trace : bool
        Keep the message trace.

    Raises
    ------
    ScenarioError
        If the scenario does not fit its grid.

    Examples
    --------
    >>> from hierarchy.scenario import load_scenario
    >>> run = SteppedRun(load_scenario("scenarios/quickstart.yaml"))  # doctest: +SKIP
    >>> run.advance(3_600_000)  # everything before 01:00  # doctest: +SKIP
    >>> run.advance(3_600_000, before=Order.AREA)  # and 01:00 up to the areas' turn  # doctest: +SKIP
    >>> run.finish(); run.result().summary["steps"]  # doctest: +SKIP
    96
    """

    def __init__(self, scenario: Scenario, trace: bool = False):
        from hierarchy.sim.build import build
        from hierarchy.sim.engine import Engine

        self.scenario = scenario
        self.rt = build(scenario, trace=trace)
        self.engine = Engine(self.rt, open_loop=False)
        self.engine.start()
        self.wall_s = 0.0  # time spent in the simulation [s]

    @property
    def now_ms(self) -> int:
        """Simulated time [ms since ``time.start``]."""
        return int(self.rt.env.now)

    @property
    def end_ms(self) -> int:
        """End of the run [ms]: the scenario's duration in whole steps."""
        return self.rt.duration_ms

    @property
    def steps_done(self) -> int:
        """Physics steps recorded so far."""
        return self.rt.recorder.steps_done

    def advance(self, until_ms: int, before: Order | None = None) -> None:
        """Run everything before ``until_ms`` [ms]; with ``before``, also what comes
        before that order at ``until_ms`` (deliveries, events, physics, ...).

        Raises
        ------
        ValueError
            If ``until_ms`` lies in the past or beyond the end.
        PolicyError
            If a policy raised (from the engine).
        """
        until_ms, env = int(until_ms), self.rt.env
        if until_ms > self.end_ms or until_ms < self.now_ms:
            raise ValueError(f"cannot run to {until_ms} ms: the run is at {self.now_ms} ms and "
                             f"ends at {self.end_ms} ms")
        start = time.perf_counter()
        try:
            if before is not None:
                env.run(until=pause_before(env, until_ms - self.now_ms, before))
            elif until_ms > self.now_ms:
                env.run(until=until_ms)
        finally:
            self.wall_s += time.perf_counter() - start

    def finish(self) -> None:
        """Run to the end of the scenario."""
        self.advance(self.end_ms)

    @property
    def done(self) -> bool:
        """Whether every physics step has been run."""
        return self.steps_done >= self.rt.n_steps

    def unit_group(self, group_id: str) -> Any:
        """The :class:`~hierarchy.sim.groups.UnitGroup` ``group_id``."""
        for group in self.rt.groups:
            if group.id == group_id:
                return group
        raise KeyError(f"no unit group {group_id!r}; groups: "
                       f"{', '.join(g.id for g in self.rt.groups) or 'none'}")

    def area(self, area_id: str) -> Any:
        """The :class:`~hierarchy.sim.runtime.AreaRuntime` ``area_id``."""
        for area in self.rt.areas:
            if area.id == area_id:
                return area
        raise KeyError(f"no area {area_id!r}; areas: {', '.join(a.id for a in self.rt.areas)}")

    def area_state(self, area_id: str) -> Any:
        """What area ``area_id``'s coordinator knows now (:meth:`Engine.area_state`)."""
        return self.engine.area_state(self.area(area_id))

    def result(self, out_dir=None, failure: BaseException | None = None):
        """The run's :class:`~hierarchy.api.Result` so far, written to ``out_dir`` if given."""
        from hierarchy.api import result_of, scenario_of

        _, raw = scenario_of(self.scenario)
        return result_of(self.rt, raw, self.wall_s, failure, out_dir)
