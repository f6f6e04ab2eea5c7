"""Aggregation of an area's units into market orders, and back (pure functions).

Rules (DESIGN.md "Mechanisms are pure functions first"):

* a dispatchable unit offers ``offer_blocks`` equal blocks from ``p_min_mw``
  to ``p_max_mw``, each priced at its marginal cost ``b + 2·c·P`` at the
  block's upper end [per MWh]; its minimum output ``p_min_mw`` is one more
  block priced at the marginal cost there;
* a renewable group offers its forecast (persistence: the available power
  last reported) at its ``offer_price`` (default 0);
* generation no group controls is offered at 0 (must-take);
* a flexible load group bids its demand at its ``bid_price``;
* the rest of the area's load (inflexible) bids at the price cap.

Participant names are ``<area>/<group>`` for a group and
``<area>/<group>/<unit>`` for a dispatchable unit, ``<area>/load`` and
``<area>/other_generation`` for what no group controls
(:func:`unit_participant`). The recorder meters the same participants
(plus ``<area>/other_storage``, the upstream grid and the losses) to
settle them.
"""
from __future__ import annotations

import math

import numpy as np

from hierarchy.messages import Award, Bid, Offer, UnitGroupInfo, UnitStatus

__all__ = ["generator_blocks", "area_orders", "dispatchable_setpoints", "unit_participant",
           "LOAD", "OTHER_GENERATION", "OTHER_STORAGE"]

#: participant suffixes of what no unit group controls in an area
LOAD = "load"
OTHER_GENERATION = "other_generation"
OTHER_STORAGE = "other_storage"


def unit_participant(area: str, group: str, kind: str, unit: str) -> str:
    """Market participant that a unit's output is offered and settled under.

    Examples
    --------
    >>> unit_participant("north", "chp", "dispatchable", "sgen/10"), unit_participant("north", "pv", "renewable", "sgen/3")
    ('north/chp/sgen/10', 'north/pv')
    """
    return f"{area}/{group}/{unit}" if kind == "dispatchable" else f"{area}/{group}"


def generator_blocks(
    p_min_mw: float, p_max_mw: float, cost_b: float, cost_c: float, n_blocks: int
) -> list[tuple[float, float]]:
    """Offer blocks of one dispatchable unit.

    Parameters
    ----------
    p_min_mw, p_max_mw : float
        Output range [MW].
    cost_b, cost_c : float
        Cost coefficients of ``a + b·P + c·P²`` [per MWh], [per MW²h].
    n_blocks : int
        Number of equal blocks between ``p_min_mw`` and ``p_max_mw``.

    Returns
    -------
    list of (quantity_mw, price_per_mwh)
        Blocks in merit order; the first is ``p_min_mw`` itself if > 0.

    Examples
    --------
    >>> generator_blocks(1.0, 3.0, 20.0, 5.0, 2)
    [(1.0, 30.0), (1.0, 40.0), (1.0, 50.0)]
    """
    blocks: list[tuple[float, float]] = []
    if p_min_mw > 0:
        blocks.append((float(p_min_mw), float(cost_b + 2 * cost_c * p_min_mw)))
    size_mw = (p_max_mw - p_min_mw) / n_blocks
    for k in range(1, n_blocks + 1):
        upper_mw = p_min_mw + k * size_mw
        blocks.append((float(size_mw), float(cost_b + 2 * cost_c * upper_mw)))
    return [block for block in blocks if block[0] > 0]


def _stamp(items, interval_start_ms: int, area: str, now_ms: int):
    return [
        type(item)(item.participant, item.quantity_mw, item.price, interval_start_ms, area, now_ms)
        for item in items
    ]


def area_orders(
    area: str,
    groups: dict[str, UnitGroupInfo],
    statuses: dict[str, UnitStatus],
    load_mw: float,
    other_generation_mw: float,
    price_cap: float,
    interval_start_ms: int,
    now_ms: int,
) -> tuple[list[Offer], list[Bid]]:
    """Offers and bids of an area for one delivery interval.

    Parameters
    ----------
    area : str
        Area id.
    groups : dict
        Group id → :class:`UnitGroupInfo` of the area's unit groups.
    statuses : dict
        Group id → latest :class:`UnitStatus` (forecast by persistence).
    load_mw : float
        Latest measured consumption of the whole area [MW] (>= 0).
    other_generation_mw : float
        Latest measured output of generation no group controls [MW].
    price_cap : float
        Bid price of inflexible load [per MWh].
    interval_start_ms, now_ms : int
        Delivery interval start and sending time [ms].

    Returns
    -------
    (offers, bids)
    """
    offers: list[Offer] = []
    bids: list[Bid] = []
    flexible_mw = 0.0
    for group_id, info in groups.items():
        status = statuses.get(group_id)
        if status is None:
            continue
        name = f"{area}/{group_id}"
        if info.kind == "renewable":
            offers.append(Offer(name, float(np.sum(status.p_max_mw)), info.offer_price))
        elif info.kind == "dispatchable":
            for k, unit in enumerate(info.unit_ids):
                for quantity, price in generator_blocks(
                    info.p_min_mw[k], info.p_max_mw[k], info.cost_b[k], info.cost_c[k],
                    info.offer_blocks,
                ):
                    offers.append(Offer(unit_participant(area, group_id, info.kind, unit), quantity, price))
        elif info.kind == "flexible_load":
            demand_mw = float(-np.sum(status.p_mw))
            flexible_mw += demand_mw
            bid_price = info.bid_price if math.isfinite(info.bid_price) else price_cap
            bids.append(Bid(name, demand_mw, bid_price))
    inflexible_mw = max(load_mw - flexible_mw, 0.0)
    bids.append(Bid(f"{area}/{LOAD}", inflexible_mw, price_cap))
    if other_generation_mw > 0:
        offers.append(Offer(f"{area}/{OTHER_GENERATION}", other_generation_mw, 0.0))
    return (
        _stamp([o for o in offers if o.quantity_mw > 0], interval_start_ms, area, now_ms),
        _stamp([b for b in bids if b.quantity_mw > 0], interval_start_ms, area, now_ms),
    )


def dispatchable_setpoints(
    area: str, info: UnitGroupInfo, awards: dict[str, Award]
) -> np.ndarray:
    """Setpoints [MW] of a dispatchable group's units from their awards.

    A unit with no award gets 0 (the policy holds it within its limits).
    """
    names = [unit_participant(area, info.group, "dispatchable", unit) for unit in info.unit_ids]
    return np.array([awards[name].quantity_mw if name in awards else 0.0 for name in names])


def share(
    total_mw: float, p_min_mw: np.ndarray, p_max_mw: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Split ``total_mw`` over units in proportion to ``weights``, within limits.

    Units that hit a limit are held there and the rest is shared again among
    the others (water filling), so the result sums to ``total_mw`` clipped to
    ``[Σ p_min, Σ p_max]``.

    Parameters
    ----------
    total_mw : float
        Total to share [MW].
    p_min_mw, p_max_mw : ndarray
        Limits per unit [MW].
    weights : ndarray
        Participation factors (>= 0; all zero means equal shares).

    Returns
    -------
    ndarray
        Share per unit [MW].

    Examples
    --------
    >>> share(10.0, np.zeros(2), np.array([3.0, 20.0]), np.array([1.0, 1.0])).tolist()
    [3.0, 7.0]
    """
    p_min_mw = np.asarray(p_min_mw, dtype=float)
    p_max_mw = np.asarray(p_max_mw, dtype=float)
    n = p_min_mw.size
    if n == 0:
        return np.zeros(0)
    if n == 1:  # one unit takes it all, within its limits
        return np.array([min(max(float(total_mw), float(p_min_mw[0])), float(p_max_mw[0]))])
    weights = np.asarray(weights, dtype=float).copy()
    if not np.any(weights > 0):
        weights = np.ones(n)
    total_mw = float(np.clip(total_mw, p_min_mw.sum(), p_max_mw.sum()))
    result = np.zeros(n)
    free = np.ones(n, dtype=bool)
    for _ in range(n + 1):
        remaining = total_mw - result[~free].sum()
        w = np.where(free, weights, 0.0)
        if w.sum() <= 0:
            w = free.astype(float)
        trial = remaining * w / w.sum()
        clipped = np.clip(trial, p_min_mw, p_max_mw)
        result[free] = clipped[free]
        hit = free & (clipped != trial)
        if not hit.any():
            break
        free &= ~hit
        if not free.any():
            break
    return result
