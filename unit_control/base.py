"""The unit-control protocol: what every tier-1 policy implements.

A policy instance controls a *group* of units (say all PV inverters with
volt-var) as numpy arrays, one entry per unit. The engine calls, at every
physics step:

1. :meth:`UnitPolicy.step` inside the fixed-point loop with the power flow,
   as many times as it takes to settle. It must not change the policy's
   state: it maps observations to a command.
2. :meth:`UnitPolicy.advance` once the step has settled, to move the state
   (state of charge, ramp history, timers) over the step duration.
3. :meth:`UnitPolicy.capability` to report what the units can do next, which
   the engine sends up to the area over a communication link.

Sign convention: generation positive (a battery discharging has ``p_mw > 0``,
charging ``p_mw < 0``; a load consuming has ``p_mw < 0``). Q positive is
injection (capacitive, raising voltage).
"""
from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = ["Observation", "Command", "Capability", "UnitPolicy", "voltage_blind", "voltage_local"]


@dataclass
class Observation:
    """Local measurements and signals of a unit group, arrays per unit.

    Attributes
    ----------
    time_ms : int
        Start of the current physics step [ms since start].
    step_s : float
        Duration of the current physics step [s].
    vm_pu : ndarray
        Voltage magnitude at each unit's bus from the latest solve [pu].
    f_hz : ndarray
        Frequency of each unit's island [Hz].
    f0_hz : float
        Nominal frequency [Hz].
    p_avail_mw : ndarray
        What the unit would do left alone, from its profile [MW]:
        available power of a renewable (>= 0), the demand of a load
        (<= 0, consumption negative), 0 for a battery, the scheduled
        output of a generator.
    q_base_mvar : ndarray
        Profile reactive power [Mvar] (loads; 0 for inverters).
    p_set_mw : ndarray
        Latest setpoint from the area [MW]; NaN where none was received.
    price_per_mwh : ndarray
        Price the unit faces for this step [per MWh]; NaN where none.
    p_mw, q_mvar : ndarray
        The unit's output at the previous iterate (or previous step) [MW], [Mvar].

    Notes
    -----
    The arrays are the engine's: a policy reads them and never writes into
    them. ``f_hz``, ``p_avail_mw``, ``q_base_mvar``, ``p_set_mw`` and
    ``price_per_mwh`` are flagged read-only and shared by every iterate of
    a physics step.
    """

    time_ms: int
    step_s: float
    vm_pu: np.ndarray
    f_hz: np.ndarray
    f0_hz: float
    p_avail_mw: np.ndarray
    q_base_mvar: np.ndarray
    p_set_mw: np.ndarray
    price_per_mwh: np.ndarray
    p_mw: np.ndarray
    q_mvar: np.ndarray


@dataclass
class Command:
    """Output of a unit group for one iterate, generation positive.

    Attributes
    ----------
    p_mw, q_mvar : ndarray
        Output per unit [MW], [Mvar].
    connected : ndarray of bool or None
        False where the unit is tripped (ride-through/trip); None = all
        connected. The engine logs every change as a trip or reconnect event.
    tap_pos : ndarray or None
        Transformer tap positions, for tap-changer policies only.
    """

    p_mw: np.ndarray
    q_mvar: np.ndarray
    connected: np.ndarray | None = None
    tap_pos: np.ndarray | None = None


@dataclass
class Capability:
    """What a unit group can do at the next step, reported to its area.

    Attributes
    ----------
    p_min_mw, p_max_mw : ndarray
        Reachable output range [MW] (battery: ``p_min_mw < 0``).
    energy_mwh : ndarray
        Stored energy [MWh]; NaN for units without storage.
    cost_b_per_mwh, cost_c_per_mw2h : ndarray
        Linear and quadratic cost coefficients (cost per hour
        ``a + b·P + c·P²``); 0 for units with no fuel cost.
    """

    p_min_mw: np.ndarray
    p_max_mw: np.ndarray
    energy_mwh: np.ndarray
    cost_b_per_mwh: np.ndarray
    cost_c_per_mw2h: np.ndarray


def voltage_blind(step):
    """Mark a policy's ``step`` as blind to the grid's response within a step.

    A step so marked reads neither ``obs.vm_pu`` nor the iterate's own
    output (``obs.p_mw``, ``obs.q_mvar``): everything it reads (profile,
    setpoint, price, frequency, its own state) is fixed for the whole
    physics step, so its command is too, and the engine evaluates it once
    per step instead of at every iterate of the unit-control fixed point.
    A subclass that overrides ``step`` is not marked unless it says so
    itself.
    """
    step.voltage_blind = True
    return step


def voltage_local(step):
    """Mark a policy's ``step`` as answering each unit's own voltage only.

    A step so marked gives each unit ``i`` a command that, within a
    physics step, depends on the grid only through ``obs.vm_pu[i]`` (its
    own bus voltage) and not on the iterate's own output (``obs.p_mw``,
    ``obs.q_mvar``): volt-var and volt-watt laws are such. The engine then
    settles the step by Newton's method instead of relaxation: it measures
    each unit's slope dP/dV, dQ/dV between successive evaluations and
    combines them with the grid's voltage sensitivities, which usually
    settles a step in one power flow fewer. A policy marked
    :func:`voltage_blind` is local too. A subclass that overrides ``step``
    is not marked unless it says so itself.
    """
    step.voltage_local = True
    return step


class UnitPolicy(abc.ABC):
    """Base class of every unit (tier-1) policy.

    Subclasses set :attr:`tables` (the pandapower element tables they can
    control) and :attr:`defaults` (every parameter with its default), and
    implement the three methods below, all vectorised over the group.

    Parameters
    ----------
    rating_mw : ndarray
        Rating of each unit [MW] (``rating_mw`` parameter, default the
        element's ``sn_mva``).
    params : mapping
        The policy's parameters, already merged with :attr:`defaults`
        by the engine; unknown names are rejected before construction.
    """

    name: ClassVar[str] = ""
    tables: ClassVar[tuple[str, ...]] = ("sgen",)
    defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        self.rating_mw = np.asarray(rating_mw, dtype=float)
        self.params = dict(params)

    @property
    def n_units(self) -> int:
        return int(self.rating_mw.size)

    @abc.abstractmethod
    def step(self, obs: Observation) -> Command:
        """Map observations to the group's output; must not change state."""

    @abc.abstractmethod
    def advance(self, obs: Observation, command: Command) -> None:
        """Move the state over ``obs.step_s`` with the settled ``command``."""

    @abc.abstractmethod
    def capability(self, obs: Observation) -> Capability:
        """Report what the units can do at the next step."""
