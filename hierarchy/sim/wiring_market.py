"""Builder steps of the market: the mechanisms, the market stages, the forecast service, the security check.

:func:`market_for` and :func:`day_ahead_market_for` construct the market
tier's mechanisms from the scenario's ``market`` section;
:func:`stages_for` gives the timing of the day-ahead stage and of
continuous trading (:class:`~hierarchy.sim.market_stages.Stages`);
:func:`wire_market_services` adds what serves the market once the recorder
exists: the forecast service (:mod:`hierarchy.sim.forecast`) and the
security check (:mod:`hierarchy.sim.security`). Each checks what it builds
and raises a :class:`~hierarchy.scenario.ScenarioError` naming the key path.
"""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import simpy

from hierarchy.kernel import registry
from hierarchy.scenario import Scenario, ScenarioError

if TYPE_CHECKING:
    from hierarchy.sim.market_stages import Stages
    from hierarchy.sim.runtime import Runtime

__all__ = ["market_for", "day_ahead_market_for", "stages_for", "wire_market_services"]


def market_for(scenario: Scenario):
    """The market operator, or None when ``market.mechanism`` is ``none``.

    Every market is constructed with the keyword arguments ``price_cap``
    [per MWh], ``reserve_fraction_of_load`` [pu] and ``reserve_largest_unit``
    (``market.reserve``); economic dispatch also with ``transfer_limits``
    (``{(area, area): MW}`` or None), a market class of one's own
    (``package.module:Class``, a subclass of :class:`market_control.base.Market`)
    only when ``market.transfer_limits`` are given. Checks first that
    transfer limits name areas and that every unit's ``customer_class``
    has a tariff.

    Raises
    ------
    ScenarioError
        At ``market.mechanism`` when the class cannot be imported, is not a
        ``Market``, or does not take those arguments.
    """
    market = scenario.market
    _check_market_references(scenario)
    if market.mechanism == "none":
        return None
    try:
        cls = registry.resolve("market", market.mechanism)
    except registry.PolicyLoadError as exc:
        raise ScenarioError("market.mechanism", str(exc)) from None
    kwargs: dict[str, Any] = {"price_cap": market.price_cap,
                              "reserve_fraction_of_load": market.reserve.fraction_of_load,
                              "reserve_largest_unit": market.reserve.largest_unit}
    builtin = market.mechanism in registry.BUILTIN["market"]
    if market.mechanism == "economic_dispatch" or (not builtin and market.transfer_limits):
        kwargs["transfer_limits"] = {tuple(t.between): t.limit_mw
                                     for t in market.transfer_limits} or None
    return cls(**kwargs) if builtin else _user_market(cls, market.mechanism, kwargs)


def day_ahead_market_for(scenario: Scenario):
    """The day-ahead mechanism (``market.day_ahead.mechanism``), constructed as the built-in
    per-interval markets are (see :func:`market_for`).

    Raises
    ------
    ScenarioError
        At ``market.day_ahead`` when ``time.start`` does not fall on the
        ``market.interval`` grid of a day (the slots, which start at
        midnight, would not line up with the delivery intervals).
    """
    market, day_ahead = scenario.market, scenario.market.day_ahead
    start = scenario.time.start
    offset_ms = ((start.hour * 60 + start.minute) * 60 + start.second) * 1000 + start.microsecond // 1000
    if offset_ms % market.interval:
        raise ScenarioError("market.day_ahead", f"time.start {start:%H:%M:%S} is not on the "
                            f"market.interval grid from midnight: the day-ahead slots would not "
                            f"line up with the delivery intervals")
    kwargs: dict[str, Any] = {"price_cap": market.price_cap,
                              "reserve_fraction_of_load": market.reserve.fraction_of_load,
                              "reserve_largest_unit": market.reserve.largest_unit}
    if day_ahead.mechanism == "economic_dispatch":
        kwargs["transfer_limits"] = {tuple(t.between): t.limit_mw
                                     for t in market.transfer_limits} or None
    return registry.resolve("market", day_ahead.mechanism)(**kwargs)


def _user_market(cls: type, name: str, kwargs: dict[str, Any]):
    """Construct a user's market class, its misfit a ScenarioError at ``market.mechanism``."""
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        raise ScenarioError("market.mechanism", f"{name} must accept the keyword arguments "
                                                f"{', '.join(kwargs)} ({exc})") from None
    except ValueError:  # no signature to inspect (a C-implemented __init__): try the call
        pass
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ScenarioError("market.mechanism", f"{name}: {type(exc).__name__}: {exc}") from None


def _check_market_references(scenario: Scenario) -> None:
    """Transfer limits name areas; customer classes other than ``default`` name tariffs."""
    areas = [area.id for area in scenario.areas]
    for index, interface in enumerate(scenario.market.transfer_limits):
        for area in interface.between:
            if area not in areas:
                raise ScenarioError(f"market.transfer_limits[{index}].between",
                                    f"no area {area!r}; areas: {', '.join(areas)}")
    tariffs = scenario.market.tariffs
    for index, unit in enumerate(scenario.units):
        cls = unit.params.get("customer_class", "default")
        if cls != "default" and cls not in tariffs:
            valid = ", ".join(sorted(tariffs)) or "none given"
            raise ScenarioError(f"units[{index}].params.customer_class",
                                f"no tariff {cls!r} in market.tariffs (tariffs: {valid})")


def stages_for(scenario: Scenario, rt: "Runtime") -> "Stages":
    """The day-ahead stage and the timing of continuous trading (:class:`Stages`)."""
    from hierarchy.scenario.market_stages import ContinuousConfig
    from hierarchy.sim.market_stages import Stages, continuous_rounds, day_ahead_gates

    market = scenario.market
    stages = Stages(continuous=market.mechanism == "continuous")
    if market.day_ahead is not None:
        stages.day_ahead_market = day_ahead_market_for(scenario)
        stages.day_ahead_inbox = simpy.Store(rt.env)
        stages.day_ahead_slot_ms = market.day_ahead.slot
        stages.day_ahead_gates = day_ahead_gates(scenario.time.start, rt.duration_ms,
                                                 market.day_ahead, market.gate_closure)
    if stages.continuous:
        timing = market.continuous or ContinuousConfig()
        stages.rounds = continuous_rounds(list(range(0, rt.duration_ms, rt.interval_ms)), timing.open,
                                          timing.period, market.gate_closure)
        stages.intervals = sorted({t for starts in stages.rounds.values() for t in starts})
    return stages


def wire_market_services(rt: "Runtime") -> None:
    """The forecast service (with a market) and the security check (``market.security``) of a
    run whose recorder exists: the forecasts are recorded, the check reads the metering."""
    if rt.market is not None:
        from hierarchy.sim.forecast import build_forecast

        rt.forecast = rt.recorder.forecast = build_forecast(rt, rt.scenario.forecast)
    from hierarchy.sim.security import build_security

    rt.security = build_security(rt)
