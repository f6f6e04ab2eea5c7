"""Security check of a schedule: voltages, branch loadings and their sensitivities.

The market's security step (``market.security``) asks the plant how the
feeder would look if every participant delivered its award: a power flow
of the scheduled injections, its bus voltages and line and transformer
loadings against their limits, and how each limited quantity moves per MW
a participant injects, the slack (the ext_grid) taking the difference.

The check runs on its own :class:`~hierarchy.plant.powerflow.PowerFlow`, a
copy of the plant's network kept at the plant's topology, tap positions and
slack weights before every check, so that checking never disturbs the
physics' state or its warm start. Sensitivities are finite differences of
the AC power flow itself (one solve per participant pattern, the base
solution as warm start): for a line ``∂loading/∂P`` [%/MW], a PTDF in
loading terms; for a bus ``∂|V|/∂P`` [pu/MW] (cf. the Jacobian-based
:meth:`PowerFlow.voltage_sensitivity`; Kirschen & Strbac, ch. 6, for
the DC analogue, the power transfer distribution factors).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hierarchy.plant.powerflow import PowerFlow

__all__ = ["GridCheck", "Assessment", "SWITCHABLE"]

#: tables whose in-service state the check copies from the plant's network
SWITCHABLE = ("line", "trafo", "load", "sgen", "storage", "gen")
#: pandapower's sign of each injection table's P and Q (generation positive -> pandapower)
_SIGN = {"load": -1.0, "sgen": 1.0, "storage": -1.0, "gen": 1.0}


@dataclass(frozen=True)
class Assessment:
    """One schedule checked: its limited quantities and their sensitivities.

    Constraint ``c`` holds where ``sign[c]·value[c] <= sign[c]·limit[c]``.

    Attributes
    ----------
    converged : bool
        Whether the power flow of the schedule converged (if not, the
        arrays are empty).
    names : tuple of str
        ``line/N loading``, ``trafo/N loading``, ``bus/N voltage``.
    value, limit : ndarray
        Loading [% of rating] or voltage magnitude [pu], and its limit.
    sign : ndarray
        +1 for an upper limit (loading, highest voltage), −1 for a lower one.
    scale : ndarray
        The unit in per unit: 100 for a loading, 1 for a voltage.
    sensitivity : ndarray
        ``(n_constraints, n_patterns)``: change of each value per MW of each
        injection pattern given [%/MW, pu/MW] (0 columns if none given).
    """

    converged: bool
    names: tuple[str, ...]
    value: np.ndarray
    limit: np.ndarray
    sign: np.ndarray
    scale: np.ndarray
    sensitivity: np.ndarray

    def violated(self, tol: float = 1e-6) -> np.ndarray:
        """Indices of the constraints beyond their limit by more than ``tol`` [pu of the scale]."""
        return np.flatnonzero(self.sign * (self.value - self.limit) / self.scale > tol)

    def worst(self, kind: str) -> float:
        """Highest loading [%] (``kind="loading"``), or lowest or highest voltage [pu]
        (``"vm_min"``, ``"vm_max"``) of the schedule; NaN if none."""
        if kind == "loading":
            rows = [k for k, n in enumerate(self.names) if n.endswith("loading")]
            return float(np.max(self.value[rows])) if rows else float("nan")
        rows = [k for k, n in enumerate(self.names) if n.endswith("voltage")]
        if not rows:
            return float("nan")
        return float(np.min(self.value[rows]) if kind == "vm_min" else np.max(self.value[rows]))


class GridCheck:
    """Power-flow checks of schedules against voltage and loading limits.

    Parameters
    ----------
    plant : Plant
        The run's plant (its network, topology and solver backend).
    vm_band_pu : (float, float)
        Allowed bus voltage magnitudes [pu].
    max_loading_percent : float
        Loading limit of every line and transformer [% of rating].
    branch_limits_percent : mapping of (str, int) to float, optional
        ``(table, position)`` -> loading limit [%] of single lines or
        transformers, overriding ``max_loading_percent``.
    """

    def __init__(self, plant, vm_band_pu: tuple[float, float] = (0.95, 1.05),
                 max_loading_percent: float = 100.0,
                 branch_limits_percent: Mapping[tuple[str, int], float] | None = None):
        self.plant = plant
        net = plant.net
        self.flow = PowerFlow(net, backend=plant.powerflow.backend)
        self.vm_band_pu = (float(vm_band_pu[0]), float(vm_band_pu[1]))
        self.limit_percent = {t: np.full(len(net[t]), float(max_loading_percent)) for t in ("line", "trafo")}
        for (table, position), percent in (branch_limits_percent or {}).items():
            self.limit_percent[table][position] = float(percent)
        self._in_service = {t: net[t]["in_service"].to_numpy(dtype=bool).copy() for t in SWITCHABLE}
        self._taps = _tap_state(net)
        self._slack_weight = None
        self.names = ([f"line/{i} loading" for i in net.line.index]
                      + [f"trafo/{i} loading" for i in net.trafo.index]
                      + [f"bus/{i} voltage" for i in net.bus.index] * 2)
        self.n_solves = 0

    # ---------------------------------------------------------------- state
    def sync(self) -> None:
        """Take over the plant's topology, tap positions and slack weights.

        Reads the plant power flow's own network (its live copy, which
        events and tap changers act on), as the frequency model's topology
        does (:meth:`~hierarchy.plant.frequency_coupling.GridFrequency.refresh_topology`).
        """
        live_flow = self.plant.powerflow
        live = live_flow.network
        for table in SWITCHABLE:
            state = live[table]["in_service"].to_numpy(dtype=bool)
            for position in np.flatnonzero(state != self._in_service[table]):
                self.flow.set_in_service(table, int(position), bool(state[position]))
            self._in_service[table] = state.copy()
        taps, typed = _tap_state(live)
        for position in np.flatnonzero(typed & ((taps != self._taps[0]) | ~self._taps[1])):
            self.flow.set_tap_pos(int(position), int(taps[position]))
        self._taps = (taps, typed)
        weight = live_flow.slack_weights
        if not _same(weight, self._slack_weight):
            self.flow.set_slack_weights(weight)
            self._slack_weight = None if weight is None else weight.copy()

    # ---------------------------------------------------------------- check
    def assess(self, p_mw: Mapping[str, np.ndarray], q_mvar: Mapping[str, np.ndarray],
               patterns: Sequence[Mapping[str, np.ndarray]] = (), step_mw: float = 0.1) -> Assessment:
        """Check one schedule and, given injection patterns, the sensitivities to them.

        Parameters
        ----------
        p_mw, q_mvar : mapping of str to ndarray
            Per injection table (``load``, ``sgen``, ``storage``, ``gen``),
            every element's active and reactive power, generation and
            injection positive [MW], [Mvar] (a load consuming is negative).
        patterns : sequence of mapping of str to ndarray
            Injection patterns: per table, the MW each element injects per
            MW of the pattern (a participant's elements, weights summing to 1).
        step_mw : float
            Size of the finite difference [MW of the pattern].

        Returns
        -------
        Assessment
            Over the energised buses and branches. Call :meth:`sync` first
            when the plant's topology may have changed.
        """
        if not self._solve(p_mw, q_mvar):
            empty = np.zeros(0)
            return Assessment(False, (), empty, empty, empty, empty, np.zeros((0, len(patterns))))
        base = self._values()
        live = np.isfinite(base)
        sensitivity = np.zeros((int(live.sum()), len(patterns)))
        for j, pattern in enumerate(patterns):
            moved = {t: np.asarray(p, float) + step_mw * np.asarray(pattern.get(t, 0.0), float)
                     for t, p in p_mw.items()}
            if self._solve(moved, q_mvar):
                sensitivity[:, j] = ((self._values() - base) / step_mw)[live]
        n_branch = len(self.limit_percent["line"]) + len(self.limit_percent["trafo"])
        n_bus = (base.size - n_branch) // 2
        lo, hi = self.vm_band_pu
        limit = np.concatenate([self.limit_percent["line"], self.limit_percent["trafo"],
                                np.full(n_bus, lo), np.full(n_bus, hi)])
        sign = np.concatenate([np.ones(n_branch), -np.ones(n_bus), np.ones(n_bus)])
        scale = np.concatenate([np.full(n_branch, 100.0), np.ones(2 * n_bus)])
        names = tuple(name for name, keep in zip(self.names, live) if keep)
        return Assessment(True, names, base[live], limit[live], sign[live], scale[live], sensitivity)

    def _solve(self, p_mw: Mapping[str, np.ndarray], q_mvar: Mapping[str, np.ndarray]) -> bool:
        pp = {t: _SIGN[t] * np.asarray(p_mw[t], float) for t in _SIGN}
        pq = {t: _SIGN[t] * np.asarray(q_mvar[t], float) for t in _SIGN}
        self.n_solves += 1
        return self.flow.solve(pp["load"], pq["load"], pp["sgen"], pq["sgen"], pp["storage"],
                               pq["storage"], pp["gen"])

    def _values(self) -> np.ndarray:
        """Line and trafo loadings [%], then bus voltages [pu] twice (lower, upper limit)."""
        flow = self.flow
        vm = np.asarray(flow.vm_pu, float)
        return np.concatenate([np.asarray(flow.line_loading_percent, float),
                               np.asarray(flow.trafo_loading_percent, float), vm, vm])


def _tap_state(net) -> tuple[np.ndarray, np.ndarray]:
    """Tap positions [steps] (NaN: none) and whether each trafo's tap counts (a changer type)."""
    trafo = net.trafo
    taps = trafo["tap_pos"].to_numpy(dtype=float) if "tap_pos" in trafo else np.full(len(trafo), np.nan)
    typed = (trafo["tap_changer_type"].notna().to_numpy(dtype=bool) if "tap_changer_type" in trafo
             else np.zeros(len(trafo), dtype=bool))
    return taps, typed & np.isfinite(taps)


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.array_equal(a, b))
