"""A Gymnasium environment: one decision maker of a scenario is the agent.

``HiergridEnv(scenario, agent)`` runs the scenario on the engine as
configured, except for the decision maker ``agent`` names, whose policy
becomes ``external`` and whose decisions come from :meth:`HiergridEnv.step`:

* ``"areas.<id>"``: the area's coordinator. The agent decides at the
  coordinator's period, at the moment the coordinator would (after that
  instant's deliveries and physics); it sees what the coordinator sees
  (measurements, unit status, schedule and price, all as delayed by the
  links) and its action is a setpoint [MW] per unit of the area's groups
  that take setpoints, held until the next decision
  (:class:`area_control.external.ExternalCoordinator`).
* ``"units.<id>"``: a unit group. The agent decides before each physics
  step; it sees the state the previous step settled at (voltage, output,
  available power, price faced) and its action is P [MW] then Q [Mvar] per
  unit, held over the step (:class:`unit_control.external.External`:
  ``p_limit: profile`` for sgen and load groups, ``rating`` for storage
  and gen groups).

The reward is :mod:`hierarchy.coupling.reward`'s. An episode is one run of
the scenario; it ends (``truncated``) at the scenario's end. Actions outside
the action space are clipped to it. ``reset(seed=s)`` runs the scenario with
``seed: s`` (profiles, link losses); ``reset()`` runs the scenario's own seed
first, then seeds drawn from the environment's generator.

Requires the ``rl`` extra (``pip install -e ".[rl]"``): Gymnasium.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

try:
    import gymnasium as gym
    from gymnasium import spaces
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError('hierarchy.gym_env needs Gymnasium: pip install -e ".[rl]"') from exc

from hierarchy.coupling.reward import RewardScope, RewardWeights, reward_terms
from hierarchy.coupling.stepper import Order, SteppedRun
from hierarchy.scenario import Scenario

__all__ = ["HiergridEnv", "ENV_ID", "with_agent", "parse_agent"]

#: the id the environment is registered under (``gymnasium.make(ENV_ID, scenario=..., agent=...)``)
ENV_ID = "hiergrid/Scenario-v0"

#: an area's meter readings (:class:`~hierarchy.messages.AreaMeasurement` fields)
_AREA_MEASURED = ("net_export_mw", "load_mw", "frequency_hz", "vm_min_pu", "vm_max_pu",
                  "max_loading_percent")
_AREA_SCALARS = (*_AREA_MEASURED, "schedule_mw", "schedule_known", "price_per_mwh")
_AREA_UNITS = ("unit_p_mw", "unit_p_min_mw", "unit_p_max_mw", "unit_energy_mwh")
_UNIT_ARRAYS = ("vm_pu", "p_avail_mw", "p_mw", "q_mvar", "price_per_mwh")
#: lower bound of observations that cannot be negative
_NON_NEGATIVE = {"frequency_hz", "vm_min_pu", "vm_max_pu", "max_loading_percent", "vm_pu",
                 "unit_energy_mwh"}


def parse_agent(agent: str) -> tuple[str, str]:
    """``"areas.north"`` → ``("areas", "north")``; ``units.<id>`` likewise.

    Raises
    ------
    ValueError
        For anything else.
    """
    kind, sep, name = str(agent).partition(".")
    if not sep or kind not in ("areas", "units") or not name:
        raise ValueError(f"agent: expected 'areas.<id>' or 'units.<id>'; got {agent!r}")
    return kind, name


def with_agent(scenario: Scenario, agent: str) -> Scenario:
    """The scenario with ``agent``'s policy replaced by ``external``.

    A unit group keeps its elements, area and the group parameters it set
    (``rating_mw``, ``h_s``, ``offer_price``); an area keeps its buses and
    its coordinator's period.

    Raises
    ------
    ValueError
        If the scenario has no such area or unit group, or the group is
        not of a table ``external`` controls.
    """
    kind, name = parse_agent(agent)
    if kind == "areas":
        ids = [area.id for area in scenario.areas]
        if name not in ids:
            raise ValueError(f"agent: no area {name!r}; areas: {', '.join(ids)}")
        areas = [area if area.id != name else area.model_copy(update={
            "coordinator": area.coordinator.model_copy(update={"policy": "external", "params": {}})})
            for area in scenario.areas]
        return scenario.model_copy(update={"areas": tuple(areas)})
    ids = [unit.id for unit in scenario.units]
    if name not in ids:
        raise ValueError(f"agent: no unit group {name!r}; groups: {', '.join(ids) or 'none'}")
    unit = scenario.units[ids.index(name)]
    table = _table_of(unit.elements)
    if table not in ("sgen", "load", "storage", "gen"):
        raise ValueError(f"agent: unit group {name!r} controls {table} elements; an agent can "
                         "set P and Q of sgen, load, storage and gen elements")
    params = {k: v for k, v in unit.params.items() if k in ("rating_mw", "h_s", "offer_price")}
    params["p_limit"] = "profile" if table in ("sgen", "load") else "rating"
    units = list(scenario.units)
    units[ids.index(name)] = unit.model_copy(update={"policy": "external", "params": params})
    return scenario.model_copy(update={"units": type(scenario.units)(units)})


def _table_of(elements) -> str:
    if hasattr(elements, "table"):
        return elements.table
    return str(elements[0]).partition("/")[0]


def _box(n: int, name: str) -> spaces.Box:
    """The space of observation ``name``, ``n`` values (non-negative ones from 0)."""
    low = 0.0 if name in _NON_NEGATIVE else -np.inf
    high = 1.0 if name == "schedule_known" else np.inf
    return spaces.Box(low, high, shape=(n,), dtype=np.float64)


def _finite(values: Any) -> np.ndarray:
    """As a float array, NaN (nothing known yet, a de-energised bus) read as 0."""
    return np.nan_to_num(np.array(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


class HiergridEnv(gym.Env):
    """A scenario with one area coordinator or unit group as the agent.

    Parameters
    ----------
    scenario : path, mapping or Scenario
        The scenario (as for :func:`hierarchy.run`).
    agent : str
        ``"areas.<id>"`` or ``"units.<id>"``: the decision maker the agent replaces.
    reward : RewardWeights, mapping or None
        Weights of the reward's terms (:class:`~hierarchy.coupling.reward.RewardWeights`;
        a mapping may set some of ``schedule_deviation_mwh``,
        ``voltage_violation_bus_hours``, ``energy_cost``, ``v_band_pu``).

    Attributes
    ----------
    action_space : gymnasium.spaces.Box
        An area: a setpoint per unit [MW] (:attr:`action_units` names them);
        a unit group: P [MW] of each unit, then Q [Mvar] of each.
    observation_space : gymnasium.spaces.Dict
        ``hour_of_day`` [h] and, for an area, ``net_export_mw``, ``load_mw``,
        ``frequency_hz``, ``vm_min_pu``, ``vm_max_pu``, ``max_loading_percent``,
        ``schedule_mw``, ``schedule_known`` (1 once an award has come),
        ``price_per_mwh`` (clearing) and per unit of :attr:`action_units`
        ``unit_p_mw``, ``unit_p_min_mw``, ``unit_p_max_mw``,
        ``unit_energy_mwh``; for a unit group, per unit ``vm_pu``,
        ``p_avail_mw``, ``p_mw``, ``q_mvar``, ``price_per_mwh`` (faced).
        What is not known yet reads 0.

    Examples
    --------
    >>> env = HiergridEnv("scenarios/quickstart.yaml", "areas.north")  # doctest: +SKIP
    >>> obs, info = env.reset(seed=1)  # doctest: +SKIP
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())  # doctest: +SKIP
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario, agent: str, reward: RewardWeights | Mapping | None = None):
        from hierarchy.api import scenario_of

        self.agent = agent
        self.kind, self.agent_id = parse_agent(agent)
        self.weights = RewardWeights.of(reward)
        self.scenario = with_agent(scenario_of(scenario)[0], agent)
        self._run: SteppedRun | None = SteppedRun(self.scenario)  # the spaces come from the grid
        self._fresh = True  # the run above has not been stepped: reset may use it
        self._episodes = 0
        self._decision = 0
        self._rows_done = 0
        self._over = False
        rt = self._run.rt
        if self.kind == "areas":
            self._init_area(rt)
        else:
            self._init_unit(rt)
        self.action_space = spaces.Box(self._low, self._high, dtype=np.float64)

    # ------------------------------------------------------------ the agent
    def _init_area(self, rt) -> None:
        area = self._run.area(self.agent_id)
        self._order, self._period_ms = Order.AREA, area.period_ms
        infos = area.coordinator.groups  # the area's register: group id -> UnitGroupInfo
        self._action_groups = [(info.group, len(info.unit_ids)) for info in infos.values()
                               if info.takes_setpoints]
        if not self._action_groups:
            raise ValueError(f"agent: area {self.agent_id!r} has no units that take setpoints "
                             "(storage, generators, flexible loads, curtailment)")
        self.action_units = [u for info in infos.values() if info.takes_setpoints for u in info.unit_ids]
        low, high = [], []
        for info in infos.values():
            if info.takes_setpoints:
                flexible_load = info.kind == "flexible_load"  # consumption caps, negative
                low.append(-info.rating_mw if flexible_load else info.p_min_mw)
                high.append(np.zeros(len(info.unit_ids)) if flexible_load else info.p_max_mw)
        self._low, self._high = np.concatenate(low).astype(float), np.concatenate(high).astype(float)
        n = self._low.size
        self.observation_space = spaces.Dict(
            {"hour_of_day": spaces.Box(0.0, 24.0, shape=(1,), dtype=np.float64),
             **{name: _box(1, name=name) for name in _AREA_SCALARS},
             **{name: _box(n, name=name) for name in _AREA_UNITS}})
        a = area.index
        self._scope = RewardScope((a,), np.flatnonzero(rt.area_of_bus == a))

    def _init_unit(self, rt) -> None:
        group = self._run.unit_group(self.agent_id)
        self._order, self._period_ms = Order.PHYSICS, rt.step_ms
        self.action_units = list(group.unit_ids)
        rating, policy = group.rating_mw, group.policy
        if policy.p_limit == "profile":
            sign = -1.0 if group.table == "load" else 1.0  # a load's profile value is its demand
            p_low, p_high = np.minimum(sign * rating, 0.0), np.maximum(sign * rating, 0.0)
        else:
            p_low, p_high = -rating, rating
        self._low = np.concatenate([p_low, -rating]).astype(float)
        self._high = np.concatenate([p_high, rating]).astype(float)
        n = group.n_units
        self.observation_space = spaces.Dict(
            {"hour_of_day": spaces.Box(0.0, 24.0, shape=(1,), dtype=np.float64),
             **{name: _box(n, name=name) for name in _UNIT_ARRAYS}})
        areas = tuple(int(a) for a in np.unique(group.area_of_unit))
        start = sum(g.n_units for g in rt.groups[:rt.groups.index(group)])
        self._scope = RewardScope(areas, np.flatnonzero(np.isin(rt.area_of_bus, areas)),
                                  slice(start, start + n), np.asarray(group.area_of_unit, dtype=int))

    # ------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode: the scenario from its start, up to the agent's first decision.

        Returns
        -------
        (observation, info)
            ``info`` holds ``time_ms`` and the run's ``seed``.
        """
        if seed is None and self._episodes == 0:
            seed_run = self.scenario.seed
            super().reset(seed=seed_run)  # the generator for later episodes' seeds
        else:
            super().reset(seed=seed)
            seed_run = int(seed) if seed is not None else int(self.np_random.integers(2**31 - 1))
        self._episodes += 1
        scenario = self.scenario.model_copy(update={"seed": seed_run})
        if not (self._fresh and seed_run == self._run.scenario.seed):
            self._run = SteppedRun(scenario)
        self._fresh = False
        self._decision, self._over = 0, False
        self._run.advance(0, before=self._order)
        self._rows_done = self._run.steps_done
        return self._observe(), {"time_ms": self._run.now_ms, "seed": seed_run}

    def step(self, action):
        """Hold ``action`` until the next decision and run to it.

        Returns
        -------
        (observation, reward, terminated, truncated, info)
            ``terminated`` is always False; ``truncated`` is True at the
            scenario's end. ``info`` holds ``time_ms`` and each term of the
            reward over the steps since the last decision.
        """
        if self._over or self._run is None or self._fresh:
            raise RuntimeError("call reset() first: the episode is over or has not started")
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(self._low.shape),
                         self._low, self._high)
        self._hold(action)
        self._decision += 1
        next_ms = self._decision * self._period_ms
        run = self._run
        if next_ms >= run.end_ms:
            run.finish()
            self._over = True
        else:
            run.advance(next_ms, before=self._order)
        terms = reward_terms(run.rt, self._scope, self._rows_done, run.steps_done,
                             self.weights.v_band_pu)
        self._rows_done = run.steps_done
        info = {"time_ms": run.now_ms, **terms}
        return self._observe(), self.weights.reward(terms), False, self._over, info

    def result(self, out_dir=None):
        """The episode's :class:`~hierarchy.api.Result` (summary and tables) so far,
        written to ``out_dir`` if given: the same as ``hiergrid run`` gives."""
        if self._run is None:
            raise RuntimeError("no episode yet: call reset()")
        return self._run.result(out_dir)

    # ----------------------------------------------------------- internals
    def _hold(self, action: np.ndarray) -> None:
        if self.kind == "areas":
            setpoints, start = {}, 0
            for group, n in self._action_groups:
                setpoints[group] = action[start:start + n]
                start += n
            self._run.area(self.agent_id).coordinator.hold(setpoints)
        else:
            n = action.size // 2
            self._run.unit_group(self.agent_id).policy.hold(action[:n], action[n:])

    def _hour_of_day(self) -> np.ndarray:
        start = self.scenario.time.start
        hours = start.hour + start.minute / 60 + start.second / 3600 + self._run.now_ms / 3_600_000
        return np.array([hours % 24.0])

    def _observe(self) -> dict[str, np.ndarray]:
        return self._observe_area() if self.kind == "areas" else self._observe_unit()

    def _observe_area(self) -> dict[str, np.ndarray]:
        state = self._run.area_state(self.agent_id)
        meas = state.measurement
        nan = math.nan
        schedule_mw = state.schedule_mw()
        obs = {"hour_of_day": self._hour_of_day()}
        for name in _AREA_MEASURED:
            obs[name] = _finite([getattr(meas, name) if meas is not None else nan])
        obs["schedule_mw"] = _finite([schedule_mw])
        obs["schedule_known"] = np.array([float(math.isfinite(schedule_mw))])
        obs["price_per_mwh"] = _finite([state.price("clearing")])
        columns: dict[str, list] = {name: [] for name in _AREA_UNITS}
        for group, n in self._action_groups:
            status = state.units.get(group)
            for name in _AREA_UNITS:
                field = name.removeprefix("unit_")
                columns[name].append(np.full(n, nan) if status is None else getattr(status, field))
        for name, parts in columns.items():
            obs[name] = _finite(np.concatenate(parts))
        return obs

    def _observe_unit(self) -> dict[str, np.ndarray]:
        group = self._run.unit_group(self.agent_id)
        seen = self._run.rt.observe(group, self._run.now_ms)
        obs = {"hour_of_day": self._hour_of_day()}
        for name in _UNIT_ARRAYS:
            obs[name] = _finite(getattr(seen, name))
        return obs


def register() -> None:
    """Register :class:`HiergridEnv` as :data:`ENV_ID` (done on importing :mod:`hierarchy.gym_env`)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="hierarchy.coupling.gym_env:HiergridEnv",
                     disable_env_checker=False)
