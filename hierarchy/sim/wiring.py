"""Builder steps that need the grid: areas, unit groups, coordinators.

Unit groups are constructed in :mod:`hierarchy.sim.wiring_units` (re-exported
here), the market and what serves it in :mod:`hierarchy.sim.wiring_market`.

Each function checks what it builds against the grid and raises a
:class:`~hierarchy.scenario.ScenarioError` naming the scenario key path.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from hierarchy.kernel import registry
from hierarchy.messages import StorageInfo, UnitGroupInfo
from hierarchy.scenario import ScenarioError
from hierarchy.sim.groups import UnitGroup
from hierarchy.sim.wiring_units import GROUP_PARAMS, build_groups, check_param_type

__all__ = ["assign_areas", "build_groups", "group_infos", "coordinator_for",
           "area_net_export_matrices", "check_event_targets", "check_param_type", "GROUP_PARAMS"]


def _bus_number(net, name: str, path: str) -> int:
    bus = int(name.partition("/")[2])
    if bus not in net.bus.index:
        raise ScenarioError(path, f"bus {bus} is not in the grid ({bus_index_hint(net)})")
    return bus


def bus_index_hint(net) -> str:
    """Which bus indices the grid has, for a message about a bus reference."""
    index = np.sort(np.asarray(net.bus.index, dtype=np.int64))
    if not index.size:
        return "the grid has no buses"
    gaps = "" if index[-1] - index[0] + 1 == index.size else ", with gaps"
    return (f"bus/N and N name pandapower's bus index, not a position or a name; this grid's "
            f"run {index[0]}..{index[-1]}{gaps}")


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
            storage=_storage_info(g.policy, rows) if g.kind == "storage" else None,
        ))
    return infos


def _storage_info(policy, rows: np.ndarray) -> StorageInfo | None:
    """Capacity, limits and bidding of a storage policy's units ``rows`` (None if it has no
    ``capacity_mwh``: a storage policy of one's own that does not say)."""
    if getattr(policy, "capacity_mwh", None) is None:
        return None

    def per_unit(name: str, fallback: float) -> np.ndarray:
        value = getattr(policy, name, None)
        return np.broadcast_to(np.asarray(fallback if value is None else value, float),
                               policy.rating_mw.shape)[rows]

    return StorageInfo(per_unit("capacity_mwh", np.nan), per_unit("soc_min", 0.0),
                       per_unit("soc_max", 1.0), per_unit("eta_charge", 1.0),
                       per_unit("eta_discharge", 1.0), per_unit("price_charge", np.nan),
                       per_unit("price_discharge", np.nan), int(getattr(policy, "bid_blocks", 0) or 0))


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
    _check_participation(params.get("participation", {}), infos, f"{path}.params.participation")
    if params.get("bias_mw_per_hz") == "auto":
        params["bias_mw_per_hz"] = frequency_bias_mw_per_hz(
            a, groups, net, area_of_bus, config.load_damping_pu, scenario.grid.f0_hz)
    try:
        coordinator = cls(config.id, infos, params, price_cap=scenario.market.price_cap)
    except (ValueError, TypeError) as exc:
        raise ScenarioError(f"{path}.params", str(exc)) from None
    state = AreaState(config.id, scenario.grid.f0_hz, scenario.market.interval,
                      bounded_awards=scenario.market.security.enabled)
    return coordinator, state


def _check_participation(factors: Any, infos, path: str) -> None:
    """AGC participation: unit group or unit id of the area → factor >= 0."""
    if not isinstance(factors, dict):
        raise ScenarioError(path, "expected a mapping of unit group or unit id to factor")
    names = {info.group for info in infos} | {u for info in infos for u in info.unit_ids}
    for key, factor in factors.items():
        if key not in names:
            raise ScenarioError(f"{path}.{key}", "not a unit group or unit of this area; "
                                                 f"valid: {', '.join(sorted(names)) or 'none'}")
        check_param_type(1.0, factor, f"{path}.{key}", per_unit=False, allow_none=False)
        if factor < 0:
            raise ScenarioError(f"{path}.{key}", f"must be at least 0; got {factor}")


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
