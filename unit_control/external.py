"""A unit policy whose decisions come from outside the simulation (``policy: external``).

A reinforcement-learning agent (:class:`hierarchy.gym_env.HiergridEnv`) or
another simulator (the mosaik adapter, :mod:`hierarchy.coupling.mosaik_sim`)
sets the P and Q of the group's units with :meth:`External.hold` between
physics steps; the policy keeps them until they are changed (sample and
hold) and applies, every step, only the limits of the device's connection:

* ``p_limit: rating`` (default): ``−rating ≤ P ≤ rating`` (the outside models
  the device: a battery, an electric vehicle, a heat pump);
* ``p_limit: profile``: P between 0 and what the element's profile gives,
  ``obs.p_avail_mw`` (a renewable can only curtail its available power, a
  load only shed part of its demand);
* then ``|Q| ≤ sqrt(rating² − P²)`` (active power priority; ``rating_mw`` is
  the apparent-power rating [MVA]).

A unit for which nothing was held (NaN) is left alone: P is its profile
value ``obs.p_avail_mw`` and Q its profile reactive power
``obs.q_base_mvar``, unclipped, as with no control at all. So a scenario
naming ``external`` runs with ``hiergrid run`` as if the group had no
controller.

Sign convention: generation positive (a load consuming, a battery charging
have ``P < 0``), Q positive is injection.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from unit_control.base import Capability, Command, Observation, UnitPolicy, voltage_blind

__all__ = ["External", "P_LIMITS"]

#: values of the ``p_limit`` parameter
P_LIMITS = ("rating", "profile")


class External(UnitPolicy):
    """P and Q set from outside, held until changed, within the connection's limits.

    Parameters
    ----------
    rating_mw : ndarray
        Apparent-power rating of each unit [MVA], finite and > 0.
    params : mapping
        ``p_limit`` (``rating`` or ``profile``, see the module) and ``h_s``.

    Examples
    --------
    >>> from unit_control.conformance import make_observation
    >>> pv = External(np.array([1.0, 1.0]), {"p_limit": "profile", "h_s": 0.0})
    >>> pv.hold(np.array([0.9, 0.3]), np.array([0.0, 0.9]))
    >>> command = pv.step(make_observation(2, p_avail_mw=[0.6, 0.6]))
    >>> command.p_mw.tolist(), np.round(command.q_mvar, 4).tolist()
    ([0.6, 0.3], [0.0, 0.9])
    """

    name = "external"
    tables: ClassVar[tuple[str, ...]] = ("sgen", "storage", "load", "gen")
    defaults: ClassVar[Mapping[str, Any]] = {"rating_mw": None, "h_s": 0.0, "p_limit": "rating"}

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        if not np.all(np.isfinite(self.rating_mw) & (self.rating_mw > 0)):
            raise ValueError(f"rating_mw: {self.rating_mw.tolist()} must be finite and > 0 "
                             "(the elements have no sn_mva: give rating_mw)")
        self.p_limit = params.get("p_limit", "rating")
        if self.p_limit not in P_LIMITS:
            raise ValueError(f"p_limit: {self.p_limit!r} is not one of {', '.join(P_LIMITS)}")
        self.p_held_mw = np.full(self.n_units, math.nan)
        self.q_held_mvar = np.full(self.n_units, math.nan)

    def hold(self, p_mw: Any, q_mvar: Any) -> None:
        """Hold these P [MW] and Q [Mvar] from the next physics step on (NaN: left alone).

        Raises
        ------
        ValueError
            If either is not one number per unit.
        """
        p_mw, q_mvar = np.array(p_mw, dtype=float), np.array(q_mvar, dtype=float)
        for name, value in (("p_mw", p_mw), ("q_mvar", q_mvar)):
            if value.shape != (self.n_units,):
                raise ValueError(f"{name}: expected {self.n_units} values (one per unit), "
                                 f"got shape {value.shape}")
        self.p_held_mw, self.q_held_mvar = p_mw, q_mvar

    def p_range_mw(self, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest P each unit may be set to now [MW] (``p_limit``)."""
        if self.p_limit == "profile":
            p_avail_mw = np.asarray(obs.p_avail_mw, dtype=float)
            return np.minimum(p_avail_mw, 0.0), np.maximum(p_avail_mw, 0.0)
        return -self.rating_mw, self.rating_mw

    @voltage_blind
    def step(self, obs: Observation) -> Command:
        """The held P [MW] and Q [Mvar] within the limits; the profile where none is held."""
        p_min_mw, p_max_mw = self.p_range_mw(obs)
        p_mw = np.minimum(np.maximum(self.p_held_mw, p_min_mw), p_max_mw)
        p_alone, q_alone = np.isnan(self.p_held_mw), np.isnan(self.q_held_mvar)
        if p_alone.any():
            p_mw = np.where(p_alone, np.asarray(obs.p_avail_mw, dtype=float), p_mw)
        q_max_mvar = np.sqrt(np.maximum(self.rating_mw ** 2 - p_mw ** 2, 0.0))
        q_mvar = np.minimum(np.maximum(self.q_held_mvar, -q_max_mvar), q_max_mvar)
        if q_alone.any():
            q_mvar = np.where(q_alone, np.asarray(obs.q_base_mvar, dtype=float), q_mvar)
        return Command(p_mw=p_mw, q_mvar=q_mvar)

    def advance(self, obs: Observation, command: Command) -> None:
        """No state moves with time: what is held stays until :meth:`hold` changes it."""

    def capability(self, obs: Observation) -> Capability:
        """The P range of ``p_limit`` [MW]; no stored energy, no cost."""
        p_min_mw, p_max_mw = self.p_range_mw(obs)
        zeros = np.zeros(self.n_units)
        return Capability(p_min_mw=np.array(p_min_mw, dtype=float),
                          p_max_mw=np.array(p_max_mw, dtype=float),
                          energy_mwh=np.full(self.n_units, math.nan), cost_b_per_mwh=zeros,
                          cost_c_per_mw2h=zeros.copy())
