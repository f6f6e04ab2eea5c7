"""Retail tariffs: the price a customer class pays, by hour of day and market price.

A tariff is a mapping, as written in the scenario's ``market.tariffs``:

* ``{kind: flat, price: 120}`` — one price [per MWh];
* ``{kind: tou, periods: [{from: "08:00", to: "20:00", price: 150}], otherwise: 90}``
  — time of use: a period holds from ``from`` (inclusive) to ``to``
  (exclusive) local clock time and may wrap midnight (``from: "22:00",
  to: "06:00"``); where periods overlap the first listed applies;
  ``otherwise`` applies outside all periods;
* ``{kind: rtp, factor: 1.0, adder: 20}`` — real-time pricing: clearing
  price × ``factor`` + ``adder`` [per MWh] (defaults 1 and 0).

Examples
--------
>>> import numpy as np
>>> tou = {"kind": "tou", "periods": [{"from": "08:00", "to": "20:00", "price": 150}], "otherwise": 90}
>>> retail_price_per_mwh(tou, np.array([7.99, 8.0, 19.99, 20.0]), 0.0)
array([ 90., 150., 150.,  90.])
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["KINDS", "validate_tariff", "retail_price_per_mwh", "retail_prices", "discounted_tariff"]

#: kind -> (required keys, optional keys)
KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "flat": (frozenset({"price"}), frozenset()),
    "tou": (frozenset({"periods", "otherwise"}), frozenset()),
    "rtp": (frozenset(), frozenset({"factor", "adder"})),
}
_PERIOD_KEYS = frozenset({"from", "to", "price"})


def validate_tariff(tariff: Mapping[str, Any], where: str = "tariff") -> None:
    """Check a tariff mapping; raise ValueError naming the bad key.

    Parameters
    ----------
    tariff : mapping
        The tariff, e.g. ``{"kind": "flat", "price": 120}``.
    where : str
        Key path used in messages (``market.tariffs.key_account``).

    Raises
    ------
    ValueError
        On a missing or unknown kind, a missing or unknown key, a price that
        is not a finite number, or a clock time not ``HH:MM`` in 00:00–24:00.
    """
    if not isinstance(tariff, Mapping):
        raise ValueError(f"{where}: must be a mapping with a 'kind', got {type(tariff).__name__}")
    kind = tariff.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}.kind: must be one of {', '.join(sorted(KINDS))}, got {kind!r}")
    required, optional = KINDS[kind]
    for key in sorted(required - set(tariff)):
        raise ValueError(f"{where}.{key}: missing (a {kind} tariff needs {', '.join(sorted(required))})")
    for key in sorted(set(tariff) - required - optional - {"kind"}):
        valid = ", ".join(sorted(required | optional | {"kind"}))
        raise ValueError(f"{where}.{key}: unknown key for a {kind} tariff (valid: {valid})")
    for key in sorted((required | optional) & set(tariff) - {"periods"}):
        _number(tariff[key], f"{where}.{key}")
    if kind == "tou":
        periods = tariff["periods"]
        if not isinstance(periods, (list, tuple)):
            raise ValueError(f"{where}.periods: must be a list of {{from, to, price}}")
        for k, period in enumerate(periods):
            _validate_period(period, f"{where}.periods[{k}]")


def _validate_period(period: Any, where: str) -> None:
    if not isinstance(period, Mapping):
        raise ValueError(f"{where}: must be a mapping with from, to, price")
    for key in sorted(_PERIOD_KEYS - set(period)):
        raise ValueError(f"{where}.{key}: missing")
    for key in sorted(set(period) - _PERIOD_KEYS):
        raise ValueError(f"{where}.{key}: unknown key (valid: from, price, to)")
    _number(period["price"], f"{where}.price")
    if _hours(period["from"], f"{where}.from") == _hours(period["to"], f"{where}.to"):
        raise ValueError(f"{where}.to: equals from; a period must not be empty")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"{where}: must be a finite number, got {value!r}")
    return float(value)


def _hours(clock: Any, where: str) -> float:
    """``"HH:MM"`` -> hours after midnight [h]."""
    try:
        hours, minutes = (int(part) for part in str(clock).split(":"))
    except ValueError:
        raise ValueError(f"{where}: must be a clock time HH:MM, got {clock!r}") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60 and hours * 60 + minutes <= 24 * 60):
        raise ValueError(f"{where}: must be between 00:00 and 24:00, got {clock!r}")
    return hours + minutes / 60.0


def retail_price_per_mwh(
    tariff: Mapping[str, Any], hour_of_day: np.ndarray, clearing_price: np.ndarray | float
) -> np.ndarray:
    """Retail price [per MWh] of ``tariff`` at each hour of day, vectorised.

    Parameters
    ----------
    tariff : mapping
        A tariff (see the module docstring); validated first.
    hour_of_day : ndarray
        Local clock time [h], in ``[0, 24)`` (13.5 is 13:30).
    clearing_price : ndarray or float
        Market clearing price [per MWh], broadcast against ``hour_of_day``
        (used by ``rtp`` only).

    Returns
    -------
    ndarray
        Retail price [per MWh], the broadcast shape of the inputs.
    """
    validate_tariff(tariff)
    hours = np.asarray(hour_of_day, dtype=float)
    market = np.asarray(clearing_price, dtype=float)
    shape = np.broadcast_shapes(hours.shape, market.shape)
    kind = tariff["kind"]
    if kind == "flat":
        return np.full(shape, float(tariff["price"]))
    if kind == "rtp":
        factor, adder = float(tariff.get("factor", 1.0)), float(tariff.get("adder", 0.0))
        return np.broadcast_to(market * factor + adder, shape).copy()
    price = np.full(shape, float(tariff["otherwise"]))
    assigned = np.zeros(shape, dtype=bool)
    hours = np.broadcast_to(hours, shape)
    for period in tariff["periods"]:
        start, end = _hours(period["from"], "from"), _hours(period["to"], "to")
        inside = (hours >= start) & (hours < end) if start < end else (hours >= start) | (hours < end)
        price[inside & ~assigned] = float(period["price"])
        assigned |= inside
    return price


def retail_prices(
    tariffs: Mapping[str, Mapping[str, Any]], hour_of_day: np.ndarray, clearing_price: np.ndarray | float
) -> dict[str, np.ndarray]:
    """Retail price [per MWh] of every customer class (``default``, ``key_account`` …).

    Raises
    ------
    ValueError
        Naming the class and key of the first invalid tariff.
    """
    for name, tariff in tariffs.items():
        validate_tariff(tariff, f"market.tariffs.{name}")
    return {name: retail_price_per_mwh(tariff, hour_of_day, clearing_price) for name, tariff in tariffs.items()}


def discounted_tariff(tariff: Mapping[str, Any], discount: float) -> dict[str, Any]:
    """The tariff with every price lowered by ``discount`` [pu] (an interruptible contract's).

    Every price of a flat or time-of-use tariff, and a real-time tariff's
    ``factor`` and ``adder``, times ``1 − discount``, so that the retail
    price is the undiscounted one times ``1 − discount`` at every hour and
    market price.

    Examples
    --------
    >>> discounted_tariff({"kind": "rtp", "factor": 1.0, "adder": 20.0}, 0.25)
    {'kind': 'rtp', 'factor': 0.75, 'adder': 15.0}
    """
    validate_tariff(tariff)
    keep = 1.0 - float(discount)
    out = dict(tariff)
    if tariff["kind"] == "flat":
        out["price"] = float(tariff["price"]) * keep
    elif tariff["kind"] == "tou":
        out["otherwise"] = float(tariff["otherwise"]) * keep
        out["periods"] = [{**period, "price": float(period["price"]) * keep} for period in tariff["periods"]]
    else:
        out["factor"] = float(tariff.get("factor", 1.0)) * keep
        out["adder"] = float(tariff.get("adder", 0.0)) * keep
    return out
