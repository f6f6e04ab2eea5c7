"""Security-constrained redispatch: move awards so that the feeder stays within its limits.

After a market clears, the system operator checks the awarded schedule with
a power flow and, where a line or transformer would be loaded beyond its
limit or a bus voltage would leave its band, re-dispatches: it raises the
injection of some participants and lowers that of others by the same
amount (the balance holds), choosing the moves that remove the violations
at the least cost. The network enters through linear sensitivities: row
``c``, column ``i`` of ``Limits.sensitivity`` is the change of the limited
quantity ``c`` (loading [%], voltage [pu]) per MW injected by participant
``i``, the slack taking the difference (a PTDF for flows, dV/dP for
voltages). This is cost-based redispatch, or counter-trading, as in
D. S. Kirschen, G. Strbac, *Fundamentals of Power System Economics*, 2nd
ed., Wiley, 2018, ch. 6 (the system operator buys increments and
decrements in merit order of cost per MW of relief).

What may move is given as :class:`Block` s, one per order: an accepted offer
can be lowered and an unaccepted one raised at its price; an accepted bid
can be lowered (consumption curtailed) at a curtailment price. Sign
convention: an *up* block adds injection (more generation or less
consumption) and is paid its price by the operator [per MWh]; a *down*
block removes injection and pays its price back. A block's ``tier`` orders
involuntary curtailment (load shedding by priority): a block of tier ``k >
0`` is used only where the blocks of lower tiers cannot remove the
violations.

Two rules (``market.security.method``):

* :func:`merit_order` — most violated limit first, the pair (up block,
  down block) of least cost per unit of relief first, each move as large
  as the violation, the blocks and the other limits allow (never creating
  a new violation);
* :func:`least_cost` — one linear programme over all limits at once
  (scipy's HiGHS): the least total cost that removes the violations, or
  the least violation where they cannot all be removed.

Examples
--------
A line into an area with one load at its end (sensitivity −1 % per MW:
curtailing the load unloads the line) and the upstream grid at the slack
(sensitivity 0). The line is at 103 % of a 100 % limit; the load can be
curtailed at 150 per MWh, the upstream import lowered (saving 60):

>>> limits = Limits(("line/0 loading",), np.array([103.0]), np.array([100.0]), np.array([1.0]),
...                 np.array([100.0]), ("north/ka", "upstream"), np.array([[-1.0, 0.0]]))
>>> blocks = [Block("north/ka", 5.0, 150.0, up=True), Block("upstream", 20.0, 60.0, up=False)]
>>> r = merit_order(blocks, limits, margin=0.0)
>>> round(r.delta_mw["north/ka"], 6), round(r.delta_mw["upstream"], 6), round(r.cost_per_h, 6)
(3.0, -3.0, 270.0)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Block", "Limits", "Action", "Redispatch", "merit_order", "least_cost", "METHODS",
           "redispatch"]

#: smallest relief per MW [pu of the limit's scale per MW] a move must bring to count
_RELIEF_EPS = 1e-9
#: merit order: a pair that relieves a limit by less than this share of the largest relief per MW
#: of any two participants (or one and the slack) is not used for it
MIN_RELIEF_SHARE = 0.01
#: blocks smaller than this are used up [MW]
_MW_EPS = 1e-9


@dataclass(frozen=True)
class Block:
    """A block of power one participant can be moved by.

    Attributes
    ----------
    participant : str
        Market participant.
    quantity_mw : float
        Size of the block [MW], >= 0.
    price : float
        Price of the move [per MWh]: paid to the participant for an up
        block, paid back by it for a down block.
    up : bool
        True: the move adds injection (more generation, less consumption).
    tier : int
        0 for a priced move; ``k > 0`` for involuntary curtailment, used
        only where tiers below ``k`` cannot remove the violations.
    label : str
        What the block is (``offer``, ``interruptible contract`` …), for
        the reasons reported.
    side, order : str, int
        Where it comes from: ``"offer"`` or ``"bid"`` and the index of the
        order in the sequence the market cleared (``""``, −1: none).
    """

    participant: str
    quantity_mw: float
    price: float
    up: bool
    tier: int = 0
    label: str = ""
    side: str = ""
    order: int = -1


@dataclass(frozen=True)
class Limits:
    """The limited quantities of a schedule, linearised around it.

    Constraint ``c`` holds where ``sign[c] · (value[c] + Σ_i sensitivity[c, i] · Δ_i)
    <= sign[c] · limit[c]``, with ``Δ_i`` the change of participant ``i``'s
    injection [MW]: ``sign`` +1 for an upper limit (loading, highest
    voltage), −1 for a lower one (lowest voltage).

    Attributes
    ----------
    names : tuple of str
        What each constraint limits (``line/5 loading``, ``bus/7 voltage``).
    value, limit : ndarray
        Value at the schedule and its limit, in the constraint's unit
        (``%`` of rating, pu).
    sign : ndarray
        +1 (upper limit) or −1 (lower limit).
    scale : ndarray
        The constraint's unit in per unit (100 for a loading in %, 1 for a
        voltage in pu): violations are compared, and ``margin`` and ``tol``
        are given, in per unit.
    participants : tuple of str
        Columns of ``sensitivity``; a participant not listed has none (the
        slack's own, the upstream grid's, is zero).
    sensitivity : ndarray
        ``(n_constraints, n_participants)`` change per MW injected [unit/MW].
    reach : ndarray or None
        ``(n_constraints,)`` the largest relief per MW a move can give
        [pu of the scale per MW], against which :func:`merit_order` judges
        a move too weak to use; None: :meth:`spread` (a caller that moves
        in rounds passes the largest seen, as participants run out).
    """

    names: tuple[str, ...]
    value: np.ndarray
    limit: np.ndarray
    sign: np.ndarray
    scale: np.ndarray
    participants: tuple[str, ...]
    sensitivity: np.ndarray
    reach: np.ndarray | None = None

    def spread(self) -> np.ndarray:
        """Per constraint, the most that moving two participants (or one and the slack) in
        opposite directions changes it per MW [pu of its scale per MW]."""
        per_mw = self.sensitivity * (self.sign / self.scale)[:, None]
        return per_mw.max(axis=1, initial=0.0) - per_mw.min(axis=1, initial=0.0)

    def excess(self, shift: np.ndarray | float = 0.0) -> np.ndarray:
        """How far each constraint is beyond its limit [pu of its scale] (> 0: violated),
        after its value moved by ``shift`` [unit]."""
        return self.sign * (self.value + shift - self.limit) / self.scale

    def describe(self, c: int, shift: float = 0.0) -> str:
        """``line/5 loading 112 > 100`` for constraint ``c`` moved by ``shift``."""
        relation = ">" if self.sign[c] > 0 else "<"
        return f"{self.names[c]} {self.value[c] + shift:.4g} {relation} {self.limit[c]:.4g}"

    def block_columns(self, blocks: Sequence[Block]) -> np.ndarray:
        """``(n_constraints, n_blocks)``: change of each constraint per MW of each block, in
        the block's direction [unit/MW] (0 for participants without sensitivity)."""
        column = {name: i for i, name in enumerate(self.participants)}
        out = np.zeros((len(self.names), len(blocks)))
        for b, block in enumerate(blocks):
            i = column.get(block.participant)
            if i is not None:
                out[:, b] = self.sensitivity[:, i] * (1.0 if block.up else -1.0)
        return out


@dataclass(frozen=True)
class Action:
    """One move of the redispatch and why it was made.

    ``delta_mw`` is the change of the participant's injection [MW] (up
    positive), ``price`` the block's price [per MWh], ``reason`` the
    violated limits it was made for.
    """

    participant: str
    delta_mw: float
    price: float
    label: str
    reason: str


@dataclass(frozen=True)
class Redispatch:
    """Result of a redispatch.

    Attributes
    ----------
    delta_mw : dict of str to float
        Participant -> change of its award [MW] (sums to zero).
    used_mw : tuple of float
        MW used of each block, aligned with the blocks given.
    cost_per_h : float
        Σ over up blocks of price · MW − Σ over down blocks of price · MW
        [per h]: what the moves cost the operator per hour of delivery.
    actions : tuple of Action
        The moves, with their reasons.
    violated : tuple of str
        The limits violated before (described with their values).
    unresolved : tuple of str
        The limits still violated after, by the linear model.
    """

    delta_mw: dict[str, float]
    used_mw: tuple[float, ...]
    cost_per_h: float
    actions: tuple[Action, ...]
    violated: tuple[str, ...]
    unresolved: tuple[str, ...] = field(default_factory=tuple)


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
    from scipy.optimize import linprog

    n_b = len(blocks)
    excess = limits.excess()
    violated_ix = np.flatnonzero(excess > tol)
    violated = [limits.describe(int(c)) for c in violated_ix]
    if n_b == 0 or violated_ix.size == 0:
        return _result(blocks, limits, np.zeros(n_b), [], violated, tol)
    effect = limits.block_columns(blocks) * (limits.sign / limits.scale)[:, None]
    direction = np.array([1.0 if b.up else -1.0 for b in blocks])
    n_v = violated_ix.size
    rhs = -excess.copy()
    rhs[violated_ix] -= margin
    slack = np.zeros((len(limits.names), n_v))
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
    used = np.clip(solution.x[:n_b], 0.0, [b.quantity_mw for b in blocks])
    actions: list[Action] = []
    for b, (block, mw) in enumerate(zip(blocks, used)):
        if mw > _MW_EPS:
            helped = [limits.describe(int(c)) for c in violated_ix if effect[c, b] < -_RELIEF_EPS]
            reason = "for " + _few(helped) if helped else "balancing the moves for " + _few(violated)
            _add_action(actions, block, float(mw), reason)
    return _result(blocks, limits, used, actions, violated, tol)


def _few(items: list[str], most: int = 3) -> str:
    """The first ``most`` of ``items``, joined, and how many more."""
    return "; ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")


#: ``market.security.method`` -> rule
METHODS = {"merit_order": merit_order, "least_cost": least_cost}


def redispatch(method: str, blocks: Sequence[Block], limits: Limits, margin: float = 1e-3,
               tol: float = 1e-6) -> Redispatch:
    """Run the rule named ``method`` (a key of :data:`METHODS`)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return METHODS[method](blocks, limits, margin=margin, tol=tol)
