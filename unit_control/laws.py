"""Control laws of tier 1 as pure, vectorised functions.

Every function maps numpy arrays (one entry per unit) to numpy arrays and
touches no state, so each law is testable on its own against the standard
it implements. The policy classes in :mod:`unit_control.inverter`,
:mod:`unit_control.battery`, :mod:`unit_control.generator`, … hold the state
and call these laws on whole groups.

Sign convention: generation positive (battery discharging ``p_mw > 0``,
charging ``p_mw < 0``); Q positive is injection. Per-unit bases follow IEEE
1547-2018: voltage in pu of nominal, Q in pu of nameplate apparent power
(``rating_mw`` here), P in pu of rated active power.

References
----------
.. [1] IEEE Std 1547-2018, "Standard for Interconnection and Interoperability
   of Distributed Energy Resources with Associated Electric Power Systems
   Interfaces", doi:10.1109/IEEESTD.2018.8332112. Tables 8, 10, 24.
.. [2] P. Kundur, *Power System Stability and Control*, McGraw-Hill, 1994,
   sec. 11.1 (governor and speed droop).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "VOLT_VAR_CAT_A", "VOLT_VAR_CAT_B", "VOLT_WATT_IEEE1547",
    "FREQ_WATT_DEADBAND_HZ", "FREQ_WATT_DROOP",
    "volt_var_q_pu", "volt_watt_p_pu", "freq_watt_p_mw", "const_pf_q_mvar",
    "soc_next", "battery_p_limits_mw", "ramp_limit_mw", "governor_step_mw",
    "droop_response_mw", "commit_on", "time_in_state_next_s", "per_unit",
]

#: IEEE 1547-2018 Table 8, category A defaults: (V1..V4 [pu], Q1..Q4 [pu of rating]).
VOLT_VAR_CAT_A = ((0.90, 1.00, 1.00, 1.10), (0.25, 0.0, 0.0, -0.25))
#: IEEE 1547-2018 Table 8, category B defaults: (V1..V4 [pu], Q1..Q4 [pu of rating]).
VOLT_VAR_CAT_B = ((0.92, 0.98, 1.02, 1.08), (0.44, 0.0, 0.0, -0.44))
#: IEEE 1547-2018 Table 10 defaults: (V1, V2 [pu]), (P1, P2 [pu of rated P]);
#: P2 = min(0.2, P_min) for generators (0 for storage that can absorb).
VOLT_WATT_IEEE1547 = ((1.06, 1.10), (1.0, 0.2))
#: IEEE 1547-2018 Table 24: frequency-droop deadband [Hz] each side of nominal.
FREQ_WATT_DEADBAND_HZ = 0.036
#: IEEE 1547-2018 Table 24: frequency droop [pu].
FREQ_WATT_DROOP = 0.05

_SECONDS_PER_HOUR = 3600.0


def per_unit(value: Any, n_units: int, name: str) -> np.ndarray:
    """Broadcast a scalar or per-unit parameter to a float array of ``n_units``.

    The string ``"none"`` (YAML ``droop: none``) becomes NaN, read by the
    laws as "no such response".

    Raises
    ------
    ValueError
        If ``value`` has a length other than 1 or ``n_units``; the message
        names the parameter.
    """
    if isinstance(value, str) and value.lower() == "none":
        value = np.nan
    try:
        array = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a number or a list of numbers") from None
    if array.size == 1:
        return np.full(n_units, array[0])
    if array.size != n_units:
        raise ValueError(f"{name}: got {array.size} values for {n_units} units")
    return array.copy()


def _interp(x: np.ndarray, x_points: Any, y_points: Any, name: str) -> np.ndarray:
    x_points = np.asarray(x_points, dtype=float)
    y_points = np.asarray(y_points, dtype=float)
    if x_points.shape != y_points.shape or x_points.ndim != 1:
        raise ValueError(f"{name}: voltage and value points must be 1-d and of equal length")
    if (x_points[1:] < x_points[:-1]).any():
        raise ValueError(f"{name}: voltage points must be non-decreasing, got {x_points.tolist()}")
    return np.interp(np.asarray(x, dtype=float), x_points, y_points)


def volt_var_q_pu(vm_pu: np.ndarray, v_points: Any = VOLT_VAR_CAT_B[0],
                  q_points: Any = VOLT_VAR_CAT_B[1]) -> np.ndarray:
    """Volt-var characteristic: reactive power from voltage [pu of rating].

    Linear between the points, the end values held outside [V1, V4]
    (IEEE 1547-2018 clause 5.3.3, Table 8).

    Parameters
    ----------
    vm_pu : ndarray
        Voltage magnitude at the unit's terminal [pu].
    v_points, q_points : sequence of float
        Curve points V1..V4 [pu] (non-decreasing) and Q1..Q4 [pu of rating].

    Returns
    -------
    ndarray
        Reactive power [pu of rating], positive = injection.

    Examples
    --------
    >>> volt_var_q_pu(np.array([0.90, 0.95, 1.00, 1.10]), *VOLT_VAR_CAT_B).round(3).tolist()
    [0.44, 0.22, 0.0, -0.44]
    """
    return _interp(vm_pu, v_points, q_points, "volt_var curve")


def volt_watt_p_pu(vm_pu: np.ndarray, v_points: Any = VOLT_WATT_IEEE1547[0],
                   p_points: Any = VOLT_WATT_IEEE1547[1]) -> np.ndarray:
    """Volt-watt characteristic: active-power cap from voltage [pu of rated P].

    1.0 up to V1, linear to P2 at V2, P2 held above (IEEE 1547-2018 clause
    5.4.2, Table 10).

    Returns
    -------
    ndarray
        Maximum active power [pu of rated P].

    Examples
    --------
    >>> volt_watt_p_pu(np.array([1.0, 1.08, 1.2])).round(3).tolist()
    [1.0, 0.6, 0.2]
    """
    return _interp(vm_pu, v_points, p_points, "volt_watt curve")


def freq_watt_p_mw(f_hz: np.ndarray, f0_hz: float, p_pre_mw: np.ndarray,
                   p_avail_mw: np.ndarray, rating_mw: np.ndarray,
                   deadband_hz: Any = FREQ_WATT_DEADBAND_HZ, droop: Any = FREQ_WATT_DROOP,
                   p_min_mw: Any = 0.0) -> np.ndarray:
    """Frequency-droop (frequency-watt) active power [MW].

    IEEE 1547-2018 clause 6.5.2.7, Table 24, in pu of rated P (scaled here by
    ``rating_mw``): over-frequency ``P = max(P_pre − (f − f0 − db)/(f0·k), P_min)``;
    under-frequency ``P = min(P_pre + (f0 − db − f)/(f0·k), P_avail)``;
    ``P = P_pre`` inside the deadband.

    Parameters
    ----------
    f_hz : ndarray
        Measured frequency [Hz].
    f0_hz : float
        Nominal frequency [Hz].
    p_pre_mw, p_avail_mw : ndarray
        Output before the deviation and available power [MW].
    rating_mw : ndarray
        Rated active power [MW].
    deadband_hz, droop : float or ndarray
        Deadband db [Hz] and droop k [pu].
    p_min_mw : float or ndarray
        Minimum output [MW].

    Returns
    -------
    ndarray
        Active power [MW], generation positive.

    Examples
    --------
    >>> freq_watt_p_mw(np.array([50.536]), 50.0, np.array([1.0]), np.array([1.0]), np.array([1.0])).round(6).tolist()
    [0.8]
    """
    f_hz = np.asarray(f_hz, dtype=float)
    p_pre_mw = np.asarray(p_pre_mw, dtype=float)
    slope_mw_per_hz = np.asarray(rating_mw, dtype=float) / (f0_hz * np.asarray(droop, dtype=float))
    over = np.maximum(p_pre_mw - (f_hz - f0_hz - deadband_hz) * slope_mw_per_hz, p_min_mw)
    under = np.minimum(p_pre_mw + (f0_hz - deadband_hz - f_hz) * slope_mw_per_hz, p_avail_mw)
    p_mw = np.where(f_hz > f0_hz + deadband_hz, over, p_pre_mw)
    return np.where(f_hz < f0_hz - deadband_hz, under, p_mw)


def const_pf_q_mvar(p_mw: np.ndarray, pf: Any) -> np.ndarray:
    """Reactive power at a constant power factor [Mvar].

    ``Q = sign(pf)·|P|·tan(arccos|pf|)``: a positive ``pf`` injects Q
    (capacitive), a negative one absorbs (inductive, the usual setting for
    PV on feeders with high voltage; IEEE 1547-2018 clause 5.3.2).

    Examples
    --------
    >>> const_pf_q_mvar(np.array([1.0]), -0.8).round(6).tolist()
    [-0.75]
    """
    pf = np.asarray(pf, dtype=float)
    if np.any((np.abs(pf) > 1.0) | (pf == 0.0)):
        raise ValueError(f"pf: {pf.tolist()} must have 0 < |pf| <= 1")
    return np.sign(pf) * np.abs(np.asarray(p_mw, dtype=float)) * np.tan(np.arccos(np.abs(pf)))


def soc_next(soc: np.ndarray, p_mw: np.ndarray, step_s: float, capacity_mwh: np.ndarray,
             eta_charge: Any, eta_discharge: Any) -> np.ndarray:
    """State of charge after holding ``p_mw`` for ``step_s`` [fraction of capacity].

    Discharging (``p_mw > 0``) draws ``p·Δt/η_dis`` from the store; charging
    (``p_mw < 0``) stores ``|p|·Δt·η_ch``.

    Examples
    --------
    >>> soc_next(np.array([0.5]), np.array([-1.0]), 3600.0, np.array([10.0]), 0.9, 0.8).tolist()
    [0.59]
    """
    p_mw = np.asarray(p_mw, dtype=float)
    step_h = step_s / _SECONDS_PER_HOUR
    stored_mwh = np.where(p_mw < 0, -p_mw * step_h * eta_charge, -p_mw * step_h / eta_discharge)
    return np.asarray(soc, dtype=float) + stored_mwh / capacity_mwh


def battery_p_limits_mw(soc: np.ndarray, step_s: float, capacity_mwh: np.ndarray,
                        soc_min: Any, soc_max: Any, eta_charge: Any, eta_discharge: Any,
                        p_max_mw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power range that keeps the SOC inside [soc_min, soc_max] over a step [MW].

    Returns
    -------
    p_min_mw, p_max_mw : ndarray
        Largest charge (``p_min_mw <= 0``) and discharge (``p_max_mw >= 0``)
        power, each also limited by the converter rating ``p_max_mw``.
        With ``step_s <= 0`` only the rating limits.
    """
    p_max_mw = np.asarray(p_max_mw, dtype=float)
    if step_s <= 0:
        return -p_max_mw, p_max_mw.copy()
    step_h = step_s / _SECONDS_PER_HOUR
    discharge_mw = (np.asarray(soc) - soc_min) * capacity_mwh * eta_discharge / step_h
    charge_mw = (soc_max - np.asarray(soc)) * capacity_mwh / (eta_charge * step_h)
    return -charge_mw.clip(0.0, p_max_mw), discharge_mw.clip(0.0, p_max_mw)


def ramp_limit_mw(p_target_mw: np.ndarray, p_prev_mw: np.ndarray,
                  ramp_mw_per_min: Any, step_s: float) -> np.ndarray:
    """Limit the change from ``p_prev_mw`` to ``ramp_mw_per_min`` over ``step_s`` [MW].

    An infinite ramp rate means no limit.

    Examples
    --------
    >>> ramp_limit_mw(np.array([10.0, 0.0]), np.array([5.0, 5.0]), 2.0, 60.0).tolist()
    [7.0, 3.0]
    """
    max_change_mw = np.asarray(ramp_mw_per_min, dtype=float) * step_s / 60.0
    p_prev_mw = np.asarray(p_prev_mw, dtype=float)
    return np.clip(p_target_mw, p_prev_mw - max_change_mw, p_prev_mw + max_change_mw)


def droop_response_mw(delta_f_hz: np.ndarray, rating_mw: np.ndarray, droop: Any,
                      f0_hz: float) -> np.ndarray:
    """Steady-state primary response ``−(P_rated/(R·f0))·Δf`` [MW].

    A droop of NaN or infinity (no primary response) gives 0 (Kundur [2]_
    eq. 11.4).
    """
    droop = np.asarray(droop, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain_mw_per_hz = np.where(np.isfinite(droop) & (droop > 0), rating_mw / (droop * f0_hz), 0.0)
    return -gain_mw_per_hz * np.asarray(delta_f_hz, dtype=float)


def governor_step_mw(p_mw: np.ndarray, p_ref_mw: np.ndarray, delta_f_hz: np.ndarray,
                     rating_mw: np.ndarray, droop: Any, f0_hz: float,
                     governor_t_s: Any, step_s: float) -> np.ndarray:
    """First-order governor over one step, exact discretisation [MW].

    Integrates ``T·dP/dt = P_ref − (P_rated/(R·f0))·Δf − P`` exactly over
    ``step_s`` with constant inputs:
    ``P(t+Δt) = P∞ + (P(t) − P∞)·exp(−Δt/T)``, ``P∞ = P_ref − (P_rated/(R·f0))·Δf``.
    ``T = 0`` gives ``P∞`` at once. Limits are the caller's (Kundur [2]_ sec. 11.1).

    Examples
    --------
    >>> governor_step_mw(np.array([0.0]), np.array([1.0]), np.array([0.0]), np.array([1.0]),
    ...                  0.05, 50.0, 2.0, 2.0).round(6).tolist()
    [0.632121]
    """
    p_inf_mw = np.asarray(p_ref_mw, dtype=float) + droop_response_mw(delta_f_hz, rating_mw, droop, f0_hz)
    governor_t_s = np.asarray(governor_t_s, dtype=float)
    with np.errstate(divide="ignore", over="ignore"):
        decay = np.where(governor_t_s > 0, np.exp(-step_s / np.where(governor_t_s > 0, governor_t_s, 1.0)), 0.0)
    return p_inf_mw + (np.asarray(p_mw, dtype=float) - p_inf_mw) * decay


def commit_on(on: np.ndarray, time_in_state_s: np.ndarray, want_on: np.ndarray,
              min_up_s: Any, min_down_s: Any) -> np.ndarray:
    """Unit commitment with minimum up and down times.

    A running unit may stop only once it has run ``min_up_s``; a stopped one
    may start only once it has been down ``min_down_s`` [s].

    Returns
    -------
    ndarray of bool
        Whether each unit is on for the coming step.
    """
    on = np.asarray(on, dtype=bool)
    may_stop = on & (time_in_state_s >= min_up_s)
    may_start = ~on & (time_in_state_s >= min_down_s)
    return np.where(may_stop & ~want_on, False, np.where(may_start & want_on, True, on))


def time_in_state_next_s(on_before: np.ndarray, on_after: np.ndarray,
                         time_in_state_s: np.ndarray, step_s: float) -> np.ndarray:
    """Time each unit has been in its state at the end of a step [s].

    A unit that switched at the start of the step has been in its new state
    for ``step_s``.
    """
    switched = np.asarray(on_before, dtype=bool) != np.asarray(on_after, dtype=bool)
    return np.where(switched, step_s, np.asarray(time_in_state_s, dtype=float) + step_s)
