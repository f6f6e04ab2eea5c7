"""The fixed point of one physics step: unit controllers and power flow.

A controller's output depends on the voltage it causes, so within each
physics step the unit policies and the power flow are iterated, as
pandapower's control loop does, until no setpoint moves more than
``control.tol`` [pu of rating] or ``control.max_iter`` solves were made; a
step that does not settle is counted and logged with its unit groups, never
silently accepted (DESIGN.md "Time").
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hierarchy.build import Runtime

__all__ = ["FixedPoint", "PolicyError", "policy_error", "unit_policy"]


class PolicyError(RuntimeError):
    """A policy raised during the run; names the policy and the time."""


def policy_error(what: str, now_ms: int, exc: Exception) -> PolicyError:
    """The one message for a policy's failure: which policy, when, and what it raised."""
    return PolicyError(f"{what} raised at t={now_ms / 1000:g} s: {type(exc).__name__}: {exc}")


def unit_policy(group) -> str:
    """How an error names a unit group's policy."""
    return f"unit policy {group.policy_name!r} of group {group.id!r}"


class FixedPoint:
    """Settles the unit groups of a run against its plant, step by step.

    Parameters
    ----------
    rt : Runtime
        The wired run (groups, plant, recorder, control tolerances).
    """

    def __init__(self, rt: "Runtime"):
        self.rt = rt
        #: each group's observation at the last evaluation; after :meth:`settle`
        #: returns, the observation of the settled state
        self.observations: list = []
        #: per group, within one :meth:`settle`: (command, energised buses) of a
        #: policy whose ``step`` is marked :func:`unit_control.base.voltage_blind`
        self._held: list = []
        #: groups whose observation is from an earlier iterate (their command was held)
        self._stale: set[int] = set()
        #: per group, at the last :meth:`commands`: command minus output, P and Q
        self._deltas: list[tuple[np.ndarray, np.ndarray]] = []

    def settle(self, k: int, now_ms: int) -> list:
        """Iterate unit controllers and power flow to a fixed point.

        Commands are computed at the latest solution; if none moves more
        than ``control.tol`` [pu of rating] from what was last solved, the
        step has settled (the plant holds exactly the solved injections).
        From the third iterate on, each group's step is relaxed by the
        secant (Aitken) factor ``ω = ω_prev / (1 − ρ)``, with ``ρ`` the ratio of
        its successive residuals: the optimal relaxation of a linear fixed
        point, which damps oscillation (ρ < 0) and speeds up slow monotone
        convergence (0 < ρ < 1). A group whose policy's ``step`` is marked
        voltage-blind (:func:`unit_control.base.voltage_blind`: it reads
        neither the voltage nor the iterate's own output) has the same
        inputs at every iterate of a step: it is evaluated once per step,
        and again only if the set of energised buses under it changes.

        Returns
        -------
        list of Command
            The commands the plant holds now, one per unit group.
        """
        rt = self.rt
        tol, max_iter = rt.control_tol, rt.control_max_iter
        n = len(rt.groups)
        self._held, self._stale = [None] * n, set()
        relax, last = [1.0] * n, [None] * n
        converged, settled = None, []
        for iteration in range(max_iter + 1):
            commands, moves = self.commands(now_ms)
            if converged is not None and max(moves, default=0.0) <= tol:
                break
            if iteration == max_iter:
                restless = [g.id for g, m in zip(rt.groups, moves) if m > tol]
                rt.recorder.nonconverged_control(k, now_ms, restless)
                break
            for i, (group, command) in enumerate(zip(rt.groups, commands)):
                d_p, d_q = self._deltas[i]
                if iteration and command.tap_pos is None and not d_p.any() and not d_q.any():
                    # nothing moves: the plant already holds it (applied since begin_step),
                    # and a zero residual leaves the relaxation as it is
                    last[i] = _ZERO
                    continue
                residual = np.concatenate((d_p, d_q))
                if last[i] is not _ZERO:
                    relax[i] = _secant_relaxation(relax[i], last[i], residual)
                last[i] = residual if iteration >= 1 else None
                self._apply(group, command, relax[i], now_ms)
            converged = rt.plant.solve()
            settled = commands
        if not converged:
            rt.recorder.nonconverged_powerflow(k)
        for i in self._stale:  # held commands: observe the settled state too
            self.observations[i] = rt.observe(rt.groups[i], now_ms)
        self._held, self._stale = [], set()
        return settled

    def commands(self, now_ms: int) -> tuple[list, list[float]]:
        """Every group's command at the latest solution, and each group's move [pu].

        The move is the largest change of P, Q (in pu of rating) or tap
        position the command asks for against what was last solved.
        """
        commands, moves = [], []
        self._deltas = []
        now, groups = now_ms, self.rt.groups
        if len(self.observations) != len(groups):
            self.observations = [None] * len(groups)
        for i, group in enumerate(groups):
            held = self._held[i] if self._held else None
            if held is not None and np.array_equal(
                    np.isfinite(self.rt.plant.vm_pu[group.bus_positions]), held[1]):
                command = held[0]  # a policy blind to voltage: same inputs, same command
                self._stale.add(i)
            else:
                obs = self.rt.observe(group, now)
                self.observations[i] = obs
                self._stale.discard(i)
                try:
                    command = group.policy.step(obs)
                except Exception as exc:  # a user's policy may raise anything
                    raise policy_error(unit_policy(group), now, exc) from exc
                energised = np.isfinite(obs.vm_pu)
                if not energised.all():  # a unit on a de-energised bus has no grid to feed
                    command = type(command)(p_mw=np.where(energised, command.p_mw, 0.0),
                                            q_mvar=np.where(energised, command.q_mvar, 0.0),
                                            connected=command.connected, tap_pos=command.tap_pos)
                if self._held and getattr(type(group.policy).step, "voltage_blind", False):
                    self._held[i] = (command, energised)
            commands.append(command)
            delta = (np.asarray(command.p_mw, float) - group.p_mw,
                     np.asarray(command.q_mvar, float) - group.q_mvar)
            self._deltas.append(delta)
            moves.append(_move(group, command, delta))
        return commands, moves

    def _apply(self, group, command, relax: float, now_ms: int) -> None:
        group.p_mw = _relaxed(group.p_mw, np.asarray(command.p_mw, float), relax)
        group.q_mvar = _relaxed(group.q_mvar, np.asarray(command.q_mvar, float), relax)
        if command.tap_pos is not None:
            taps = np.asarray(command.tap_pos).astype(int)
            for unit_id, pos, tap, old in zip(group.unit_ids, group.positions, taps, group.tap_pos):
                if tap != old:
                    self.rt.plant.powerflow.set_tap_pos(int(pos), int(tap))
                    self.rt.recorder.event(now_ms, "tap", unit_id, f"{int(old)} -> {int(tap)}")
            group.tap_pos = taps
        if group.table in self.rt.plant.tables:
            self.rt.plant.set_output(group.table, group.positions, group.p_mw, group.q_mvar)


#: the residual of a group that did not move at an iterate (see :meth:`FixedPoint.settle`)
_ZERO = np.zeros(0)


def _move(group, command, delta: tuple[np.ndarray, np.ndarray]) -> float:
    """Largest change of P, Q [pu of rating] or tap position ``command`` asks of ``group``,
    ``delta`` being the command's P and Q minus the group's [MW], [Mvar]."""
    if not group.n_units:
        return 0.0
    rating = group.rating_floor_mw
    move = max(float((np.abs(delta[0]) / rating).max()), float((np.abs(delta[1]) / rating).max()))
    if command.tap_pos is not None and group.tap_pos is not None:
        move = max(move, float(np.abs(command.tap_pos - group.tap_pos).max()))
    return move


def _relaxed(old: np.ndarray, new: np.ndarray, relax: float) -> np.ndarray:
    """``old + relax·(new − old)``; ``new`` where that is not finite.

    After a power flow that did not converge, voltages and so some outputs
    are NaN; taking the command as it is there lets the next step recover
    instead of carrying the NaN on.
    """
    moved = old + relax * (new - old)
    return moved if np.isfinite(moved).all() else np.where(np.isfinite(moved), moved, new)


def _secant_relaxation(relax: float, last: np.ndarray | None, residual: np.ndarray) -> float:
    """Relaxation factor for the next iterate from two successive residuals.

    For a fixed point ``x = G(x)`` iterated as ``x += ω·(G(x) − x)``, the
    residual shrinks by ``ρ = 1 + ω·(λ − 1)`` per iterate where ``λ`` is the
    slope of ``G``; the factor that cancels it is ``ω/(1 − ρ)``
    (Aitken's Δ² in relaxation form). Clipped to [0.1, 1.5]; a residual that
    does not shrink halves ω.
    """
    if last is None:
        return 1.0
    norm = float(np.dot(last, last))
    if norm <= 0.0:
        return relax
    rho = float(np.dot(residual, last)) / norm
    if rho >= 0.9:
        return max(relax * 0.5, 0.1)
    return min(max(relax / (1.0 - rho), 0.1), 1.5)
