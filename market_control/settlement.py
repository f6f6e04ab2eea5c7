"""Settlement of one delivery interval: energy at the clearing price, deviations at the imbalance price.

With a day-ahead stage it is a two-settlement system: the day-ahead award
``A_DA`` is paid at the day-ahead price, the change of position in the
per-interval (real-time) stage at the real-time price, and the deviation of
metering from the final position at the imbalance price.

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

Two settlements (a :class:`DayAhead` position given): the day-ahead payment
``A_DA · p_DA · interval_h``, the real-time payment ``(A − A_DA) · price ·
interval_h`` (``A`` the whole real-time position), or, for continuous
trading, the value of the interval's trades (each at its own price); the
imbalance payment as above against ``A``. The day-ahead account receives
``−Σ day-ahead payments``.

Reference: D. S. Kirschen, G. Strbac, *Fundamentals of Power System
Economics*, 2nd ed., Wiley, 2018, §3.4 (settlement of imbalances); the
two-settlement system of US markets (day-ahead and balancing settlements):
PJM, *Manual 28: Operating Agreement Accounting*, spot market energy
accounting.

Examples
--------
>>> s = settle({"pv": 2.0, "home": -2.0}, {"pv": 1.5, "home": -2.0}, 50.0, 80.0, 1.0)
>>> s.total["pv"], s.total["home"], s.imbalance_account
(60.0, -100.0, 40.0)
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Settlement", "DayAhead", "settle", "settle_dual", "dual_imbalance_price",
           "interval_means"]

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
    day_ahead : dict of str to float
        Per participant: day-ahead payment (empty without a day-ahead stage);
        ``total`` includes it.
    day_ahead_account : float
        What the market operator keeps from day-ahead trades.
    """

    energy: dict[str, float]
    imbalance: dict[str, float]
    total: dict[str, float]
    energy_account: float
    imbalance_account: float
    imbalance_mwh: float
    day_ahead: dict[str, float] = field(default_factory=dict)
    day_ahead_account: float = 0.0

    @property
    def residual(self) -> float:
        """Sum of all payments and the accounts: zero if the books balance."""
        return (sum(self.total.values()) + self.energy_account + self.imbalance_account
                + self.day_ahead_account)


@dataclass(frozen=True)
class DayAhead:
    """A day-ahead position for one interval: awards [MW] and their price [per MWh].

    ``price`` is one number or a mapping participant -> price (zonal prices).
    """

    awards: Mapping[str, float]
    price: float | Mapping[str, float]


def settle(
    awards: Mapping[str, float],
    actual_mw: Mapping[str, float],
    price: PriceInput,
    imbalance_price: PriceInput,
    interval_h: float,
    tol: float = 1e-6,
    day_ahead: DayAhead | None = None,
    traded_value_per_h: Mapping[str, float] | None = None,
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
    day_ahead : DayAhead, optional
        The day-ahead position of the interval: then ``awards`` is the
        whole real-time position and the real-time stage pays
        ``(A − A_DA)·price`` (two settlements).
    traded_value_per_h : mapping of str to float, optional
        Continuous trading: the real-time stage pays each participant the
        value of its trades [currency per h] instead (a participant not in
        it traded nothing).

    Returns
    -------
    Settlement
        Payments (received positive) and accounts.

    Raises
    ------
    ValueError
        If an awarded participant is not metered, a price is missing, or
        the books do not balance within ``tol``.

    Examples
    --------
    Day-ahead 2 MW at 40, real-time position 1.5 MW at 60, metered 1 MW,
    imbalance at 80, one hour: 80 − 30 − 40 = 10 received.

    >>> s = settle({"pv": 1.5, "up": -1.5}, {"pv": 1.0, "up": -1.0}, 60.0, 80.0, 1.0,
    ...            day_ahead=DayAhead({"pv": 2.0, "up": -2.0}, 40.0))
    >>> s.day_ahead["pv"], s.energy["pv"], s.imbalance["pv"], s.total["pv"]
    (80.0, -30.0, -40.0, 10.0)
    """
    missing = sorted(set(awards) - set(actual_mw))
    if missing:
        raise ValueError(f"no metered output for awarded participants: {missing}")
    names = list(awards) + [name for name in actual_mw if name not in awards]
    if day_ahead is not None:
        names += [name for name in day_ahead.awards if name not in awards and name not in actual_mw]
        missing = sorted(set(day_ahead.awards) - set(actual_mw))
        if missing:
            raise ValueError(f"no metered output for participants with day-ahead awards: {missing}")
    if traded_value_per_h is not None:
        energy = {name: traded_value_per_h.get(name, 0.0) * interval_h for name in names}
    elif day_ahead is not None:
        energy = {name: (awards.get(name, 0.0) - day_ahead.awards.get(name, 0.0)) * _price(price, name)
                  * interval_h for name in names}
    else:
        energy = {name: awards.get(name, 0.0) * _price(price, name) * interval_h for name in names}
    forward = {} if day_ahead is None else {
        name: day_ahead.awards.get(name, 0.0) * _price(day_ahead.price, name) * interval_h
        for name in names}
    imbalance = {
        name: (actual_mw[name] - awards.get(name, 0.0)) * _price(imbalance_price, name) * interval_h for name in names
    }
    total = {name: energy[name] + imbalance[name] for name in names}
    if forward:
        total = {name: total[name] + forward[name] for name in names}
    result = Settlement(
        energy=energy,
        imbalance=imbalance,
        total=total,
        energy_account=-math.fsum(energy.values()),
        imbalance_account=-math.fsum(imbalance.values()),
        imbalance_mwh=math.fsum(actual_mw[name] - awards.get(name, 0.0) for name in names) * interval_h,
        day_ahead=forward,
        day_ahead_account=-math.fsum(forward.values()),
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
    day_ahead: DayAhead | None = None,
    traded_value_per_h: Mapping[str, float] | None = None,
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
    day_ahead, traded_value_per_h :
        Two settlements, as :func:`settle`.

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
    return settle(awards, actual_mw, price, imbalance_price, interval_h, day_ahead=day_ahead,
                  traded_value_per_h=traded_value_per_h)


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
