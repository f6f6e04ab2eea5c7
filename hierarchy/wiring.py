"""Builder steps that need the grid: areas, unit groups, coordinators, market.

Each function checks what it builds against the grid and raises a
:class:`~hierarchy.scenario.ScenarioError` naming the scenario key path.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from hierarchy import registry
from hierarchy.groups import UnitGroup
from hierarchy.messages import UnitGroupInfo
from hierarchy.scenario import Scenario, ScenarioError

__all__ = ["assign_areas", "build_groups", "group_infos", "coordinator_for", "market_for",
           "area_net_export_matrices", "check_event_targets", "check_param_type", "GROUP_PARAMS"]

#: parameters every unit group takes besides its policy's own
GROUP_PARAMS = {"rating_mw": None, "h_s": 0.0, "offer_price": 0.0}


def _bus_number(net, name: str, path: str) -> int:
    table, _, number = name.partition("/")
    bus = int(number)
    if bus not in net.bus.index:
        raise ScenarioError(path, f"bus {bus} is not in the grid")
    return bus


def _selected_buses(net, selector, path: str) -> list[int] | None:
    from hierarchy.plant.topology import feeder_buses, zone_buses

    if isinstance(selector, str):
        return None  # "rest"
    try:
        if hasattr(selector, "zone"):
            return zone_buses(net, selector.zone)
        if hasattr(selector, "feeder_of"):
            return feeder_buses(net, _bus_number(net, selector.feeder_of, path + ".feeder_of"))
    except ScenarioError:
        raise
    except ValueError as exc:
        raise ScenarioError(path, str(exc)) from None
    return [_bus_number(net, name, f"{path}[{k}]") for k, name in enumerate(selector)]


def assign_areas(net, areas) -> tuple[list[str], np.ndarray]:
    """Area index of every bus (bus-table order), checking overlaps and gaps.

    Returns
    -------
    (area ids, area_of_bus)
    """
    bus_pos = {int(b): k for k, b in enumerate(net.bus.index)}
    area_of_bus = np.full(len(net.bus), -1, dtype=int)
    rest = None
    for a, area in enumerate(areas):
        path = f"areas[{a}].buses"
        buses = _selected_buses(net, area.buses, path)
        if buses is None:
            if rest is not None:
                raise ScenarioError(path, f"only one area can take 'rest' (areas[{rest}] does)")
            rest = a
            continue
        for bus in buses:
            owner = area_of_bus[bus_pos[bus]]
            if owner >= 0:
                raise ScenarioError(path, f"bus {bus} is already in area {areas[owner].id!r}")
            area_of_bus[bus_pos[bus]] = a
    if rest is not None:
        area_of_bus[area_of_bus < 0] = rest
    elif np.any(area_of_bus < 0):
        missing = [int(b) for b in net.bus.index[area_of_bus < 0]]
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ScenarioError("areas", f"buses {shown} belong to no area; give one area 'buses: rest'")
    return [area.id for area in areas], area_of_bus


def check_event_targets(net, events) -> None:
    """Every event's ``target`` is an element of the grid.

    Raises
    ------
    ScenarioError
        At ``events[i].target``.
    """
    from hierarchy.plant.topology import parse_element

    for index, event in enumerate(events):
        target = getattr(event, "target", None)
        if target is None:
            continue
        table, number = parse_element(target)
        if table not in net or number not in net[table].index:
            raise ScenarioError(f"events[{index}].target", f"{target} is not in the grid")


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
        from hierarchy.scenario_schema import describe

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
        scalar = key == "offer_price"  # one price for the group
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
        if table == "trafo":
            params.update({k: v for k, v in _tap_params(net, positions_arr, f"{path}.elements").items()
                           if k in cls.defaults and k not in unit.params})
        if table == "storage" and "capacity_mwh" in cls.defaults and "capacity_mwh" not in unit.params \
                and "max_e_mwh" in net.storage:
            capacity = net.storage["max_e_mwh"].to_numpy(dtype=float)[positions_arr]
            if np.all(np.isfinite(capacity) & (capacity > 0)):  # the element's data over a generic default
                params["capacity_mwh"] = capacity.tolist()
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
        group.takes_setpoints = group.kind in ("storage", "dispatchable", "flexible_load") or (
            issubclass(cls, _curtail_class()))
        if table == "trafo":
            group.tap_pos = _tap_data(net, positions_arr)["tap_pos"].astype(int)
            try:  # makes pandapower honour tap_pos (SimBench leaves tap_changer_type empty)
                for pos, tap in zip(positions_arr, group.tap_pos):
                    plant.powerflow.set_tap_pos(int(pos), int(tap))
            except ValueError as exc:
                raise ScenarioError(f"{path}.elements", str(exc)) from None
        groups.append(group)
    return groups


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


def group_infos(groups: list[UnitGroup], a: int, area_id: str) -> list[UnitGroupInfo]:
    """What area ``a`` is told about its units (asset register)."""
    infos = []
    for g in groups:
        rows = g.by_area.get(a)
        if rows is None:
            continue
        p = g.policy.params
        cost = p.get("cost") or {}
        n = rows.size
        p_max_param = p.get("p_max_mw") if p.get("p_max_mw") is not None else g.rating_mw  # None: rating
        p_min = np.broadcast_to(np.asarray(p.get("p_min_mw", 0.0) if g.kind == "dispatchable"
                                           else -np.asarray(p_max_param, float)
                                           if g.kind == "storage" else 0.0, float),
                                g.rating_mw.shape)[rows]
        p_max = np.broadcast_to(np.asarray(p_max_param, float), g.rating_mw.shape)[rows]
        p_max = np.where(np.isfinite(p_max), p_max, g.rating_mw[rows])
        infos.append(UnitGroupInfo(
            group=g.id, area=area_id, kind=g.kind, unit_ids=tuple(g.unit_ids[r] for r in rows),
            rating_mw=g.rating_mw[rows],
            takes_setpoints=g.takes_setpoints,
            p_min_mw=p_min, p_max_mw=p_max,
            cost_a=np.full(n, float(cost.get("a", 0.0))), cost_b=np.full(n, float(cost.get("b", 0.0))),
            cost_c=np.full(n, float(cost.get("c", 0.0))),
            offer_blocks=int(p.get("offer_blocks", 1) or 1), offer_price=getattr(g, "offer_price", 0.0),
            bid_price=float(p.get("bid_price", math.nan) if p.get("bid_price") is not None else math.nan),
            customer_class=str(p.get("customer_class", "default")),
            ramp_mw_per_min=_ramp_mw_per_min(p.get("ramp_mw_per_min"), g.rating_mw.shape)[rows]
            if g.kind == "dispatchable" else None,
        ))
    return infos


def _ramp_mw_per_min(value, shape) -> np.ndarray:
    """Ramp limit per unit [MW/min]; None means unlimited (inf)."""
    return np.broadcast_to(np.asarray(math.inf if value is None else value, float), shape)


def _droop_pu(value) -> np.ndarray | None:
    """A ``droop`` parameter as numbers [pu]; None for no primary response (None, "none", 0)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    droop = np.asarray(value, dtype=float)
    return None if not np.any(np.isfinite(droop) & (droop > 0)) else droop


def frequency_bias_mw_per_hz(area_index: int, groups, net, area_of_bus, load_damping_pu: float,
                             f0_hz: float) -> float:
    """The area's frequency response characteristic β [MW/Hz].

    ``β = Σ_j P_j,rated / (R_j·f0) + D·P_load / f0`` over the area's units
    with droop (DESIGN.md, "Frequency"); a unit whose ``droop`` is None,
    ``"none"`` or 0 gives no primary response and adds nothing.
    """
    beta = 0.0
    for g in groups:
        droop = _droop_pu(g.policy.params.get("droop"))
        rows = g.by_area.get(area_index)
        if rows is None or droop is None:
            continue
        droop = np.broadcast_to(droop, g.rating_mw.shape)[rows]
        live = np.isfinite(droop) & (droop > 0)
        beta += float(np.sum(g.rating_mw[rows][live] / (droop[live] * f0_hz)))
    from hierarchy.plant.topology import element_bus

    load_bus = element_bus(net, "load")
    bus_pos = {int(b): k for k, b in enumerate(net.bus.index)}
    in_area = np.array([area_of_bus[bus_pos[int(b)]] == area_index for b in load_bus], dtype=bool)
    p_load = float(np.sum(net.load["p_mw"].to_numpy(float)[in_area])) if in_area.size else 0.0
    return beta + load_damping_pu * p_load / f0_hz


def coordinator_for(scenario, a: int, config, infos, groups, net, area_of_bus):
    """Construct area ``a``'s coordinator and its empty state."""
    from area_control.base import AreaState

    path = f"areas[{a}].coordinator"
    try:
        cls = registry.resolve("area", config.coordinator.policy)
    except registry.PolicyLoadError as exc:
        raise ScenarioError(f"{path}.policy", str(exc)) from None
    params = dict(cls.defaults)
    for key, value in config.coordinator.params.items():
        if key not in params or key == "period_s":
            valid = ", ".join(sorted(k for k in params if k != "period_s"))
            raise ScenarioError(f"{path}.params.{key}",
                                f"unknown parameter of {config.coordinator.policy!r}; valid: {valid}")
        check_param_type(params[key], value, f"{path}.params.{key}", per_unit=False,
                         allow_none=False)
        params[key] = value
    if "period_s" in params:
        params["period_s"] = config.coordinator.period / 1000.0
    bias = params.get("bias_mw_per_hz", "auto")
    if bias != "auto":
        check_param_type(1.0, bias, f"{path}.params.bias_mw_per_hz", per_unit=False,
                         allow_none=False)
    if not isinstance(params.get("participation", {}), dict):
        raise ScenarioError(f"{path}.params.participation", "expected a mapping of unit id "
                                                            "or element to factor")
    if params.get("bias_mw_per_hz") == "auto":
        params["bias_mw_per_hz"] = frequency_bias_mw_per_hz(
            a, groups, net, area_of_bus, config.load_damping_pu, scenario.grid.f0_hz)
    try:
        coordinator = cls(config.id, infos, params, price_cap=scenario.market.price_cap)
    except (ValueError, TypeError) as exc:
        raise ScenarioError(f"{path}.params", str(exc)) from None
    state = AreaState(config.id, scenario.grid.f0_hz, scenario.market.interval)
    return coordinator, state


def market_for(scenario: Scenario):
    """The market operator, or None when ``market.mechanism`` is ``none``.

    Passes the reserve requirement (``market.reserve``) to either mechanism
    and the ``market.transfer_limits`` to economic dispatch, after checking
    that they name areas and that every unit's ``customer_class`` has a tariff.
    """
    market = scenario.market
    _check_market_references(scenario)
    if market.mechanism == "none":
        return None
    cls = registry.resolve("market", market.mechanism)
    reserve = {"reserve_fraction_of_load": market.reserve.fraction_of_load,
               "reserve_largest_unit": market.reserve.largest_unit}
    if market.mechanism == "economic_dispatch":
        limits = {tuple(t.between): t.limit_mw for t in market.transfer_limits} or None
        return cls(price_cap=market.price_cap, transfer_limits=limits, **reserve)
    return cls(price_cap=market.price_cap, **reserve)


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


def area_net_export_matrices(net, area_of_bus: np.ndarray, groups):
    """Matrices that turn branch flows into area net exports, and meter maps.

    Returns
    -------
    (matrices, uncontrolled)
        ``matrices`` maps ``line_from``, ``line_to``, ``trafo_hv``,
        ``trafo_lv``, ``ext_grid`` to (n_areas × n_elements) 0/1 arrays and
        ``load_area`` to the area of each load; ``uncontrolled`` maps
        sgen/gen to (positions, areas) of elements no unit group controls.
    """
    from hierarchy.plant.topology import element_bus

    n_areas = int(area_of_bus.max()) + 1
    bus_pos = {int(b): k for k, b in enumerate(net.bus.index)}

    def area_of(buses) -> np.ndarray:
        return np.array([area_of_bus[bus_pos[int(b)]] for b in buses], dtype=int)

    def leaving(own, other) -> np.ndarray:
        m = np.zeros((n_areas, own.size))
        crossing = own != other
        m[own[crossing], np.flatnonzero(crossing)] = 1.0
        return m

    lf, lt = area_of(net.line.from_bus), area_of(net.line.to_bus)
    th, tl = area_of(net.trafo.hv_bus), area_of(net.trafo.lv_bus)
    eg = area_of(net.ext_grid.bus)
    ext = np.zeros((n_areas, eg.size))
    ext[eg, np.arange(eg.size)] = 1.0
    matrices = {"line_from": leaving(lf, lt), "line_to": leaving(lt, lf),
                "trafo_hv": leaving(th, tl), "trafo_lv": leaving(tl, th), "ext_grid": ext,
                "load_area": area_of(element_bus(net, "load"))}
    matrices["all"] = np.hstack([matrices["line_from"], matrices["line_to"], matrices["trafo_hv"],
                                 matrices["trafo_lv"], -matrices["ext_grid"]])
    controlled = {(g.table, int(p)) for g in groups for p in g.positions}
    uncontrolled = {}
    for table in ("sgen", "gen"):
        areas = area_of(element_bus(net, table))
        free = np.array([p for p in range(len(net[table])) if (table, p) not in controlled], dtype=int)
        uncontrolled[table] = (free, areas[free] if free.size else np.zeros(0, int))
    return matrices, uncontrolled
