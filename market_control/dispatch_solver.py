"""Solvers of the economic-dispatch problem: HiGHS LP and a refined QP.

The problem (:class:`_Problem`, assembled by
:mod:`market_control.dispatch`) is ``min g·x + ½ xᵀ diag(h) x`` subject to
linear equalities, inequalities and bounds. With linear costs only
(``h == 0``) it is a linear program, solved exactly by HiGHS
(:func:`scipy.optimize.linprog`), the prices being its equality duals.
With quadratic costs each unit's cost is replaced by its chords over
breakpoints (a convex piecewise-linear cost, exact at the breakpoints)
and the LP is solved again and again, the breakpoints refined around the
last solution each time, until every unit's window is narrower than
:data:`REFINE_TOL_MW`.

References
----------
A. J. Wood, B. F. Wollenberg, G. B. Sheblé, *Power Generation, Operation,
and Control*, 3rd ed., Wiley, 2014, ch. 3 (economic dispatch).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linprog

__all__ = ["DispatchError", "REFINE_TOL_MW"]

Area = str | None

#: Quadratic costs: the refinement stops once every unit's dense window of
#: breakpoints is narrower than this and holds the solution [MW]. Much
#: smaller segments fall below HiGHS's feasibility tolerance (1e-7).
REFINE_TOL_MW = 1e-4
_PIECES = 32
_MAX_ROUNDS = 30


class DispatchError(RuntimeError):
    """The optimiser failed on a dispatch problem (not a shortage: see :mod:`market_control.dispatch`)."""


@dataclass(frozen=True)
class _Problem:
    """``min g·x + ½ xᵀ diag(h) x`` s.t. ``A_eq x = b_eq``, ``A_ub x <= b_ub``, bounds."""

    g: np.ndarray
    h: np.ndarray
    a_eq: np.ndarray
    b_eq: np.ndarray
    a_ub: np.ndarray
    b_ub: np.ndarray
    bounds: list[tuple[float, float]]
    areas: list[Area]
    interfaces: list[tuple[str, str]]
    zones: list[Area]
    n_gen: int


def _solve_linear(problem: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the LP with HiGHS; duals are d(cost)/d(rhs)."""
    result = linprog(
        problem.g,
        A_ub=problem.a_ub if problem.b_ub.size else None,
        b_ub=problem.b_ub if problem.b_ub.size else None,
        A_eq=problem.a_eq,
        b_eq=problem.b_eq,
        bounds=problem.bounds,
        method="highs",
    )
    if result.status != 0:
        raise DispatchError(f"HiGHS failed on the dispatch LP: {result.message}")
    ub_dual = np.asarray(result.ineqlin.marginals) if problem.b_ub.size else np.zeros(0)
    return result.x, np.asarray(result.eqlin.marginals), ub_dual


def _solve_quadratic(problem: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the convex QP by successive piecewise-linear refinement with HiGHS.

    Each unit's quadratic cost is replaced by its chords over breakpoints
    spanning ``[p_min, p_max]`` (a convex piecewise-linear cost, exact at
    the breakpoints), dense in a window around the last solution. The LP
    is solved, the window is centred on the new solution and shrunk
    (or widened where the solution left it), until every window is
    narrower than :data:`REFINE_TOL_MW`. The duals of the last LP are the
    prices (within ``c · REFINE_TOL_MW`` of the exact λ).
    """
    lows = np.array([low for low, _ in problem.bounds[: problem.n_gen]])
    highs = np.array([high for _, high in problem.bounds[: problem.n_gen]])
    quadratic = problem.h[: problem.n_gen] > 0
    centres, half_widths = 0.5 * (lows + highs), np.where(quadratic, 0.5 * (highs - lows), 0.0)
    for _ in range(_MAX_ROUNDS):
        windows = [_window(*args) for args in zip(lows, highs, centres, half_widths)]
        x, eq_dual, ub_dual = _solve_piecewise(problem, windows)
        p_mw = x[: problem.n_gen]
        inside = np.abs(p_mw - centres) < half_widths * (1.0 - 1e-9) + 1e-12
        inside |= np.isclose(p_mw, lows) | np.isclose(p_mw, highs)
        if np.all(half_widths < REFINE_TOL_MW) and np.all(inside):
            return x, eq_dual, ub_dual
        centres = p_mw
        half_widths = np.where(inside, half_widths * 4.0 / _PIECES, half_widths * 2.0)
        half_widths = np.where(quadratic, np.minimum(half_widths, highs - lows), 0.0)
    raise DispatchError(f"piecewise-linear refinement did not converge in {_MAX_ROUNDS} rounds")


def _window(low: float, high: float, centre: float, half_width: float) -> np.ndarray:
    """Breakpoints [MW] spanning ``[low, high]``, dense within ``centre ± half_width``."""
    if half_width <= 0 or high == low:
        return np.array([low, high])
    dense = np.linspace(max(centre - half_width, low), min(centre + half_width, high), _PIECES + 1)
    return np.unique(np.concatenate(([low], dense, [high])))


def _solve_piecewise(problem: _Problem, breakpoints: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the LP with each unit's cost as chords over ``breakpoints``; return x in P form."""
    n_g = problem.n_gen
    n_seg = [max(points.size - 1, 1) for points in breakpoints]
    to_p = np.zeros((n_g, sum(n_seg)))  # P = p_min + to_p @ segments
    slopes, seg_bounds, column = [], [], 0
    for i, points in enumerate(breakpoints):
        if points.size < 2:
            points = np.array([points[0], points[0]])
        low, high = points[:-1], points[1:]
        slopes.extend(problem.g[i] + 0.5 * problem.h[i] * (low + high))  # chord of b·P + c·P²
        seg_bounds.extend(zip(np.zeros(low.size), high - low))
        to_p[i, column : column + low.size] = 1.0
        column += low.size
    p_min = np.array([points[0] for points in breakpoints])

    def lift(matrix: np.ndarray) -> np.ndarray:
        return np.hstack([matrix[:, :n_g] @ to_p, matrix[:, n_g:]])

    lp = replace(
        problem,
        g=np.concatenate([slopes, problem.g[n_g:]]),
        h=np.zeros(to_p.shape[1] + problem.g.size - n_g),
        a_eq=lift(problem.a_eq),
        b_eq=problem.b_eq - problem.a_eq[:, :n_g] @ p_min,
        a_ub=lift(problem.a_ub),
        b_ub=problem.b_ub - problem.a_ub[:, :n_g] @ p_min,
        bounds=seg_bounds + problem.bounds[n_g:],
    )
    y, eq_dual, ub_dual = _solve_linear(lp)
    x = np.concatenate([p_min + to_p @ y[: to_p.shape[1]], y[to_p.shape[1] :]])
    return x, eq_dual, ub_dual
