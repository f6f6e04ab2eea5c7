"""Market orders of a battery: discharge offers and charge bids priced by the value of stored energy.

A battery that bids (``bid_blocks > 0``) offers its discharge and bids its
charge for the next delivery interval in ``bid_blocks`` equal blocks each,
sized to what its power rating and state of charge allow over the interval.
Each block is priced from the price forecast (its low, median and high
price ``p_low``, ``p_mid``, ``p_high``) and the fill ``f = (s − s_min) /
(s_max − s_min)`` the battery would have after it:

    discharge offer:  (p_mid + (p_high − p_mid)·(1 − f)) / η_discharge      [per MWh]
    charge bid:       (p_low + (p_mid − p_low)·(1 − f)) · η_charge

the marginal value of stored energy ("water value") falling as the battery
fills: a full battery sells from the median price on and pays only the low
price to charge more, an empty one sells only at the high price and pays up
to the median to charge. Every discharge offer lies above ``p_mid/η_d`` and
every charge bid below ``p_mid·η_c``, so a battery trades with neither
itself nor another battery of the same forecast: batteries buy low and sell
high around the median, more eagerly the more room or energy they have.

References: the marginal value of stored energy ("water value") of
hydro-thermal scheduling, A. J. Wood, B. F. Wollenberg, G. B. Sheblé,
*Power Generation, Operation, and Control*, 3rd ed., Wiley, 2014 (hydro
scheduling chapter); battery bids priced from state of charge and a price
forecast: H. Mohsenian-Rad, "Optimal bidding, scheduling, and deployment of
battery systems in California day-ahead energy market", IEEE Trans. Power
Systems 31(1), 2016.

Examples
--------
>>> offers, bids = battery_blocks(0.5, 2.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, (20.0, 40.0, 60.0), 1.0, 2)
>>> offers
[(0.5, 55.0), (0.5, 60.0)]
>>> bids
[(0.5, 25.0), (0.5, 20.0)]
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["battery_blocks", "price_band", "fill_of", "PRICE_QUANTILES"]

#: quantiles of the price forecast taken as the low, median and high price
PRICE_QUANTILES = (0.1, 0.5, 0.9)
#: fewest known prices from which a band is taken from the forecast
MIN_PRICES = 4


def fill_of(soc_pu: float, soc_min: float, soc_max: float) -> float:
    """How full the battery is within its limits [pu]: 0 at ``soc_min``, 1 at ``soc_max``."""
    span = soc_max - soc_min
    return 0.5 if span <= 0 else min(max((soc_pu - soc_min) / span, 0.0), 1.0)


def battery_blocks(
    soc_pu: float,
    capacity_mwh: float,
    soc_min: float,
    soc_max: float,
    p_max_mw: float,
    eta_charge: float,
    eta_discharge: float,
    p_charge_max_mw: float,
    band: tuple[float, float, float],
    interval_h: float,
    n_blocks: int,
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Discharge offers and charge bids of one battery for one interval.

    Parameters
    ----------
    soc_pu : float
        State of charge now [pu of capacity].
    capacity_mwh : float
        Capacity [MWh] (> 0).
    soc_min, soc_max : float
        State-of-charge limits [pu].
    p_max_mw, p_charge_max_mw : float
        Discharge and charge power limits [MW] (>= 0).
    eta_charge, eta_discharge : float
        Efficiencies [pu] (0 < η <= 1).
    band : (float, float, float)
        Low, median and high price of the forecast [per MWh] (:func:`price_band`).
    interval_h : float
        Interval length [h].
    n_blocks : int
        Blocks per side.

    Returns
    -------
    (offers, bids)
        Lists of ``(quantity_mw, price_per_mwh)``: discharge offers in rising
        price order, charge bids in falling price order (zero blocks left out).
    """
    if n_blocks <= 0 or capacity_mwh <= 0 or interval_h <= 0:
        return [], []
    discharge_mw = min(p_max_mw, max(soc_pu - soc_min, 0.0) * capacity_mwh * eta_discharge / interval_h)
    charge_mw = min(p_charge_max_mw, max(soc_max - soc_pu, 0.0) * capacity_mwh / (eta_charge * interval_h))
    low, mid, high = band
    offers, bids = [], []
    for k in range(1, n_blocks + 1):
        if discharge_mw > 0:
            soc_after = soc_pu - k * discharge_mw / n_blocks * interval_h / (eta_discharge * capacity_mwh)
            empty = 1.0 - fill_of(soc_after, soc_min, soc_max)
            offers.append((discharge_mw / n_blocks, (mid + (high - mid) * empty) / eta_discharge))
        if charge_mw > 0:
            soc_after = soc_pu + k * charge_mw / n_blocks * interval_h * eta_charge / capacity_mwh
            empty = 1.0 - fill_of(soc_after, soc_min, soc_max)
            bids.append((charge_mw / n_blocks, (low + (mid - low) * empty) * eta_charge))
    return offers, bids


def price_band(prices: Iterable[float], fallback_low: float,
               fallback_high: float) -> tuple[float, float, float]:
    """Low, median and high price [per MWh] of a price forecast.

    The 10 %, 50 % and 90 % quantiles of the finite ``prices`` when there
    are at least :data:`MIN_PRICES` and they differ; else the fallback band
    (the battery's own ``price_charge`` and ``price_discharge``, and their
    mean).

    Examples
    --------
    >>> price_band([20, 20, 60, 60, 60], 50, 150)
    (20.0, 60.0, 60.0)
    >>> price_band([40], 50, 150)
    (50.0, 100.0, 150.0)
    """
    known = np.array([p for p in prices if math.isfinite(p)], dtype=float)
    if known.size >= MIN_PRICES:
        low, mid, high = np.quantile(known, PRICE_QUANTILES)
        if high > low:
            return float(low), float(mid), float(high)
    return float(fallback_low), 0.5 * (fallback_low + fallback_high), float(fallback_high)
