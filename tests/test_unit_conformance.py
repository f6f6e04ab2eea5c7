"""Every registered unit policy passes the contract check; the check catches broken policies."""
import numpy as np
import pytest

from hierarchy.kernel.registry import BUILTIN, resolve
from unit_control.base import Capability, Command, UnitPolicy
from unit_control.conformance import check_unit_policy, make_observation


@pytest.mark.parametrize("name", sorted(BUILTIN["unit"]))
def test_registered_policy_conforms(name):
    cls = resolve("unit", name)
    assert cls.name == name
    check_unit_policy(cls, n_units=5)


@pytest.mark.parametrize("name", ["volt_var", "volt_watt", "freq_watt", "const_pf", "curtail"])
def test_inverters_with_ride_through_conform(name):
    check_unit_policy(resolve("unit", name), n_units=4, params={"ride_through": {"category": "III"}})


def test_step_twice_gives_same_command_and_keeps_state():
    cls = resolve("unit", "battery")
    policy = cls(np.ones(3), dict(cls.defaults))
    obs = make_observation(3, p_set_mw=[0.5, -0.5, np.nan], price_per_mwh=20.0)
    first, second = policy.step(obs), policy.step(obs)
    np.testing.assert_array_equal(first.p_mw, second.p_mw)
    np.testing.assert_array_equal(policy.soc, 0.5)


class _Impure(UnitPolicy):
    defaults = {"rating_mw": None, "h_s": 0.0}

    def __init__(self, rating_mw, params):
        super().__init__(rating_mw, params)
        self.count = 0.0

    def step(self, obs):
        self.count += 1.0
        return Command(p_mw=np.full(self.n_units, self.count), q_mvar=np.zeros(self.n_units))

    def advance(self, obs, command):
        pass

    def capability(self, obs):
        z = np.zeros(self.n_units)
        return Capability(z, z, z, z, z)


class _WrongShape(_Impure):
    def step(self, obs):
        return Command(p_mw=np.zeros(1), q_mvar=np.zeros(self.n_units))


@pytest.mark.parametrize("cls, message", [(_Impure, "changed the policy's state"),
                                          (_WrongShape, "shape")])
def test_check_catches_broken_policies(cls, message):
    with pytest.raises(AssertionError, match=message):
        check_unit_policy(cls, n_units=3)
