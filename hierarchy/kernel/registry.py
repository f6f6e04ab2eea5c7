"""Registry of policies by short name, with lazy ``package.module:Class`` strings.

Built-in policies and users' own are looked up the same way: a scenario
names a policy either by its registered short name or by
``package.module:Class``. Nothing is imported until a policy is used, so
importing the kernel imports no tier.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any

__all__ = ["BUILTIN", "PolicyLoadError", "resolve", "names"]

#: tier -> short name -> "module:Class"
BUILTIN: dict[str, dict[str, str]] = {
    "unit": {
        "volt_var": "unit_control.inverter:VoltVar",
        "volt_watt": "unit_control.inverter:VoltWatt",
        "freq_watt": "unit_control.inverter:FreqWatt",
        "const_pf": "unit_control.inverter:ConstPF",
        "curtail": "unit_control.inverter:Curtail",
        "battery": "unit_control.battery:Battery",
        "generator": "unit_control.generator:Generator",
        "flexible_load": "unit_control.load:FlexibleLoad",
        "oltc": "unit_control.oltc:TapChanger",
        "external": "unit_control.external:External",
    },
    "area": {
        "none": "area_control.coordinators:NoCoordinator",
        "schedule_tracking": "area_control.coordinators:ScheduleTracking",
        "agc": "area_control.coordinators:AGC",
        "voltage": "area_control.coordinators:VoltageSupport",
        "congestion": "area_control.coordinators:CongestionSupport",
        "external": "area_control.external:ExternalCoordinator",
    },
    "market": {
        "none": "market_control.markets:NoMarket",
        "double_auction": "market_control.markets:DoubleAuctionMarket",
        "economic_dispatch": "market_control.markets:EconomicDispatchMarket",
        "continuous": "market_control.continuous:ContinuousMarket",
    },
}

_BASES = {
    "unit": ("unit_control.base", "UnitPolicy"),
    "area": ("area_control.base", "AreaCoordinator"),
    "market": ("market_control.base", "Market"),
}


class PolicyLoadError(ValueError):
    """A policy name that does not resolve to a fitting class."""


def names(tier: str) -> list[str]:
    """Registered short names of a tier (``unit``, ``area``, ``market``)."""
    return sorted(BUILTIN[tier])


def resolve(tier: str, name: str) -> type:
    """Return the class registered as ``name`` (or ``module:Class``) for ``tier``.

    Raises
    ------
    PolicyLoadError
        If the name is unknown, the import fails, or the class does not
        subclass the tier's base class.
    """
    target = BUILTIN[tier].get(name, name)
    if ":" not in target:
        raise PolicyLoadError(
            f"unknown {tier} policy {name!r}; registered: {', '.join(names(tier))}"
            " (or give package.module:Class)"
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module may raise anything while it is imported
        raise PolicyLoadError(f"cannot import module {module_name!r} for policy {name!r}: "
                              f"{type(exc).__name__}: {exc}") from None
    cls: Any = getattr(module, class_name, None)
    if cls is None:
        raise PolicyLoadError(f"module {module_name!r} has no class {class_name!r}")
    base_module, base_name = _BASES[tier]
    base = getattr(importlib.import_module(base_module), base_name)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PolicyLoadError(f"{target} is not a subclass of {base_module}.{base_name}")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise PolicyLoadError(f"{target} does not implement {missing} (abstract in {base_name})")
    return cls
