"""The redispatch problem and its answer: what may move, the limits linearised, the moves made.

:class:`Block` s are what the participants can be moved by (one per order,
:mod:`market_control.security_orders`), :class:`Limits` the limited
quantities of a schedule with their sensitivities to each participant's
injection; a rule (:mod:`market_control.security_rules`) returns a
:class:`Redispatch` of :class:`Action` s. Signs and units as in
:mod:`market_control.security`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Block", "Limits", "Action", "Redispatch"]


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
