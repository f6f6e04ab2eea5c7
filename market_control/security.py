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

This module is the tier's face of the check: the problem's types are in
:mod:`market_control.security_model`, the rules in
:mod:`market_control.security_rules`, the blocks made of a clearing's
orders in :mod:`market_control.security_orders`.

Examples
--------
A line into an area with one load at its end (sensitivity −1 % per MW:
curtailing the load unloads the line) and the upstream grid at the slack
(sensitivity 0). The line is at 103 % of a 100 % limit; the load can be
curtailed at 150 per MWh, the upstream import lowered (saving 60):

>>> import numpy as np
>>> limits = Limits(("line/0 loading",), np.array([103.0]), np.array([100.0]), np.array([1.0]),
...                 np.array([100.0]), ("north/ka", "upstream"), np.array([[-1.0, 0.0]]))
>>> blocks = [Block("north/ka", 5.0, 150.0, up=True), Block("upstream", 20.0, 60.0, up=False)]
>>> r = merit_order(blocks, limits, margin=0.0)
>>> round(r.delta_mw["north/ka"], 6), round(r.delta_mw["upstream"], 6), round(r.cost_per_h, 6)
(3.0, -3.0, 270.0)
"""
from __future__ import annotations

from collections.abc import Sequence

from market_control.security_model import Action, Block, Limits, Redispatch
from market_control.security_rules import MIN_RELIEF_SHARE, least_cost, merit_order

__all__ = ["Block", "Limits", "Action", "Redispatch", "merit_order", "least_cost", "METHODS",
           "redispatch", "MIN_RELIEF_SHARE"]

#: ``market.security.method`` -> rule
METHODS = {"merit_order": merit_order, "least_cost": least_cost}


def redispatch(method: str, blocks: Sequence[Block], limits: Limits, margin: float = 1e-3,
               tol: float = 1e-6) -> Redispatch:
    """Run the rule named ``method`` (a key of :data:`METHODS`)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return METHODS[method](blocks, limits, margin=margin, tol=tol)
