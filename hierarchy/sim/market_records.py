"""What the per-interval market leaves behind: clearings, retail prices, the security check, the settlement.

Held by the :class:`~hierarchy.sim.recorder.Recorder` as ``recorder.market``
and filled as the market runs (:mod:`hierarchy.sim.market_interval`,
:mod:`hierarchy.sim.market_stages`, :mod:`hierarchy.sim.security`); nothing
here runs per physics step. :meth:`MarketRecords.frames` gives the tables
``market_price``, ``market_award_mw``, ``market_clearing``,
``market_retail_price``, ``market_redispatch_mw`` (with
``market.security``) and the settlement's ``market_metered_mw`` and
``market_settlement`` (:meth:`MarketRecords.settlement`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hierarchy.sim.metering import MeterPlan
from hierarchy.sim.stage_records import StageRecords

__all__ = ["MarketRecords", "RELIABILITY_COLUMNS"]

#: per-interval reliability figures of a clearing (``market_clearing`` table)
RELIABILITY_COLUMNS = ("shortfall_mw", "surplus_mw", "reserve_required_mw", "reserve_mw",
                       "reserve_shortfall_mw", "reserve_price")

#: gives the participants' metered output per physics step [MW] and the number of steps done
Metered = Callable[[], tuple[np.ndarray, int]]


@dataclass
class MarketRecords:
    """Clearings of the per-interval market, in clearing order, and what follows from them.

    Parameters
    ----------
    area_ids : list of str
        The areas, in order (columns of the schedule).
    interval_ms, step_ms : int
        Delivery interval and physics step [ms].
    penalty : float
        ``market.imbalance_penalty`` [per MWh].
    continuous : bool
        The market trades continuously (trades are settled at their prices).
    meter : MeterPlan
        The participants' metering (their areas, for their prices).
    stages : StageRecords
        The day-ahead positions (settled at the day-ahead price).
    """

    area_ids: list
    interval_ms: int
    step_ms: int
    penalty: float
    continuous: bool
    meter: MeterPlan
    stages: StageRecords
    starts_ms: list = field(default_factory=list)
    prices: list = field(default_factory=list)  # dict column -> price
    awards: list = field(default_factory=list)  # dict participant -> MW
    schedule: dict = field(default_factory=dict)  # start_ms -> array per area
    cleared_mw: list = field(default_factory=list)
    shortfall_mw: list = field(default_factory=list)
    orders: list = field(default_factory=list)  # (offers, bids) cleared per interval
    reliability: list = field(default_factory=list)  # dict column -> value per interval
    late: dict = field(default_factory=dict)  # interval start_ms -> late orders
    retail: dict = field(default_factory=dict)  # start_ms -> {"<area>/<class>": price}
    security: dict = field(default_factory=dict)  # start_ms -> security check columns (market.security)
    redispatch: dict = field(default_factory=dict)  # start_ms -> participant -> award change [MW]
    redispatch_money: dict = field(default_factory=dict)  # start_ms -> participant -> payment
    traded: list = field(default_factory=list)  # dict participant -> trade value [per h] (continuous)
    _settlement: dict | None = field(default=None, repr=False)  # made once per set of clearings

    # ------------------------------------------------------------ recording
    def clearing(self, start_ms: int, clearing, offers, bids) -> None:
        """Record a market clearing for the interval starting at ``start_ms``."""
        price = clearing.price
        self.starts_ms.append(start_ms)
        self.prices.append(dict(price) if isinstance(price, dict) else {"system": float(price)})
        self.awards.append(dict(clearing.awards))
        self.cleared_mw.append(float(clearing.quantity_mw))
        self.shortfall_mw.append(float(getattr(clearing, "shortfall_mw", 0.0) or 0.0))
        self.orders.append((tuple(offers), tuple(bids)))
        self.traded.append(dict(getattr(clearing, "traded_value_per_h", None) or {}))
        row = {key: float(getattr(clearing, key, 0.0) or 0.0) for key in RELIABILITY_COLUMNS}
        for (a, b), flow_mw in (getattr(clearing, "flows_mw", None) or {}).items():
            row[f"flow_{a}_{b}_mw"] = float(flow_mw)
        self.reliability.append(row)
        self._settlement = None
        schedule = np.zeros(len(self.area_ids))
        for participant, quantity in clearing.awards.items():
            area = participant.split("/", 1)[0]
            if area in self.area_ids:
                schedule[self.area_ids.index(area)] += quantity
        self.schedule[start_ms] = schedule

    def retail_price(self, start_ms: int, area: str, customer_class: str, price: float) -> None:
        """A retail price published for ``customer_class`` in ``area`` [per MWh]."""
        self.retail.setdefault(start_ms, {})[f"{area}/{customer_class}"] = float(price)

    def security_check(self, start_ms: int, row: dict, delta_mw: dict, payments: dict) -> None:
        """The security check of the interval at ``start_ms``: its ``market_clearing`` columns,
        the change of each re-dispatched award [MW] and the redispatch payments [currency]."""
        self.security[start_ms] = dict(row)
        self.redispatch[start_ms] = dict(delta_mw)
        self.redispatch_money[start_ms] = dict(payments)
        self._settlement = None

    # --------------------------------------------------------------- tables
    def frames(self, start, metered: Metered | None) -> dict[str, pd.DataFrame]:
        """The market's tables; without ``metered`` (:class:`Metered`) only prices, awards and
        the security check's tables, not the settlement's (the only ones that take a while)."""
        index = self._index(start, self.starts_ms)
        frames = {"market_price": pd.DataFrame(self.prices, index=index, dtype=float),
                  "market_award_mw": pd.DataFrame(self.awards, index=index, dtype=float).fillna(0.0)}
        if metered is not None:
            frames.update(self._clearing_frames(index))
            frames.update(self.settlement(start, metered))
        elif self.security:  # the security check's tables (no settlement needed) for the plots
            frames.update(self._security_frames(index))
        return frames

    def _clearing_frames(self, index: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
        """``market_clearing`` (reliability per interval, the security check's columns),
        ``market_retail_price`` and ``market_redispatch_mw``."""
        clearing = pd.DataFrame(self.reliability, index=index, dtype=float)
        clearing["cleared_mw"] = np.asarray(self.cleared_mw, dtype=float)
        clearing["late_orders"] = np.array([self.late.get(t, 0) for t in self.starts_ms], dtype=float)
        retail = pd.DataFrame([self.retail.get(t, {}) for t in self.starts_ms], index=index, dtype=float)
        frames = {"market_clearing": clearing, "market_retail_price": retail}
        if self.security:  # market.security: the check's columns and the award changes
            security = self._security_frames(index)
            for column in security["market_security"].columns:
                clearing[column] = security["market_security"][column].to_numpy()
            frames["market_redispatch_mw"] = security["market_redispatch_mw"]
        return frames

    def _security_frames(self, index: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
        """The security check's columns of ``market_clearing`` (as ``market_security``) and
        ``market_redispatch_mw``, a row per cleared interval."""
        return {
            "market_security": pd.DataFrame([self.security.get(t, {}) for t in self.starts_ms],
                                            index=index, dtype=float),
            "market_redispatch_mw": pd.DataFrame([self.redispatch.get(t, {}) for t in self.starts_ms],
                                                 index=index, dtype=float).fillna(0.0)}

    # ----------------------------------------------------------- settlement
    def settlement(self, start, metered: Metered) -> dict[str, pd.DataFrame]:
        """``market_metered_mw`` and ``market_settlement`` of every complete interval.

        Each participant's metered mean output over the interval is settled
        against its award with :func:`market_control.settlement.settle_dual`
        (clearing price of its area, ``market.imbalance_penalty``); with a
        day-ahead stage its day-ahead award at the day-ahead price, with
        continuous trading its trades at their prices (two settlements).
        ``metered`` is called only when the tables are made (once per set
        of clearings).
        """
        if self._settlement is None:
            from market_control.settlement import interval_means

            participant_p_mw, steps_done = metered()
            rows = interval_means(participant_p_mw, steps_done, self.step_ms, self.starts_ms,
                                  self.interval_ms)
            area_of: dict[str, str | None] = {}  # participant -> area, looked up once
            done, metered_mw, money = [], [], []
            for i, mean_mw in rows:
                actual, row = self._settle_interval(i, mean_mw, area_of)
                done.append(self.starts_ms[i])
                metered_mw.append(actual)
                money.append(row)
            index = self._index(start, done)
            self._settlement = {
                "market_metered_mw": pd.DataFrame(metered_mw, index=index, dtype=float),
                "market_settlement": pd.DataFrame(money, index=index, dtype=float).fillna(0.0)}
        return self._settlement

    def _settle_interval(self, i: int, mean_mw: np.ndarray, area_of: dict) -> tuple[dict, dict]:
        """Metered mean output [MW] per participant and the settlement row of clearing ``i``."""
        from market_control.settlement import DayAhead, settle_dual

        actual = dict(zip(self.meter.names, mean_mw.tolist()))
        awards = self.awards[i]
        for name in awards:  # an award no meter knows of delivered nothing measurable
            actual.setdefault(name, 0.0)
        price = self.prices[i]
        for n in actual:
            if n not in area_of:
                area_of[n] = self.meter.area_of(n)
        stages = {}
        day_ahead = self.stages.day_ahead_position(self.starts_ms[i])
        if day_ahead is not None:
            for name in day_ahead[0]:
                actual.setdefault(name, 0.0)
                if name not in area_of:
                    area_of[name] = self.meter.area_of(name)
            stages["day_ahead"] = DayAhead(day_ahead[0], _area_prices(day_ahead[1], actual, area_of))
        if self.continuous:
            stages["traded_value_per_h"] = self.traded[i]
        system = price.get("system", np.nan)
        area_price = {n: price.get(area_of[n], system) for n in actual}
        s = settle_dual(awards, actual, area_price, self.penalty, self.interval_ms / 3_600_000, **stages)
        row = {**s.total, "energy_account": s.energy_account,
               "imbalance_account": s.imbalance_account, "residual": s.residual}
        if self.stages.slots:
            row["day_ahead_account"] = s.day_ahead_account
        if self.security:
            row = _with_redispatch(row, self.redispatch_money.get(self.starts_ms[i], {}))
        return actual, row

    @staticmethod
    def _index(start, times_ms: list) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(
            pd.Timestamp(start) + pd.to_timedelta(np.asarray(times_ms, dtype=np.int64), "ms"), name="time")


def _with_redispatch(row: dict, payments: dict) -> dict:
    """A settlement row with the redispatch payments added to the participants and paid
    by the ``redispatch_account`` (:func:`market_control.service_levels.redispatch_payments`)."""
    row = dict(row)
    for name, amount in payments.items():
        row[name] = row.get(name, 0.0) + amount
    row["redispatch_account"] = -math.fsum(payments.values())
    row["residual"] = math.fsum(value for key, value in row.items() if key != "residual")
    return row


def _area_prices(price, names, area_of: dict) -> dict[str, float]:
    """Participant -> the price of its area [per MWh], from one price or area -> price."""
    if not isinstance(price, dict):
        return {n: float(price) for n in names}
    system = float(np.mean(list(price.values()))) if price else np.nan
    return {n: float(price.get(area_of[n], system)) for n in names}
