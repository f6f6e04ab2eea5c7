"""Open-loop runs: the physics steps in blocks, when nothing can act on the grid.

A scenario without unit groups, events, market or frequency dynamics (a
profiles-only study: hosting capacity, losses, voltage band over a year)
has no feedback loop. Each step's power flow depends on its profile row
alone, and areas with the ``none`` coordinator only watch: they send no
setpoint, and no unit would take one. The engine then solves the steps in
blocks (:meth:`PowerFlow.solve_many <hierarchy.plant.powerflow.PowerFlow.solve_many>`,
lightsim2grid's time-series computer, each step warm-started from the one
before, as when stepping) and records each block at once
(:meth:`Recorder.record_block <hierarchy.sim.recorder.Recorder.record_block>`).
The recorded results equal the step-by-step engine's to the solver's
rounding; what an open-loop run does not do is send the meter readings
nobody acts on, so it reports no messages.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hierarchy.sim.runtime import Runtime

__all__ = ["open_loop_reason", "run_open_loop", "BLOCK_STEPS"]

#: area coordinators that only watch (registry names)
WATCHING_COORDINATORS = ("none",)
#: physics steps solved and recorded per block (memory ~ block × buses)
BLOCK_STEPS = 1024


def open_loop_reason(rt: "Runtime") -> str | None:
    """Why ``rt`` needs the step-by-step engine, or None if it can run open loop."""
    if rt.groups:
        return "it has unit groups"
    if rt.events:
        return "it has events"
    if rt.market is not None:
        return "it has a market"
    if rt.trace is not None:
        return "a message trace is kept"
    if rt.frequency is not None and rt.frequency.model.dynamic.any():
        return "an island has a frequency of its own"
    for area in rt.areas:
        if area.policy_name not in WATCHING_COORDINATORS or getattr(
                area.coordinator, "support", None) is not None:
            return f"area {area.id!r} has an acting coordinator"
    return None


def run_open_loop(rt: "Runtime", progress=None, stop=None, block: int = BLOCK_STEPS) -> None:
    """Solve and record every physics step of ``rt``, ``block`` steps at a time.

    Parameters
    ----------
    progress : callable or None
        Called with the number of steps done since the last call.
    stop : StopRequest or None
        Checked before every block (:class:`~hierarchy.sim.stop.RunInterrupted`).
    """
    plant, n = rt.plant, rt.n_steps
    for k0 in range(0, n, block):
        if stop is not None:
            stop.check()
        k1 = min(k0 + block, n)
        p_mw, load_p_mw, stacked = plant.block(k0, k1)
        flows = plant.powerflow.solve_many(stacked)
        rt.recorder.record_block(k0, rt, p_mw, load_p_mw, flows)
        if progress is not None:
            progress(k1 - k0)
    if n:
        plant.begin_step(n - 1)  # the plant's tables as after the last step
    rt.env.run(until=rt.duration_ms)  # the clock at the end, as when stepping
