"""Service levels of customer classes (key accounts): priority and interruptible contracts.

Each customer class (the tariff classes of ``market.tariffs``) may have a
service level (``market.customer_classes``):

* ``priority`` — the order of involuntary load shedding, lowest first:
  in the security check's curtailment beyond what contracts allow (a
  curtailment block of tier ``1 + priority``, see
  :class:`market_control.security.Block`) and in under-frequency load
  shedding (a stage sheds the loads of lowest priority first);
* an ``interruptible`` contract — the customer accepts interruptions of
  its consumption by the operator, at most ``max_interruptions`` per
  ``period`` and each at most ``max_duration``, for a ``discount`` on its
  tariff, and is paid ``price`` per MWh not taken (at least the market
  price, see :func:`market_control.security.blocks_from_orders`). Within
  those bounds its curtailment is a priced move (tier 0), used before any
  involuntary shedding; beyond them it is firm again.

Interruptible load contracts of this kind are offered to large customers
by utilities and system operators as a demand-side reserve; see Kirschen &
Strbac, *Fundamentals of Power System Economics*, 2nd ed., 2018, ch. 5
(the demand side in system security), and R. Billinton, R. N. Allan,
*Reliability Evaluation of Power Systems*, 2nd ed., Plenum, 1996, ch. 5
(interruptible loads in operating reserve).

Examples
--------
>>> level = ServiceLevel(priority=0, interruptible=True, max_interruptions=1, max_duration_ms=7_200_000)
>>> ledger = InterruptionLedger(3_600_000)
>>> [ledger.allows("ka", level, t) for t in (0, 3_600_000)]
[True, True]
>>> ledger.record("ka", level, 0, True), ledger.record("ka", level, 3_600_000, True)
('interruption 1 of 1 starts', 'interruption 1 of 1 continues (2 h)')
>>> ledger.allows("ka", level, 7_200_000), ledger.record("ka", level, 7_200_000, False)
(False, 'interruption 1 of 1 ends after 2 h')
>>> ledger.allows("ka", level, 10_800_000)  # its one interruption is used
False
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ServiceLevel", "InterruptionLedger", "curtailment_tier", "redispatch_payments"]


@dataclass(frozen=True)
class ServiceLevel:
    """The service level of one customer class.

    Attributes
    ----------
    priority : int
        Shedding order, lowest first (>= 0).
    interruptible : bool
        Whether the class has an interruptible contract.
    discount : float
        Reduction of its tariff under the contract [pu of the price].
    interruption_price : float
        Paid per MWh of consumption interrupted [per MWh].
    max_interruptions : int or None
        Interruptions allowed per ``period_ms`` (None: no limit).
    max_duration_ms : int or None
        Longest interruption [ms] (None: no limit).
    period_ms : int or None
        Period over which interruptions are counted [ms] from the start of
        the run (None: the whole run).
    """

    priority: int = 1
    interruptible: bool = False
    discount: float = 0.0
    interruption_price: float = 0.0
    max_interruptions: int | None = None
    max_duration_ms: int | None = None
    period_ms: int | None = None


def curtailment_tier(level: ServiceLevel) -> int:
    """Tier of an involuntary curtailment of a class (``1 + priority``): lower is shed first."""
    return 1 + int(level.priority)


class InterruptionLedger:
    """Counts the interruptions of interruptible contracts, interval by interval.

    An interruption is a run of consecutive delivery intervals in which a
    participant's consumption was curtailed under its contract; it counts
    in the period (``ServiceLevel.period_ms``) in which it starts.

    Parameters
    ----------
    interval_ms : int
        Length of a delivery interval [ms].
    """

    def __init__(self, interval_ms: int):
        self.interval_ms = int(interval_ms)
        self._run: dict[str, tuple[int, int]] = {}  # participant -> (first, last interval start) [ms]
        self._count: dict[tuple[str, int], int] = {}  # (participant, period) -> interruptions
        self.total: dict[str, int] = {}  # participant -> interruptions over the run

    def _period(self, level: ServiceLevel, start_ms: int) -> int:
        return 0 if not level.period_ms else int(start_ms // level.period_ms)

    def _ongoing(self, participant: str, start_ms: int) -> tuple[int, int] | None:
        run = self._run.get(participant)
        return run if run is not None and run[1] == start_ms - self.interval_ms else None

    def allows(self, participant: str, level: ServiceLevel, start_ms: int) -> bool:
        """Whether the contract allows curtailing ``participant`` in the interval at ``start_ms`` [ms]."""
        if not level.interruptible:
            return False
        run = self._ongoing(participant, start_ms)
        first_ms = run[0] if run is not None else start_ms
        if level.max_duration_ms is not None and start_ms + self.interval_ms - first_ms > level.max_duration_ms:
            return False
        if run is None and level.max_interruptions is not None:
            return self._count.get((participant, self._period(level, start_ms)), 0) < level.max_interruptions
        return True

    def record(self, participant: str, level: ServiceLevel, start_ms: int, curtailed: bool) -> str | None:
        """Book the interval at ``start_ms`` [ms]; a description where an interruption starts,
        continues or ends, else None."""
        run = self._ongoing(participant, start_ms)
        limit = "" if level.max_interruptions is None else f" of {level.max_interruptions}"
        key = (participant, self._period(level, run[0] if run is not None else start_ms))
        if curtailed:
            if run is None:
                self._count[key] = self._count.get(key, 0) + 1
                self.total[participant] = self.total.get(participant, 0) + 1
                self._run[participant] = (start_ms, start_ms)
                return f"interruption {self._count[key]}{limit} starts"
            self._run[participant] = (run[0], start_ms)
            hours = (start_ms + self.interval_ms - run[0]) / 3_600_000
            return f"interruption {self._count[key]}{limit} continues ({hours:g} h)"
        if run is not None:
            del self._run[participant]
            hours = (start_ms - run[0]) / 3_600_000
            return f"interruption {self._count[key]}{limit} ends after {hours:g} h"
        return None


def redispatch_payments(used: list[tuple[Any, float]], price_of: Mapping[str, float],
                        interval_h: float) -> dict[str, float]:
    """What each re-dispatched participant receives for its moves [currency].

    Parameters
    ----------
    used : list of (Block, float)
        Blocks and the MW used of each.
    price_of : mapping of str to float
        Participant -> clearing price of its area [per MWh].
    interval_h : float
        Interval length [h].

    Returns
    -------
    dict of str to float
        ``Σ Δ · (p_block − λ) · interval_h`` per participant, ``Δ`` the
        signed move [MW]. Settled on top of the award *after* the redispatch
        at the clearing price ``λ``, it makes the participant's total
        ``(A_market·λ + Σ Δ·p_block)·interval_h``: the market award at the
        market price and each move at its own price (pay as bid). Since an
        up block's price is at least ``λ`` and a down block's at most, every
        amount is >= 0. The operator's redispatch account pays their sum.

    Examples
    --------
    >>> from market_control.security import Block
    >>> redispatch_payments([(Block("ka", 2.0, 150.0, True), 2.0), (Block("upstream", 9.0, 60.0, False), 2.0)],
    ...                     {"ka": 100.0, "upstream": 100.0}, 1.0)
    {'ka': 100.0, 'upstream': 80.0}
    """
    money: dict[str, float] = {}
    for block, mw in used:
        if mw <= 0:
            continue
        signed = mw if block.up else -mw
        amount = signed * (block.price - float(price_of[block.participant])) * interval_h
        money[block.participant] = money.get(block.participant, 0.0) + amount
    return money
