"""Settlement of one delivery interval: energy at the clearing price, deviations at the imbalance price.

Sign conventions (generation positive, money received positive):

* an award ``A`` [MW] is positive for a seller, negative for a buyer;
  metered output ``M`` [MW] likewise (a consumer's is negative);
* energy payment to the participant: ``A · price · interval_h``
  (a seller receives, a buyer pays);
* imbalance payment to the participant: ``(M − A) · imbalance_price ·
  interval_h`` (producing more or consuming less than awarded is paid,
  the reverse pays);
* the market operator's energy account receives ``−Σ energy payments``
  (zero at one uniform price with balanced awards; the congestion rent
  with zonal prices); the imbalance account receives ``−Σ imbalance
  payments``. Everything sums to zero.

Reference: D. S. Kirschen, G. Strbac, *Fundamentals of Power System
Economics*, 2nd ed., Wiley, 2018, §3.4 (settlement of imbalances).

Examples
--------
>>> s = settle({"pv": 2.0, "home": -2.0}, {"pv": 1.5, "home": -2.0}, 50.0, 80.0, 1.0)
>>> s.total["pv"], s.total["home"], s.imbalance_account
(60.0, -100.0, 40.0)
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Settlement", "settle", "settle_dual", "dual_imbalance_price", "interval_means"]

PriceInput = float | Mapping[str, float]


@dataclass(frozen=True)
class Settlement:
    """Money of one interval, received positive [currency].

    Attributes
    ----------
    energy, imbalance, total : dict of str to float
        Per participant: energy payment, imbalance payment and their sum.
    energy_account : float
        What the market operator keeps from energy trades (congestion rent).
    imbalance_account : float
        What the imbalance account keeps (``−Σ imbalance``).
    imbalance_mwh : float
        Net deviation of all participants, ``Σ (M − A) · interval_h`` [MWh];
        the system operator's balancing energy is its negative.
    """

    energy: dict[str, float]
    imbalance: dict[str, float]
    total: dict[str, float]
    energy_account: float
    imbalance_account: float
    imbalance_mwh: float

    @property
    def residual(self) -> float:
        """Sum of all payments and both accounts: zero if the books balance."""
        return sum(self.total.values()) + self.energy_account + self.imbalance_account


def settle(
    awards: Mapping[str, float],
    actual_mw: Mapping[str, float],
    price: PriceInput,
    imbalance_price: PriceInput,
    interval_h: float,
    tol: float = 1e-6,
) -> Settlement:
    """Settle awards against metered output for one interval.

    Parameters
    ----------
    awards : mapping of str to float
        Participant -> award [MW] (sellers positive, buyers negative).
    actual_mw : mapping of str to float
        Participant -> metered mean output [MW] over the interval, same sign
        convention; every awarded participant must be metered; a metered
        participant without award deviates by all its output.
    price, imbalance_price : float or mapping of str to float
        Clearing and imbalance prices [per MWh], one number or per
        participant (zonal prices).
    interval_h : float
        Interval length [h].
    tol : float
        Tolerance of the balance check [currency].

    Returns
    -------
    Settlement
        Payments (received positive) and accounts.

    Raises
    ------
    ValueError
        If an awarded participant is not metered, a price is missing, or
        the books do not balance within ``tol``.
    """
    missing = sorted(set(awards) - set(actual_mw))
    if missing:
        raise ValueError(f"no metered output for awarded participants: {missing}")
    names = list(awards) + [name for name in actual_mw if name not in awards]
    energy = {name: awards.get(name, 0.0) * _price(price, name) * interval_h for name in names}
    imbalance = {
        name: (actual_mw[name] - awards.get(name, 0.0)) * _price(imbalance_price, name) * interval_h for name in names
    }
    total = {name: energy[name] + imbalance[name] for name in names}
    result = Settlement(
        energy=energy,
        imbalance=imbalance,
        total=total,
        energy_account=-math.fsum(energy.values()),
        imbalance_account=-math.fsum(imbalance.values()),
        imbalance_mwh=math.fsum(actual_mw[name] - awards.get(name, 0.0) for name in names) * interval_h,
    )
    if abs(result.residual) > tol:
        raise ValueError(f"settlement does not balance: residual {result.residual}")
    return result


def _price(price: PriceInput, name: str) -> float:
    if type(price) is dict or isinstance(price, Mapping):  # (exact dict first: the fast check)
        if name not in price:
            raise ValueError(f"no price for participant {name!r}")
        return float(price[name])
    return float(price)


def dual_imbalance_price(price: float, deviation_mw: float, penalty_per_mwh: float) -> float:
    """Imbalance price [per MWh] of one participant under dual pricing.

    A participant short of its award (``deviation_mw = M − A < 0``) buys the
    missing energy at ``price + penalty``; one long (``> 0``) sells its
    surplus at ``price − penalty``; an exact one settles at ``price``. With
    ``penalty = 0`` this is single pricing at the clearing price. Dual
    pricing makes deviating cost money whichever way, as in the British
    balancing mechanism before 2015 (Kirschen & Strbac, §3.4.3).

    Examples
    --------
    >>> dual_imbalance_price(50.0, -1.0, 10.0), dual_imbalance_price(50.0, 2.0, 10.0)
    (60.0, 40.0)
    """
    if deviation_mw < 0:
        return float(price) + float(penalty_per_mwh)
    if deviation_mw > 0:
        return float(price) - float(penalty_per_mwh)
    return float(price)


def settle_dual(
    awards: Mapping[str, float],
    actual_mw: Mapping[str, float],
    price: Mapping[str, float],
    penalty_per_mwh: float,
    interval_h: float,
) -> Settlement:
    """Settle one interval with dual imbalance prices (:func:`dual_imbalance_price`).

    Parameters
    ----------
    awards, actual_mw : mapping of str to float
        Participant -> award and metered mean output [MW] (generation positive).
    price : mapping of str to float
        Participant -> clearing price of its area [per MWh]; needed for
        every awarded or metered participant.
    penalty_per_mwh : float
        Imbalance penalty [per MWh], >= 0.
    interval_h : float
        Interval length [h].

    Returns
    -------
    Settlement
        With Σ deviations = 0 (metering that balances, the losses metered
        as a participant) and one price, the imbalance account keeps
        ``penalty · Σ|M − A| · interval_h``.

    Examples
    --------
    >>> s = settle_dual({"pv": 2.0, "home": -2.0}, {"pv": 1.5, "home": -1.5}, {"pv": 50.0, "home": 50.0}, 10.0, 1.0)
    >>> s.imbalance["pv"], s.imbalance["home"], s.imbalance_account
    (-30.0, 20.0, 10.0)
    """
    if penalty_per_mwh < 0:
        raise ValueError(f"penalty_per_mwh must be >= 0, got {penalty_per_mwh}")
    imbalance_price = {
        name: dual_imbalance_price(_price(price, name), actual_mw[name] - awards.get(name, 0.0), penalty_per_mwh)
        for name in actual_mw
    }
    return settle(awards, actual_mw, price, imbalance_price, interval_h)


def interval_means(p_mw, steps_done: int, step_ms: int, starts_ms, interval_ms: int) -> list:
    """Time-weighted mean of per-step rows over each complete delivery interval.

    Parameters
    ----------
    p_mw : ndarray
        (n_steps, n_columns) values [MW]; step ``k``'s state holds over
        ``[k·step_ms, (k+1)·step_ms)``.
    steps_done : int
        Rows computed so far; an interval reaching beyond them is skipped.
    step_ms, interval_ms : int
        Step and interval length [ms].
    starts_ms : sequence of int
        Interval starts [ms].

    Returns
    -------
    list of (int, ndarray)
        (position in ``starts_ms``, mean row [MW]) for every complete interval.

    Examples
    --------
    >>> interval_means(np.array([[1.0], [3.0], [5.0]]), 3, 30, [0, 45], 60)
    [(0, array([2.]))]
    """
    out = []
    for i, start in enumerate(starts_ms):
        first, last = start // step_ms, (start + interval_ms - 1) // step_ms
        if last >= steps_done:
            continue
        ks = np.arange(first, last + 1)
        weights = np.minimum((ks + 1) * step_ms, start + interval_ms) - np.maximum(ks * step_ms, start)
        out.append((i, weights @ np.asarray(p_mw)[ks] / weights.sum()))
    return out
