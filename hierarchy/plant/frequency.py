"""Frequency of every synchronous island (DESIGN.md "Frequency").

An island holding an in-service ext_grid with ``grid.upstream: infinite``
stays at ``f0``. Every other island follows the aggregated swing equation
with first-order governors, all in MW, Hz and s:

    M·dΔf/dt = ΣP_j + P_other − P_load − D·Δf − P_loss
    T_j·dP_j/dt = P_ref,j − K_j·Δf − P_j,   clamped to [P_min,j, P_max,j]

with ``M = Σ 2·H_j·S_j / f0`` [MW·s/Hz], ``K_j = P_j,rated / (R_j·f0)``
[MW/Hz], ``D = Σ_areas D_a·P_load,a / f0`` [MW/Hz] (``load_damping_pu``);
a unit with ``T_j = 0`` (battery droop) follows ``P_ref − K·Δf`` at once.
The steady state gives ``Δf = −ΔP_L / Σβ``, ``β = ΣK_j + D`` (Kundur,
*Power System Stability and Control*, 1994, sec. 11.1.3-11.1.6).

:class:`FrequencyModel` holds the state and integrates it (classical RK4
on sub-steps no longer than a fifth of the fastest time constant);
:func:`swing_rhs` and :func:`steady_state_df_hz` are the pure equations, so
a test can integrate the same system with ``scipy.integrate.solve_ivp``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

__all__ = ["IslandInputs", "FrequencyModel", "swing_rhs", "steady_state_df_hz", "droop_output_mw"]

#: frequency deviation and unit output within these of the steady state count as settled
SETTLED_HZ = 1e-4
SETTLED_MW = 1e-3
#: no steady state within this deviation [Hz]: the island is collapsing
DF_LIMIT_HZ = 10.0


@dataclass
class IslandInputs:
    """What drives one island's frequency between two power-flow solves.

    Attributes
    ----------
    m_mw_s_per_hz : float
        Inertia ``M = Σ 2·H·S/f0`` [MW·s/Hz].
    d_mw_per_hz : float
        Load damping ``D·P_load/f0`` [MW/Hz].
    p_load_mw, p_other_mw, p_loss_mw : float
        Load at nominal frequency, generation of units without droop
        (storage charging negative) and losses of the last solve [MW].
    units : ndarray of int
        Rows of the droop-unit arrays of :class:`FrequencyModel` in the island.
    """

    m_mw_s_per_hz: float = 0.0
    d_mw_per_hz: float = 0.0
    p_load_mw: float = 0.0
    p_other_mw: float = 0.0
    p_loss_mw: float = 0.0
    units: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def droop_output_mw(df_hz: float, p_ref_mw: np.ndarray, k_mw_per_hz: np.ndarray,
                    p_min_mw: np.ndarray, p_max_mw: np.ndarray) -> np.ndarray:
    """Static droop output ``clip(P_ref − K·Δf, P_min, P_max)`` [MW]."""
    return np.clip(p_ref_mw - k_mw_per_hz * df_hz, p_min_mw, p_max_mw)


def swing_rhs(df_hz: float, p_mw: np.ndarray, inputs: IslandInputs, p_ref_mw: np.ndarray,
              k_mw_per_hz: np.ndarray, t_s: np.ndarray, p_min_mw: np.ndarray,
              p_max_mw: np.ndarray) -> tuple[float, np.ndarray]:
    """Time derivatives of ``Δf`` [Hz/s] and of the governed outputs [MW/s].

    Units with ``t_s == 0`` are algebraic (their entry of ``p_mw`` is
    ignored and their derivative is 0). Governed outputs are held inside
    their limits (the derivative is cut where it would leave them).
    """
    lagged = t_s > 0
    static = droop_output_mw(df_hz, p_ref_mw, k_mw_per_hz, p_min_mw, p_max_mw)
    p_now = np.where(lagged, p_mw, static)
    imbalance_mw = (float(np.sum(p_now)) + inputs.p_other_mw - inputs.p_load_mw
                    - inputs.d_mw_per_hz * df_hz - inputs.p_loss_mw)
    ddf = imbalance_mw / inputs.m_mw_s_per_hz
    dp = np.where(lagged, (p_ref_mw - k_mw_per_hz * df_hz - p_mw) / np.where(lagged, t_s, 1.0), 0.0)
    dp = np.where((p_mw >= p_max_mw) & (dp > 0) | (p_mw <= p_min_mw) & (dp < 0), 0.0, dp)
    return ddf, dp


def steady_state_df_hz(inputs: IslandInputs, p_ref_mw: np.ndarray, k_mw_per_hz: np.ndarray,
                       p_min_mw: np.ndarray, p_max_mw: np.ndarray) -> float:
    """Δf [Hz] at which the island balances with every droop unit in steady state.

    Root of ``Σclip(P_ref − K·Δf) + P_other − P_load − D·Δf − P_loss``
    (monotone in Δf); ``±DF_LIMIT_HZ`` if there is none within it.
    """
    def balance(df_hz: float) -> float:
        return (float(np.sum(droop_output_mw(df_hz, p_ref_mw, k_mw_per_hz, p_min_mw, p_max_mw)))
                + inputs.p_other_mw - inputs.p_load_mw - inputs.d_mw_per_hz * df_hz - inputs.p_loss_mw)

    low, high = balance(-DF_LIMIT_HZ), balance(DF_LIMIT_HZ)
    if low <= 0:
        return -DF_LIMIT_HZ
    if high >= 0:
        return DF_LIMIT_HZ
    return float(brentq(balance, -DF_LIMIT_HZ, DF_LIMIT_HZ, xtol=1e-12))


class FrequencyModel:
    """State of the islands' frequencies and of the droop units' governors.

    Parameters
    ----------
    f0_hz : float
        Nominal frequency [Hz].
    k_mw_per_hz, t_s, p_min_mw, p_max_mw : ndarray
        Per droop unit: droop gain ``P_rated/(R·f0)`` [MW/Hz], governor time
        constant [s] (0: no lag), output limits [MW].

    Attributes
    ----------
    df_hz : ndarray
        Frequency deviation of each island [Hz] (0 for infinite islands).
    dynamic : ndarray of bool
        Which islands follow the swing equation.
    p_mw : ndarray
        Governed output of each droop unit [MW].
    p_ref_mw : ndarray
        Reference of each droop unit [MW].
    t_ms : int
        Time the state is at [ms].

    Examples
    --------
    >>> model = FrequencyModel(50.0, np.array([40.0]), np.array([0.5]), np.array([0.0]),
    ...                        np.array([200.0]))
    >>> model.set_islands([IslandInputs(16.0, 2.0, 101.0, 0.0, 0.0, np.array([0]))], np.array([True]))
    >>> model.p_ref_mw[:] = 100.0; model.p_mw[:] = 100.0
    >>> round(model.steady_state(0), 4)  # −ΔP_L/β = −1/(40 + 2)
    -0.0238
    """

    def __init__(self, f0_hz: float, k_mw_per_hz: np.ndarray, t_s: np.ndarray,
                 p_min_mw: np.ndarray, p_max_mw: np.ndarray) -> None:
        self.f0_hz = float(f0_hz)
        self.k_mw_per_hz = np.asarray(k_mw_per_hz, dtype=float)
        self.t_s = np.asarray(t_s, dtype=float)
        self.p_min_mw = np.asarray(p_min_mw, dtype=float).copy()
        self.p_max_mw = np.asarray(p_max_mw, dtype=float).copy()
        n = self.k_mw_per_hz.size
        self.p_ref_mw = np.zeros(n)
        self.p_mw = np.zeros(n)
        self.inputs: list[IslandInputs] = []
        self.dynamic = np.zeros(0, dtype=bool)
        self.df_hz = np.zeros(0)
        self.t_ms = 0

    def set_islands(self, inputs: list[IslandInputs], dynamic: np.ndarray,
                    df_hz: np.ndarray | None = None) -> None:
        """Replace the islands (after a topology change or new inputs)."""
        self.inputs = inputs
        self.dynamic = np.asarray(dynamic, dtype=bool)
        self.df_hz = np.zeros(len(inputs)) if df_hz is None else np.asarray(df_hz, dtype=float).copy()
        self.df_hz[~self.dynamic] = 0.0

    # ------------------------------------------------------------- analysis
    def _unit_args(self, rows: np.ndarray):
        return (self.p_ref_mw[rows], self.k_mw_per_hz[rows], self.t_s[rows],
                self.p_min_mw[rows], self.p_max_mw[rows])

    def steady_state(self, i: int) -> float:
        """Steady-state Δf [Hz] of island ``i`` with its present inputs."""
        if not self.dynamic[i]:
            return 0.0
        ref, k, _, lo, hi = self._unit_args(self.inputs[i].units)
        return steady_state_df_hz(self.inputs[i], ref, k, lo, hi)

    def settled(self, i: int) -> bool:
        """True if island ``i`` is at its steady state (within SETTLED_HZ/MW)."""
        if not self.dynamic[i]:
            return True
        df_ss = self.steady_state(i)
        rows = self.inputs[i].units
        ref, k, t, lo, hi = self._unit_args(rows)
        p_ss = droop_output_mw(df_ss, ref, k, lo, hi)
        lagged = t > 0
        return bool(abs(self.df_hz[i] - df_ss) <= SETTLED_HZ
                    and np.all(np.abs(self.p_mw[rows] - p_ss)[lagged] <= SETTLED_MW))

    def all_settled(self) -> bool:
        return all(self.settled(i) for i in range(len(self.inputs)))

    def snap(self, i: int) -> None:
        """Put island ``i`` exactly at its steady state."""
        if not self.dynamic[i]:
            return
        self.df_hz[i] = self.steady_state(i)
        rows = self.inputs[i].units
        ref, k, _, lo, hi = self._unit_args(rows)
        self.p_mw[rows] = droop_output_mw(self.df_hz[i], ref, k, lo, hi)

    # ---------------------------------------------------------- integration
    def advance(self, dt_s: float) -> None:
        """Integrate every dynamic island over ``dt_s`` [s] (RK4 sub-steps)."""
        for i in np.flatnonzero(self.dynamic):
            inputs = self.inputs[i]
            rows = inputs.units
            if inputs.m_mw_s_per_hz <= 0:  # no inertia: the frequency is algebraic
                self._advance_algebraic(i, dt_s)
                continue
            args = self._unit_args(rows)
            df, p = self.df_hz[i], self.p_mw[rows].copy()
            h_max = self._substep_s(inputs, args)
            n_sub = max(1, math.ceil(dt_s / h_max - 1e-9))
            h = dt_s / n_sub
            for _ in range(n_sub):
                df, p = _rk4(df, p, h, inputs, args)
            self.df_hz[i] = df
            self.p_mw[rows] = np.clip(p, args[3], args[4])

    @staticmethod
    def _substep_s(inputs: IslandInputs, args) -> float:
        _, k, t, _, _ = args
        fastest = [inputs.m_mw_s_per_hz / max(inputs.d_mw_per_hz + float(np.sum(k[t == 0])), 1e-12)]
        fastest += list(t[t > 0])
        lagged = t > 0
        if np.any(lagged):  # governor-swing oscillation period ~ 2π·sqrt(M·T/K)
            fastest.append(float(np.sqrt(inputs.m_mw_s_per_hz * np.min(t[lagged])
                                         / max(float(np.sum(k[lagged])), 1e-12))))
        return max(min(fastest) / 5.0, 1e-4)

    def _advance_algebraic(self, i: int, dt_s: float) -> None:
        """No inertia: lagged units move exactly over dt_s, Δf balances at once."""
        rows = self.inputs[i].units
        ref, k, t, lo, hi = self._unit_args(rows)
        lagged = t > 0
        target = np.clip(ref - k * self.df_hz[i], lo, hi)
        decay = np.exp(-dt_s / np.where(lagged, t, 1.0))
        self.p_mw[rows] = np.where(lagged, target + (self.p_mw[rows] - target) * decay, target)
        fixed = IslandInputs(0.0, self.inputs[i].d_mw_per_hz, self.inputs[i].p_load_mw,
                             self.inputs[i].p_other_mw + float(np.sum(self.p_mw[rows][lagged])),
                             self.inputs[i].p_loss_mw)
        self.df_hz[i] = steady_state_df_hz(fixed, ref[~lagged], k[~lagged], lo[~lagged], hi[~lagged])


def _rk4(df: float, p: np.ndarray, h: float, inputs: IslandInputs, args) -> tuple[float, np.ndarray]:
    """One classical Runge-Kutta step of :func:`swing_rhs`."""
    k1f, k1p = swing_rhs(df, p, inputs, *args)
    k2f, k2p = swing_rhs(df + h / 2 * k1f, p + h / 2 * k1p, inputs, *args)
    k3f, k3p = swing_rhs(df + h / 2 * k2f, p + h / 2 * k2p, inputs, *args)
    k4f, k4p = swing_rhs(df + h * k3f, p + h * k3p, inputs, *args)
    return (df + h / 6 * (k1f + 2 * k2f + 2 * k3f + k4f),
            p + h / 6 * (k1p + 2 * k2p + 2 * k3p + k4p))
