"""Scenario loading and validation (DESIGN.md, "Scenario file (v1)").

Expected values are worked by hand from the scenario text (1 d = 86 400 000 ms,
1 h = 3 600 000 ms, 1 min = 60 000 ms) and from DESIGN.md's key list.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hierarchy.kernel.durations import format_duration, parse_duration_ms
from hierarchy.scenario import (
    ScenarioError,
    load_scenario,
    resolved_dict,
    scenario_json_schema,
)
from hierarchy.scenario.sections import ElementQuery, FeederSelector
from tests.conftest import scenario_locations

DAY_MS, HOUR_MS, MIN_MS = 86_400_000, 3_600_000, 60_000

# The example of DESIGN.md, "Scenario file (v1)", copied verbatim.
EXAMPLE_YAML = """\
name: two_feeders
seed: 7
grid:
  source: simbench
  code: 1-MV-semiurb--0-sw    # simbench code; or name:/options: for pandapower; or path: for file
  f0_hz: 50
  upstream: infinite          # or {h_s: 5, s_mva: 500, droop: 0.05, damping_pu: 1}
time: {start: "2016-06-01 00:00", duration: 7d, step: 15min}
profiles: {source: simbench}  # simbench | csv (path:) | synthetic | none
control: {tol: 1.0e-4, max_iter: 10}
frequency: {step: 0.1s}
areas:
  - id: north
    buses: {feeder_of: bus/1}  # or a list of bus ids, or {zone: NAME}, or rest
    load_damping_pu: 1.0
    coordinator: {policy: schedule_tracking, period: 5min, params: {}}
  - id: south
    buses: rest
    coordinator: {policy: agc, period: 4s, params: {ki: 0.05, bias_mw_per_hz: auto}}
units:
  - id: pv
    elements: {table: sgen, where: {type: PV}}   # or a list [sgen/0, sgen/4]
    policy: volt_var
    params: {curve: ieee1547_cat_b}
  - id: batteries
    elements: [storage/0]
    policy: battery
    params: {soc_init: 0.5, eta_charge: 0.95, eta_discharge: 0.95}
market:
  mechanism: double_auction   # double_auction | economic_dispatch | none
  interval: 1h
  gate_closure: 15min
  price_cap: 3000
  reserve: {fraction_of_load: 0.1}
  tariffs:
    default: {kind: flat, price: 120}
    key_account: {kind: tou, periods: [{from: "08:00", to: "20:00", price: 150}], otherwise: 90}
communication:
  default: {latency: 1s, loss: 0.0}
  links: [{between: [area, market], latency: 5s, loss: 0.01}]
events:
  - {at: 3d12h, kind: line_outage, target: line/5}
  - {at: 4d, kind: load_step, target: load/3, delta_mw: 0.5}
outputs: {dir: results/two_feeders, plots: true}
"""
EXAMPLE = yaml.safe_load(EXAMPLE_YAML)
MINIMAL = {"name": "mini", "grid": {"source": "pandapower", "name": "create_cigre_network_mv",
                                    "options": {"with_der": "all"}},
           "time": {"duration": "1d", "step": "1h"}}


def _write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    return file


def _error(data: Any) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(data)
    return info.value


# ---------------------------------------------------------------- durations
@pytest.mark.parametrize("text, ms", [
    ("500ms", 500), ("0.1s", 100), ("90s", 90_000), ("15min", 15 * MIN_MS), ("4h", 4 * HOUR_MS),
    ("7d", 7 * DAY_MS), ("3d12h", 3 * DAY_MS + 12 * HOUR_MS), ("1h30min", 90 * MIN_MS),
    ("1h 30min", 90 * MIN_MS), ("1.5h", 90 * MIN_MS), ("2d3h4min5s6ms", 183_845_006),
    ("0", 0), (0, 0), ("0s", 0), (" 15min ", 15 * MIN_MS), ("0.001s", 1),
])
def test_parse_duration_ms(text: str | int, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text, fragment", [
    ("15", "needs a unit"), (15, "needs a unit"), (1.5, "needs a unit"), ("15m", "use 'min'"),
    ("", "not a duration"), ("abc", "not a duration"), ("1h1h", "largest to smallest"),
    ("30min1h", "largest to smallest"), ("0.5ms", "whole number of milliseconds"),
    ("-5s", "must not be negative"), (True, "expected a duration"), (None, "expected a duration"),
    ("1e3s", "not a duration"), ("\u0663s", "not a duration"), ("nan", "not a duration"),
])
def test_parse_duration_ms_refuses(text: Any, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration_ms(text, "market.interval")
    assert str(info.value).startswith("market.interval: ")
    assert fragment in str(info.value)


def test_parse_duration_sign_options() -> None:
    assert parse_duration_ms("-1h30min", allow_negative=True) == -90 * MIN_MS
    with pytest.raises(ValueError, match="longer than zero"):
        parse_duration_ms("0s", allow_zero=False)


@pytest.mark.parametrize("ms, text", [
    (0, "0s"), (100, "100ms"), (1_500, "1s500ms"), (90 * MIN_MS, "1h30min"),
    (3 * DAY_MS + 12 * HOUR_MS, "3d12h"), (-4 * HOUR_MS, "-4h"), (7 * DAY_MS, "7d"),
])
def test_format_duration(ms: int, text: str) -> None:
    assert format_duration(ms) == text


@given(st.integers(min_value=-10**13, max_value=10**13))
def test_format_then_parse_is_identity(ms: int) -> None:
    assert parse_duration_ms(format_duration(ms), allow_negative=True) == ms


# ---------------------------------------------------------------- the example
def test_design_example_loads(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, EXAMPLE_YAML))
    assert (scenario.name, scenario.seed, scenario.base_dir) == ("two_feeders", 7, tmp_path.resolve())
    assert (scenario.grid.source, scenario.grid.code, scenario.grid.f0_hz) == (
        "simbench", "1-MV-semiurb--0-sw", 50.0)
    assert scenario.grid.upstream == "infinite"
    assert scenario.time.start == datetime(2016, 6, 1, 0, 0)
    assert (scenario.time.duration, scenario.time.step) == (7 * DAY_MS, 15 * MIN_MS)
    assert scenario.profiles.source == "simbench"
    assert (scenario.control.tol, scenario.control.max_iter, scenario.frequency.step) == (
        1e-4, 10, 100)
    north, south = scenario.areas
    assert north.buses == FeederSelector(feeder_of="bus/1")
    assert (north.coordinator.policy, north.coordinator.period) == ("schedule_tracking", 5 * MIN_MS)
    assert (south.buses, south.load_damping_pu, south.coordinator.period) == ("rest", 1.0, 4_000)
    assert south.coordinator.params == {"ki": 0.05, "bias_mw_per_hz": "auto"}
    pv, batteries = scenario.units
    assert pv.elements == ElementQuery(table="sgen", where={"type": "PV"})
    assert (batteries.elements, batteries.params["soc_init"]) == (("storage/0",), 0.5)
    market = scenario.market
    assert (market.mechanism, market.interval, market.gate_closure, market.price_cap) == (
        "double_auction", HOUR_MS, 15 * MIN_MS, 3000.0)
    assert (market.reserve.fraction_of_load, market.reserve.largest_unit) == (0.1, False)
    assert market.tariffs["default"] == {"kind": "flat", "price": 120.0}
    assert market.tariffs["key_account"] == {
        "kind": "tou", "periods": [{"from": "08:00", "to": "20:00", "price": 150.0}],
        "otherwise": 90.0}
    assert (scenario.communication.default.latency, scenario.communication.default.loss) == (1000, 0)
    link = scenario.communication.links[0]
    assert (link.between, link.latency, link.loss) == (("area", "market"), 5_000, 0.01)
    outage, step = scenario.events
    assert (outage.kind, outage.at, outage.target) == ("line_outage", 3 * DAY_MS + 12 * HOUR_MS,
                                                       "line/5")
    assert (step.kind, step.at, step.target, step.delta_mw) == ("load_step", 4 * DAY_MS, "load/3", 0.5)
    assert (str(scenario.outputs.dir), scenario.outputs.plots) == ("results/two_feeders", True)


def test_scenario_is_frozen() -> None:
    scenario = load_scenario(EXAMPLE)
    with pytest.raises(Exception, match="frozen"):
        scenario.time.step = 1  # type: ignore[misc]


def test_defaults_of_a_minimal_scenario() -> None:
    scenario = load_scenario(MINIMAL)
    assert scenario.seed == 0 and scenario.time.start == datetime(2016, 1, 1)
    assert scenario.grid.options == {"with_der": "all"}
    assert (scenario.grid.f0_hz, scenario.grid.upstream, scenario.grid.solver) == (
        50.0, "infinite", "lightsim2grid")
    assert scenario.profiles.source == "synthetic"
    assert (scenario.control.tol, scenario.control.max_iter, scenario.frequency.step) == (
        1e-4, 10, 100)
    assert [(area.id, area.buses, area.coordinator.policy, area.coordinator.period)
            for area in scenario.areas] == [("grid", "rest", "none", 5 * MIN_MS)]
    market = scenario.market
    assert (market.mechanism, market.interval, market.gate_closure, market.price_cap) == (
        "none", HOUR_MS, 15 * MIN_MS, 3000.0)
    assert (market.upstream.import_price, market.upstream.export_price) == (60.0, 20.0)
    assert (scenario.communication.default.latency, scenario.communication.default.loss) == (1000, 0)
    assert (scenario.units, scenario.events, scenario.communication.links) == ((), (), ())
    assert (str(scenario.outputs.dir), scenario.outputs.plots) == ("results/mini", True)


def test_relative_paths_resolve_against_the_scenario_folder(tmp_path: Path) -> None:
    text = ("name: f\ngrid: {source: file, path: nets/grid.json}\n"
            "time: {duration: 1d, step: 1h}\nprofiles: {source: csv, path: ../p.csv}\n")
    (tmp_path / "sub").mkdir()
    scenario = load_scenario(_write(tmp_path / "sub", text))
    assert scenario.grid.path == tmp_path.resolve() / "sub" / "nets" / "grid.json"
    assert scenario.profiles.path == tmp_path.resolve() / "sub" / ".." / "p.csv"


def test_resolved_values_events_links_upstream() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["grid"]["upstream"] = {"h_s": 5, "s_mva": 500}
    data["communication"]["links"].append({"between": ["unit", "area"], "loss": 0.2})
    data["events"] = [{"at": "2016-06-02 06:00", "kind": "unit_trip", "target": "gen/1"},
                      {"at": "90s", "kind": "comm_outage", "between": ["area", "market"],
                       "duration": "10min"}]
    scenario = load_scenario(data)
    upstream = scenario.grid.upstream
    assert (upstream.h_s, upstream.s_mva, upstream.droop, upstream.damping_pu) == (5, 500, 0.05, 1.0)
    link = scenario.communication.links[1]
    assert (link.latency, link.loss) == (1000, 0.2)   # latency from communication.default
    trip, outage = scenario.events
    assert trip.at == DAY_MS + 6 * HOUR_MS            # 2016-06-02 06:00 − 2016-06-01 00:00
    assert (outage.at, outage.duration, outage.between) == (90_000, 10 * MIN_MS, ("area", "market"))


def test_time_of_use_period_may_wrap_midnight() -> None:
    data = copy.deepcopy(EXAMPLE)
    data["market"]["tariffs"]["key_account"]["periods"].append(
        {"from": "22:00", "to": "08:00", "price": 60})   # ends where 08:00-20:00 starts
    periods = load_scenario(data).market.tariffs["key_account"]["periods"]
    assert [(period["from"], period["to"]) for period in periods] == [
        ("08:00", "20:00"), ("22:00", "08:00")]


def test_resolved_dict_reloads_to_the_same_scenario(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, EXAMPLE_YAML))
    plain = resolved_dict(scenario)
    text = yaml.safe_dump(plain, sort_keys=False)
    assert plain["time"]["step"] == "15min" and plain["events"][0]["at"] == "3d12h"
    assert load_scenario(_write(tmp_path, text, "resolved.yaml")) == scenario


# ---------------------------------------------------------------- bad inputs
def _set(*keys: Any, value: Any) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        if isinstance(node, list) and keys[-1] == len(node):
            node.append(value)
        else:
            node[keys[-1]] = value
    return mutate


def _delete(*keys: Any) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return mutate


BAD = [  # (mutation, key path, fragment of the message)
    (_set("nmae", value="x"), "nmae", "valid keys: name, seed, grid"),
    (_set("grid", "sorce", value="x"), "grid.sorce", "valid keys: source, code, name"),
    (_set("areas", 1, "coordinator", "perod", value="5min"), "areas[1].coordinator.perod",
     "valid keys: policy, period, params"),
    (_set("seed", value="seven"), "seed", "expected an integer"),
    (_set("seed", value=True), "seed", "expected an integer"),
    (_set("control", "tol", value="small"), "control.tol", "expected a number"),
    (_set("outputs", "plots", value="yes"), "outputs.plots", "expected true or false"),
    (_set("areas", value={"id": "a"}), "areas", "expected a list"),
    (_delete("name"), "name", "required key is missing"),
    (_delete("time", "step"), "time.step", "required key is missing"),
    (_delete("grid", "code"), "grid.code", "required when grid.source is simbench"),
    (_set("market", "interval", value="-1h"), "market.interval", "must not be negative"),
    (_set("areas", 1, "coordinator", "period", value=5), "areas[1].coordinator.period",
     "needs a unit"),
    (_set("time", "step", value="0s"), "time.step", "longer than zero"),
    (_set("time", "step", value="8d"), "time.step", "longer than time.duration"),
    (_set("units", 1, "elements", value=["storge/0"]), "units[1].elements[0]",
     "not an element name"),
    (_set("areas", 0, "buses", value=["load/3"]), "areas[0].buses[0]", "expected bus/N"),
    (_set("areas", 0, "buses", value="bus/3"), "areas[0].buses",
     "expected a list of bus/N, {zone: ...}, {feeder_of: bus/N} or 'rest'"),
    (_set("areas", 0, "buses", value={"zone": "a", "x": 1}), "areas[0].buses.x", "valid keys: zone"),
    (_set("market", "tariffs", "default", "kind", value="fixed"), "market.tariffs.default.kind",
     "expected one of flat, tou, rtp"),
    (_delete("market", "tariffs", "key_account", "otherwise"),
     "market.tariffs.key_account.otherwise", "required key is missing"),
    (_set("market", "tariffs", "key_account", "periods", 0, "to", value="25:00"),
     "market.tariffs.key_account.periods[0].to", "not a time of day"),
    (_set("market", "tariffs", "key_account", "periods", 0, "from", value=1200),
     "market.tariffs.key_account.periods[0].from", "quoted time"),
    (_set("areas", 1, "id", value="north"), "areas[1].id", "duplicate area id 'north'"),
    (_set("events", 0, "kind", value="boom"), "events[0].kind", "unknown kind 'boom'"),
    (_delete("events", 1, "delta_mw"), "events[1].delta_mw", "required key is missing"),
    (_set("events", 1, "at", value="7d"), "events[1].at", "not inside the run"),
    (_set("events", 1, "at", value="2016-05-31 23:00"), "events[1].at", "before time.start"),
    (_set("grid", "upstream", value="infinte"), "grid.upstream", "expected 'infinite'"),
    (_set("communication", "links", 0, "loss", value=1.5), "communication.links[0].loss",
     "at most 1"),
    (_set("units", 0, "area", value="east"), "units[0].area", "unknown area 'east'"),
    (_set("units", 0, "policy", value="volt_vr"), "units[0].policy", "unknown unit policy"),
    (_set("time", "start", value="2016-06-01T00:00+02:00"), "time.start", "time zone"),
    (_set("areas", 0, "buses", value="rest"), "areas[1].buses", "only one area"),
    (_set("communication", "links", 1, value={"between": ["market", "area"]}),
     "communication.links[1].between", "a second link between market and area"),
    (_set("market", "tariffs", "key_account", "periods", 1,  # 19:00-21:00 overlaps 08:00-20:00
          value={"from": "19:00", "to": "21:00", "price": 1}),
     "market.tariffs.key_account.periods[1]", "overlaps periods[0]"),
    (_set("market", "tariffs", "key_account", "periods", 1,  # wraps midnight into 08:00
          value={"from": "22:00", "to": "08:01", "price": 1}),
     "market.tariffs.key_account.periods[1]", "overlaps periods[0]"),
]


@pytest.mark.parametrize("mutate, path, fragment", BAD)
def test_bad_input_gives_one_error_with_its_path(mutate: Callable[[dict], None], path: str,
                                                 fragment: str) -> None:
    data = copy.deepcopy(EXAMPLE)
    mutate(data)
    error = _error(data)
    assert error.path == path
    assert fragment in error.message
    assert str(error) == f"{path}: {error.message}"
    assert "\n" not in str(error) and "pydantic" not in str(error)


@pytest.mark.parametrize("text, path, fragment", [
    ("name: x\ngrid:\n  source: simbench\n   code: a\n", "line 4, column 8", "invalid YAML"),
    ("name: !!python/object/apply:os.system [echo hi]\n", "line 1, column 7", "python/object"),
    ("name: a\nname: b\n", "line 2, column 1", "duplicate key 'name'"),
    ("- 1\n- 2\n", "<scenario>", "expected a mapping"),
])
def test_bad_yaml(tmp_path: Path, text: str, path: str, fragment: str) -> None:
    error = _error(_write(tmp_path, text))
    assert (error.path, fragment in error.message) == (path, True)


# ---------------------------------------------------------------- robustness
RICH = copy.deepcopy(EXAMPLE)
RICH["grid"]["upstream"] = {"h_s": 5, "s_mva": 500, "droop": 0.05, "damping_pu": 1}
RICH["units"][1]["area"] = "south"
RICH["events"].append({"at": "2016-06-01 12:00", "kind": "comm_outage",
                       "between": ["area", "market"], "duration": "1h"})
RICH["market"]["tariffs"]["rtp"] = {"kind": "rtp", "factor": 1.1}
REPLACEMENTS = [None, 0, 7, -1.5, "x", "15min", "2016-06-02", True, [], {}, [1], {"a": 1},
                ["bus/1"], "rest", float("nan")]


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> dict:
    data = copy.deepcopy(RICH)
    for _ in range(draw(st.integers(1, 3))):
        location = draw(st.sampled_from(scenario_locations(data)[1:]))
        parent = data
        for key in location[:-1]:
            parent = parent[key]
        operation = draw(st.sampled_from(["delete", "insert", "replace"]))
        if operation == "delete" and isinstance(parent, dict):
            del parent[location[-1]]
        elif operation == "insert" and isinstance(parent[location[-1]], dict):
            parent[location[-1]][draw(st.sampled_from(["zzz", 3, "kind"]))] = 1
        else:
            parent[location[-1]] = copy.deepcopy(draw(st.sampled_from(REPLACEMENTS)))
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_scenarios())
def test_mutated_scenarios_load_or_raise_scenario_error(data: dict) -> None:
    try:
        scenario = load_scenario(data)
    except ScenarioError as error:
        assert error.path and error.message and "\n" not in str(error)
        return
    plain = json.dumps(resolved_dict(scenario))
    assert json.dumps(resolved_dict(load_scenario(resolved_dict(scenario)))) == plain


@pytest.mark.parametrize("value", [float("nan"), [1.0, float("inf")]])
def test_a_where_value_that_matches_nothing_is_refused(value) -> None:
    """Found by the mutation test above: NaN was accepted, then written back as null."""
    data = copy.deepcopy(RICH)
    data["units"][0]["elements"] = {"table": "sgen", "where": {"type": value}}
    with pytest.raises(ScenarioError) as caught:
        load_scenario(data)
    assert caught.value.path == "units[0].elements.where.type"
    assert "finite number" in caught.value.message


# ---------------------------------------------------------------- JSON Schema, imports
def test_json_schema_is_valid_and_accepts_the_example() -> None:
    schema = scenario_json_schema()
    validator = jsonschema.Draft202012Validator
    validator.check_schema(schema)
    validator(schema).validate(EXAMPLE)
    validator(schema).validate(resolved_dict(load_scenario(EXAMPLE)))
    wrong = {**EXAMPLE, "nmae": 1}
    assert not validator(schema).is_valid(wrong)
    assert not validator(schema).is_valid({**EXAMPLE, "seed": "seven"})
    assert not validator(schema).is_valid({**EXAMPLE, "time": {"duration": "7", "step": "1h"}})


def _property_defaults(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path, property schema) of every property that has a default, at any depth."""
    found = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name, child in (node.get("properties") or {}).items():
                if isinstance(child, dict) and "default" in child:
                    found.append((f"{path}.{name}", child))
            for key, child in node.items():
                walk(child, f"{path}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{path}[{index}]")

    walk(schema, "")
    return found


def test_every_schema_default_validates_against_its_own_property_schema() -> None:
    schema = scenario_json_schema()
    defaults = _property_defaults(schema)
    assert len(defaults) > 30
    for path, node in defaults:
        own = {key: value for key, value in node.items() if key != "default"}
        validator = jsonschema.Draft202012Validator({**own, "$defs": schema["$defs"]})
        errors = [e.message for e in validator.iter_errors(node["default"])]
        assert not errors, f"{path}: default {node['default']!r}: {errors}"


def test_schema_duration_defaults_are_written_as_the_loader_resolves_them() -> None:
    defs = scenario_json_schema()["$defs"]
    resolved = resolved_dict(load_scenario(MINIMAL))  # every duration below left at its default
    pairs = {("CoordinatorConfig", "period"): resolved["areas"][0]["coordinator"]["period"],
             ("FrequencyConfig", "step"): resolved["frequency"]["step"],
             ("LinkDefault", "latency"): resolved["communication"]["default"]["latency"],
             ("MarketConfig", "interval"): resolved["market"]["interval"],
             ("MarketConfig", "gate_closure"): resolved["market"]["gate_closure"],
             ("TimeConfig", "start"): resolved["time"]["start"]}
    for (model, key), value in pairs.items():
        default = defs[model]["properties"][key]["default"]
        assert default == value, f"{model}.{key}"
    assert parse_duration_ms(defs["CoordinatorConfig"]["properties"]["period"]["default"]) == 5 * MIN_MS
    assert parse_duration_ms(defs["UflsStage"]["properties"]["delay"]["default"]) == 0


def test_scenario_modules_do_not_import_pandapower_or_tiers() -> None:
    code = ("import sys, hierarchy.scenario; "
            "bad = [m for m in ('pandapower', 'unit_control', 'area_control', 'market_control') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
