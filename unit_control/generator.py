"""Dispatchable generator: limits, ramp, droop with governor, start/stop with min up/down.

Per step, for each unit:

1. the P reference is the area's setpoint ``obs.p_set_mw`` where received,
   else the scheduled output ``obs.p_avail_mw``;
2. commitment: the unit wants to run when the reference is > 0; it may
   stop only after ``min_up`` and start only after ``min_down`` seconds in
   its state (:func:`~unit_control.laws.commit_on`); a stopped unit gives 0;
3. a running unit's reference is clamped to ``[p_min_mw, p_max_mw]``; with
   ``droop`` set, its output follows the first-order governor
   ``T·dP/dt = P_ref − (P_rated/(R·f0))·Δf − P`` integrated exactly over the
   step from the output held at the end of the previous step (so it is the
   droop steady state when ``step_s >> governor_t_s``); without droop
   (``droop: None``) the same lag acts on ``P_ref`` alone;
4. the result is limited by the ramp ``ramp_mw_per_min`` from the previous
   output (a unit that starts ramps from ``p_min_mw``) and clamped to its
   limits.

Parameters (``defaults``; durations in seconds): ``rating_mw`` (None:
element's sn_mva), ``h_s`` (inertia constant [s], default 4.0),
``p_min_mw`` (0), ``p_max_mw`` (None: ``rating_mw``), ``ramp_mw_per_min``
(inf), ``cost`` ({a: 0, b: 50, c: 0}, per hour ``a + b·P + c·P²``),
``droop`` (0.05 pu; None = no primary response), ``governor_t_s`` (0.5 s),
``min_up`` (0 s), ``min_down`` (0 s), ``offer_blocks`` (1), ``on_init``
(True). Units start having been in their initial state for ever.

References
----------
.. [1] P. Kundur, *Power System Stability and Control*, 1994, sec. 11.1.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from unit_control import laws
from unit_control.base import Capability, Command, Observation, UnitPolicy, voltage_blind

__all__ = ["Generator"]


class Generator(UnitPolicy):
    """Dispatchable (synchronous) generator group.

    Examples
    --------
    >>> from unit_control.conformance import make_observation
    >>> gen = Generator(np.array([10.0]), {**Generator.defaults, "ramp_mw_per_min": 1.0, "on_init": True})
    >>> gen.step(make_observation(1, step_s=60.0, p_set_mw=5.0)).p_mw.tolist()
    [1.0]
    """

    name: ClassVar[str] = "generator"
    tables: ClassVar[tuple[str, ...]] = ("gen", "sgen")
    defaults: ClassVar[Mapping[str, Any]] = {
        "rating_mw": None, "h_s": 4.0, "p_min_mw": 0.0, "p_max_mw": None, "ramp_mw_per_min": float("inf"),
        "cost": {"a": 0.0, "b": 50.0, "c": 0.0}, "droop": 0.05, "governor_t_s": 0.5,
        "min_up": 0.0, "min_down": 0.0, "offer_blocks": 1, "on_init": True,
    }

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        n = self.n_units

        def value(key: str, fallback: Any = None) -> np.ndarray:
            raw = params.get(key)
            return laws.per_unit(fallback if raw is None else raw, n, key)

        self.h_s = value("h_s", 0.0)
        self.p_min_mw, self.p_max_mw = value("p_min_mw", 0.0), value("p_max_mw", self.rating_mw)
        self.ramp_mw_per_min = value("ramp_mw_per_min", np.inf)
        cost = params.get("cost") or {}
        if not isinstance(cost, Mapping) or not set(cost) <= {"a", "b", "c"}:
            raise ValueError("cost: give a mapping with keys a, b, c")
        self.cost_a, self.cost_b, self.cost_c = (laws.per_unit(cost.get(k, 0.0), n, f"cost.{k}") for k in "abc")
        self.droop = value("droop", np.nan)
        self.governor_t_s = value("governor_t_s", 0.0)
        self.min_up_s, self.min_down_s = value("min_up", 0.0), value("min_down", 0.0)
        self.offer_blocks = int(params.get("offer_blocks", 1))
        on_init = params.get("on_init", True)
        self.on = np.broadcast_to(np.asarray(True if on_init is None else on_init, dtype=bool), (n,)).copy()
        self.time_in_state_s = np.full(n, np.inf)
        self.p_mw = np.where(self.on, self.p_min_mw, 0.0)
        self._advanced = False
        self._validate()

    def _validate(self) -> None:
        checks = {
            "p_min_mw": (self.p_min_mw, (self.p_min_mw >= 0) & (self.p_min_mw <= self.p_max_mw)),
            "p_max_mw": (self.p_max_mw, self.p_max_mw > 0),
            "ramp_mw_per_min": (self.ramp_mw_per_min, self.ramp_mw_per_min > 0),
            "droop": (self.droop, ~(self.droop <= 0)),
            "governor_t_s": (self.governor_t_s, self.governor_t_s >= 0),
            "min_up": (self.min_up_s, self.min_up_s >= 0), "min_down": (self.min_down_s, self.min_down_s >= 0),
            "h_s": (self.h_s, self.h_s >= 0), "cost.c": (self.cost_c, self.cost_c >= 0),
        }
        for key, (values, ok) in checks.items():
            if not np.all(ok):
                raise ValueError(f"{key}: {values[~ok].tolist()} is out of range")
        if self.offer_blocks < 1:
            raise ValueError(f"offer_blocks: {self.offer_blocks} must be >= 1")

    def _reference_mw(self, obs: Observation) -> np.ndarray:
        p_set_mw = np.asarray(obs.p_set_mw, dtype=float)
        return np.where(np.isfinite(p_set_mw), p_set_mw, np.asarray(obs.p_avail_mw, dtype=float))

    def _commit(self, obs: Observation) -> np.ndarray:
        return laws.commit_on(self.on, self.time_in_state_s, self._reference_mw(obs) > 0,
                              self.min_up_s, self.min_down_s)

    @voltage_blind
    def step(self, obs: Observation) -> Command:
        """Output [MW] of the group for the step; Q = 0 (the grid model's gen sets V)."""
        on = self._commit(obs)
        p_ref_mw = np.clip(self._reference_mw(obs), self.p_min_mw, self.p_max_mw)
        p_start_mw = np.where(self.on, self._previous_mw(obs), self.p_min_mw)
        delta_f_hz = np.asarray(obs.f_hz, dtype=float) - obs.f0_hz
        governed_mw = laws.governor_step_mw(p_start_mw, p_ref_mw, delta_f_hz, self.rating_mw, self.droop,
                                            obs.f0_hz, self.governor_t_s, obs.step_s)
        p_mw = laws.ramp_limit_mw(governed_mw, p_start_mw, self.ramp_mw_per_min, obs.step_s)
        p_mw = np.where(on, np.clip(p_mw, self.p_min_mw, self.p_max_mw), 0.0)
        return Command(p_mw=p_mw, q_mvar=np.zeros(self.n_units))

    def _previous_mw(self, obs: Observation) -> np.ndarray:
        """Output the step starts from [MW]: the last settled one; at the first step
        the unit's own dispatch (its profile or table value) within its limits, so a
        run does not open with every running unit jumping from ``p_min_mw``."""
        if self._advanced:
            return self.p_mw
        return np.clip(np.asarray(obs.p_avail_mw, dtype=float), self.p_min_mw, self.p_max_mw)

    def advance(self, obs: Observation, command: Command) -> None:
        """Hold the settled output; move the commitment timers over ``obs.step_s``."""
        self._advanced = True
        on = self._commit(obs)
        self.time_in_state_s = laws.time_in_state_next_s(self.on, on, self.time_in_state_s, obs.step_s)
        self.on = on
        self.p_mw = np.asarray(command.p_mw, dtype=float).copy()

    def capability(self, obs: Observation) -> Capability:
        """Ramp-reachable range over the next ``obs.step_s`` [MW] and cost b, c.

        A running unit reports ``[max(p_min, P − ramp·Δt), min(p_max, P + ramp·Δt)]``;
        a stopped unit that may start reports ``[0, min(p_max, p_min + ramp·Δt)]``,
        one that may not yet start ``[0, 0]``.
        """
        step_ramp_mw = self.ramp_mw_per_min * obs.step_s / 60.0
        may_start = ~self.on & (self.time_in_state_s >= self.min_down_s)
        previous_mw = self._previous_mw(obs)
        p_low_mw = np.where(self.on, np.maximum(self.p_min_mw, previous_mw - step_ramp_mw), 0.0)
        p_high_mw = np.where(self.on, np.minimum(self.p_max_mw, previous_mw + step_ramp_mw),
                             np.where(may_start, np.minimum(self.p_max_mw, self.p_min_mw + step_ramp_mw), 0.0))
        return Capability(p_min_mw=p_low_mw, p_max_mw=np.maximum(p_high_mw, p_low_mw),
                          energy_mwh=np.full(self.n_units, np.nan), cost_b_per_mwh=self.cost_b.copy(),
                          cost_c_per_mw2h=self.cost_c.copy())
