"""Flexible load: constant-elasticity price response and shedding.

``obs.p_avail_mw`` is the load's demand from its profile (consumption
negative). The load consumes

    c = |demand| · clip((price / bid_price)^elasticity, 0, max_factor)

where ``price = obs.price_per_mwh`` is the retail price it faces: its
demand curve passes through the profile demand at its ``bid_price`` (the
price it bids in the market), with constant price elasticity
``elasticity`` (<= 0; 0 = inflexible). No price (NaN) means the profile
demand; a price <= 0 gives ``max_factor``. At or above ``shed_price`` the
load sheds its sheddable share ``shed_fraction``. A setpoint
``obs.p_set_mw`` (negative, the consumption the area allows) caps the
consumption, but never below the non-sheddable part
``|demand|·(1 − shed_fraction)``. Q follows P at the profile's power
factor.

Parameters (``defaults``): ``rating_mw`` (None), ``h_s`` (0),
``bid_price`` (100 per MWh), ``elasticity`` (−0.1), ``shed_price`` (None:
never on price), ``shed_fraction`` (1.0), ``max_factor`` (1.5),
``customer_class`` (``"default"``, the tariff it faces; read by the
market tier, unused here).

Energy not served: the price response (and shedding at the load's own
``shed_price``) is voluntary demand response and lowers the load, not the
service. Where the area sends a setpoint that caps the load below what it
wants at its price (:meth:`FlexibleLoad.wanted_consumption_mw`), the
shortfall is shedding by the area and the recorder counts it in
``not_served_mw``.

References
----------
.. [1] D. S. Kirschen, G. Strbac, *Fundamentals of Power System Economics*,
   Wiley, 2004, sec. 2.3 (price elasticity of demand).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from unit_control import laws
from unit_control.base import Capability, Command, Observation, UnitPolicy, voltage_blind

__all__ = ["FlexibleLoad", "price_response_factor"]


def price_response_factor(price_per_mwh: np.ndarray, reference_price_per_mwh: np.ndarray,
                          elasticity: np.ndarray, max_factor: np.ndarray) -> np.ndarray:
    """Demand multiplier of a constant-elasticity load [pu of profile demand].

    ``(price/reference)^elasticity`` clipped to ``[0, max_factor]``; NaN
    price → 1, price <= 0 → ``max_factor``.

    Examples
    --------
    >>> price_response_factor(np.array([200.0, np.nan]), 100.0, -1.0, 1.5).tolist()
    [0.5, 1.0]
    """
    price = np.asarray(price_per_mwh, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(price > 0, price, 1.0) / reference_price_per_mwh
        factor = np.where(price > 0, np.clip(ratio ** elasticity, 0.0, max_factor), max_factor)
    return np.where(np.isnan(price), 1.0, factor)


class FlexibleLoad(UnitPolicy):
    """Price-responsive, sheddable load group (consumption negative).

    Examples
    --------
    >>> from unit_control.conformance import make_observation
    >>> load = FlexibleLoad(np.array([2.0]), {**FlexibleLoad.defaults, "elasticity": -0.5})
    >>> load.step(make_observation(1, p_avail_mw=-1.0, price_per_mwh=400.0)).p_mw.tolist()
    [-0.5]
    """

    name: ClassVar[str] = "flexible_load"
    tables: ClassVar[tuple[str, ...]] = ("load",)
    defaults: ClassVar[Mapping[str, Any]] = {
        "rating_mw": None, "h_s": 0.0, "bid_price": 100.0, "elasticity": -0.1, "shed_price": None,
        "shed_fraction": 1.0, "max_factor": 1.5, "customer_class": "default",
    }

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        n = self.n_units

        def value(key: str, fallback: Any = None) -> np.ndarray:
            raw = params.get(key)
            return laws.per_unit(fallback if raw is None else raw, n, key)

        self.h_s = value("h_s", 0.0)
        self.bid_price = value("bid_price")
        self.elasticity = value("elasticity")
        self.shed_price = value("shed_price", np.inf)
        self.shed_fraction = value("shed_fraction")
        self.max_factor = value("max_factor")
        self.customer_class = str(params.get("customer_class", "default"))
        checks = {"bid_price": self.bid_price > 0, "elasticity": self.elasticity <= 0,
                  "shed_fraction": (self.shed_fraction >= 0) & (self.shed_fraction <= 1),
                  "max_factor": self.max_factor >= 1, "h_s": self.h_s >= 0,
                  "shed_price": ~np.isnan(self.shed_price)}
        for key, ok in checks.items():
            if not np.all(ok):
                raise ValueError(f"{key}: {getattr(self, key)[~ok].tolist()} is out of range")

    def wanted_consumption_mw(self, obs: Observation) -> np.ndarray:
        """What each load consumes by its own choice at its price, without the area's cap [MW] (>= 0).

        The price response, including shedding at or above ``shed_price``;
        the profile demand where no price is known. The recorder counts
        consumption below this, where the area asked it (a setpoint), as
        energy not served.
        """
        demand_mw = np.minimum(np.asarray(obs.p_avail_mw, dtype=float), 0.0)
        price = np.asarray(obs.price_per_mwh, dtype=float)
        factor = price_response_factor(price, self.bid_price, self.elasticity, self.max_factor)
        factor = np.where(price >= self.shed_price, factor * (1.0 - self.shed_fraction), factor)
        return -demand_mw * factor

    @voltage_blind
    def step(self, obs: Observation) -> Command:
        """Consumption [MW] (negative) and Q [Mvar] at the profile's power factor."""
        demand_mw = np.minimum(np.asarray(obs.p_avail_mw, dtype=float), 0.0)
        consumption_mw = self.wanted_consumption_mw(obs)
        floor_mw = -demand_mw * (1.0 - self.shed_fraction)
        p_set_mw = np.asarray(obs.p_set_mw, dtype=float)
        cap_mw = np.where(np.isfinite(p_set_mw), np.maximum(-np.minimum(p_set_mw, 0.0), floor_mw), np.inf)
        consumption_mw = np.minimum(consumption_mw, cap_mw)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(demand_mw < 0, consumption_mw / -demand_mw, 1.0)
        return Command(p_mw=-consumption_mw, q_mvar=np.asarray(obs.q_base_mvar, dtype=float) * scale)

    def advance(self, obs: Observation, command: Command) -> None:
        """No state to move: the response is static."""

    def capability(self, obs: Observation) -> Capability:
        """Range from most consumption (``p_min_mw``) to all sheddable shed (``p_max_mw``) [MW]."""
        demand_mw = np.minimum(np.asarray(obs.p_avail_mw, dtype=float), 0.0)
        zeros = np.zeros(self.n_units)
        return Capability(p_min_mw=demand_mw * self.max_factor, p_max_mw=demand_mw * (1.0 - self.shed_fraction),
                          energy_mwh=np.full(self.n_units, np.nan), cost_b_per_mwh=zeros,
                          cost_c_per_mw2h=zeros.copy())
