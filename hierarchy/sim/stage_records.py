"""What the market stages leave behind: day-ahead clearings, trades, forecasts.

Held by the :class:`~hierarchy.sim.recorder.Recorder` as ``recorder.stages``
and filled by the processes of :mod:`hierarchy.sim.market_stages`; nothing
here runs per physics step. :meth:`StageRecords.frames` gives the tables:

* ``market_day_ahead_price``, ``market_day_ahead_award_mw`` (a row per
  day-ahead slot) with a day-ahead stage;
* ``market_trades`` (a row per trade) with continuous trading;
* ``market_forecast_mw`` (a row per delivery interval) and
  ``market_day_ahead_forecast_mw`` (a row per day-ahead slot): the whole
  grid's forecast and actual mean of each profile kind, with forecasts
  other than persistence, a day-ahead stage or continuous trading (the
  summary's forecast errors come from :meth:`StageRecords.forecast_frame`
  with every market).
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
    _forecast_frames: dict = field(default_factory=dict, repr=False)  # made once per set of intervals

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
        if forecast is not None and (not forecast.persistence_only or self.slots or self.trades):
            frames["market_forecast_mw"] = self.forecast_frame(start, forecast, REAL_TIME, market_starts_ms)
            if self.slots:
                frames["market_day_ahead_forecast_mw"] = self.forecast_frame(
                    start, forecast, DAY_AHEAD, [r.start_ms for r in self.slots])
        return frames

    def forecast_frame(self, start, forecast, stage: str, starts_ms: list[int]) -> pd.DataFrame:
        """Per interval of ``stage`` (delivery intervals or day-ahead slots): the whole grid's
        forecast of each kind as issued, and the actual mean [MW]; made once."""
        length_ms = self.slots[0].length_ms if stage == DAY_AHEAD and self.slots else self.interval_ms
        key = (stage, len(starts_ms), starts_ms[-1] if starts_ms else None, len(self.issued))
        if key not in self._forecast_frames:
            self._forecast_frames = {key: self._forecast_table(start, forecast, stage, starts_ms, length_ms),
                                     **{k: v for k, v in self._forecast_frames.items() if k[0] != stage}}
        return self._forecast_frames[key]

    def _forecast_table(self, start, forecast, stage: str, starts_ms: list[int],
                        length_ms: int) -> pd.DataFrame:
        starts = [t for t in starts_ms if (stage, t) in self.issued]
        predicted, actual = forecast.by_kind(np.array(starts, dtype=np.int64), length_ms,
                                             np.array([self.issued[(stage, t)] for t in starts], dtype=np.int64),
                                             stage)
        values = np.hstack([predicted, actual]).reshape(len(starts), 2 * len(KINDS))
        columns = list(KINDS) + [f"{kind}_actual" for kind in KINDS]
        return pd.DataFrame(values, index=_index(start, starts), columns=columns)


def _index(start, times_ms: list[int]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.Timestamp(start) + pd.to_timedelta(np.asarray(times_ms, dtype=np.int64), "ms"),
                            name="time")
