"""Aggregation of an area's units into market orders, and back (pure functions).

Rules (DESIGN.md "Mechanisms are pure functions first"):

* a dispatchable unit offers ``offer_blocks`` equal blocks from ``p_min_mw``
  to ``p_max_mw``, each priced at its marginal cost ``b + 2·c·P`` at the
  block's upper end [per MWh]; its minimum output ``p_min_mw`` is one more
  block priced at the marginal cost there;
* a renewable group offers its forecast (persistence: the available power
  last reported; else the forecast service's :class:`~hierarchy.messages.Forecast`)
  at its ``offer_price`` (default 0);
* generation no group controls is offered at 0 (must-take);
* a flexible load group bids its demand at its ``bid_price``;
* the rest of the area's load (inflexible) bids at the price cap;
* a battery group whose ``bid_blocks`` > 0 offers discharge and bids charge
  blocks priced from its state of charge and a price band
  (:mod:`area_control.storage_bids`), in the per-interval stage only.

Participant names are ``<area>/<group>`` for a group and
``<area>/<group>/<unit>`` for a dispatchable unit, ``<area>/load`` and
``<area>/other_generation`` for what no group controls
(:func:`unit_participant`). The recorder meters the same participants
(plus ``<area>/other_storage``, the upstream grid and the losses) to
settle them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from area_control.storage_bids import battery_blocks, price_band
from hierarchy.messages import Award, Bid, Forecast, Offer, UnitGroupInfo, UnitStatus

__all__ = ["generator_blocks", "area_orders", "storage_orders", "dispatchable_setpoints",
           "unit_participant",
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
    forecast: Forecast | None = None,
    price_forecast: Sequence[float] | None = None,
    interval_h: float = 1.0,
    committed_mwh: dict[str, float] | None = None,
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
    forecast : Forecast, optional
        The forecast service's forecast of the interval: renewable groups,
        flexible load groups, the area's load and its other generation are
        bid from it instead of from the latest measurements (persistence).
    price_forecast : sequence of float, optional
        Prices the area expects around the interval [per MWh]: given,
        batteries with ``bid_blocks`` > 0 bid, their band taken from it
        (:func:`~area_control.storage_bids.price_band`); None: no battery bids.
    interval_h : float
        Length of the delivery interval [h] (battery blocks).
    committed_mwh : dict of str to float, optional
        Battery group id -> energy it will deliver before the interval
        starts by the positions it holds [MWh] (:func:`storage_orders`).

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
            available_mw = None if forecast is None else forecast.group_p_mw.get(group_id)
            offers.append(Offer(name, float(np.sum(status.p_max_mw)) if available_mw is None
                                else float(available_mw), info.offer_price))
        elif info.kind == "storage":
            if price_forecast is not None and info.storage is not None and info.storage.bid_blocks > 0:
                more_offers, more_bids = storage_orders(name, info, status, price_forecast, interval_h,
                                                        (committed_mwh or {}).get(group_id, 0.0))
                offers += more_offers
                bids += more_bids
        elif info.kind == "dispatchable":
            for k, unit in enumerate(info.unit_ids):
                for quantity, price in generator_blocks(
                    info.p_min_mw[k], info.p_max_mw[k], info.cost_b[k], info.cost_c[k],
                    info.offer_blocks,
                ):
                    offers.append(Offer(unit_participant(area, group_id, info.kind, unit), quantity, price))
        elif info.kind == "flexible_load":
            wanted_mw = None if forecast is None else forecast.group_p_mw.get(group_id)
            demand_mw = float(-np.sum(status.p_mw)) if wanted_mw is None else float(wanted_mw)
            flexible_mw += demand_mw
            bid_price = info.bid_price if math.isfinite(info.bid_price) else price_cap
            bids.append(Bid(name, demand_mw, bid_price))
    if forecast is not None:
        load_mw, other_generation_mw = forecast.load_mw, forecast.other_generation_mw
    inflexible_mw = max(load_mw - flexible_mw, 0.0)
    bids.append(Bid(f"{area}/{LOAD}", inflexible_mw, price_cap))
    if other_generation_mw > 0:
        offers.append(Offer(f"{area}/{OTHER_GENERATION}", other_generation_mw, 0.0))
    return (
        _stamp([o for o in offers if o.quantity_mw > 0], interval_start_ms, area, now_ms),
        _stamp([b for b in bids if b.quantity_mw > 0], interval_start_ms, area, now_ms),
    )


def storage_orders(name: str, info: UnitGroupInfo, status: UnitStatus, prices: Sequence[float],
                   interval_h: float, committed_mwh: float = 0.0) -> tuple[list[Offer], list[Bid]]:
    """Discharge offers and charge bids of a battery group (:func:`battery_blocks`).

    The group bids as one battery: its stored energy (reported, less what
    it has committed to deliver before the interval starts) over its
    capacity, the sum of its units' power limits (``p_min_mw`` < 0 for
    charging), capacity-weighted limits and efficiencies. The price band
    is that of ``prices`` [per MWh] (:func:`~area_control.storage_bids.price_band`),
    or the units' own ``price_charge``/``price_discharge`` where too few
    prices are known.

    Parameters
    ----------
    committed_mwh : float
        Energy the group will have delivered (charging: negative) between
        now and the interval's start, by the positions it holds [MWh].
    """
    storage = info.storage
    capacity_mwh = float(np.sum(storage.capacity_mwh))
    weights = storage.capacity_mwh / capacity_mwh if capacity_mwh > 0 else None
    if weights is None:
        return [], []
    eta_charge, eta_discharge = float(weights @ storage.eta_charge), float(weights @ storage.eta_discharge)
    drawn_mwh = committed_mwh / eta_discharge if committed_mwh > 0 else committed_mwh * eta_charge
    soc = (float(np.sum(status.energy_mwh)) - drawn_mwh) / capacity_mwh
    if not math.isfinite(soc):
        return [], []
    band = price_band(prices, float(np.mean(storage.price_charge)), float(np.mean(storage.price_discharge)))
    sells, buys = battery_blocks(soc, capacity_mwh, float(weights @ storage.soc_min),
                                 float(weights @ storage.soc_max), float(np.sum(info.p_max_mw)),
                                 eta_charge, eta_discharge, float(-np.sum(info.p_min_mw)), band,
                                 interval_h, storage.bid_blocks)
    return [Offer(name, q, p) for q, p in sells], [Bid(name, q, p) for q, p in buys]


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
