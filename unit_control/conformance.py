"""Contract check that every unit (tier-1) policy must pass, built-in or a user's.

Run it on your own class::

    from unit_control.conformance import check_unit_policy
    check_unit_policy(MyPolicy, n_units=5)

It constructs the policy from its :attr:`defaults`, feeds it seeded random
observations fitting its tables (loads see negative demand) and checks:
shapes and dtypes of :class:`Command` and :class:`Capability`; finite
outputs; that :meth:`step` is pure (twice the same command, state
unchanged); determinism (two instances fed the same observations give the
same commands over several steps); that :meth:`advance` accepts the
settled command.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from unit_control.base import Capability, Command, Observation, UnitPolicy

__all__ = ["check_unit_policy", "make_observation"]


def make_observation(n_units: int, *, step_s: float = 60.0, time_ms: int = 0, vm_pu: Any = 1.0,
                     f_hz: Any = 50.0, f0_hz: float = 50.0, p_avail_mw: Any = 0.0,
                     q_base_mvar: Any = 0.0, p_set_mw: Any = np.nan, price_per_mwh: Any = np.nan,
                     p_mw: Any = 0.0, q_mvar: Any = 0.0) -> Observation:
    """An :class:`Observation` with every array broadcast to ``n_units``.

    Examples
    --------
    >>> make_observation(2, vm_pu=1.02).vm_pu.tolist()
    [1.02, 1.02]
    """
    def arr(value: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=float), (n_units,)).copy()

    return Observation(time_ms=time_ms, step_s=step_s, vm_pu=arr(vm_pu), f_hz=arr(f_hz), f0_hz=f0_hz,
                       p_avail_mw=arr(p_avail_mw), q_base_mvar=arr(q_base_mvar), p_set_mw=arr(p_set_mw),
                       price_per_mwh=arr(price_per_mwh), p_mw=arr(p_mw), q_mvar=arr(q_mvar))


def _random_observation(cls: type, rating_mw: np.ndarray, rng: np.random.Generator,
                        time_ms: int, step_s: float) -> Observation:
    n_units = rating_mw.size
    sign = -1.0 if "load" in cls.tables else 1.0
    p_set_mw = np.where(rng.random(n_units) < 0.5, np.nan, sign * rng.uniform(0, 1, n_units) * rating_mw)
    return make_observation(
        n_units, step_s=step_s, time_ms=time_ms, vm_pu=rng.uniform(0.9, 1.1, n_units),
        f_hz=rng.uniform(49.8, 50.2, n_units), p_avail_mw=sign * rng.uniform(0, 1, n_units) * rating_mw,
        q_base_mvar=sign * rng.uniform(0, 0.3, n_units) * rating_mw, p_set_mw=p_set_mw,
        price_per_mwh=rng.uniform(0, 300, n_units), p_mw=rng.uniform(-1, 1, n_units) * rating_mw)


def _same(a: Any, b: Any) -> bool:
    """Deep equality of policy state (arrays compared elementwise, NaN == NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=np.asarray(a).dtype.kind == "f")
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if hasattr(a, "__dict__") and type(a) is type(b) and not isinstance(a, type):
        return _same(vars(a), vars(b))
    return bool(a == b) or (a != a and b != b)


def _check_command(command: Command, n_units: int, name: str) -> None:
    assert isinstance(command, Command), f"{name}.step must return a Command"
    for field in ("p_mw", "q_mvar"):
        value = np.asarray(getattr(command, field))
        assert value.shape == (n_units,), f"{name}: Command.{field} has shape {value.shape}"
        assert np.all(np.isfinite(value)), f"{name}: Command.{field} is not finite: {value}"
    for field in ("connected", "tap_pos"):
        value = getattr(command, field)
        assert value is None or np.shape(value) == (n_units,), f"{name}: Command.{field} has wrong shape"


def _check_capability(cap: Capability, n_units: int, name: str) -> None:
    assert isinstance(cap, Capability), f"{name}.capability must return a Capability"
    for field in ("p_min_mw", "p_max_mw", "energy_mwh", "cost_b_per_mwh", "cost_c_per_mw2h"):
        value = np.asarray(getattr(cap, field), dtype=float)
        assert value.shape == (n_units,), f"{name}: Capability.{field} has shape {value.shape}"
        assert not np.any(np.isinf(value)), f"{name}: Capability.{field} is infinite: {value}"
    assert np.all(cap.p_min_mw <= cap.p_max_mw + 1e-9), f"{name}: p_min_mw > p_max_mw"


def check_unit_policy(cls: type, n_units: int = 5, params: Mapping[str, Any] | None = None,
                      n_steps: int = 6, seed: int = 0) -> None:
    """Check ``cls`` against the :class:`~unit_control.base.UnitPolicy` contract.

    Parameters
    ----------
    cls : type
        A subclass of :class:`~unit_control.base.UnitPolicy`.
    n_units : int
        Size of the test group.
    params : mapping, optional
        Overrides merged over ``cls.defaults``.
    n_steps : int
        Number of steps to run [-].
    seed : int
        Seed of the random observations.

    Raises
    ------
    AssertionError
        Naming the first broken rule.
    """
    assert isinstance(cls, type) and issubclass(cls, UnitPolicy), f"{cls!r} is not a UnitPolicy subclass"
    assert isinstance(cls.tables, tuple) and cls.tables, f"{cls.__name__}.tables must be a non-empty tuple"
    name = cls.__name__
    merged = {**cls.defaults, **(params or {})}
    for key in ("rating_mw", "h_s"):
        assert key in cls.defaults, f"{name}.defaults lacks {key!r}"
    rating_mw = np.linspace(1.0, 2.0, n_units)
    policies = [cls(rating_mw.copy(), copy.deepcopy(merged)) for _ in range(2)]
    rng = np.random.default_rng(seed)
    for k in range(n_steps):
        obs = _random_observation(cls, rating_mw, rng, time_ms=k * 60_000, step_s=60.0)
        before = copy.deepcopy(vars(policies[0]))
        first, second = policies[0].step(obs), policies[0].step(obs)
        assert _same(vars(policies[0]), before), f"{name}.step changed the policy's state"
        assert _same(first, second), f"{name}.step is not a function of (state, obs)"
        _check_command(first, n_units, name)
        assert _same(first, policies[1].step(obs)), f"{name}: two equal instances disagree"
        for policy in policies:
            policy.advance(obs, first)
            _check_capability(policy.capability(obs), n_units, name)
