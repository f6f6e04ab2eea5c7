"""Inverter policies: volt-var, volt-watt, frequency-watt, constant PF, curtailment.

All inverter policies share :class:`InverterPolicy`: the active power is
what the source has available (``obs.p_avail_mw``), capped at the rating
and at the area's setpoint ``obs.p_set_mw`` where one was received; each
policy then applies its law. Apparent power is limited to the rating
(``rating_mw`` is used as nameplate apparent power, MVA) with **reactive
power priority**, as IEEE 1547-2018 clause 5.3 requires the reactive
capability at any active power above 20 % of rating: where P² + Q² would
exceed the rating, P is reduced (volt-var ``priority: active`` reverses
this and reduces Q instead).

The laws are the steady state: the physics step (seconds to minutes) is
much longer than the standard's open-loop response times (1–10 s), so
responses are not delayed within a step.

Ride-through: with ``ride_through: {category: II}`` (default ``None``, off)
a :class:`unit_control.ride_through.RideThrough` state machine trips units
(``Command.connected`` False, P = Q = 0), reconnects them after the
enter-service delay and ramps their output back over the ramp time.

References
----------
.. [1] IEEE Std 1547-2018, doi:10.1109/IEEESTD.2018.8332112, clauses 5.3,
   5.4, 6.5.2.7; Tables 8, 10, 24.
"""
from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from unit_control import laws
from unit_control.base import Capability, Command, Observation, UnitPolicy, voltage_local
from unit_control.ride_through import RideThrough

__all__ = ["InverterPolicy", "VoltVar", "VoltWatt", "FreqWatt", "ConstPF", "Curtail"]

_COMMON_DEFAULTS: dict[str, Any] = {"rating_mw": None, "h_s": 0.0, "ride_through": None}


def _curve(value: Any, named: Mapping[str, tuple], keys: tuple[str, str], n_points: int,
           name: str) -> tuple[np.ndarray, np.ndarray]:
    """Resolve a curve given by name or as ``{v: [...], q|p: [...]}``."""
    if isinstance(value, str):
        if value not in named:
            raise ValueError(f"{name}: unknown curve {value!r}; valid: {', '.join(named)} or a mapping")
        x_points, y_points = named[value]
    elif isinstance(value, Mapping) and set(value) == set(keys):
        x_points, y_points = value[keys[0]], value[keys[1]]
    else:
        raise ValueError(f"{name}: give a curve name or a mapping with keys {list(keys)}")
    try:
        x_points = np.asarray(x_points, dtype=float)
        y_points = np.asarray(y_points, dtype=float)
    except (ValueError, TypeError):
        raise ValueError(f"{name}: {keys[0]} and {keys[1]} must be lists of numbers") from None
    if x_points.shape != (n_points,) or y_points.shape != (n_points,):
        raise ValueError(f"{name}: needs {n_points} points for {keys[0]} and {keys[1]}")
    if np.any(np.diff(x_points) < 0) or not np.all(np.isfinite(x_points) & np.isfinite(y_points)):
        raise ValueError(f"{name}: {keys[0]} points must be finite and non-decreasing")
    return x_points, y_points


class InverterPolicy(UnitPolicy):
    """Shared part of the inverter policies (a base to subclass, not registered).

    Subclasses implement :meth:`_pq` (P and Q before ride-through); its
    unit ``i`` may read the grid only through ``obs.vm_pu[i]`` and
    ``obs.f_hz[i]``, as :func:`~unit_control.base.voltage_local` (which marks
    :meth:`step`) says.
    Parameters common to all: ``rating_mw`` (None: the element's sn_mva,
    filled in by the engine), ``h_s`` (virtual inertia [s], default 0),
    ``ride_through`` (None, or settings of
    :class:`~unit_control.ride_through.RideThrough`).
    """

    tables: ClassVar[tuple[str, ...]] = ("sgen",)
    defaults: ClassVar[Mapping[str, Any]] = _COMMON_DEFAULTS

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        if not np.all(np.isfinite(self.rating_mw) & (self.rating_mw > 0)):
            raise ValueError(f"rating_mw: {self.rating_mw.tolist()} must be finite and > 0")
        self.h_s = laws.per_unit(params.get("h_s", 0.0), self.n_units, "h_s")
        if np.any(self.h_s < 0):
            raise ValueError(f"h_s: {self.h_s.tolist()} must be >= 0")
        settings = params.get("ride_through")
        if settings is True:
            settings = {}
        if settings is not None and settings is not False and not isinstance(settings, Mapping):
            raise ValueError(f"ride_through: {settings!r} must be a mapping such as {{category: II}} or None")
        self.ride_through = None if settings in (None, False) else RideThrough(self.n_units, settings)
        self._rating_squared = self.rating_mw ** 2

    def _available_mw(self, obs: Observation) -> np.ndarray:
        """Available power capped by rating and the area setpoint [MW]."""
        # np.minimum(np.maximum(...)) is what clip computes, with less call overhead
        p_mw = np.minimum(np.maximum(np.asarray(obs.p_avail_mw, dtype=float), 0.0), self.rating_mw)
        p_set_mw = np.asarray(obs.p_set_mw, dtype=float)
        has_set = np.isfinite(p_set_mw)
        if not has_set.any():  # no setpoint (the common case of a renewable)
            return p_mw
        return np.where(has_set, np.minimum(np.maximum(p_set_mw, 0.0), p_mw), p_mw)

    @abc.abstractmethod
    def _pq(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        """P [MW] and Q [Mvar] of the group before ride-through."""

    @voltage_local
    def step(self, obs: Observation) -> Command:
        """P and Q of the group [MW], [Mvar]; zero where tripped."""
        p_mw, q_mvar = self._pq(obs)
        if self.ride_through is None:
            return Command(p_mw=p_mw, q_mvar=q_mvar)
        connected = self.ride_through.connected()
        p_mw = np.minimum(p_mw, self.ride_through.p_fraction(obs.step_s) * self.rating_mw)
        return Command(p_mw=np.where(connected, p_mw, 0.0), q_mvar=np.where(connected, q_mvar, 0.0),
                       connected=connected)

    def advance(self, obs: Observation, command: Command) -> None:
        """Move the ride-through timers over ``obs.step_s`` (no other state)."""
        if self.ride_through is not None:
            self.ride_through.advance(obs.vm_pu, obs.f_hz, obs.f0_hz, obs.step_s)

    def capability(self, obs: Observation) -> Capability:
        """Range 0 … available power [MW]; no storage, no fuel cost."""
        p_max_mw = np.asarray(obs.p_avail_mw, dtype=float).clip(0.0, self.rating_mw)
        if self.ride_through is not None:
            p_max_mw = np.minimum(p_max_mw, self.ride_through.p_fraction(obs.step_s) * self.rating_mw)
        zeros = np.zeros(self.n_units)
        return Capability(p_min_mw=zeros, p_max_mw=p_max_mw, energy_mwh=np.full(self.n_units, np.nan),
                          cost_b_per_mwh=zeros.copy(), cost_c_per_mw2h=zeros.copy())

    def _limit_p_to_rating(self, p_mw: np.ndarray, q_mvar: np.ndarray) -> np.ndarray:
        """Reduce P so that P² + Q² <= rating² (reactive priority) [MW]."""
        return np.minimum(p_mw, np.sqrt(np.maximum(self._rating_squared - q_mvar**2, 0.0)))


class VoltVar(InverterPolicy):
    """Volt-var control (IEEE 1547-2018 clause 5.3.3, Table 8).

    Parameters: ``curve`` (``ieee1547_cat_a``, ``ieee1547_cat_b`` or
    ``{v: [4 pu], q: [4 pu of rating]}``; default cat B), ``priority``
    (``reactive``: P is reduced to make room for Q, default; ``active``).

    Examples
    --------
    >>> from unit_control.conformance import make_observation
    >>> policy = VoltVar(np.array([1.0]), {**VoltVar.defaults})
    >>> cmd = policy.step(make_observation(1, vm_pu=1.05, p_avail_mw=1.0))
    >>> round(float(cmd.q_mvar[0]), 3), round(float(cmd.p_mw[0]), 3)
    (-0.22, 0.975)
    """

    name: ClassVar[str] = "volt_var"
    defaults: ClassVar[Mapping[str, Any]] = {**_COMMON_DEFAULTS, "curve": "ieee1547_cat_b",
                                             "priority": "reactive"}
    _CURVES: ClassVar[dict[str, tuple]] = {"ieee1547_cat_a": laws.VOLT_VAR_CAT_A,
                                           "ieee1547_cat_b": laws.VOLT_VAR_CAT_B}

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        self.v_points_pu, self.q_points_pu = _curve(params["curve"], self._CURVES, ("v", "q"), 4, "curve")
        if np.any(np.abs(self.q_points_pu) > 1.0):
            raise ValueError(f"curve: q points {self.q_points_pu.tolist()} must lie in [-1, 1] pu")
        if params["priority"] not in ("reactive", "active"):
            raise ValueError(f"priority: {params['priority']!r} must be 'reactive' or 'active'")
        self.priority = params["priority"]

    def _pq(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        p_mw = self._available_mw(obs)
        # laws.volt_var_q_pu without its check of the points, done once in __init__
        q_mvar = np.interp(obs.vm_pu, self.v_points_pu, self.q_points_pu) * self.rating_mw
        if self.priority == "reactive":
            return self._limit_p_to_rating(p_mw, q_mvar), q_mvar
        q_max_mvar = np.sqrt(np.maximum(self.rating_mw**2 - p_mw**2, 0.0))
        return p_mw, np.clip(q_mvar, -q_max_mvar, q_max_mvar)


class VoltWatt(InverterPolicy):
    """Volt-watt control (IEEE 1547-2018 clause 5.4.2, Table 10); Q = 0.

    Parameter ``curve``: ``ieee1547`` (1.06 pu → 1.0, 1.10 pu → 0.2) or
    ``{v: [v1, v2], p: [1.0, p2]}`` (P cap in pu of rating).
    """

    name: ClassVar[str] = "volt_watt"
    defaults: ClassVar[Mapping[str, Any]] = {**_COMMON_DEFAULTS, "curve": "ieee1547"}

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        self.v_points_pu, self.p_points_pu = _curve(params["curve"], {"ieee1547": laws.VOLT_WATT_IEEE1547},
                                                    ("v", "p"), 2, "curve")
        if np.any((self.p_points_pu < 0) | (self.p_points_pu > 1)):
            raise ValueError(f"curve: p points {self.p_points_pu.tolist()} must lie in [0, 1] pu")

    def _pq(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        p_cap_mw = laws.volt_watt_p_pu(obs.vm_pu, self.v_points_pu, self.p_points_pu) * self.rating_mw
        return np.minimum(self._available_mw(obs), p_cap_mw), np.zeros(self.n_units)


class FreqWatt(InverterPolicy):
    """Frequency droop (IEEE 1547-2018 clause 6.5.2.7, Table 24); Q = 0.

    Parameters ``deadband_hz`` (0.036) and ``droop`` (0.05 pu). The output
    before the deviation is the (capped) available power; under-frequency
    response is limited by the available power, so it needs headroom
    (a setpoint below the available power).
    """

    name: ClassVar[str] = "freq_watt"
    defaults: ClassVar[Mapping[str, Any]] = {**_COMMON_DEFAULTS, "deadband_hz": laws.FREQ_WATT_DEADBAND_HZ,
                                             "droop": laws.FREQ_WATT_DROOP}

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        self.deadband_hz = laws.per_unit(params["deadband_hz"], self.n_units, "deadband_hz")
        self.droop = laws.per_unit(params["droop"], self.n_units, "droop")
        if np.any(self.deadband_hz < 0):
            raise ValueError(f"deadband_hz: {self.deadband_hz.tolist()} must be >= 0")
        if np.any(~(self.droop > 0)):
            raise ValueError(f"droop: {self.droop.tolist()} must be > 0")

    def _pq(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        p_avail_mw = np.clip(np.asarray(obs.p_avail_mw, dtype=float), 0.0, self.rating_mw)
        p_mw = laws.freq_watt_p_mw(obs.f_hz, obs.f0_hz, self._available_mw(obs), p_avail_mw,
                                   self.rating_mw, self.deadband_hz, self.droop, 0.0)
        return p_mw, np.zeros(self.n_units)


class ConstPF(InverterPolicy):
    """Constant power factor (IEEE 1547-2018 clause 5.3.2).

    Parameter ``pf`` (signed, 0 < |pf| <= 1, default 1.0): positive injects
    Q, negative absorbs. P is held to ``rating·|pf|`` so the apparent power
    stays within the rating.
    """

    name: ClassVar[str] = "const_pf"
    defaults: ClassVar[Mapping[str, Any]] = {**_COMMON_DEFAULTS, "pf": 1.0}

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        self.pf = laws.per_unit(params["pf"], self.n_units, "pf")
        if np.any((np.abs(self.pf) > 1) | (self.pf == 0) | ~np.isfinite(self.pf)):
            raise ValueError(f"pf: {self.pf.tolist()} must have 0 < |pf| <= 1")

    def _pq(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        p_mw = np.minimum(self._available_mw(obs), self.rating_mw * np.abs(self.pf))
        return p_mw, laws.const_pf_q_mvar(p_mw, self.pf)


class Curtail(InverterPolicy):
    """Follow a P cap: ``P = min(p_avail, p_set)`` where a setpoint was received; Q = 0."""

    name: ClassVar[str] = "curtail"
    defaults: ClassVar[Mapping[str, Any]] = dict(_COMMON_DEFAULTS)

    def _pq(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        return self._available_mw(obs), np.zeros(self.n_units)
