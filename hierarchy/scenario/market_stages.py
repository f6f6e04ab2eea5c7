"""Scenario sections of the market stages and of the forecasts the areas bid from.

* ``market.day_ahead``: a forward stage cleared once a day at ``gate_closure``
  (time of day) for the ``horizon`` of the next day in ``slot``-long slots;
* ``market.continuous``: the timing of continuous trading
  (``market.mechanism: continuous``);
* ``forecast`` (top level, beside ``profiles``): how the areas forecast each
  profile kind when they bid. It sits beside ``profiles`` because it is a
  forecast of them, per profile kind, and a service to the areas (tier 2),
  not a rule of the market operator.

The cross-checks against ``market.mechanism``, ``market.interval`` and
``market.gate_closure`` are in :class:`hierarchy.scenario.market.MarketConfig`.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    model_serializer,
    model_validator,
)

from hierarchy.kernel.durations import format_duration
from hierarchy.scenario.schema import Config, FiniteFloat, KeyPathError, PositiveDuration, TimeOfDay

__all__ = ["DayAheadConfig", "ContinuousConfig", "KindForecast", "ForecastConfig", "DAY_MS"]

DAY_MS = 86_400_000


class DayAheadConfig(Config):
    """The day-ahead stage: gate closure (time of day), slot length, horizon, mechanism."""

    gate_closure: TimeOfDay = "12:00"
    slot: PositiveDuration = 3_600_000
    horizon: PositiveDuration = DAY_MS
    mechanism: Literal["double_auction", "economic_dispatch"] = "double_auction"

    @model_validator(mode="after")
    def _check_slots(self) -> DayAheadConfig:
        if self.gate_closure == "24:00":
            raise KeyPathError(("gate_closure",), "give 00:00 for midnight")
        if self.horizon > DAY_MS:
            raise KeyPathError(("horizon",), f"{format_duration(self.horizon)} is longer than "
                                             "a day (one clearing a day covers the next day)")
        if self.horizon % self.slot:
            raise KeyPathError(("horizon",), f"{format_duration(self.horizon)} is not a whole "
                                             f"number of slots of {format_duration(self.slot)}")
        return self

    @property
    def gate_ms_of_day(self) -> int:
        """Gate closure as an offset from midnight [ms]."""
        return (int(self.gate_closure[:2]) * 60 + int(self.gate_closure[3:])) * 60_000


class ContinuousConfig(Config):
    """Continuous trading: when a delivery interval's book opens, how often areas trade."""

    open: PositiveDuration = 3_600_000
    period: PositiveDuration = 900_000


_NOISY_KEYS = ("std_pu", "day_ahead_std_pu", "autocorrelation")


class KindForecast(Config):
    """How one profile kind is forecast: method and, for ``noisy``, its error."""

    method: Literal["persistence", "perfect", "noisy"] = "persistence"
    std_pu: FiniteFloat = Field(0.1, ge=0, description="[pu of the true value]")
    day_ahead_std_pu: FiniteFloat = Field(0.1, ge=0, description="[pu of the true value]")
    autocorrelation: FiniteFloat = Field(0.9, ge=0, lt=1, description="[pu, lag 1 h]")

    @classmethod
    def _prepare(cls, data: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if data.get("method", "persistence") != "noisy":
            for key in _NOISY_KEYS:
                if key in data:
                    raise KeyPathError((key,), "only used with method noisy")
        if "day_ahead_std_pu" not in data and "std_pu" in data:
            data["day_ahead_std_pu"] = data["std_pu"]
        return data

    @model_serializer(mode="wrap")
    def _used_keys(self, handler) -> dict[str, Any]:
        """Written out (``scenario.resolved.yaml``) with the error keys only where they are used,
        so that it loads again."""
        data = handler(self)
        if self.method != "noisy":
            for key in _NOISY_KEYS:
                data.pop(key, None)
        return data


class ForecastConfig(Config):
    """Forecasts the areas bid from, per profile kind (``load``, ``pv``, ``wind``)."""

    load: KindForecast = Field(default_factory=KindForecast)
    pv: KindForecast = Field(default_factory=KindForecast)
    wind: KindForecast = Field(default_factory=KindForecast)
