"""The two redispatch rules: merit order, and least cost over all limits at once.

Both take the :class:`~market_control.security_model.Block` s that may
move and the :class:`~market_control.security_model.Limits` linearised at
the schedule, and return a :class:`~market_control.security_model.Redispatch`
whose moves keep the balance (up MW = down MW). Which one a run uses is
``market.security.method`` (:func:`market_control.security.redispatch`);
the method and its references are in :mod:`market_control.security`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from market_control.security_model import Action, Block, Limits, Redispatch

__all__ = ["merit_order", "least_cost", "MIN_RELIEF_SHARE"]

#: smallest relief per MW [pu of the limit's scale per MW] a move must bring to count
_RELIEF_EPS = 1e-9
#: merit order: a pair that relieves a limit by less than this share of the largest relief per MW
#: of any two participants (or one and the slack) is not used for it
MIN_RELIEF_SHARE = 0.01
#: blocks smaller than this are used up [MW]
_MW_EPS = 1e-9


def merit_order(blocks: Sequence[Block], limits: Limits, margin: float = 1e-3, tol: float = 1e-6,
                max_moves: int = 10_000) -> Redispatch:
    """Redispatch in merit order: the cheapest relief of the worst violation first.

    Parameters
    ----------
    blocks : sequence of Block
        What may move.
    limits : Limits
        The constraints, linearised at the schedule.
    margin : float
        Each violated limit is brought this far inside [pu of its scale],
        so that the AC power flow, not quite linear, lands within it.
    tol : float
        A constraint beyond its limit by more than this is violated [pu of its scale].
    max_moves : int
        Bound on the number of moves.

    Returns
    -------
    Redispatch

    Notes
    -----
    Repeatedly: take the constraint most beyond its limit (in per unit);
    among the pairs (up block ``u``, down block ``d``) of different
    participants with blocks left whose move relieves it, take the one of
    lowest tier, then of least cost per unit of relief
    ``(p_u − p_d) / (s_d − s_u)`` (``s`` the constraint's sensitivities in
    its direction); move it by the least of: what removes the violation,
    what is left of either block, and what keeps every other limit
    satisfied. A pair that cannot move without violating another limit is
    set aside. A pair whose relief per MW is less than
    :data:`MIN_RELIEF_SHARE` (1 %) of ``limits.reach`` (the most that
    moving any two of the participants, or one and the slack, in opposite
    directions would give) is not used for that limit: moving participants
    that hardly affect it (units far from the line, beside the slack)
    would buy next to no relief with much volume, and curtail loads for
    nothing. Stops when nothing is violated or no pair can help.
    """
    n_b = len(blocks)
    columns = limits.block_columns(blocks)  # [unit/MW]
    effect = columns * (limits.sign / limits.scale)[:, None]  # [pu of the scale, signed, per MW]
    left = np.array([b.quantity_mw for b in blocks], dtype=float)
    price = np.array([b.price for b in blocks], dtype=float)
    tier = np.array([b.tier for b in blocks], dtype=int)
    up = np.array([b.up for b in blocks], dtype=bool)
    owner = np.array([b.participant for b in blocks], dtype=object)
    used = np.zeros(n_b)
    shift = np.zeros(len(limits.names))  # [unit]
    excess = limits.excess()
    violated = [limits.describe(int(c)) for c in np.flatnonzero(excess > tol)]
    blocked: set[tuple[int, int]] = set()
    actions: list[Action] = []
    reach = limits.spread() if limits.reach is None else limits.reach
    min_relief = np.maximum(MIN_RELIEF_SHARE * reach, _RELIEF_EPS)
    for _ in range(max_moves):
        if not np.any(excess > tol):
            break
        c = int(np.argmax(excess))
        pair = _cheapest_pair(c, effect, left, price, tier, up, owner, blocked, min_relief[c])
        if pair is None:
            break
        u, d = pair
        rate = effect[:, u] + effect[:, d]  # change of every excess per MW of the pair
        move = min(left[u], left[d], (excess[c] + margin) / -rate[c])
        worse = rate > _RELIEF_EPS
        worse[c] = False
        if np.any(worse & (excess > tol)):
            move = 0.0  # it would deepen another violation
        elif np.any(worse):
            move = min(move, float(np.min(np.maximum(-excess[worse], 0.0) / rate[worse])))
        if move <= _MW_EPS:
            blocked.add(pair)
            continue
        reason = f"for {limits.describe(c)}"  # the violation as the schedule had it
        for b in (u, d):
            left[b] -= move
            used[b] += move
            _add_action(actions, blocks[b], move, reason)
        shift += (columns[:, u] + columns[:, d]) * move
        excess = limits.excess(shift)
    return _result(blocks, limits, used, actions, violated, tol)


def _cheapest_pair(c: int, effect: np.ndarray, left: np.ndarray, price: np.ndarray,
                   tier: np.ndarray, up: np.ndarray, owner: np.ndarray,
                   blocked: set[tuple[int, int]], min_relief: float = _RELIEF_EPS) -> tuple[int, int] | None:
    """The pair (up, down block) of lowest tier, then least cost per unit of relief on ``c``,
    among those relieving it by more than ``min_relief`` per MW."""
    ups = np.flatnonzero(up & (left > _MW_EPS))
    downs = np.flatnonzero(~up & (left > _MW_EPS))
    if ups.size == 0 or downs.size == 0:
        return None
    relief = -(effect[c, ups][:, None] + effect[c, downs][None, :])
    cost = price[ups][:, None] - price[downs][None, :]
    rank = np.maximum(tier[ups][:, None], tier[downs][None, :])
    ok = (relief > min_relief) & (owner[ups][:, None] != owner[downs][None, :])
    for u, d in blocked:
        iu, idn = np.flatnonzero(ups == u), np.flatnonzero(downs == d)
        if iu.size and idn.size:
            ok[iu[0], idn[0]] = False
    if not ok.any():
        return None
    rows, cols = np.nonzero(ok)
    ratio = cost[rows, cols] / relief[rows, cols]
    best = np.lexsort((cols, rows, ratio, rank[rows, cols]))[0]  # ties: the first given
    return int(ups[rows[best]]), int(downs[cols[best]])


def _add_action(actions: list[Action], block: Block, move_mw: float, reason: str) -> None:
    """Record a move, merged with the last action of the same block and reason."""
    signed = move_mw if block.up else -move_mw
    for k in range(len(actions) - 1, -1, -1):
        a = actions[k]
        if (a.participant, a.price, a.label, a.reason) == (block.participant, block.price, block.label, reason) \
                and (a.delta_mw > 0) == block.up:
            actions[k] = Action(a.participant, a.delta_mw + signed, a.price, a.label, reason)
            return
    actions.append(Action(block.participant, signed, block.price, block.label, reason))


def least_cost(blocks: Sequence[Block], limits: Limits, margin: float = 1e-3, tol: float = 1e-6) -> Redispatch:
    """Redispatch of least cost over all limits at once: a linear programme.

    Parameters
    ----------
    blocks, limits, margin, tol
        As :func:`merit_order`.

    Returns
    -------
    Redispatch

    Notes
    -----
    Variables: the MW used of each block, ``0 <= x_b <= quantity_b``, and
    a slack ``v_c >= 0`` per violated limit. Constraints: the balance
    ``Σ_up x − Σ_down x = 0``; every limit
    ``excess_c + Σ_b e_cb x_b <= −margin + v_c`` (violated) or ``<= 0``
    (the others: no new violation). Phase 1 minimises ``Σ v``; phase 2,
    with ``Σ v`` held at its minimum, minimises
    ``Σ_up p x − Σ_down p x + Σ_b tier_b · P · x_b`` with ``P`` a
    penalty per MW above every price, so that involuntary tiers go last.
    Solved by HiGHS (``scipy.optimize.linprog``).
    """
    n_b = len(blocks)
    excess = limits.excess()
    violated_ix = np.flatnonzero(excess > tol)
    violated = [limits.describe(int(c)) for c in violated_ix]
    if n_b == 0 or violated_ix.size == 0:
        return _result(blocks, limits, np.zeros(n_b), [], violated, tol)
    effect = limits.block_columns(blocks) * (limits.sign / limits.scale)[:, None]
    used = _least_cost_mw(blocks, effect, excess, violated_ix, margin)
    actions: list[Action] = []
    for b, (block, mw) in enumerate(zip(blocks, used)):
        if mw > _MW_EPS:
            helped = [limits.describe(int(c)) for c in violated_ix if effect[c, b] < -_RELIEF_EPS]
            reason = "for " + _few(helped) if helped else "balancing the moves for " + _few(violated)
            _add_action(actions, block, float(mw), reason)
    return _result(blocks, limits, used, actions, violated, tol)


def _least_cost_mw(blocks: Sequence[Block], effect: np.ndarray, excess: np.ndarray,
                   violated_ix: np.ndarray, margin: float) -> np.ndarray:
    """MW used of each block: the two phases of :func:`least_cost` (see its Notes).

    ``effect`` is ``(n_constraints, n_blocks)``, each block's change of each
    excess per MW [pu of the scale per MW]; ``excess`` the constraints' excess
    at the schedule [pu], ``violated_ix`` the violated ones.
    """
    from scipy.optimize import linprog

    n_b, n_v = len(blocks), violated_ix.size
    direction = np.array([1.0 if b.up else -1.0 for b in blocks])
    rhs = -excess.copy()
    rhs[violated_ix] -= margin
    slack = np.zeros((excess.size, n_v))
    slack[violated_ix, np.arange(n_v)] = -1.0
    a_ub = np.hstack([effect, slack])
    a_eq = np.concatenate([direction, np.zeros(n_v)])[None, :]
    bounds = [(0.0, max(b.quantity_mw, 0.0)) for b in blocks] + [(0.0, None)] * n_v
    phase1 = linprog(np.concatenate([np.zeros(n_b), np.ones(n_v)]), A_ub=a_ub, b_ub=rhs,
                     A_eq=a_eq, b_eq=[0.0], bounds=bounds, method="highs")
    if phase1.status != 0:
        raise RuntimeError(f"least_cost redispatch: phase 1 failed ({phase1.message})")
    worst = 0.0 if phase1.fun <= 1e-9 else float(phase1.fun) + 1e-9  # the least violation, held
    prices = np.array([b.price for b in blocks], dtype=float)
    penalty = 1e3 * (1.0 + float(np.max(np.abs(prices))))
    tiers = np.array([b.tier for b in blocks], dtype=float)
    cost = np.concatenate([direction * prices + tiers * penalty + 1e-6, np.zeros(n_v)])
    phase2 = linprog(cost, A_ub=np.vstack([a_ub, np.concatenate([np.zeros(n_b), np.ones(n_v)])]),
                     b_ub=np.append(rhs, worst), A_eq=a_eq, b_eq=[0.0], bounds=bounds, method="highs")
    solution = phase2 if phase2.status == 0 else phase1
    return np.clip(solution.x[:n_b], 0.0, [b.quantity_mw for b in blocks])


def _few(items: list[str], most: int = 3) -> str:
    """The first ``most`` of ``items``, joined, and how many more."""
    return "; ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")


def _result(blocks: Sequence[Block], limits: Limits, used: np.ndarray, actions: list[Action],
            violated: list[str], tol: float) -> Redispatch:
    used = np.where(used > _MW_EPS, used, 0.0)
    delta: dict[str, float] = {}
    cost = 0.0
    for block, mw in zip(blocks, used.tolist()):
        if mw > 0:
            signed = mw if block.up else -mw
            delta[block.participant] = delta.get(block.participant, 0.0) + signed
            cost += signed * block.price
    shift = limits.block_columns(blocks) @ used if len(blocks) else np.zeros(len(limits.names))
    left = np.flatnonzero(limits.excess(shift) > tol)
    return Redispatch(delta, tuple(float(x) for x in used), float(cost), tuple(actions),
                      tuple(violated), tuple(limits.describe(int(c), float(shift[c])) for c in left))
