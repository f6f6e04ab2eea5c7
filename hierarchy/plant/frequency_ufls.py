"""Under-frequency load shedding (UFLS): protection relays at the loads.

Each area may set stages ``(f_hz, fraction, delay_s)``. A relay at every
load of the area measures the frequency of the load's island; when it has
stayed below a stage's ``f_hz`` for ``delay_s`` the relay opens that
stage's ``fraction`` of the load's demand, which stays disconnected for the
rest of the run (reconnection is an operator's decision). The relays are
local: no communication link, no coordinator. Stages act in order of
falling frequency, the last resort after primary and secondary control
(ENTSO-E, *Policy 5: Emergency Operations*, 2016, the 49.0 Hz first stage;
NERC PRC-006-5, *Automatic Underfrequency Load Shedding*, 2021).

The relay samples the frequency at every frequency-model step
(``frequency.step``): a stage opens ``delay`` after the first sample below
its threshold (the crossing itself lies up to one step earlier).

Where the loads' customer classes have different priorities
(``market.customer_classes.<class>.priority``), the stages are assigned to
the loads in order of priority, lowest first, as a UFLS scheme assigns
feeders to stages, sparing priority customers: stage ``k`` sheds the same
share of the area's (nominal) demand as without priorities, taken from the
loads of lowest priority first (:func:`priority_shares`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["UflsStage", "LoadShedding", "priority_shares"]


@dataclass(frozen=True)
class UflsStage:
    """One stage: below ``f_hz`` [Hz] for ``delay_s`` [s], shed ``fraction`` [pu of demand]."""

    f_hz: float
    fraction: float
    delay_s: float = 0.0


class LoadShedding:
    """The UFLS relays of every load.

    Parameters
    ----------
    stages : list of list of UflsStage
        Stages per area (index = area index).
    load_area : ndarray of int
        Area index of every load (load-table order).

    Attributes
    ----------
    served : ndarray
        Fraction of each load's demand still connected [pu] (1 = all).

    Examples
    --------
    >>> relays = LoadShedding([[UflsStage(49.0, 0.1, 0.2)]], np.array([0, 0]))
    >>> [relays.step(0.1, np.array([48.9, 48.9])) for _ in range(3)][2]  # below at 0.1 s, opens at 0.3 s
    [(0, 0, array([0, 1]))]
    >>> relays.served.tolist()
    [0.9, 0.9]
    """

    def __init__(self, stages: list[list[UflsStage]], load_area: np.ndarray,
                 priority: np.ndarray | None = None, demand_mw: np.ndarray | None = None) -> None:
        self.stages = [list(s) for s in stages]
        self.load_area = np.asarray(load_area, dtype=int)
        self.served = np.ones(self.load_area.size)
        self.rows = [np.flatnonzero(self.load_area == a) for a in range(len(self.stages))]
        #: per area, None (every load sheds each stage's fraction) or (stages, rows) shares [pu]
        self.shares: list[np.ndarray | None] = [None] * len(self.stages)
        if priority is not None:
            priority, demand_mw = np.asarray(priority), np.asarray(demand_mw, dtype=float)
            for a, rows in enumerate(self.rows):
                if self.stages[a] and np.unique(priority[rows]).size > 1:
                    self.shares[a] = priority_shares([s.fraction for s in self.stages[a]],
                                                     priority[rows], demand_mw[rows])
        # time each relay has seen its threshold crossed [s]; NaN while above
        self.timer_s = [np.full((len(s), r.size), np.nan) for s, r in zip(self.stages, self.rows)]
        self.tripped = [np.zeros((len(s), r.size), dtype=bool) for s, r in zip(self.stages, self.rows)]

    def pending(self, load_f_hz: np.ndarray | None = None) -> bool:
        """True while some relay's timer runs or, given the loads' frequencies [Hz], some
        armed relay sees its threshold crossed (the frequency model must keep stepping)."""
        for a, stages in enumerate(self.stages):
            for k, stage in enumerate(stages):
                armed = ~self.tripped[a][k]
                if np.any(np.isfinite(self.timer_s[a][k]) & armed):
                    return True
                if load_f_hz is not None and np.any(
                        (np.nan_to_num(load_f_hz[self.rows[a]], nan=np.inf) < stage.f_hz) & armed):
                    return True
        return False

    def step(self, dt_s: float, load_f_hz: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
        """Advance the relays over ``dt_s`` [s] at the loads' frequencies [Hz] (NaN: de-energised).

        Returns
        -------
        list of (area, stage, load rows)
            The relays that opened now; ``served`` already reduced.
        """
        trips = []
        for a, stages in enumerate(self.stages):
            rows = self.rows[a]
            if not stages or rows.size == 0:
                continue
            f_hz = load_f_hz[rows]
            for k, stage in enumerate(stages):
                below = np.nan_to_num(f_hz, nan=np.inf) < stage.f_hz
                armed = below & ~self.tripped[a][k]
                timer = np.where(armed, np.nan_to_num(self.timer_s[a][k] + dt_s, nan=0.0), np.nan)
                opens = armed & (timer >= stage.delay_s - 1e-9)
                self.timer_s[a][k] = np.where(opens, np.nan, timer)
                if opens.any():
                    self.tripped[a][k] |= opens
                    share = self.fraction(a, k)
                    share = share if np.ndim(share) == 0 else share[opens]
                    self.served[rows[opens]] = np.maximum(self.served[rows[opens]] - share, 0.0)
                    trips.append((a, k, rows[opens]))
        return trips

    def fraction(self, a: int, k: int) -> float | np.ndarray:
        """Share of its demand each load of area ``a`` sheds at stage ``k`` [pu]: the stage's
        fraction, or per load (aligned with ``rows[a]``) where priorities differ."""
        shares = self.shares[a]
        return self.stages[a][k].fraction if shares is None else shares[k]


def priority_shares(fractions: list[float], priority: np.ndarray, demand_mw: np.ndarray) -> np.ndarray:
    """Share of each load's demand each stage sheds, lowest priority first [pu].

    Parameters
    ----------
    fractions : list of float
        Share of the area's demand each stage sheds, in stage order [pu].
    priority : ndarray
        Priority of each load (lower is shed first).
    demand_mw : ndarray
        Nominal demand of each load [MW] (>= 0).

    Returns
    -------
    ndarray
        ``(n_stages, n_loads)``. The priority levels, lowest first, take
        consecutive slices of the area's total demand (each its own
        demand's share), and so do the stages (their cumulative
        fractions); a stage sheds of a level what their slices overlap,
        from the level's loads in equal shares of their demand. With one
        level every load sheds each stage's fraction; without demand, too.

    Examples
    --------
    >>> priority_shares([0.2, 0.1], np.array([2, 0, 0, 1]), np.array([90.0, 90.0, 90.0, 90.0])).round(3).tolist()
    [[0.0, 0.4, 0.4, 0.0], [0.0, 0.2, 0.2, 0.0]]
    """
    demand_mw = np.maximum(np.asarray(demand_mw, dtype=float), 0.0)
    fractions = np.asarray(fractions, dtype=float)
    priority = np.asarray(priority)
    total = float(demand_mw.sum())
    shares = np.repeat(fractions[:, None], demand_mw.size, axis=1)
    if total <= 0:
        return shares
    stage_top = np.cumsum(fractions)
    stage_bottom = stage_top - fractions
    level_bottom = 0.0
    for level in np.unique(priority):
        members = priority == level
        level_share = float(demand_mw[members].sum()) / total
        level_top = level_bottom + level_share
        overlap = np.maximum(np.minimum(stage_top, level_top) - np.maximum(stage_bottom, level_bottom), 0.0)
        shares[:, members] = (overlap / level_share if level_share > 0 else 0.0)[:, None]
        level_bottom = level_top
    return shares
