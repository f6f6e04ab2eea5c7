"""The Gymnasium environment (issue 19; extra ``rl``, skipped without Gymnasium).

* It passes ``gymnasium.utils.env_checker.check_env`` (API, spaces, seeded
  determinism of reset and step) for an area and for unit groups, made
  through the registry as ``hiergrid/Scenario-v0``.
* A replayed action sequence gives, bit for bit, the results of the first
  episode, and those of the same actions given to ``hiergrid`` as a user's
  own policy (``module:Class`` in the scenario, written here from the
  documented limits, without hiergrid's External policy): the environment
  adds nothing to a run.
* The reward's terms, summed over an episode, are the summary's figures,
  recomputed here from the output tables (voltage band and market price
  by pandas, not by the functions the environment uses).
"""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pandas as pd
import pytest

gym = pytest.importorskip("gymnasium")

import hierarchy
from hierarchy.gym_env import ENV_ID, HiergridEnv
from tests.conftest import assert_same_results, importable_module, quickstart_dict

SEED = 11


def _scenario(hours: int = 6) -> dict:
    data = quickstart_dict()
    data["time"]["duration"] = f"{hours}h"
    return data


@pytest.mark.parametrize("agent", ["areas.north", "units.pv", "units.batteries"])
def test_the_environment_passes_gymnasiums_checker(agent):
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ENV_ID, scenario=_scenario(2), agent=agent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infinite observation bounds are reported as warnings
        check_env(env.unwrapped)
    assert env.unwrapped.spec.id == ENV_ID


def _episode(env: HiergridEnv, actions: list | None, seed: int = SEED):
    """Play ``actions`` (None: seeded samples) to the end; return actions, rewards, infos, result."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    played, rewards, infos = [], [], []
    while True:
        action = env.action_space.sample() if actions is None else actions[len(played)]
        played.append(np.array(action))
        _, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        infos.append(info)
        assert not terminated
        if truncated:
            break
    return played, rewards, infos, env.result()


# a user's unit policy that plays P and Q by step, within External's documented limits
# (p_limit: profile on sgen: 0 <= P <= available power; |Q| <= sqrt(rating² - P²))
REPLAY_UNITS = '''
import numpy as np
from unit_control.base import Capability, Command, UnitPolicy, voltage_blind


class ReplayPQ(UnitPolicy):
    tables = ("sgen",)
    defaults = {"rating_mw": None, "h_s": 0.0, "p_mw": [], "q_mvar": []}

    @voltage_blind
    def step(self, obs):
        k = int(round(obs.time_ms / (obs.step_s * 1000)))
        available = np.maximum(obs.p_avail_mw, 0.0)
        p = np.clip(np.asarray(self.params["p_mw"][k], float), 0.0, available)
        room = np.sqrt(np.maximum(self.rating_mw ** 2 - p ** 2, 0.0))
        q = np.clip(np.asarray(self.params["q_mvar"][k], float), -room, room)
        return Command(p_mw=p, q_mvar=q)

    def advance(self, obs, command):
        pass

    def capability(self, obs):
        zeros = np.zeros(self.n_units)
        return Capability(p_min_mw=np.minimum(obs.p_avail_mw, 0.0), p_max_mw=np.maximum(obs.p_avail_mw, 0.0),
                          energy_mwh=np.full(self.n_units, np.nan), cost_b_per_mwh=zeros,
                          cost_c_per_mw2h=zeros.copy())
'''

# a user's area coordinator that sends setpoints by call, for the chp and battery units
REPLAY_AREA = '''
import math
import numpy as np
from area_control.base import AreaAction
from area_control.coordinators import NoCoordinator


class ReplaySetpoints(NoCoordinator):
    defaults = {"p_set_mw": [], "period_s": 0.0}

    def control(self, state):
        j = int(round(state.time_ms / (self.params["period_s"] * 1000)))
        action = np.asarray(self.params["p_set_mw"][j], float)
        return AreaAction({**self.dispatch(state), "chp": action[:2], "batteries": action[2:]}, math.nan)
'''


def test_replayed_unit_actions_equal_the_same_actions_as_a_user_policy(tmp_path, monkeypatch):
    data = _scenario()
    env = HiergridEnv(data, "units.pv")
    actions, rewards, _, first = _episode(env, None)
    assert len(actions) == 24  # one decision per 15-min step of 6 h
    _, rewards_again, _, second = _episode(env, actions)
    assert rewards_again == rewards
    assert_same_results(first, second)
    module = importable_module(tmp_path, monkeypatch, "replay_units", REPLAY_UNITS)
    user = copy.deepcopy(data)
    n = len(env.action_units)
    user["seed"] = SEED
    user["units"][0].update(policy=f"{module}:ReplayPQ", params={
        "p_mw": [a[:n].tolist() for a in actions], "q_mvar": [a[n:].tolist() for a in actions]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        third = hierarchy.run(user, write=False)
    assert_same_results(first, third)
    # the actions mattered: Q was set, P curtailed below what the sun gave
    q = first.frame("unit_q_mvar")[env.action_units].to_numpy()
    assert np.abs(q).max() > 0.005


def test_replayed_area_actions_equal_the_same_actions_as_a_user_coordinator(tmp_path, monkeypatch):
    data = _scenario()
    env = HiergridEnv(data, "areas.north")
    assert env.action_units == ["sgen/10", "sgen/11", "storage/0", "storage/1"]
    np.testing.assert_array_equal(env.action_space.low, [0.0, 0.0, -0.2, -0.2])
    np.testing.assert_array_equal(env.action_space.high, [0.31, 0.212, 0.2, 0.2])
    actions, _, _, first = _episode(env, None)
    assert len(actions) == 72  # every 5 min for 6 h
    module = importable_module(tmp_path, monkeypatch, "replay_area", REPLAY_AREA)
    user = copy.deepcopy(data)
    user["seed"] = SEED
    user["areas"][0]["coordinator"].update(policy=f"{module}:ReplaySetpoints",
                                           params={"p_set_mw": [a.tolist() for a in actions]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        third = hierarchy.run(user, write=False)
    assert_same_results(first, third)
    chp = first.frame("unit_p_mw")[["sgen/10", "sgen/11"]].to_numpy()
    assert chp.std() > 0.01  # the random setpoints reached the generators


def _outside(vm: pd.DataFrame, band=(0.95, 1.05)) -> pd.DataFrame:
    return vm.notna() & ((vm < band[0]) | (vm > band[1]))


def test_the_rewards_add_up_to_the_summarys_figures():
    data = _scenario(12)
    env = HiergridEnv(data, "areas.north",
                      reward={"schedule_deviation_mwh": 2.0, "energy_cost": 0.01})
    _, rewards, infos, result = _episode(env, None)
    total = {name: math.fsum(info[name] for info in infos)
             for name in ("schedule_deviation_mwh", "voltage_violation_bus_hours", "energy_cost")}
    step_h = 0.25
    assert total["schedule_deviation_mwh"] == pytest.approx(
        result.summary["areas"]["north"]["schedule_deviation_mwh"], rel=1e-12)
    assert total["schedule_deviation_mwh"] > 0.5
    # voltage: bus-hours outside 0.95-1.05 pu on the area's buses, after the first decision
    rt = result.runtime
    north = [f"bus/{b}" for b in rt.plant.net.bus.index[rt.area_of_bus == 0]]
    vm = result.frame("bus_vm_pu")[north].iloc[1:]  # the step at 00:00 came before any decision
    assert total["voltage_violation_bus_hours"] == pytest.approx(_outside(vm).to_numpy().sum() * step_h)
    # cost: the area's net import at the clearing price of its delivery interval
    export = result.frame("area_net_export_mw")["north"].iloc[1:]
    price = result.frame("market_price").reindex(export.index.floor("1h")).iloc[:, 0].to_numpy()
    expected = np.nansum(-export.to_numpy() * price) * step_h
    assert total["energy_cost"] == pytest.approx(expected, rel=1e-12) and abs(expected) > 10
    reward = -(2.0 * total["schedule_deviation_mwh"] + total["voltage_violation_bus_hours"]
               + 0.01 * total["energy_cost"])
    assert math.fsum(rewards) == pytest.approx(reward, rel=1e-12)


def test_reset_with_a_seed_is_the_scenario_with_that_seed():
    env = HiergridEnv(_scenario(2), "units.pv")
    first = env.reset(seed=3)[0]
    other = env.reset(seed=4)[0]
    again, info = env.reset(seed=3)
    assert info["seed"] == 3
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    _, reward, _, _, info = env.step(env.action_space.high)
    assert info["time_ms"] == 900_000 and reward <= 0
    assert any(not np.array_equal(first[n], other[n]) for n in first)  # other weather


def test_bad_use_is_refused_with_a_message():
    with pytest.raises(ValueError, match="expected 'areas.<id>' or 'units.<id>'"):
        HiergridEnv(_scenario(1), "north")
    with pytest.raises(ValueError, match="no area 'east'; areas: north, south"):
        HiergridEnv(_scenario(1), "areas.east")
    with pytest.raises(ValueError, match="no unit group 'wind'"):
        HiergridEnv(_scenario(1), "units.wind")
    with pytest.raises(ValueError, match="area 'south' has no units that take setpoints"):
        HiergridEnv(_scenario(1), "areas.south")
    with pytest.raises(ValueError, match="reward.cost: unknown"):
        HiergridEnv(_scenario(1), "areas.north", reward={"cost": 1.0})
    env = HiergridEnv(_scenario(1), "units.pv")
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(env.action_space.sample())
