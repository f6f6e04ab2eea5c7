"""Scenario sections of the market's security check and the customer classes' service levels.

``market.security`` switches on a power-flow check of every clearing's
schedule and the redispatch that removes its violations;
``market.customer_classes`` gives each tariff class (key accounts …) a
service level: its priority in load shedding and an optional interruptible
contract. Both are part of :class:`~hierarchy.scenario.market.MarketConfig`.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from hierarchy.scenario.schema import (
    BranchName,
    Config,
    FiniteFloat,
    KeyPathError,
    PositiveDuration,
    StrictBool,
    StrictInt,
)

__all__ = ["SecurityConfig", "CustomerClassConfig", "REDISPATCH_METHODS"]

#: ``market.security.method`` values (market_control.security.METHODS)
REDISPATCH_METHODS = ("merit_order", "least_cost")


class SecurityConfig(Config):
    """Check each clearing's schedule with a power flow and redispatch where it violates a limit."""

    enabled: StrictBool = Field(False, description="Run the check after every clearing.")
    voltage_band_pu: tuple[FiniteFloat, FiniteFloat] = Field(
        (0.95, 1.05), description="Allowed bus voltages: lowest and highest [pu].")
    max_loading_percent: FiniteFloat = Field(
        100.0, gt=0, description="Loading limit of every line and transformer [%].")
    branch_limits_percent: dict[BranchName, FiniteFloat] = Field(
        default_factory=dict,
        description="Loading limits of single lines or transformers, `line/N` or `trafo/N` → "
                    "limit, over `max_loading_percent` [%].")
    method: Literal["merit_order", "least_cost"] = Field(
        "merit_order", description="Redispatch rule: `merit_order` (worst violation first, cheapest "
                                   "relief per MW first) or `least_cost` (one linear programme).")
    max_rounds: StrictInt = Field(
        3, ge=1, le=20, description="Power flows of the redispatched schedule before the violations "
                                    "left are reported unresolved.")
    firm_curtailment: StrictBool = Field(
        True, description="Where priced moves cannot remove a violation, curtail flexible loads "
                          "without an (available) interruptible contract, lowest priority first.")

    @field_validator("voltage_band_pu")
    @classmethod
    def _check_band(cls, band: tuple[float, float]) -> tuple[float, float]:
        if not 0 < band[0] < band[1]:
            raise ValueError(f"expected [v_min, v_max] with 0 < v_min < v_max; got {list(band)}")
        return band

    @field_validator("branch_limits_percent")
    @classmethod
    def _check_limits(cls, limits: dict[str, float]) -> dict[str, float]:
        for name, percent in limits.items():
            if percent <= 0:
                raise KeyPathError((name,), f"must be greater than 0; got {percent}")
        return limits


class CustomerClassConfig(Config):
    """Service level of one customer class: shedding priority and an interruptible contract."""

    priority: StrictInt = Field(
        1, ge=0, description="Order of involuntary load shedding, lowest first: in the security "
                             "check's curtailment and in under-frequency load shedding.")
    interruptible: StrictBool = Field(
        False, description="The class has an interruptible contract: the security check may "
                           "curtail it, as a priced move, within the limits below.")
    discount: FiniteFloat = Field(
        0.0, ge=0, lt=1, description="Reduction of the class's tariff for the contract [pu].")
    interruption_price: FiniteFloat = Field(
        0.0, ge=0, description="Paid per MWh interrupted (at least the market price) [per MWh].")
    max_interruptions: StrictInt | None = Field(
        None, ge=0, description="Interruptions allowed per `interruption_period`; none = no limit.")
    max_interruption_duration: PositiveDuration | None = Field(
        None, description="Longest interruption; none = no limit.")
    interruption_period: PositiveDuration | None = Field(
        None, description="Period over which interruptions are counted, from the start; "
                          "none = the whole run.")

    @model_validator(mode="after")
    def _contract_keys(self) -> CustomerClassConfig:
        if not self.interruptible:  # contract terms on a firm class (their defaults are fine)
            given = [key for key in ("discount", "interruption_price", "max_interruptions",
                                     "max_interruption_duration", "interruption_period")
                     if getattr(self, key) != type(self).model_fields[key].default]
            if given:
                raise KeyPathError((given[0],), "applies to an interruptible contract only: "
                                                "set interruptible: true")
        return self
