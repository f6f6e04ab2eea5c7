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
    from hierarchy.sim.runtime import Runtime

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
        #: Newton's method for the groups whose policies are voltage-local (None: there are none)
        self.newton = _Newton.of(rt)

    def settle(self, k: int, now_ms: int) -> list:
        """Iterate unit controllers and power flow to a fixed point.

        Commands are computed at the latest solution; if none moves more
        than ``control.tol`` [pu of rating] from what was last solved, the
        step has settled (the plant holds exactly the solved injections).
        With ``control.method: newton`` (the default) the groups whose
        policies are voltage-local (:func:`unit_control.base.voltage_local`)
        take Newton steps from the second iterate on (:class:`_Newton`),
        which settles most steps of a volt-var feeder in two power flows.
        Otherwise, from the third iterate on, each group's step is relaxed by the
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
        newton = self.newton
        if newton is not None:
            newton.begin_step()
        for iteration in range(max_iter + 1):
            commands, moves = self.commands(now_ms)
            if converged is not None and max(moves, default=0.0) <= tol:
                break
            if iteration == max_iter:
                restless = [g.id for g, m in zip(rt.groups, moves) if m > tol]
                rt.recorder.nonconverged_control(k, now_ms, restless)
                break
            targets = (newton.targets(self._deltas, moves, commands, self.observations, now_ms)
                       if newton is not None and iteration else {})
            for i, (group, command) in enumerate(zip(rt.groups, commands)):
                if i in targets:
                    group.p_mw, group.q_mvar = targets[i]
                    rt.plant.set_output(group.table, group.positions, group.p_mw, group.q_mvar)
                    last[i], relax[i] = None, 1.0  # relaxation starts afresh if Newton stops
                    continue
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


class _Newton:
    """Newton's method on the fixed point of the voltage-local unit groups.

    The fixed point is ``x = G(x)``: ``x`` the P and Q of every unit, ``G``
    the policies' commands at the voltages ``x`` causes. A voltage-local
    policy (:func:`unit_control.base.voltage_local`) answers, unit by unit,
    only its own bus voltage, so ``∂G/∂x = S·W``: ``S`` the units' slopes
    dP/dV, dQ/dV, ``W`` the grid's sensitivities ∂|V|/∂P, ∂|V|/∂Q between
    the units' buses (:meth:`PowerFlow.voltage_sensitivity`, from the power
    flow's Jacobian; computed again when the network model changes and
    every :data:`REFRESH_STEPS` settled steps). From the residual
    ``r = G(x) − x`` of every group, Newton's step moves the local groups by
    ``r + S·v`` and the others by ``r``, where ``v`` is the voltage change
    that causes: ``v = W·r + W·S·v``. ``W`` is dense: with more than
    :data:`MAX_BUSES` buses under units, relaxation is used instead.

    The slopes are secants over the step itself: each local policy is
    evaluated once more at the voltages the step is expected to reach,
    ``V + W·r`` (where the grid would go if the local units did not answer)
    scaled per bus by how much their answer took off at the last Newton
    step, so that a curve's breakpoint on the way is seen; a unit whose
    voltage would not move keeps the slope it had. Newton stops for the rest
    of a physics step where it does not at least halve the local groups'
    largest move: relaxation takes over.
    """

    #: steps after which the sensitivities are computed again at the current solution
    REFRESH_STEPS = 2880
    #: most buses with units for Newton: its sensitivities are dense (n × 2n), so its
    #: cost grows with n²; beyond this, relaxation is cheaper per step
    MAX_BUSES = 300

    @classmethod
    def of(cls, rt) -> "_Newton | None":
        if rt.control_method != "newton":
            return None
        local = [i for i, g in enumerate(rt.groups)
                 if getattr(type(g.policy).step, "voltage_local", False) and g.n_units
                 and g.table in rt.plant.tables]
        if not local:
            return None
        newton = cls(rt, local)
        return newton if newton.buses.size <= cls.MAX_BUSES else None

    def __init__(self, rt, local: list[int]) -> None:
        self.rt = rt
        self.local = local
        # every group whose output enters the grid: its units' positions in ``buses``
        movers = [i for i, g in enumerate(rt.groups) if g.n_units and g.table in rt.plant.tables]
        self.buses, inverse = np.unique(
            np.concatenate([rt.groups[i].bus_positions for i in movers]), return_inverse=True)
        bounds = np.cumsum([0] + [rt.groups[i].n_units for i in movers])
        self.bus_of = {i: inverse[a:b] for i, a, b in zip(movers, bounds[:-1], bounds[1:])}
        n = self.buses.size
        #: per group: its units in the stacked per-bus vectors (P at ``bus``, Q at ``n + bus``)
        self._stacked_bus = {i: np.concatenate((bus, bus + n)) for i, bus in self.bus_of.items()}
        self._movers_stacked = np.concatenate(list(self._stacked_bus.values()))
        self._local_stacked = np.concatenate([self._stacked_bus[i] for i in local])
        #: per local group: its units' slopes dP/dV [MW/pu] (row 0) and dQ/dV [Mvar/pu] (row 1)
        self.slopes = {i: np.zeros((2, rt.groups[i].n_units)) for i in local}
        self._sensitivity: tuple | None = None  # (model changes, settle count, [dv_dp, dv_dq])
        #: per bus: the voltage change with the units' answer over the one without, last time
        self._answer = np.ones(n)
        self._steps = 0
        self._last_move: float | None = None
        self._on = True

    def begin_step(self) -> None:
        """A new settle (a physics step, or a re-solve after an event) begins."""
        self._last_move, self._on = None, True
        self._steps += 1

    def targets(self, deltas: list, moves: list[float], commands: list, observations: list,
                now_ms: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Newton's P and Q [MW], [Mvar] for each local group; empty where it does not apply.

        ``deltas``, ``moves``, ``commands``, ``observations``: per group, at
        the latest solution (:meth:`FixedPoint.commands`).
        """
        if not self._on:
            return {}
        move = max(moves[i] for i in self.local)
        if self._last_move is not None and move > 0.5 * self._last_move:
            self._on = False  # not converging as Newton should: relaxation takes over
            return {}
        self._last_move = move
        sensitivity = self._sensitivities()
        if sensitivity is None:
            return {}
        n = self.buses.size
        # every group's residual, summed per bus: P, then Q
        r = np.bincount(self._movers_stacked, np.concatenate(
            [d for i in self._stacked_bus for d in deltas[i]]), 2 * n)
        v0 = sensitivity @ r  # the voltage change if the local units did not answer
        if not np.isfinite(v0).all():
            return {}
        guess = v0 * self._answer  # where the units' answer took the voltage last time
        for i in self.local:
            self._secant(i, guess[self.bus_of[i]], commands[i], observations[i], now_ms)
        # the local units' slopes, summed per bus: P, then Q
        slopes = np.bincount(self._local_stacked, np.concatenate(
            [self.slopes[i].ravel() for i in self.local]), 2 * n)
        v = _solve_voltage(sensitivity, slopes, v0, guess)
        if v is None:
            return {}
        answer = np.divide(v, v0, out=self._answer.copy(), where=np.abs(v0) > 1e-6)
        np.minimum(np.maximum(answer, 0.0, out=answer), 1.0, out=answer)  # clip, less overhead
        self._answer = answer
        out = {}
        for i in self.local:
            group, (r_p, r_q), (s_p, s_q) = self.rt.groups[i], deltas[i], self.slopes[i]
            dv = v[self.bus_of[i]]
            out[i] = (group.p_mw + r_p + s_p * dv, group.q_mvar + r_q + s_q * dv)
        return out

    def _secant(self, i: int, dv: np.ndarray, command, obs, now_ms: int) -> None:
        """Group ``i``'s slopes from its command at ``obs.vm_pu + dv`` and ``command`` at
        ``obs.vm_pu``; a unit whose voltage would not move keeps its slope."""
        group = self.rt.groups[i]
        there = object.__new__(type(obs))  # a shallow copy (copy.copy is ten times slower)
        there.__dict__.update(obs.__dict__)
        there.vm_pu = obs.vm_pu + dv
        try:
            probe = group.policy.step(there)
        except Exception as exc:  # a user's policy may raise anything
            raise policy_error(unit_policy(group), now_ms, exc) from exc
        moved = np.abs(dv) > 1e-9  # False where de-energised (NaN)
        slopes = self.slopes[i].copy()
        for row, new, old in ((0, probe.p_mw, command.p_mw), (1, probe.q_mvar, command.q_mvar)):
            change = np.asarray(new, float) - old
            np.divide(change, dv, out=slopes[row], where=moved & np.isfinite(change))
        self.slopes[i] = slopes

    def _sensitivities(self) -> np.ndarray | None:
        """``[∂|V|/∂P, ∂|V|/∂Q]`` among :attr:`buses` (n × 2n), kept for the network model;
        None while the power flow cannot give them (asked again at the next iterate)."""
        pf = self.rt.plant.powerflow
        cached = self._sensitivity
        if (cached is None or cached[0] != pf.n_model_changes
                or self._steps - cached[1] >= self.REFRESH_STEPS):
            found = pf.voltage_sensitivity(self.buses)
            if found is None:  # no fast-path solution now (a failed solve), or a shared slack
                return None
            self._sensitivity = cached = (pf.n_model_changes, self._steps, np.hstack(found))
        return cached[2]


#: change of voltage [pu] at which :func:`_solve_voltage` stops iterating (what
#: remains is smaller still: each change at most half the one before); at a slope
#: of 10 pu of rating per pu of voltage (Table 8's category B curve: 7.3) a command
#: error of 1e-5 pu, a tenth of ``control.tol``'s default
_SERIES_TOL_PU = 1e-6


def _solve_voltage(sensitivity: np.ndarray, slopes: np.ndarray, v0: np.ndarray,
                   guess: np.ndarray) -> np.ndarray | None:
    """``v`` with ``v = v0 + W·diag(slopes)·[v; v]`` (``W = sensitivity``, n × 2n;
    ``slopes``: 2n, P then Q); None if that has no finite solution.

    Iterated from ``guess`` while that contracts fast (the loop gain of unit
    control on a feeder is well below 1), else solved directly.
    """
    n = v0.size
    p_slopes = slopes[:n].any()
    stacked = np.empty(2 * n)
    v, last_change = guess, np.inf
    for _ in range(12):
        stacked[:n] = stacked[n:] = v
        stacked *= slopes
        new = v0 + (sensitivity @ stacked if p_slopes else sensitivity[:, n:] @ stacked[n:])
        change = float(np.abs(new - v).max())
        v = new
        if change <= _SERIES_TOL_PU:
            return v
        if not change < 0.5 * last_change:
            break  # slow or no contraction: solve directly
        last_change = change
    matrix = np.eye(n) - sensitivity[:, :n] * slopes[:n] - sensitivity[:, n:] * slopes[n:]
    try:
        v = np.linalg.solve(matrix, v0)
    except np.linalg.LinAlgError:
        return None
    return v if np.isfinite(v).all() else None


def _move(group, command, delta: tuple[np.ndarray, np.ndarray]) -> float:
    """Largest change of P, Q [pu of rating] or tap position ``command`` asks of ``group``,
    ``delta`` being the command's P and Q minus the group's [MW], [Mvar]."""
    if not group.n_units:
        return 0.0
    move = float((np.maximum(np.abs(delta[0]), np.abs(delta[1])) / group.rating_floor_mw).max())
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
