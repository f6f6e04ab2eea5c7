"""Battery policy: state of charge, efficiencies, limits; setpoint or price rule.

The battery follows the area's setpoint ``obs.p_set_mw`` where one was
received. Otherwise it follows a price rule: discharge at ``p_max_mw`` when
the price is at or above ``price_discharge`` [per MWh], charge at
``p_max_mw`` at or below ``price_charge``, idle in between or without a
price. With ``droop`` set it adds the primary response
``−(P_rated/(R·f0))·Δf`` (no governor lag: an inverter responds within the
step). The result is limited to ``±p_max_mw`` and to what keeps the state
of charge inside ``[soc_min, soc_max]`` over the step (laws
:func:`~unit_control.laws.battery_p_limits_mw`), so the SOC never leaves its
bounds. Sign: discharging positive.

Parameters (``defaults``): ``rating_mw`` (None: element's sn_mva), ``h_s``
(0), ``capacity_mwh`` (None: the storage element's ``max_e_mwh`` where the grid
gives it, else 1 h at ``rating_mw``), ``p_max_mw`` (None:
``rating_mw``), ``soc_init`` (0.5), ``soc_min`` (0.0), ``soc_max`` (1.0),
``eta_charge`` (0.95), ``eta_discharge`` (0.95), ``droop`` (None: no
primary response), ``price_charge`` (50), ``price_discharge`` (150),
``bid_blocks`` (0: the area does not bid the battery into the market; n > 0:
it bids n charge and n discharge blocks per interval, priced from the state
of charge and a price forecast, see :mod:`area_control.storage_bids`; the
policy itself does not use it). Every per-unit value may be a scalar or a
list of one per unit.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from unit_control import laws
from unit_control.base import Capability, Command, Observation, UnitPolicy, voltage_blind

__all__ = ["Battery"]


def _unit_interval(value: np.ndarray, name: str, allow_zero: bool = True) -> None:
    low_ok = value >= 0 if allow_zero else value > 0
    if not np.all(low_ok & (value <= 1)):
        raise ValueError(f"{name}: {value.tolist()} must lie in {'[0' if allow_zero else '(0'}, 1]")


class Battery(UnitPolicy):
    """Battery storage following a setpoint or a price rule.

    Examples
    --------
    >>> from unit_control.conformance import make_observation
    >>> battery = Battery(np.array([1.0]), {**Battery.defaults, "soc_init": 0.5})
    >>> obs = make_observation(1, step_s=3600.0, p_set_mw=-0.5)
    >>> battery.advance(obs, battery.step(obs))
    >>> round(float(battery.soc[0]), 4)
    0.975
    """

    name: ClassVar[str] = "battery"
    tables: ClassVar[tuple[str, ...]] = ("storage",)
    defaults: ClassVar[Mapping[str, Any]] = {
        "rating_mw": None, "h_s": 0.0, "capacity_mwh": None, "p_max_mw": None,
        "soc_init": 0.5, "soc_min": 0.0, "soc_max": 1.0, "eta_charge": 0.95, "eta_discharge": 0.95,
        "droop": None, "price_charge": 50.0, "price_discharge": 150.0, "bid_blocks": 0,
    }

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        n = self.n_units

        def value(key: str, fallback: Any = None) -> np.ndarray:
            raw = params.get(key)
            return laws.per_unit(fallback if raw is None else raw, n, key)

        self.h_s = value("h_s", 0.0)
        self.capacity_mwh = value("capacity_mwh", self.rating_mw * 1.0)
        self.p_max_mw = value("p_max_mw", self.rating_mw)
        self.soc_min, self.soc_max = value("soc_min"), value("soc_max")
        self.eta_charge, self.eta_discharge = value("eta_charge"), value("eta_discharge")
        self.droop = value("droop", np.nan)
        self.price_charge, self.price_discharge = value("price_charge"), value("price_discharge")
        self.soc = value("soc_init")
        self.bid_blocks = int(params.get("bid_blocks") or 0)
        self._validate()
        self._limits_kept: tuple | None = None  # (soc, step_s, _limits_mw)

    def _validate(self) -> None:
        if not np.all(self.capacity_mwh > 0):
            raise ValueError(f"capacity_mwh: {self.capacity_mwh.tolist()} must be > 0")
        if not np.all(self.p_max_mw >= 0):
            raise ValueError(f"p_max_mw: {self.p_max_mw.tolist()} must be >= 0")
        _unit_interval(self.soc_min, "soc_min")
        _unit_interval(self.soc_max, "soc_max")
        _unit_interval(self.eta_charge, "eta_charge", allow_zero=False)
        _unit_interval(self.eta_discharge, "eta_discharge", allow_zero=False)
        if np.any(self.soc_min > self.soc_max):
            raise ValueError(f"soc_min: {self.soc_min.tolist()} exceeds soc_max {self.soc_max.tolist()}")
        outside = (self.soc < self.soc_min) | (self.soc > self.soc_max) | ~np.isfinite(self.soc)
        if np.any(outside):
            raise ValueError(f"soc_init: {self.soc[outside].tolist()} is outside [soc_min, soc_max]")
        if np.any(self.price_charge > self.price_discharge):
            raise ValueError("price_charge: must not exceed price_discharge")
        if self.bid_blocks < 0:
            raise ValueError(f"bid_blocks: {self.bid_blocks} must be >= 0")
        if np.any(self.droop <= 0):
            raise ValueError(f"droop: {self.droop.tolist()} must be > 0 (or None for no primary response)")

    def _limits_mw(self, step_s: float) -> tuple[np.ndarray, np.ndarray]:
        """SOC and rating limits [MW] (read-only); those :meth:`advance` computed for
        the next step while ``soc`` (replaced there, never written in place) and
        ``step_s`` are still the same, so that step and capability share them."""
        kept = self._limits_kept
        if kept is not None and kept[0] is self.soc and kept[1] == step_s:
            return kept[2]
        limits = laws.battery_p_limits_mw(self.soc, step_s, self.capacity_mwh, self.soc_min,
                                          self.soc_max, self.eta_charge, self.eta_discharge,
                                          self.p_max_mw)
        for array in limits:
            array.setflags(write=False)
        return limits

    def _request_mw(self, obs: Observation) -> np.ndarray:
        """Setpoint where given, else the price rule, plus droop [MW]."""
        price = np.asarray(obs.price_per_mwh, dtype=float)
        by_price_mw = np.where(price >= self.price_discharge, self.p_max_mw,
                               np.where(price <= self.price_charge, -self.p_max_mw, 0.0))
        p_set_mw = np.asarray(obs.p_set_mw, dtype=float)
        p_mw = np.where(np.isfinite(p_set_mw), p_set_mw, np.where(np.isfinite(price), by_price_mw, 0.0))
        delta_f_hz = np.asarray(obs.f_hz, dtype=float) - obs.f0_hz
        return p_mw + laws.droop_response_mw(delta_f_hz, self.rating_mw, self.droop, obs.f0_hz)

    @voltage_blind
    def step(self, obs: Observation) -> Command:
        """Battery power [MW] (discharge positive) within SOC and rating limits; Q = 0."""
        p_min_mw, p_max_mw = self._limits_mw(obs.step_s)
        p_mw = np.minimum(np.maximum(self._request_mw(obs), p_min_mw), p_max_mw)  # clip, faster
        return Command(p_mw=p_mw, q_mvar=np.zeros(self.n_units))

    def advance(self, obs: Observation, command: Command) -> None:
        """Update the SOC over ``obs.step_s`` with the settled power."""
        soc = laws.soc_next(self.soc, command.p_mw, obs.step_s, self.capacity_mwh,
                            self.eta_charge, self.eta_discharge)
        self.soc = np.minimum(np.maximum(soc, self.soc_min), self.soc_max)  # clip, faster
        # the new soc's limits, for the next step's step and capability
        self._limits_kept = (self.soc, obs.step_s, self._limits_mw(obs.step_s))

    def capability(self, obs: Observation) -> Capability:
        """Charge (``p_min_mw <= 0``) and discharge range [MW] and stored energy [MWh]."""
        p_min_mw, p_max_mw = self._limits_mw(obs.step_s)
        zeros = np.zeros(self.n_units)
        return Capability(p_min_mw=p_min_mw, p_max_mw=p_max_mw, energy_mwh=self.soc * self.capacity_mwh,
                          cost_b_per_mwh=zeros, cost_c_per_mw2h=zeros.copy())
