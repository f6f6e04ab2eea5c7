"""What the market stages leave behind: day-ahead clearings, trades, forecasts.

Held by the :class:`~hierarchy.sim.recorder.Recorder` as ``recorder.stages``
and filled by the processes of :mod:`hierarchy.sim.market_stages`; nothing
here runs per physics step. :meth:`StageRecords.frames` gives the tables:

* ``market_day_ahead_price``, ``market_day_ahead_award_mw`` (a row per
  day-ahead slot) with a day-ahead stage;
* ``market_trades`` (a row per trade) with continuous trading;
* ``market_forecast_mw`` (a row per delivery interval) and
  ``market_day_ahead_forecast_mw`` (a row per day-ahead slot): the whole
  grid's forecast and actual mean of each profile kind, with a market.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hierarchy.messages import DAY_AHEAD, REAL_TIME, Trade

__all__ = ["StageRecords", "DayAheadRecord"]

KINDS = ("load", "pv", "wind")


@dataclass(frozen=True)
class DayAheadRecord:
    """One day-ahead slot: its price (one number or area -> price) and awards [MW]."""

    start_ms: int
    length_ms: int
    price: float | dict
    awards: dict
    quantity_mw: float
    shortfall_mw: float


@dataclass
class StageRecords:
    """Day-ahead slots, trades and forecast issue times of one run."""

    interval_ms: int
    slots: list = field(default_factory=list)  # DayAheadRecord, in clearing order
    by_interval: dict = field(default_factory=dict)  # delivery interval start -> DayAheadRecord
    trades: list = field(default_factory=list)
    issued: dict = field(default_factory=dict)  # (stage, start_ms) -> issue time [ms]

    # ------------------------------------------------------------ recording
    def forecast_issued(self, stage: str, start_ms: int, time_ms: int) -> None:
        """The forecast of ``stage`` for the interval at ``start_ms`` was (last) issued at ``time_ms``."""
        self.issued[(stage, int(start_ms))] = int(time_ms)

    def day_ahead_clearing(self, slot_ms: int, length_ms: int, clearing) -> None:
        """A cleared day-ahead slot; its position holds for every delivery interval in it."""
        price = dict(clearing.price) if isinstance(clearing.price, dict) else float(clearing.price)
        record = DayAheadRecord(int(slot_ms), int(length_ms), price, dict(clearing.awards),
                                float(clearing.quantity_mw), float(clearing.shortfall_mw))
        self.slots.append(record)
        for start_ms in range(slot_ms, slot_ms + length_ms, self.interval_ms):
            self.by_interval[start_ms] = record

    def day_ahead_position(self, start_ms: int) -> tuple[dict, float | dict] | None:
        """Day-ahead awards [MW] and price of the delivery interval at ``start_ms`` (None: none)."""
        record = self.by_interval.get(int(start_ms))
        return None if record is None else (record.awards, record.price)

    def trade(self, trade: Trade) -> None:
        self.trades.append(trade)

    # --------------------------------------------------------------- tables
    def frames(self, start, market_starts_ms: list[int], forecast) -> dict[str, pd.DataFrame]:
        """The stage tables (only those the run has; see the module docstring)."""
        frames: dict[str, pd.DataFrame] = {}
        if self.slots:
            index = _index(start, [r.start_ms for r in self.slots])
            frames["market_day_ahead_price"] = pd.DataFrame(
                [r.price if isinstance(r.price, dict) else {"system": r.price} for r in self.slots],
                index=index, dtype=float)
            frames["market_day_ahead_award_mw"] = pd.DataFrame(
                [r.awards for r in self.slots], index=index, dtype=float).fillna(0.0)
        if self.trades:
            frames["market_trades"] = pd.DataFrame({
                "delivery": _index(start, [t.interval_start_ms for t in self.trades]),
                "buyer": [t.buyer for t in self.trades], "seller": [t.seller for t in self.trades],
                "quantity_mw": [t.quantity_mw for t in self.trades],
                "price": [t.price for t in self.trades],
            }, index=_index(start, [t.time_ms for t in self.trades]))
        if forecast is not None:
            frames["market_forecast_mw"] = self._forecast_frame(
                start, forecast, REAL_TIME, market_starts_ms, self.interval_ms)
            if self.slots:
                frames["market_day_ahead_forecast_mw"] = self._forecast_frame(
                    start, forecast, DAY_AHEAD, [r.start_ms for r in self.slots], self.slots[0].length_ms)
        return frames

    def _forecast_frame(self, start, forecast, stage: str, starts_ms: list[int],
                        length_ms: int) -> pd.DataFrame:
        """Per interval: forecast of each kind as issued, and the actual mean [MW]."""
        starts = [t for t in starts_ms if (stage, t) in self.issued]
        rows = [forecast.by_kind(t, length_ms, self.issued[(stage, t)], stage) for t in starts]
        values = np.array([np.concatenate(row) for row in rows]).reshape(len(rows), 2 * len(KINDS))
        columns = list(KINDS) + [f"{kind}_actual" for kind in KINDS]
        return pd.DataFrame(values, index=_index(start, starts), columns=columns)


def _index(start, times_ms: list[int]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.Timestamp(start) + pd.to_timedelta(np.asarray(times_ms, dtype=np.int64), "ms"),
                            name="time")
