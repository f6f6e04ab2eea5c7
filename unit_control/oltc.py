"""On-load tap changer (OLTC): keeps a bus voltage in a band with a time delay.

``obs.vm_pu`` is the voltage of each transformer's controlled bus. When the
settled voltage has stayed outside ``[vm_set_pu − deadband_pu,
vm_set_pu + deadband_pu]`` on the same side for ``delay_s`` seconds, the tap
moves one step towards the band; the delay timer then restarts, so the tap
moves at most one step per delay, and at most one per physics step.

The decision depends only on the state left by :meth:`TapChanger.advance`
(settled voltages of past steps), not on the current iterate: a tap move
is not undone inside the fixed-point loop, and together with fast volt-var
control (which settles within a step) the tap does not hunt. A physics
step longer than the delay therefore gives one tap step per physics step.

Parameters (``defaults``): ``rating_mw`` (None, unused), ``h_s`` (0),
``vm_set_pu`` (1.0), ``deadband_pu`` (0.01, half-width), ``delay_s``
(30 s), ``tap_min`` (−9), ``tap_max`` (9), ``tap_init`` (0),
``direction`` (−1: raising the tap position lowers the controlled voltage,
as for a tap on the HV side feeding an LV bus; +1 the reverse).

References
----------
.. [1] P. Kundur, *Power System Stability and Control*, 1994, sec. 11.2.3
   (ULTC control: deadband and time delay).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from unit_control import laws
from unit_control.base import Capability, Command, Observation, UnitPolicy

__all__ = ["TapChanger"]


class TapChanger(UnitPolicy):
    """Tap-changer group with deadband and delay.

    Examples
    --------
    >>> from unit_control.conformance import make_observation
    >>> oltc = TapChanger(np.array([40.0]), {**TapChanger.defaults, "delay_s": 60.0})
    >>> low = make_observation(1, step_s=60.0, vm_pu=0.97)
    >>> oltc.advance(low, oltc.step(low))
    >>> oltc.step(low).tap_pos.tolist()
    [-1.0]
    """

    name: ClassVar[str] = "oltc"
    tables: ClassVar[tuple[str, ...]] = ("trafo",)
    defaults: ClassVar[Mapping[str, Any]] = {
        "rating_mw": None, "h_s": 0.0, "vm_set_pu": 1.0, "deadband_pu": 0.01, "delay_s": 30.0,
        "tap_min": -9, "tap_max": 9, "tap_init": 0, "direction": -1,
    }

    def __init__(self, rating_mw: np.ndarray, params: Mapping[str, Any]):
        super().__init__(rating_mw, params)
        n = self.n_units
        values = {key: laws.per_unit(params[key], n, key) for key in
                  ("h_s", "vm_set_pu", "deadband_pu", "delay_s", "tap_min", "tap_max", "tap_init", "direction")}
        checks = {"h_s": values["h_s"] >= 0, "vm_set_pu": values["vm_set_pu"] > 0,
                  "deadband_pu": values["deadband_pu"] >= 0, "delay_s": values["delay_s"] >= 0,
                  "tap_max": values["tap_max"] >= values["tap_min"],
                  "tap_init": (values["tap_init"] >= values["tap_min"]) & (values["tap_init"] <= values["tap_max"]),
                  "direction": np.isin(values["direction"], (-1.0, 1.0))}
        for key, ok in checks.items():
            if not np.all(ok):
                raise ValueError(f"{key}: {values[key][~ok].tolist()} is out of range")
        self.h_s, self.vm_set_pu, self.deadband_pu = values["h_s"], values["vm_set_pu"], values["deadband_pu"]
        self.delay_s, self.direction = values["delay_s"], values["direction"]
        self.tap_min, self.tap_max = np.round(values["tap_min"]), np.round(values["tap_max"])
        self.tap_pos = np.round(values["tap_init"])
        self.out_of_band_s = np.zeros(n)
        self.error_sign = np.zeros(n)

    def _error_sign(self, vm_pu: np.ndarray) -> np.ndarray:
        """+1 above the band, −1 below, 0 inside [-]."""
        vm_pu = np.asarray(vm_pu, dtype=float)
        return np.where(vm_pu > self.vm_set_pu + self.deadband_pu, 1.0,
                        np.where(vm_pu < self.vm_set_pu - self.deadband_pu, -1.0, 0.0))

    def step(self, obs: Observation) -> Command:
        """Tap positions for the step; P = Q = 0."""
        due = (self.error_sign != 0) & (self.out_of_band_s >= self.delay_s)
        move = np.where(due, -self.error_sign * self.direction, 0.0)
        tap_pos = np.clip(self.tap_pos + move, self.tap_min, self.tap_max)
        zeros = np.zeros(self.n_units)
        return Command(p_mw=zeros, q_mvar=zeros.copy(), tap_pos=tap_pos)

    def advance(self, obs: Observation, command: Command) -> None:
        """Take the settled taps; time how long the settled voltage stays out of band."""
        tap_pos = np.asarray(command.tap_pos, dtype=float)
        moved = tap_pos != self.tap_pos
        error_sign = self._error_sign(obs.vm_pu)
        restart = moved | (error_sign != self.error_sign)
        self.out_of_band_s = np.where(error_sign == 0, 0.0,
                                      np.where(restart, obs.step_s, self.out_of_band_s + obs.step_s))
        self.error_sign = error_sign
        self.tap_pos = tap_pos.copy()

    def capability(self, obs: Observation) -> Capability:
        """No active power: zeros, no storage, no cost."""
        zeros = np.zeros(self.n_units)
        return Capability(p_min_mw=zeros, p_max_mw=zeros.copy(), energy_mwh=np.full(self.n_units, np.nan),
                          cost_b_per_mwh=zeros.copy(), cost_c_per_mw2h=zeros.copy())
