"""hiergrid as a Gymnasium environment (extra ``rl``): ``HiergridEnv(scenario, agent)``.

Importing this module registers the environment as ``hiergrid/Scenario-v0``::

    import gymnasium as gym
    import hierarchy.gym_env
    env = gym.make("hiergrid/Scenario-v0", scenario="scenarios/quickstart.yaml", agent="areas.north")

(or, without the import, ``gym.make("hierarchy.gym_env:hiergrid/Scenario-v0", ...)``).
The environment itself is :class:`hierarchy.coupling.gym_env.HiergridEnv`;
docs/policies.md describes its observations, actions and reward.
"""
from hierarchy.coupling.gym_env import ENV_ID, HiergridEnv, register
from hierarchy.coupling.reward import RewardWeights

__all__ = ["HiergridEnv", "RewardWeights", "ENV_ID"]

register()
