"""Builder step that constructs the unit groups: policy, elements, parameters.

Every unit group of the scenario (``units[i]``) is resolved in the registry,
checked against the grid and its policy's parameters, and given the data of
its elements where the scenario does not set them (tap-changer limits and
position of transformers, energy capacity of storage). Errors are
:class:`~hierarchy.scenario.ScenarioError` naming the scenario key path.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from hierarchy.kernel import registry
from hierarchy.scenario import Scenario, ScenarioError
from hierarchy.sim.groups import UnitGroup

__all__ = ["build_groups", "check_param_type", "GROUP_PARAMS"]

#: parameters every unit group takes besides its policy's own
GROUP_PARAMS = {"rating_mw": None, "h_s": 0.0, "offer_price": 0.0}



def _group_elements(net, unit, path: str) -> tuple[str, list[int]]:
    from hierarchy.plant.topology import parse_element, select_elements

    if hasattr(unit.elements, "table"):
        try:
            rows = select_elements(net, unit.elements.table, unit.elements.where)
        except ValueError as exc:
            raise ScenarioError(path + ".where", str(exc)) from None
        if not rows:
            raise ScenarioError(path, f"selects no {unit.elements.table} element")
        return unit.elements.table, [int(np.flatnonzero(net[unit.elements.table].index == r)[0])
                                     for r in rows]
    tables = set()
    positions = []
    for k, name in enumerate(unit.elements):
        table, index = parse_element(name)
        tables.add(table)
        if table not in net or index not in net[table].index:
            raise ScenarioError(f"{path}[{k}]", f"{name} is not in the grid")
        positions.append(int(np.flatnonzero(net[table].index == index)[0]))
    if len(tables) > 1:
        raise ScenarioError(path, f"a unit group holds one table's elements, not {sorted(tables)}")
    return tables.pop(), positions


def _kind(cls, table: str) -> str:
    from unit_control.battery import Battery
    from unit_control.generator import Generator
    from unit_control.inverter import Curtail
    from unit_control.load import FlexibleLoad
    from unit_control.oltc import TapChanger

    for base, kind in ((Battery, "storage"), (Generator, "dispatchable"),
                       (FlexibleLoad, "flexible_load"), (TapChanger, "tap"), (Curtail, "renewable")):
        if issubclass(cls, base):
            return kind
    return {"sgen": "renewable", "storage": "storage", "gen": "dispatchable",
            "load": "flexible_load", "trafo": "tap"}.get(table, "other")


def _curtail_class():
    from unit_control.inverter import Curtail

    return Curtail


def _external_class():
    """Groups set from outside follow no area setpoints (``policy: external``)."""
    from unit_control.external import External

    return External


def _is_number(value: Any, integral: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not integral or float(value).is_integer()


def check_param_type(default: Any, value: Any, path: str, per_unit: bool = True,
                     allow_none: bool = True) -> None:
    """Refuse a value whose type does not fit its default (number, integer, true/false).

    With ``per_unit``, a number may also be given as a non-empty list of
    numbers (one per unit). ``None`` is left to the policy where
    ``allow_none``. Other defaults are not checked.

    Raises
    ------
    ScenarioError
        At ``path`` (``units[0].params.offer_blocks``).
    """
    if (value is None and allow_none) or (isinstance(default, float) and default != default):
        return
    values = value if per_unit and isinstance(value, (list, tuple)) and value else [value]
    if isinstance(default, bool):
        ok, wanted = all(isinstance(v, bool) for v in values), "true or false"
    elif isinstance(default, (int, float)):
        integral = isinstance(default, int)
        ok = all(_is_number(v, integral) for v in values) and all(
            math.isfinite(v) or math.isinf(default) for v in values)
        wanted = "an integer" if integral else "a finite number"
    else:
        return
    if not ok:
        from hierarchy.scenario.schema import describe

        either = " (or a list of one per unit)" if per_unit else ""
        raise ScenarioError(path, f"expected {wanted}{either}; got {describe(value)}")


def _params(cls, unit, path: str) -> dict[str, Any]:
    params = {**GROUP_PARAMS, **dict(cls.defaults)}
    for key, value in unit.params.items():
        if key not in params:
            valid = ", ".join(sorted(params))
            raise ScenarioError(f"{path}.params.{key}",
                                f"unknown parameter of policy {unit.policy!r}; valid: {valid}")
        if key == "droop" and isinstance(value, str) and value.strip().lower() == "none":
            value = None  # DESIGN: droop none = no primary response
        scalar = key in ("offer_price", "bid_blocks")  # one for the group
        check_param_type(params[key] if key != "rating_mw" else 1.0, value,
                         f"{path}.params.{key}", per_unit=not scalar, allow_none=not scalar)
        params[key] = value
    return params


def _param_error(path: str, exc: Exception, params: dict[str, Any]) -> ScenarioError:
    """A policy constructor's error at ``path``, or at ``path.key`` when it names a parameter.

    Constructors write ``"soc_init: [1.5] is outside ..."``; the error then
    reads ``units[2].params.soc_init: [1.5] is outside ...``.
    """
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    key, sep, rest = message.partition(": ")
    if sep and key.split(".")[0] in params and " " not in key:
        return ScenarioError(f"{path}.{key}", rest)
    return ScenarioError(path, message)


def build_groups(scenario: Scenario, net, plant, area_of_bus: np.ndarray) -> list[UnitGroup]:
    """Construct every unit group's policy on its elements."""
    from hierarchy.plant.network import element_names

    groups, used = [], {}
    for i, unit in enumerate(scenario.units):
        path = f"units[{i}]"
        try:
            cls = registry.resolve("unit", unit.policy)
        except registry.PolicyLoadError as exc:
            raise ScenarioError(f"{path}.policy", str(exc)) from None
        table, positions = _group_elements(net, unit, f"{path}.elements")
        if table not in cls.tables:
            raise ScenarioError(f"{path}.elements", f"policy {unit.policy!r} controls "
                                f"{'/'.join(cls.tables)} elements, not {table}")
        names = element_names(net, table)
        for p in positions:
            if (table, p) in used:
                raise ScenarioError(f"{path}.elements", f"{names[p]} is already in unit group "
                                    f"{used[(table, p)]!r}")
            used[(table, p)] = unit.id
        params = _params(cls, unit, path)
        positions_arr = np.asarray(positions, dtype=int)
        _add_element_data(net, cls, unit, table, positions_arr, path, params)
        try:
            rating = _rating(net, table, positions_arr, params.pop("rating_mw"))
        except ValueError as exc:
            raise ScenarioError(f"{path}.params.rating_mw", str(exc)) from None
        group_params = {k: params.pop(k) for k in ("offer_price",)}
        if "h_s" not in cls.defaults:
            params.pop("h_s")
        try:
            policy = cls(rating, params)
        except (ValueError, TypeError) as exc:
            raise _param_error(f"{path}.params", exc, params) from None
        bus_pos = plant.element_bus_positions(table, positions_arr)
        group = UnitGroup(unit.id, unit.policy, policy, _kind(cls, table), table, positions_arr,
                          [names[p] for p in positions], bus_pos, area_of_bus[bus_pos], rating)
        group.offer_price = float(group_params["offer_price"])
        group.takes_setpoints = (group.kind in ("storage", "dispatchable", "flexible_load") or (
            issubclass(cls, _curtail_class()))) and not issubclass(cls, _external_class())
        if table == "trafo":
            _set_taps(net, plant, group, f"{path}.elements")
        groups.append(group)
    return groups


def _add_element_data(net, cls, unit, table: str, positions: np.ndarray, path: str,
                      params: dict[str, Any]) -> None:
    """Fill parameters the scenario leaves unset from the elements' data, in place.

    Transformers: tap-changer limits, initial position and direction
    (:func:`_tap_params`); storage: ``capacity_mwh`` from ``max_e_mwh``
    [MWh] where every element has a finite, positive one.
    """
    if table == "trafo" and unit.params.get("h_s") not in (None, 0, 0.0):
        raise ScenarioError(f"{path}.params.h_s", "a transformer has no inertia (0 only)")
    if table == "trafo":
        params.update({k: v for k, v in _tap_params(net, positions, f"{path}.elements").items()
                       if k in cls.defaults and k not in unit.params})
    if table == "storage" and "capacity_mwh" in cls.defaults and "capacity_mwh" not in unit.params \
            and "max_e_mwh" in net.storage:
        capacity = net.storage["max_e_mwh"].to_numpy(dtype=float)[positions]
        if np.all(np.isfinite(capacity) & (capacity > 0)):  # the element's data over a generic default
            params["capacity_mwh"] = capacity.tolist()


def _set_taps(net, plant, group: UnitGroup, path: str) -> None:
    """Start a trafo group at its data's tap positions [steps], in the group and the power flow."""
    group.tap_pos = _tap_data(net, group.positions)["tap_pos"].astype(int)
    try:  # makes pandapower honour tap_pos (SimBench leaves tap_changer_type empty)
        for pos, tap in zip(group.positions, group.tap_pos):
            plant.powerflow.set_tap_pos(int(pos), int(tap))
    except ValueError as exc:
        raise ScenarioError(path, str(exc)) from None


def _tap_data(net, positions: np.ndarray) -> dict[str, np.ndarray]:
    """Tap columns of the transformers at ``positions`` (missing tap_pos: neutral) [steps, %]."""
    frame = net.trafo.iloc[positions]

    def column(name: str, fallback: float) -> np.ndarray:
        values = frame[name].to_numpy(dtype=float) if name in frame else np.full(len(frame), np.nan)
        return np.where(np.isfinite(values), values, fallback)

    neutral = column("tap_neutral", 0.0)
    tap_pos = frame["tap_pos"].to_numpy(dtype=float) if "tap_pos" in frame else neutral.copy()
    return {"tap_min": column("tap_min", np.nan), "tap_max": column("tap_max", np.nan),
            "tap_pos": np.round(np.where(np.isfinite(tap_pos), tap_pos, neutral)),
            "tap_step_percent": column("tap_step_percent", 0.0),
            "lv_side": (frame["tap_side"].astype(str).str.lower() == "lv").to_numpy()
            if "tap_side" in frame else np.zeros(len(frame), bool)}


def _tap_params(net, positions: np.ndarray, path: str) -> dict[str, Any]:
    """Tap-changer parameters of a trafo group from the transformers' data.

    ``tap_min``, ``tap_max``, ``tap_init`` (the data's ``tap_pos``) and
    ``direction``: −1 where raising the tap lowers the LV voltage (tap on
    the HV side with a positive ``tap_step_percent``: the HV winding ratio
    grows), +1 where it raises it (LV side, or a negative step).

    Raises
    ------
    ScenarioError
        At ``path`` if a transformer has no tap changer (no finite, non-zero
        ``tap_step_percent``, or no ``tap_min``/``tap_max``).
    """
    data = _tap_data(net, positions)
    missing = ~(np.isfinite(data["tap_min"]) & np.isfinite(data["tap_max"])) | (data["tap_step_percent"] == 0)
    if np.any(missing):
        names = [f"trafo/{int(net.trafo.index[p])}" for p in positions[missing]]
        raise ScenarioError(path, f"{', '.join(names)} has no tap changer "
                                  "(tap_step_percent, tap_min, tap_max)")
    direction = np.where(data["lv_side"], 1.0, -1.0) * np.sign(data["tap_step_percent"])
    return {"tap_min": data["tap_min"].tolist(), "tap_max": data["tap_max"].tolist(),
            "tap_init": data["tap_pos"].tolist(), "direction": direction.tolist()}


def _rating(net, table: str, positions: np.ndarray, value) -> np.ndarray:
    if value is not None:
        rating = np.asarray(value, dtype=float)
        if rating.ndim > 1 or rating.size not in (1, positions.size):
            raise ValueError(f"got {rating.size} values for {positions.size} units")
        if not np.all(np.isfinite(rating) & (rating > 0)):
            raise ValueError(f"{rating.tolist()} must be finite and > 0 [MW]")
        return np.broadcast_to(rating, positions.shape).copy()
    if "sn_mva" in net[table]:
        return net[table]["sn_mva"].to_numpy(dtype=float)[positions]
    return np.ones(positions.size)
