"""Built-in area coordinators: ``none``, ``schedule_tracking``, ``agc``, ``voltage``, ``congestion``.

All bid the area's flexibility into the market and dispatch the awards back
to the area's dispatchable units in the same way
(:mod:`area_control.aggregation`); they differ in how they balance the area
between market intervals.

Each also takes the voltage and congestion support of
:mod:`area_control.support` as parameters (off by default):
``voltage_band_pu: [v_min, v_max]``, ``max_loading_percent``,
``voltage_margin_pu`` (0.005) and ``loading_margin_percent`` (5). The
support acts after the balancing, on top of its setpoints, and reports what
it did in :attr:`AreaAction.actions`. Last, the bounds the market's
security check put on awards (:mod:`area_control.limits`) bound the
setpoints of dispatchable units, renewable and flexible-load groups. ``voltage`` and ``congestion`` are
schedule tracking with the voltage band 0.95–1.05 pu, or the line loading
limit 100 %, switched on.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from area_control.aggregation import area_orders, dispatchable_setpoints, share, unit_participant
from area_control.base import AreaAction, AreaCoordinator, AreaState
from area_control.limits import bounded_setpoints, security_bounds
from area_control.support import SUPPORT_DEFAULTS, GridSupport, SupportLimits
from hierarchy.messages import REAL_TIME, Bid, Offer, UnitGroupInfo

__all__ = ["NoCoordinator", "ScheduleTracking", "AGC", "VoltageSupport", "CongestionSupport"]


class _MarketArea(AreaCoordinator):
    """Aggregation into orders, disaggregation of awards and grid support, shared by all.

    Subclasses implement :meth:`_balance`; :meth:`control` adds the
    voltage and congestion support on top of it.
    """

    def __init__(self, area, groups, params, price_cap=3000.0):
        super().__init__(area, groups, params, price_cap)
        self._groups_of_kind: dict[str, list[UnitGroupInfo]] = {}  # of _balancing_groups
        limits = SupportLimits.from_params(self.params)
        self.support = None if limits is None else GridSupport(limits)
        #: battery groups that bid into the per-interval market (``bid_blocks`` > 0)
        self._bidding_storage = [g for g in self.groups.values() if g.kind == "storage"
                                 and g.storage is not None and g.storage.bid_blocks > 0]

    def control(self, state: AreaState) -> AreaAction:
        if self.support is None:
            action = self._balance(state)
        else:
            view = self.support.view(state)
            action = self._balance(view)
            p_set, actions = self.support.apply(state, view, self.groups, action.p_set_mw)
            action = AreaAction(p_set, action.ace_mw, actions)
        if not state.bounded_awards:  # no security check in the market: nothing to look for
            return action
        bounds = security_bounds(state.awards.get(state.interval_start_ms()))
        if not bounds:  # the market's security check bound nothing this interval
            return action
        p_set = bounded_setpoints(self.area, self.groups, state.units, bounds, action.p_set_mw)
        return AreaAction(p_set, action.ace_mw, action.actions)

    def _balance(self, state: AreaState) -> AreaAction:
        """Setpoints that balance the area (without the support)."""
        raise NotImplementedError

    def orders(self, state: AreaState, interval_start_ms: int) -> tuple[list[Offer], list[Bid]]:
        meas = state.measurement
        if meas is None:
            return [], []
        if not state.forecasts and not self._bidding_storage:  # persistence, no battery bids
            return area_orders(
                self.area, self.groups, state.units, meas.load_mw,
                meas.uncontrolled_generation_mw, self.price_cap, interval_start_ms, state.time_ms,
            )
        bidding = self._bidding_storage and state.stage == REAL_TIME
        return area_orders(
            self.area, self.groups, state.units, meas.load_mw, meas.uncontrolled_generation_mw,
            self.price_cap, interval_start_ms, state.time_ms,
            forecast=state.forecasts.get(interval_start_ms),
            price_forecast=state.price_forecast(interval_start_ms) if bidding else None,
            interval_h=state.interval_ms / 3_600_000,
            committed_mwh=self._committed_mwh(state, interval_start_ms) if bidding else None,
        )

    def _committed_mwh(self, state: AreaState, interval_start_ms: int) -> dict[str, float]:
        """Energy each bidding battery group delivers from now until ``interval_start_ms``
        by the positions it holds [MWh] (discharge positive)."""
        committed: dict[str, float] = {}
        now = state.time_ms
        t = state.interval_start_ms(now)
        while t < interval_start_ms:
            overlap_h = (min(t + state.interval_ms, interval_start_ms) - max(t, now)) / 3_600_000
            position = state.committed_mw(t)
            for info in self._bidding_storage:
                name = unit_participant(self.area, info.group, info.kind, "")
                committed[info.group] = committed.get(info.group, 0.0) + position.get(name, 0.0) * overlap_h
            t += state.interval_ms
        return committed

    def _storage_setpoints(self, state: AreaState) -> dict[str, np.ndarray]:
        """Setpoints [MW] of bidding battery groups: their award, shared by rating within reach."""
        awards = state.awards.get(state.interval_start_ms(), {})
        setpoints = {}
        for info in self._bidding_storage:
            status = state.units.get(info.group)
            award = awards.get(unit_participant(self.area, info.group, info.kind, ""))
            if status is None or award is None or not info.takes_setpoints:
                continue
            setpoints[info.group] = share(award.quantity_mw, status.p_min_mw, status.p_max_mw,
                                          info.rating_mw)
        return setpoints

    def dispatch(self, state: AreaState) -> dict[str, np.ndarray]:
        dispatchable = self._balancing_groups("dispatchable")
        if not dispatchable:
            return {}
        awards = state.awards.get(state.interval_start_ms(), {})
        if not awards:
            return {}
        return {info.group: dispatchable_setpoints(self.area, info, awards) for info in dispatchable}

    def _balancing_groups(self, kind: str) -> list[UnitGroupInfo]:
        """The groups of ``kind`` that take setpoints (the groups are fixed at wiring)."""
        if kind not in self._groups_of_kind:
            self._groups_of_kind[kind] = [g for g in self.groups.values()
                                          if g.kind == kind and g.takes_setpoints]
        return self._groups_of_kind[kind]


class NoCoordinator(_MarketArea):
    """No balancing: the area only trades (``policy: none``).

    Its dispatchable units and bidding batteries follow their market
    awards; nothing else moves.
    """

    name = "none"
    defaults: Mapping[str, Any] = dict(SUPPORT_DEFAULTS)

    def _balance(self, state: AreaState) -> AreaAction:
        setpoints = self.dispatch(state)
        if self._bidding_storage:
            setpoints.update(self._storage_setpoints(state))
        return AreaAction(setpoints, math.nan)


class ScheduleTracking(_MarketArea):
    """Keep the area's net export on its market schedule.

    At each call: ``ACE = P_export,measured − P_schedule`` [MW] (the area is
    grid-connected: Δf = 0). Dispatchable units go to their awards; the
    area's batteries (then its dispatchable units, beyond their awards) take
    the correction ``−gain·ACE`` net of what the dispatchables' move to their
    awards already brings, shared by rating within each unit's reported range.
    The correction is computed from the *measured* unit outputs, so repeated
    calls on the same measurement give the same setpoints (no wind-up).

    Parameters (``params``)
    -----------------------
    gain : float
        Fraction of the ACE corrected per call (default 1.0).
    deadband_mw : float
        |ACE| below which nothing is corrected [MW] (default 0).
    """

    name = "schedule_tracking"
    defaults: Mapping[str, Any] = {"gain": 1.0, "deadband_mw": 0.0, **SUPPORT_DEFAULTS}

    def _balance(self, state: AreaState) -> AreaAction:
        setpoints = self.dispatch(state)
        schedule_mw = state.schedule_mw()
        meas = state.measurement
        if meas is None or not math.isfinite(schedule_mw):
            return AreaAction(setpoints, math.nan)
        ace_mw = meas.net_export_mw - schedule_mw
        correction_mw = 0.0 if abs(ace_mw) <= self.params["deadband_mw"] else -self.params["gain"] * ace_mw
        move_mw = 0.0
        for group, target in setpoints.items():
            status = state.units.get(group)
            if status is not None:
                move_mw += float((target - status.p_mw).sum())
        residual_mw = self._move(state, "storage", correction_mw - move_mw, setpoints, base=None)
        self._move(state, "dispatchable", residual_mw, setpoints, base=setpoints)
        return AreaAction(setpoints, ace_mw)

    def _move(self, state, kind, delta_mw, setpoints, base) -> float:
        """Move the groups of ``kind`` by ``delta_mw`` in total; return what is left."""
        for info in self._balancing_groups(kind):
            status = state.units.get(info.group)
            if status is None or delta_mw == 0.0:
                continue
            start = base[info.group] if base and info.group in base else status.p_mw
            start_mw = float(np.asarray(start, dtype=float).sum())
            target = share(start_mw + delta_mw, status.p_min_mw, status.p_max_mw, info.rating_mw)
            delta_mw -= float(target.sum()) - start_mw
            setpoints[info.group] = target
        return delta_mw


class AGC(_MarketArea):
    """Automatic generation control: PI on the area control error.

    ``ACE = (P_tie − P_tie,sched) + B·Δf`` [MW] with the bias ``B`` [MW/Hz]
    (``bias_mw_per_hz``; ``auto`` is resolved by the builder to the area's
    frequency response characteristic β). The area's total reference moves
    at ``−ki·ACE`` [MW/s] and the units get ``P_ref − kp·ACE`` shared by
    their participation factors within what each can reach before the next
    call: a generator ``P ± ramp_mw_per_min·period`` inside its technical
    limits, a battery its reported range. The reference is held inside the
    sum of those ranges, so it does not wind up while units ramp
    (Kundur, *Power System Stability and Control*, 1994, §11.1.5;
    Wood & Wollenberg, *Power Generation, Operation and Control*, ch. 10).

    Parameters (``params``)
    -----------------------
    ki : float
        Integral gain [1/s].
    kp : float
        Proportional gain [MW/MW].
    bias_mw_per_hz : float
        Frequency bias B [MW/Hz] (> 0).
    participation : mapping
        Unit id → participation factor (default: by rating).
    period_s : float
        The coordinator's period [s] (set by the builder).

    Examples
    --------
    >>> from hierarchy.messages import AreaMeasurement, UnitStatus
    >>> one = np.ones(1)
    >>> info = UnitGroupInfo("g", "a", "dispatchable", ("gen/0",), 100 * one, True, 0 * one, 100 * one,
    ...                      0 * one, 50 * one, 0 * one, ramp_mw_per_min=6 * one)
    >>> agc = AGC("a", [info], {**AGC.defaults, "ki": 1.0, "bias_mw_per_hz": 10.0, "period_s": 4.0})
    >>> state = AreaState("a", 50.0, 3_600_000, units={"g": UnitStatus("g", "a", ("gen/0",), 50 * one,
    ...     0 * one, 0 * one, 100 * one, np.nan * one, 0)},
    ...     measurement=AreaMeasurement("a", 0.0, 50.0, 0.0, 49.9, 0))
    >>> agc.control(state).p_set_mw["g"].tolist()  # asks +4 MW/s·4 s, the ramp allows 0.1 MW/s·4 s
    [50.4]
    """

    name = "agc"
    defaults: Mapping[str, Any] = {
        "ki": 0.05, "kp": 0.0, "bias_mw_per_hz": "auto", "participation": {}, "period_s": 4.0,
        **SUPPORT_DEFAULTS,
    }

    def __init__(self, area, groups, params, price_cap=3000.0):
        super().__init__(area, groups, params, price_cap)
        self._p_ref_mw: float | None = None

    def _balance(self, state: AreaState) -> AreaAction:
        meas = state.measurement
        units = [g for g in self.groups.values()
                 if g.kind in ("dispatchable", "storage") and g.takes_setpoints]
        statuses = [state.units.get(g.group) for g in units]
        if meas is None or any(s is None for s in statuses) or not units:
            return AreaAction({}, math.nan)
        schedule_mw = state.schedule_mw()
        if not math.isfinite(schedule_mw):
            schedule_mw = 0.0 if self._p_ref_mw is None else self._schedule_hold
        self._schedule_hold = schedule_mw
        delta_f_hz = meas.frequency_hz - state.f0_hz
        ace_mw = (meas.net_export_mw - schedule_mw) + float(self.params["bias_mw_per_hz"]) * delta_f_hz
        if self._p_ref_mw is None:
            self._p_ref_mw = float(sum(np.sum(s.p_mw) for s in statuses))
        self._p_ref_mw -= float(self.params["ki"]) * ace_mw * float(self.params["period_s"])
        ranges = [self._reach_mw(g, s) for g, s in zip(units, statuses)]
        p_min = np.concatenate([lo for lo, _ in ranges])
        p_max = np.concatenate([hi for _, hi in ranges])
        self._p_ref_mw = float(np.clip(self._p_ref_mw, p_min.sum(), p_max.sum()))
        total_mw = self._p_ref_mw - float(self.params["kp"]) * ace_mw
        weights = np.concatenate([self._weights(g) for g in units])
        target = share(total_mw, p_min, p_max, weights)
        setpoints, start = {}, 0
        for g in units:
            setpoints[g.group] = target[start:start + len(g.unit_ids)]
            start += len(g.unit_ids)
        return AreaAction(setpoints, ace_mw)

    def _reach_mw(self, info: UnitGroupInfo, status) -> tuple[np.ndarray, np.ndarray]:
        """Output range [MW] each unit can reach by the next call.

        A dispatchable unit: ``P ± ramp·period`` within its technical limits
        (0 if it reports it cannot run); a battery: its reported range.
        """
        if info.kind != "dispatchable" or info.ramp_mw_per_min is None:
            return status.p_min_mw, status.p_max_mw
        reach_mw = info.ramp_mw_per_min * float(self.params["period_s"]) / 60.0
        running = status.p_max_mw > 0
        lo = np.where(running, np.maximum(info.p_min_mw, status.p_mw - reach_mw), 0.0)
        hi = np.where(running, np.minimum(info.p_max_mw, status.p_mw + reach_mw), 0.0)
        return np.minimum(lo, hi), np.maximum(lo, hi)

    def _weights(self, info: UnitGroupInfo) -> np.ndarray:
        factors = self.params["participation"]
        if not factors:
            return np.asarray(info.rating_mw, dtype=float)
        return np.array([float(factors.get(u, factors.get(info.group, 0.0))) for u in info.unit_ids])


class VoltageSupport(ScheduleTracking):
    """Schedule tracking with voltage support on: band 0.95–1.05 pu (``policy: voltage``)."""

    name = "voltage"
    defaults: Mapping[str, Any] = {**ScheduleTracking.defaults, "voltage_band_pu": [0.95, 1.05]}


class CongestionSupport(ScheduleTracking):
    """Schedule tracking with congestion support on: lines at most 100 % (``policy: congestion``)."""

    name = "congestion"
    defaults: Mapping[str, Any] = {**ScheduleTracking.defaults, "max_loading_percent": 100.0}
