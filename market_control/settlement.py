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
from dataclasses import dataclass
from typing import Mapping

__all__ = ["Settlement", "settle"]

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
    if isinstance(price, Mapping):
        if name not in price:
            raise ValueError(f"no price for participant {name!r}")
        return float(price[name])
    return float(price)
