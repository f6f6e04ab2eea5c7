"""Economic dispatch with a reserve requirement and inter-area transfer limits.

Minimises the total cost of generation, sum of ``a + b·P + c·P²`` [per h],
subject to

* balance in every area: generation + imports − exports + unserved
  − spilled = demand, whose dual is the area's price λ [per MWh];
* unit limits ``p_min_mw <= P <= p_max_mw``;
* reserve: each unit holds reserve ``0 <= r <= min(p_max − P, reserve_max_mw)``
  and the reserve held in each reserve zone (the whole system, or each area)
  meets its requirement (with ``reserve_max_mw`` infinite this is
  Σ(p_max − P) >= reserve);
* transfer limits on each interface between two areas (transport model:
  a flow per interface, no loop flows, no losses).

Unserved demand and spilled must-run output are priced at ``price_cap``
(the value of lost load) and unmet reserve at half of it, so the problem is
always feasible and a shortage shows as a price at the cap and as
``shortfall_mw``/``surplus_mw``/``reserve_shortfall_mw`` in the result
rather than as an exception.

Solvers: with linear costs only (all ``c == 0``) the problem is a linear
program, solved exactly by HiGHS (:func:`scipy.optimize.linprog`), the
prices being its equality duals. With quadratic costs each unit's cost is
replaced by its chords over breakpoints (a convex piecewise-linear cost,
exact at the breakpoints) and the LP is solved by HiGHS again and again,
the breakpoints refined around the last solution each time, until every
unit's window is narrower than :data:`REFINE_TOL_MW`: outputs are then
within that of the exact optimum and prices within ``2·c·REFINE_TOL_MW``
(about 1e-9 relative on the textbook examples). scipy's SLSQP was tried
and rejected: its accuracy depended on the scaling of the costs. The
solvers are in :mod:`market_control.dispatch_solver`.

References
----------
A. J. Wood, B. F. Wollenberg, G. B. Sheblé, *Power Generation, Operation,
and Control*, 3rd ed., Wiley, 2014, ch. 3 (economic dispatch, Examples 3A
and 3B) and ch. 10 (interchange with transfer limits).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from market_control.base import Clearing
from market_control.dispatch_solver import (  # noqa: F401 (REFINE_TOL_MW re-exported)
    REFINE_TOL_MW, Area, DispatchError, _Problem, _solve_linear, _solve_quadratic)

__all__ = ["Generator", "economic_dispatch", "DispatchError", "RESERVE_PENALTY_FRACTION"]

#: Cost of unmet reserve as a fraction of ``price_cap`` [per MW and h]: below
#: the value of lost load, so load is never shed to create reserve.
RESERVE_PENALTY_FRACTION = 0.5

TransferLimits = Mapping[tuple[str, str], float]


@dataclass(frozen=True)
class Generator:
    """A dispatchable unit for :func:`economic_dispatch`.

    Attributes
    ----------
    participant : str
        Who is awarded its output.
    a, b, c : float
        Cost per hour ``a + b·P + c·P²`` [per h], [per MWh], [per MW²h];
        ``c >= 0``.
    p_min_mw, p_max_mw : float
        Output limits [MW]; a negative ``p_min_mw`` is dispatchable demand
        (consumption, generation positive).
    area : str or None
        Area id; required when transfer limits are given.
    reserve_max_mw : float
        Most reserve the unit can hold [MW] (e.g. its 10-min ramp);
        infinite by default: all its headroom counts.

    Examples
    --------
    >>> Generator("g1", 0.0, 20.0, 0.01, 0.0, 100.0)
    Generator(participant='g1', a=0.0, b=20.0, c=0.01, p_min_mw=0.0, p_max_mw=100.0, area=None, reserve_max_mw=inf)
    """

    participant: str
    a: float
    b: float
    c: float
    p_min_mw: float
    p_max_mw: float
    area: str | None = None
    reserve_max_mw: float = math.inf

    def __post_init__(self) -> None:
        if not self.p_min_mw <= self.p_max_mw:
            raise ValueError(f"generator {self.participant}: p_min_mw {self.p_min_mw} > p_max_mw {self.p_max_mw}")
        if self.c < 0:
            raise ValueError(f"generator {self.participant}: c must be >= 0 (convex cost), got {self.c}")
        if self.reserve_max_mw < 0:
            raise ValueError(f"generator {self.participant}: reserve_max_mw must be >= 0")


@dataclass(frozen=True)
class Solution:
    """Primal and dual solution of a dispatch (used by the market classes).

    ``p_mw`` per generator [MW]; ``unserved_mw``, ``spilled_mw`` and
    ``price`` per area [MW], [MW], [per MWh]; ``reserve_short_mw`` and
    ``reserve_price`` per reserve zone; ``flows_mw`` per interface [MW].
    """

    p_mw: np.ndarray
    unserved_mw: dict[Area, float]
    spilled_mw: dict[Area, float]
    price: dict[Area, float]
    reserve_short_mw: float
    reserve_price: float
    flows_mw: dict[tuple[str, str], float]


def economic_dispatch(
    generators: Sequence[Generator],
    demand_mw: float | Mapping[str, float],
    reserve_mw: float | Mapping[str, float] = 0.0,
    transfer_limits: TransferLimits | None = None,
    price_cap: float = 3000.0,
) -> Clearing:
    """Least-cost dispatch of ``generators`` to meet ``demand_mw`` and ``reserve_mw``.

    Parameters
    ----------
    generators : sequence of Generator
        Units with cost ``a + b·P + c·P²`` [per h] and limits [MW].
    demand_mw : float or mapping of str to float
        Fixed demand [MW]: one number for the whole system, or area -> MW
        (required when ``transfer_limits`` are given; without them the
        areas are summed into one copper plate).
    reserve_mw : float or mapping of str to float
        Upward reserve requirement [MW]: one number for the whole system,
        or area -> MW to be held by the units of that area.
    transfer_limits : mapping of (str, str) to float, optional
        Interfaces between areas: ``{("north", "south"): 10.0}`` limits the
        flow between north and south to 10 MW each way; giving also
        ``("south", "north")`` sets the other direction separately. Areas
        with no interface between them do not exchange. None: one copper
        plate, a single price.
    price_cap : float
        Value of lost load [per MWh], the cost of unserved demand and of
        spilled must-run output; unmet reserve costs
        ``RESERVE_PENALTY_FRACTION · price_cap`` [per MW and h].

    Returns
    -------
    Clearing
        ``price`` λ [per MWh] (a number for a copper plate, a dict area ->
        λ when ``transfer_limits`` are given), ``quantity_mw`` total
        positive output [MW], ``awards`` participant -> output [MW]
        (generation positive), ``shortfall_mw``, ``reserve_shortfall_mw``,
        ``surplus_mw``, ``flows_mw``, ``reserve_price`` [per MW and h].

    Raises
    ------
    ValueError
        If inputs are inconsistent (an area missing, a negative limit).
    DispatchError
        If the solver fails.

    Examples
    --------
    >>> units = [Generator("g1", 0, 10, 0, 0, 50), Generator("g2", 0, 20, 0, 0, 50)]
    >>> clearing = economic_dispatch(units, 70.0)
    >>> clearing.price, clearing.awards
    (20.0, {'g1': 50.0, 'g2': 20.0})
    """
    solution = solve_dispatch(generators, demand_mw, reserve_mw, transfer_limits, price_cap)
    awards: dict[str, float] = {}
    for unit, p_mw in zip(generators, solution.p_mw):
        awards[unit.participant] = awards.get(unit.participant, 0.0) + float(p_mw)
    price = solution.price[None] if transfer_limits is None else dict(solution.price)
    return Clearing(
        price=price,
        quantity_mw=float(np.clip(solution.p_mw, 0.0, None).sum()),
        awards=awards,
        shortfall_mw=float(sum(solution.unserved_mw.values())),
        reserve_shortfall_mw=solution.reserve_short_mw,
        surplus_mw=float(sum(solution.spilled_mw.values())),
        marginal="dispatch",
        flows_mw=solution.flows_mw,
        reserve_price=solution.reserve_price,
    )


def solve_dispatch(
    generators: Sequence[Generator],
    demand_mw: float | Mapping[str, float],
    reserve_mw: float | Mapping[str, float],
    transfer_limits: TransferLimits | None,
    price_cap: float,
) -> Solution:
    """Solve the dispatch problem of :func:`economic_dispatch` and return its :class:`Solution`."""
    problem = _build(list(generators), demand_mw, reserve_mw, transfer_limits, price_cap)
    if np.all(problem.h == 0):
        x, eq_dual, ub_dual = _solve_linear(problem)
    else:
        x, eq_dual, ub_dual = _solve_quadratic(problem)
    return _unpack(problem, x, eq_dual, ub_dual)


def _areas_and_demand(generators, demand_mw, transfer_limits) -> tuple[list[Area], dict[Area, float]]:
    """The areas of the problem and the demand in each [MW]."""
    if transfer_limits is None:
        total = sum(demand_mw.values()) if isinstance(demand_mw, Mapping) else demand_mw
        return [None], {None: float(total)}
    if not isinstance(demand_mw, Mapping):
        raise ValueError("demand_mw must map area -> MW when transfer_limits are given")
    for unit in generators:
        if unit.area is None:
            raise ValueError(f"generator {unit.participant} has no area, but transfer_limits are given")
    names = {unit.area for unit in generators} | set(demand_mw)
    names |= {area for pair in transfer_limits for area in pair}
    areas = sorted(names)
    return areas, {area: float(demand_mw.get(area, 0.0)) for area in areas}


def _interfaces(transfer_limits: TransferLimits | None) -> dict[tuple[str, str], tuple[float, float]]:
    """Interface ``(from, to)`` -> (limit to->from, limit from->to) [MW]."""
    result: dict[tuple[str, str], tuple[float, float]] = {}
    for (start, end), limit_mw in (transfer_limits or {}).items():
        if limit_mw < 0 or start == end:
            raise ValueError(f"transfer limit {(start, end)}: needs two areas and a limit >= 0, got {limit_mw}")
        key = tuple(sorted((start, end)))
        reverse_mw = (transfer_limits or {}).get((end, start), limit_mw)
        forward_mw, backward_mw = (limit_mw, reverse_mw) if key == (start, end) else (reverse_mw, limit_mw)
        result[key] = (backward_mw, forward_mw)
    return result


def _build(generators, demand_mw, reserve_mw, transfer_limits, price_cap: float) -> _Problem:
    """Assemble the QP; variables ``[P, r, F, unserved, spilled, reserve_short]``."""
    areas, demand = _areas_and_demand(generators, demand_mw, transfer_limits)
    interfaces = _interfaces(transfer_limits)
    zones, requirement = _reserve_zones(reserve_mw, areas)
    n_g, n_f, n_a, n_z = len(generators), len(interfaces), len(areas), len(zones)
    offset = {"r": n_g, "f": 2 * n_g, "u": 2 * n_g + n_f, "s": 2 * n_g + n_f + n_a, "z": 2 * n_g + n_f + 2 * n_a}
    n_x = offset["z"] + n_z
    g = np.zeros(n_x)
    h = np.zeros(n_x)
    g[:n_g] = [unit.b for unit in generators]
    h[:n_g] = [2.0 * unit.c for unit in generators]
    g[offset["u"] : offset["z"]] = price_cap
    g[offset["z"] :] = RESERVE_PENALTY_FRACTION * price_cap
    a_eq = np.zeros((n_a, n_x))
    area_index = {area: k for k, area in enumerate(areas)}
    for i, unit in enumerate(generators):
        a_eq[area_index[unit.area if transfer_limits is not None else None], i] = 1.0
    for k, (start, end) in enumerate(interfaces):
        a_eq[area_index[start], offset["f"] + k] = -1.0
        a_eq[area_index[end], offset["f"] + k] = 1.0
    for k in range(n_a):
        a_eq[k, offset["u"] + k] = 1.0
        a_eq[k, offset["s"] + k] = -1.0
    a_ub = np.zeros((n_g + n_z, n_x))
    b_ub = np.zeros(n_g + n_z)
    for i, unit in enumerate(generators):  # P + r <= p_max
        a_ub[i, i] = a_ub[i, n_g + i] = 1.0
        b_ub[i] = unit.p_max_mw
    for k, zone in enumerate(zones):  # -(sum r + short) <= -requirement
        for i, unit in enumerate(generators):
            if zone is None or unit.area == zone:
                a_ub[n_g + k, n_g + i] = -1.0
        a_ub[n_g + k, offset["z"] + k] = -1.0
        b_ub[n_g + k] = -requirement[k]
    bounds = [(unit.p_min_mw, unit.p_max_mw) for unit in generators]
    bounds += [(0.0, min(unit.reserve_max_mw, unit.p_max_mw - unit.p_min_mw)) for unit in generators]
    bounds += [(-backward, forward) for backward, forward in interfaces.values()]
    bounds += [(0.0, max(demand[area], 0.0)) for area in areas] + [(0.0, math.inf)] * n_a
    bounds += [(0.0, max(need, 0.0)) for need in requirement]
    b_eq = np.array([demand[area] for area in areas])
    return _Problem(g, h, a_eq, b_eq, a_ub, b_ub, bounds, areas, list(interfaces), zones, n_g)


def _reserve_zones(reserve_mw, areas: list[Area]) -> tuple[list[Area], list[float]]:
    """Reserve zones (None = whole system) and their requirement [MW]."""
    if isinstance(reserve_mw, Mapping):
        unknown = set(reserve_mw) - set(areas)
        if areas == [None] or unknown:
            raise ValueError(f"reserve_mw by area needs transfer_limits naming those areas; unknown: {sorted(unknown)}")
        zones = sorted(reserve_mw)
        return zones, [float(reserve_mw[zone]) for zone in zones]
    return ([None], [float(reserve_mw)]) if reserve_mw > 0 else ([], [])


def _unpack(problem: _Problem, x: np.ndarray, eq_dual: np.ndarray, ub_dual: np.ndarray) -> Solution:
    """Read a :class:`Solution` out of the solver's vectors."""
    n_g, n_f, n_a = problem.n_gen, len(problem.interfaces), len(problem.areas)
    start_u = 2 * n_g + n_f
    unserved = x[start_u : start_u + n_a]
    spilled = x[start_u + n_a : start_u + 2 * n_a]
    short = x[start_u + 2 * n_a :]
    # Reserve rows are -(sum r) <= -R: d(cost)/dR = -dual.
    reserve_prices = -ub_dual[n_g:] if ub_dual.size else np.zeros(0)
    return Solution(
        p_mw=x[:n_g].copy(),
        unserved_mw={area: float(v) for area, v in zip(problem.areas, unserved)},
        spilled_mw={area: float(v) for area, v in zip(problem.areas, spilled)},
        price={area: float(v) + 0.0 for area, v in zip(problem.areas, eq_dual)},  # no -0.0
        reserve_short_mw=float(short.sum()),
        reserve_price=float(reserve_prices.max()) if reserve_prices.size else 0.0,
        flows_mw={pair: float(v) for pair, v in zip(problem.interfaces, x[2 * n_g : start_u])},
    )
