"""Bad scenario input of every kind: exit 2, one line naming the key path (issue 7).

A table of broken scenarios (each a small change to the quickstart or to a
SimBench-based scenario, or a broken file) goes through the ``hiergrid``
command line. To keep the file fast, the table runs in one child process
that imports hiergrid once and calls the CLI's ``main`` per case with
stderr captured (a traceback or any exception there fails the case); a few
cases of each kind also go through ``python -m hierarchy.cli`` for real,
``validate`` and ``run``.
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, quickstart_dict, scenario_locations

SIMBENCH = {
    "name": "sb_bad", "seed": 3,
    "grid": {"source": "simbench", "code": "1-MV-semiurb--0-sw"},
    "time": {"start": "2016-06-01 00:00", "duration": "2h", "step": "15min"},
    "profiles": {"source": "simbench"},
    "areas": [{"id": "grid", "buses": "rest", "coordinator": {"policy": "none"}}],
    "units": [{"id": "pv", "elements": {"table": "sgen", "where": {"type": "PV_MV"}},
               "policy": "volt_var", "params": {"curve": "ieee1547_cat_b"}}],
    "market": {"mechanism": "none"},
    "outputs": {"dir": "unused", "plots": False},
}

Setup = Callable[[Path], Path]


def _dump(tmp: Path, data: Any, name: str = "bad.yaml") -> Path:
    file = tmp / name
    file.write_text(yaml.safe_dump(data, sort_keys=False))
    return file


def quick(change: Callable[[dict], Any]) -> Setup:
    """A quickstart (2 h) with ``change`` applied."""
    def setup(tmp: Path) -> Path:
        data = quickstart_dict()
        data["time"]["duration"] = "2h"
        change(data)
        return _dump(tmp, data)
    return setup


def simbench(change: Callable[[dict], Any]) -> Setup:
    def setup(tmp: Path) -> Path:
        data = copy.deepcopy(SIMBENCH)
        change(data)
        return _dump(tmp, data)
    return setup


def text(content: str | bytes) -> Setup:
    def setup(tmp: Path) -> Path:
        file = tmp / "bad.yaml"
        file.write_bytes(content if isinstance(content, bytes) else content.encode())
        return file
    return setup


def with_file(name: str, content: str, change: Callable[[dict, Path], Any]) -> Setup:
    """A quickstart that refers to a side file ``name`` holding ``content``."""
    def setup(tmp: Path) -> Path:
        side = tmp / name
        side.write_text(content)
        data = quickstart_dict()
        data["time"]["duration"] = "2h"
        change(data, side)
        return _dump(tmp, data)
    return setup


def _unit(index: int, **changes: Any) -> Callable[[dict], None]:
    return lambda d: d["units"][index].update(changes)


def _param(index: int, **changes: Any) -> Callable[[dict], None]:
    return lambda d: d["units"][index].setdefault("params", {}).update(changes)


def _security(**changes: Any) -> Callable[[dict], None]:
    return lambda d: d["market"].setdefault("security", {}).update(changes)


def _market(**changes: Any) -> Callable[[dict], None]:
    return lambda d: d["market"].update(changes)


def _event(**event: Any) -> Callable[[dict], None]:
    return lambda d: d.update(events=[{"at": "1h", **event}])


def _add(**changes: Any) -> Callable[[dict], None]:
    """One ``add`` entry (1 MW PV at bus 3) with ``changes``."""
    entry = {"name": "extra", "table": "sgen", "bus": 3, "columns": {"p_mw": 1.0}, **changes}
    return lambda d: d.update(add=[entry])


def _csv(rows: list[str]) -> str:
    return "time,load/0\n" + "\n".join(rows) + "\n"


_QUARTERS = [f"2016-06-01 {h:02d}:{m:02d},{1.0 + 0.1 * h}" for h in range(3) for m in (0, 15, 30, 45)]


def _csv_profiles(data: dict, side: Path) -> None:
    data["profiles"] = {"source": "csv", "path": str(side)}


def _grid_file(data: dict, side: Path) -> None:
    data["grid"] = {"source": "file", "path": str(side)}


# (case id, setup, key path the one line starts with, fragment of the message)
CASES: list[tuple[str, Setup, str, str]] = [
    # wrong types
    ("type-duration-int", quick(lambda d: d["time"].update(duration=5)), "time.duration", "unit"),
    ("type-seed-str", quick(lambda d: d.update(seed="seven")), "seed", "integer"),
    ("type-units-mapping", quick(lambda d: d.update(units={"id": "x"})), "units", "list"),
    ("type-params-list", quick(_unit(2, params=[1, 2])), "units[2].params", "mapping"),
    ("type-price-cap-str", quick(lambda d: d["market"].update(price_cap="high")),
     "market.price_cap", "number"),
    ("type-loss-big", quick(lambda d: d["communication"]["default"].update(loss=2)),
     "communication.default.loss", "at most 1"),
    ("type-f0-negative", quick(lambda d: d["grid"].update(f0_hz=-50)), "grid.f0_hz", "greater"),
    ("type-elements-str", quick(_unit(0, elements="sgen/1")), "units[0].elements", "list"),
    ("type-options-list", quick(lambda d: d["grid"].update(options=[1])), "grid.options",
     "mapping"),
    # unknown and missing keys
    ("unknown-top", quick(lambda d: d.update(colour="red")), "colour", "unknown key"),
    ("unknown-unit", quick(_unit(1, colour=1)), "units[1].colour", "unknown key"),
    ("unknown-event", quick(_event(kind="load_step", target="load/1", delta_mw=1, why=1)),
     "events[0].why", "unknown key"),
    ("missing-name", quick(lambda d: d.pop("name")), "name", "missing"),
    ("missing-grid", quick(lambda d: d.pop("grid")), "grid", "missing"),
    ("missing-policy", quick(lambda d: d["units"][0].pop("policy")), "units[0].policy", "missing"),
    ("missing-elements", quick(lambda d: d["units"][0].pop("elements")), "units[0].elements",
     "missing"),
    ("missing-target", quick(_event(kind="line_outage")), "events[0].target", "missing"),
    # durations
    ("negative-duration", quick(lambda d: d["time"].update(duration="-1h")), "time.duration", ""),
    ("negative-step", quick(lambda d: d["time"].update(step="-15min")), "time.step", ""),
    ("negative-latency", quick(lambda d: d["communication"]["default"].update(latency="-1s")),
     "communication.default.latency", "negative"),
    ("negative-event-at", quick(_event(kind="line_outage", target="line/1", at="-1h")),
     "events[0].at", ""),
    ("negative-outage", quick(_event(kind="comm_outage", between=["area", "unit"],
                                     duration="-5min")), "events[0].duration", ""),
    ("step-longer", quick(lambda d: d["time"].update(step="3h")), "time.step", "longer"),
    ("event-after-end", quick(_event(kind="line_outage", target="line/1", at="3h")),
     "events[0].at", "not inside the run"),
    ("period-zero", quick(lambda d: d["areas"][0]["coordinator"].update(period="0s")),
     "areas[0].coordinator.period", ""),
    # elements and buses not in the grid
    ("unit-sgen-missing", quick(_unit(1, elements=["sgen/99"])), "units[1].elements[0]",
     "not in the grid"),
    ("unit-query-empty", quick(_unit(0, elements={"table": "sgen", "where": {"type": "Nuclear"}})),
     "units[0].elements", "selects no"),
    ("unit-query-column", quick(_unit(0, elements={"table": "sgen", "where": {"colour": "red"}})),
     "units[0].elements.where", "colour"),
    ("unit-two-tables", quick(_unit(1, elements=["sgen/10", "load/0"])), "units[1].elements",
     ""),
    ("unit-area-unknown", quick(_unit(0, area="east")), "units[0].area", "east"),
    ("area-bus-missing", quick(lambda d: d["areas"][0].update(buses=["bus/1", "bus/999"])),
     "areas[0].buses[1]", "bus 999 is not in the grid"),
    ("area-feeder-missing", quick(lambda d: d["areas"][0].update(buses={"feeder_of": "bus/77"})),
     "areas[0].buses.feeder_of", "bus 77"),
    ("area-zone-missing", quick(lambda d: d["areas"][0].update(buses={"zone": "nowhere"})),
     "areas[0].buses", "nowhere"),
    ("event-line-missing", quick(_event(kind="line_outage", target="line/999")),
     "events[0].target", "line/999"),
    ("event-load-missing", quick(_event(kind="load_step", target="load/999", delta_mw=1)),
     "events[0].target", "load/999"),
    ("event-trip-missing", quick(_event(kind="unit_trip", target="sgen/99")),
     "events[0].target", "sgen/99"),
    ("event-restore-missing", quick(_event(kind="line_restore", target="line/999")),
     "events[0].target", "line/999"),
    ("sb-unit-missing", simbench(_unit(0, elements=["sgen/9999"])), "units[0].elements[0]",
     "not in the grid"),
    ("sb-event-missing", simbench(_event(kind="line_outage", target="line/9999")),
     "events[0].target", "line/9999"),
    # areas that overlap or leave buses out
    ("areas-overlap", quick(lambda d: d["areas"][1].update(buses=["bus/0", "bus/1", "bus/12"])),
     "areas[1].buses", "already"),
    ("areas-gap", quick(lambda d: d["areas"][1].update(buses=["bus/0", "bus/12"])), "areas",
     "belong to no area"),
    ("areas-overlap-lists", quick(lambda d: d.update(areas=[
        {"id": "a", "buses": ["bus/1", "bus/2"]}, {"id": "b", "buses": ["bus/2"]},
        {"id": "c", "buses": "rest"}])), "areas[1].buses", "already"),
    # policies that do not exist or do not fit
    ("policy-unknown", quick(_unit(0, policy="no_such_policy")), "units[0].policy",
     "no_such_policy"),
    ("policy-no-module", quick(_unit(0, policy="no_such_module:Policy")), "units[0].policy",
     "no_such_module"),
    ("policy-no-class", quick(_unit(0, policy="unit_control.battery:Nope")), "units[0].policy",
     "Nope"),
    ("policy-not-a-policy", quick(_unit(0, policy="hierarchy.api:Result")), "units[0].policy",
     "Result"),
    ("policy-wrong-table", quick(_unit(2, policy="volt_var", params={})), "units[2].elements",
     "storage"),
    ("policy-battery-on-sgen", quick(_unit(1, policy="battery", params={})), "units[1].elements",
     "sgen"),
    ("area-policy-unknown", quick(lambda d: d["areas"][0]["coordinator"].update(policy="pid")),
     "areas[0].coordinator.policy", "pid"),
    ("area-policy-no-module", quick(lambda d: d["areas"][0]["coordinator"].update(
        policy="nowhere_mod:Coord")), "areas[0].coordinator.policy", "nowhere_mod"),
    ("market-unknown", quick(lambda d: d["market"].update(mechanism="pay_as_bid")),
     "market.mechanism", "pay_as_bid"),
    # market stages and forecasts
    ("day-ahead-gate-str", quick(_market(day_ahead={"gate_closure": "noon"})),
     "market.day_ahead.gate_closure", "HH:MM"),
    ("day-ahead-gate-24", quick(_market(day_ahead={"gate_closure": "24:00"})),
     "market.day_ahead.gate_closure", "00:00"),
    ("day-ahead-slot-zero", quick(_market(day_ahead={"slot": "0h"})), "market.day_ahead.slot", ""),
    ("day-ahead-horizon-long", quick(_market(day_ahead={"horizon": "36h"})),
     "market.day_ahead.horizon", "longer than a day"),
    ("day-ahead-horizon-slots", quick(_market(day_ahead={"slot": "2h", "horizon": "23h"})),
     "market.day_ahead.horizon", "whole number"),
    ("day-ahead-slot-interval", quick(_market(day_ahead={"slot": "90min"})),
     "market.day_ahead.slot", "market.interval"),
    ("day-ahead-mechanism", quick(_market(day_ahead={"mechanism": "continuous"})),
     "market.day_ahead.mechanism", ""),
    ("day-ahead-no-market", quick(_market(mechanism="none", day_ahead={})), "market.day_ahead",
     "per-interval market"),
    ("day-ahead-unknown-key", quick(_market(day_ahead={"gate": "12:00"})), "market.day_ahead.gate",
     "unknown key"),
    ("day-ahead-start-off-grid", quick(lambda d: (d["time"].update(start="2016-06-01 00:20"),
                                                  d["market"].update(day_ahead={}))),
     "market.day_ahead", "grid"),
    ("day-ahead-transfer", quick(_market(mechanism="economic_dispatch", day_ahead={},
                                         transfer_limits=[{"between": ["north", "south"],
                                                           "limit_mw": 1}])),
     "market.day_ahead.mechanism", "economic_dispatch"),
    ("continuous-without", quick(_market(continuous={"open": "2h"})), "market.continuous",
     "only used with mechanism continuous"),
    ("continuous-open-short", quick(_market(mechanism="continuous", continuous={"open": "10min"})),
     "market.continuous.open", "longer than market.gate_closure"),
    ("continuous-period-str", quick(_market(mechanism="continuous", continuous={"period": "often"})),
     "market.continuous.period", ""),
    ("continuous-transfer", quick(_market(mechanism="continuous", transfer_limits=[
        {"between": ["north", "south"], "limit_mw": 1}])), "market.transfer_limits",
     "economic_dispatch"),
    ("forecast-method", quick(lambda d: d.update(forecast={"pv": {"method": "oracle"}})),
     "forecast.pv.method", "oracle"),
    ("forecast-kind", quick(lambda d: d.update(forecast={"solar": {"method": "perfect"}})),
     "forecast.solar", "unknown key"),
    ("forecast-std-negative", quick(lambda d: d.update(
        forecast={"pv": {"method": "noisy", "std_pu": -0.1}})), "forecast.pv.std_pu", "at least 0"),
    ("forecast-rho-one", quick(lambda d: d.update(
        forecast={"wind": {"method": "noisy", "autocorrelation": 1.0}})),
     "forecast.wind.autocorrelation", "less than 1"),
    ("forecast-std-not-noisy", quick(lambda d: d.update(
        forecast={"load": {"method": "perfect", "std_pu": 0.1}})), "forecast.load.std_pu",
     "only used with method noisy"),
    ("forecast-std-str", quick(lambda d: d.update(
        forecast={"load": {"method": "noisy", "day_ahead_std_pu": "big"}})),
     "forecast.load.day_ahead_std_pu", "number"),
    ("bid-blocks-negative", quick(_param(2, bid_blocks=-1)), "units[2].params.bid_blocks", ">= 0"),
    ("bid-blocks-float", quick(_param(2, bid_blocks=1.5)), "units[2].params.bid_blocks", "integer"),
    ("bid-blocks-list", quick(_param(2, bid_blocks=[1, 2])), "units[2].params.bid_blocks",
     "integer"),
    # unknown policy parameters and bad values
    ("param-unknown", quick(_param(2, colour=1)), "units[2].params.colour", "unknown parameter"),
    ("area-param-unknown", quick(lambda d: d["areas"][0]["coordinator"].update(
        params={"colour": 1})), "areas[0].coordinator.params.colour", "unknown parameter"),
    ("soc-init-1.5", quick(_param(2, soc_init=1.5)), "units[2].params.soc_init", "outside"),
    ("soc-init-str", quick(_param(2, soc_init="half")), "units[2].params.soc_init", "number"),
    ("capacity-negative", quick(_param(2, capacity_mwh=-1)), "units[2].params.capacity_mwh", "> 0"),
    ("eta-zero", quick(_param(2, eta_charge=0)), "units[2].params.eta_charge", "(0, 1]"),
    ("soc-list-length", quick(_param(2, soc_init=[0.5, 0.5, 0.5])), "units[2].params.soc_init",
     "3 values"),
    ("soc-null", quick(_param(2, soc_init=None)), "units[2].params.soc_init", "outside"),
    ("curve-unknown", quick(_param(0, curve="cat_z")), "units[0].params.curve", "unknown curve 'cat_z'"),
    ("curve-short", quick(_param(0, curve={"v": [0.9, 1.1], "q": [0.4, -0.4]})),
     "units[0].params.curve", "4 points"),
    ("curve-nested-str", quick(_param(0, curve={"v": "a", "q": "b"})), "units[0].params.curve", "numbers"),
    ("cost-str", quick(_param(1, cost="cheap")), "units[1].params.cost", "mapping"),
    ("cost-key", quick(_param(1, cost={"a": 0, "b": "x", "c": 0})), "units[1].params.cost.b", "not a number"),
    ("offer-blocks-zero", quick(_param(1, offer_blocks=0)), "units[1].params.offer_blocks", ">= 1"),
    ("offer-blocks-str", quick(_param(1, offer_blocks="3")), "units[1].params.offer_blocks", "integer"),
    ("p-max-below-min", quick(_param(1, p_min_mw=1.0, p_max_mw=0.5)), "units[1].params.p_min_mw", "out of range"),
    ("rating-negative", quick(_param(0, rating_mw=-1)), "units[0].params.rating_mw", "> 0"),
    ("rating-str", quick(_param(0, rating_mw="big")), "units[0].params.rating_mw", "number"),
    ("offer-price-str", quick(_param(0, offer_price="free")), "units[0].params.offer_price", "number"),
    ("h-s-negative", quick(_param(0, h_s=-1)), "units[0].params.h_s", ">= 0"),
    ("gain-str", quick(lambda d: d["areas"][0]["coordinator"].update(params={"gain": "x"})),
     "areas[0].coordinator.params.gain", "number"),
    ("agc-ki-str", quick(lambda d: d["areas"][0]["coordinator"].update(
        policy="agc", period="4s", params={"ki": "fast"})), "areas[0].coordinator.params.ki", "number"),
    ("offer-price-null", quick(_param(0, offer_price=None)), "units[0].params.offer_price",
     "number"),
    ("offer-price-list", quick(_param(0, offer_price=[1, 2])), "units[0].params.offer_price",
     "number"),
    ("gain-null", quick(lambda d: d["areas"][0]["coordinator"].update(params={"gain": None})),
     "areas[0].coordinator.params.gain", "number"),
    ("agc-bias-str", quick(lambda d: d["areas"][0]["coordinator"].update(
        policy="agc", period="4s", params={"bias_mw_per_hz": "fast"})),
     "areas[0].coordinator.params.bias_mw_per_hz", "number"),
    ("agc-participation-unknown", quick(lambda d: d["areas"][0]["coordinator"].update(
        policy="agc", period="4s", params={"participation": {"nope": 1}})),
     "areas[0].coordinator.params.participation.nope", "not a unit"),
    ("agc-participation-str", quick(lambda d: d["areas"][0]["coordinator"].update(
        policy="agc", period="4s", params={"participation": {"batteries": "x"}})),
     "areas[0].coordinator.params.participation.batteries", "number"),
    ("oltc-inertia", simbench(lambda d: d["units"].append(
        {"id": "tap", "elements": ["trafo/0"], "policy": "oltc", "params": {"h_s": 1}})),
     "units[1].params.h_s", "no inertia"),
    ("customer-class", quick(lambda d: d["units"].append({
        "id": "flex", "elements": ["load/1"], "policy": "flexible_load",
        "params": {"customer_class": "vip"}})), "units[3].params.customer_class", "vip"),
    ("external-p-limit", quick(lambda d: d["units"][2].update(
        policy="external", params={"p_limit": "sideways"})), "units[2].params.p_limit", "not one of"),
    ("external-trafo", quick(lambda d: d["units"].append(
        {"id": "tap", "elements": ["trafo/0"], "policy": "external"})), "units[3].elements",
     "not trafo"),
    ("external-coordinator-param", quick(lambda d: d["areas"][0]["coordinator"].update(
        policy="external", params={"gain": 1.0})), "areas[0].coordinator.params.gain",
     "unknown parameter"),
    # market security and customer classes (issue 16)
    ("security-enabled-str", quick(_security(enabled="yes")), "market.security.enabled", "true or false"),
    ("security-band-order", quick(_security(voltage_band_pu=[1.05, 0.95])),
     "market.security.voltage_band_pu", "v_min < v_max"),
    ("security-band-short", quick(_security(voltage_band_pu=[0.95])), "market.security.voltage_band_pu", ""),
    ("security-loading-zero", quick(_security(max_loading_percent=0)),
     "market.security.max_loading_percent", "greater than 0"),
    ("security-branch-bus", quick(_security(branch_limits_percent={"bus/1": 50})),
     "market.security.branch_limits_percent", "line or trafo"),
    ("security-branch-negative", quick(_security(branch_limits_percent={"line/1": -5})),
     "market.security.branch_limits_percent.line/1", "greater than 0"),
    ("security-branch-missing", quick(_security(enabled=True, branch_limits_percent={"line/99": 50})),
     "market.security.branch_limits_percent.line/99", "not in the grid"),
    ("security-method", quick(_security(method="greedy")), "market.security.method", "merit_order"),
    ("security-rounds-zero", quick(_security(max_rounds=0)), "market.security.max_rounds", "at least 1"),
    ("security-unknown", quick(_security(margin=0.1)), "market.security.margin", "unknown key"),
    ("class-no-tariff", quick(lambda d: d["market"].update(customer_classes={"vip": {"priority": 2}})),
     "market.customer_classes.vip", "no tariff"),
    ("class-priority-negative", quick(lambda d: d["market"].update(
        customer_classes={"default": {"priority": -1}})), "market.customer_classes.default.priority", "at least 0"),
    ("class-discount-firm", quick(lambda d: d["market"].update(
        customer_classes={"default": {"discount": 0.1}})), "market.customer_classes.default.discount",
     "interruptible: true"),
    ("class-discount-one", quick(lambda d: d["market"].update(
        customer_classes={"default": {"interruptible": True, "discount": 1.0}})),
     "market.customer_classes.default.discount", "less than 1"),
    ("class-duration-negative", quick(lambda d: d["market"].update(
        customer_classes={"default": {"interruptible": True, "max_interruption_duration": "-2h"}})),
     "market.customer_classes.default.max_interruption_duration", ""),
    ("class-count-str", quick(lambda d: d["market"].update(
        customer_classes={"default": {"interruptible": True, "max_interruptions": "two"}})),
     "market.customer_classes.default.max_interruptions", "integer"),
    # frequency figures (issue 17)
    ("rocof-window-zero", quick(lambda d: d.update(frequency={"rocof_window": "0s"})),
     "frequency.rocof_window", ""),
    ("rocof-window-number", quick(lambda d: d.update(frequency={"rocof_window": 0.5})),
     "frequency.rocof_window", "unit"),
    ("settling-band-zero", quick(lambda d: d.update(frequency={"settling_band_hz": 0})),
     "frequency.settling_band_hz", "greater than 0"),
    ("settling-band-str", quick(lambda d: d.update(frequency={"settling_band_hz": "10 mHz"})),
     "frequency.settling_band_hz", "number"),
    # the add section (issue 17) and bus references
    ("add-table", quick(_add(table="line")), "add[0].table", "'sgen', 'storage', 'gen' or 'load'"),
    ("add-name-missing", quick(lambda d: d.update(add=[{"table": "sgen", "bus": 3}])),
     "add[0].name", "missing"),
    ("add-name-twice", quick(lambda d: d.update(add=[{"name": "x", "table": "sgen", "bus": 3},
                                                      {"name": "x", "table": "load", "bus": 4}])),
     "add[1].name", "duplicate"),
    ("add-unknown-key", quick(_add(colour="red")), "add[0].colour", "unknown key"),
    ("add-bus-missing", quick(_add(bus=999)), "add[0].bus", "bus 999 is not in the grid"),
    ("add-bus-form", quick(_add(bus="Bus 3")), "add[0].bus", "bus/N or the plain bus index N"),
    ("add-bus-bool", quick(_add(bus=True)), "add[0].bus", "{feeder_ends: true}"),
    ("add-bus-twice", quick(_add(bus=[3, "bus/3"])), "add[0].bus", "twice"),
    ("add-bus-zone", quick(_add(bus={"zone": "nowhere"})), "add[0].bus", "nowhere"),
    ("add-feeder-ends-false", quick(_add(bus={"feeder_ends": False})),
     "add[0].bus.feeder_ends", "expected True"),
    ("add-column-unknown", quick(_add(columns={"p_mw": 1, "sn_mwa": 1})), "add[0].columns.sn_mwa",
     "did you mean sn_mva"),
    ("add-column-reserved", quick(_add(columns={"p_mw": 1, "bus": 4})), "add[0].columns.bus",
     "add[].bus"),
    ("add-column-str", quick(_add(columns={"p_mw": "lots"})), "add[0].columns.p_mw", "number"),
    ("add-column-list", quick(_add(columns={"p_mw": [1, 2]})), "add[0].columns.p_mw", "number"),
    ("add-column-bool", quick(_add(columns={"p_mw": 1, "in_service": "yes"})),
     "add[0].columns.in_service", "true or false"),
    ("add-sgen-no-p", quick(_add(columns={})), "add[0].columns.p_mw", "required"),
    ("add-storage-no-energy", quick(_add(table="storage", columns={"sn_mva": 1})),
     "add[0].columns.max_e_mwh", "required"),
    ("add-sn-negative", quick(_add(columns={"p_mw": 1, "sn_mva": -1})), "add[0].columns.sn_mva",
     "greater than 0"),
    ("add-soc-101", quick(_add(table="storage", columns={"max_e_mwh": 1, "soc_percent": 101})),
     "add[0].columns.soc_percent", "at most 100"),
    ("add-profile-kind", quick(_add(profile="flat")), "add[0].profile", "{simbench: PROFILE}"),
    ("add-profile-simbench-grid", quick(_add(profile={"simbench": "PV4"})),
     "add[0].profile.simbench", "no SimBench profiles"),
    ("add-profile-simbench-name", simbench(_add(profile={"simbench": "PV99"})),
     "add[0].profile.simbench", "close matches"),
    ("add-profile-copy-missing", quick(_add(profile={"copy": "sgen/999"})),
     "add[0].profile.copy", "not in the grid"),
    ("add-profile-copy-line", quick(_add(profile={"copy": "line/1"})), "add[0].profile.copy",
     "sgen or storage or gen or load/N"),
    ("add-profile-scale-str", quick(_add(profile={"copy": "sgen/1", "scale": "x2"})),
     "add[0].profile.scale", "number"),
    ("add-profile-csv-missing", lambda tmp: quick(_add(profile={"csv": str(tmp / "none.csv"),
                                                                "column": "a"}))(tmp),
     "add[0].profile.csv", "none.csv"),
    ("add-profile-csv-column", with_file("p.csv", _csv(_QUARTERS), lambda d, side: _add(
        profile={"csv": str(side), "column": "park"})(d)), "add[0].profile.column", "load/0"),
    ("add-profile-csv-short", with_file("p.csv", _csv(_QUARTERS[:5]), lambda d, side: _add(
        profile={"csv": str(side), "column": "load/0"})(d)), "add[0].profile.csv", "too short"),
    ("area-bus-negative", quick(lambda d: d["areas"][0].update(buses=[-1])), "areas[0].buses[0]",
     "not a bus index"),
    ("area-bus-name", quick(lambda d: d["areas"][0].update(buses=["Bus 1"])),
     "areas[0].buses[0]", "bus/N or the plain bus index N"),
    ("area-feeder-int-missing", quick(lambda d: d["areas"][0].update(buses={"feeder_of": 77})),
     "areas[0].buses.feeder_of", "pandapower's bus index"),
    # YAML
    ("yaml-unclosed", text("name: x\ngrid: [unclosed\n"), "line ", "invalid YAML"),
    ("yaml-tab", text("name: x\n\tgrid: 1\n"), "line ", "invalid YAML"),
    ("yaml-python-tag", text("name: !!python/object/apply:os.system [echo hi]\n"), "line 1",
     "python/object"),
    ("yaml-python-name", text("name: !!python/name:os.system\n"), "line 1", "python/name"),
    ("yaml-duplicate", text("name: a\nname: b\n"), "line 2", "duplicate key"),
    ("yaml-list", text("- 1\n- 2\n"), "<scenario>", "expected a mapping"),
    ("yaml-empty", text(""), "<scenario>", "expected a mapping"),
    ("yaml-not-utf8", text(b"name: \xff\xfe\n"), "", "cannot read"),
    ("yaml-directory", lambda tmp: tmp, "", "cannot read"),
    ("yaml-missing-file", lambda tmp: tmp / "nope.yaml", "", "nope.yaml"),
    # profile CSV
    ("csv-gap", with_file("p.csv", _csv(_QUARTERS[:4] + _QUARTERS[6:]), _csv_profiles),
     "profiles.path", "row"),
    ("csv-short", with_file("p.csv", _csv(_QUARTERS[:5]), _csv_profiles), "profiles.path",
     "too short"),
    ("csv-text-value", with_file("p.csv", _csv(_QUARTERS[:-1] + ["2016-06-01 02:45,lots"]),
                                 _csv_profiles), "profiles.path", "load/0"),
    ("csv-no-time", with_file("p.csv", "when,load/0\n1,2\n", _csv_profiles), "profiles.path",
     "time"),
    ("csv-unknown-column", with_file("p.csv", _csv(_QUARTERS).replace("load/0", "load/99"),
                                     _csv_profiles), "profiles.path", "load/99"),
    ("csv-empty", with_file("p.csv", "", _csv_profiles), "profiles.path", ""),
    ("csv-missing", lambda tmp: quick(lambda d: _csv_profiles(d, tmp / "none.csv"))(tmp),
     "profiles.path", "none.csv"),
    # grid files and codes
    ("grid-not-json", with_file("g.json", "this is not json", _grid_file), "grid.path", "g.json"),
    ("grid-other-json", with_file("g.json", '{"a": 1}', _grid_file), "grid.path", "g.json"),
    ("grid-json-list", with_file("g.json", "[1, 2]", _grid_file), "grid.path", "g.json"),
    ("grid-missing-file", lambda tmp: quick(lambda d: _grid_file(d, tmp / "none.json"))(tmp),
     "grid.path", "none.json"),
    ("grid-simbench-code", simbench(lambda d: d["grid"].update(code="1-MV-nowhere--0-sw")),
     "grid.code", "1-MV-nowhere--0-sw"),
    ("grid-pandapower-name", quick(lambda d: d["grid"].update(name="create_cigre_network_xx")),
     "grid.name", "create_cigre_network_xx"),
    ("grid-pandapower-option", quick(lambda d: d["grid"].update(options={"colour": 1})),
     "grid.options", "colour"),
    ("grid-pandapower-option-value", quick(lambda d: d["grid"].update(options={"with_der": 7})),
     "grid.options", ""),
]

# A child process that imports hiergrid once and runs the CLI's main per case.
_DRIVER = r"""
import contextlib, io, json, sys, traceback, warnings
warnings.simplefilter("ignore")
from hierarchy.cli import main
results = []
for command, path in json.loads(sys.argv[1]):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main([command, path] + (["--quiet"] if command == "run" else []))
    except BaseException:
        status, err = "exception", io.StringIO(traceback.format_exc())
    results.append([status, err.getvalue()])
print(json.dumps(results))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "ignore"}


def _check(case: str, status: Any, stderr: str, path: str, fragment: str) -> None:
    lines = stderr.strip().splitlines()
    assert status == 2, f"{case}: exit {status}\n{stderr}"
    assert len(lines) == 1 and "Traceback" not in stderr, f"{case}: {stderr}"
    assert lines[0].startswith(f"hiergrid: {path}"), f"{case}: {lines[0]}"
    assert fragment in lines[0], f"{case}: {fragment!r} not in {lines[0]}"


@pytest.fixture(scope="module")
def case_files(tmp_path_factory) -> dict[str, Path]:
    files = {}
    for case, setup, _, _ in CASES:
        folder = tmp_path_factory.mktemp(case)
        files[case] = setup(folder)
    return files


@pytest.fixture(scope="module")
def validated(case_files) -> dict[str, tuple[Any, str]]:
    """Every case through ``main(["validate", ...])`` in one child process."""
    jobs = [["validate", str(case_files[case])] for case, *_ in CASES]
    done = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(jobs)], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return {case: tuple(result) for (case, *_), result in zip(CASES, results)}


@pytest.mark.parametrize("case, path, fragment", [(c, p, f) for c, _, p, f in CASES],
                         ids=[c for c, *_ in CASES])
def test_validate_exits_2_with_one_line_naming_the_key_path(validated, case, path, fragment):
    status, stderr = validated[case]
    _check(case, status, stderr, path, fragment)


# one case of each kind, through the real command line, validate and run
REAL = ["negative-outage", "event-line-missing", "soc-init-1.5", "yaml-python-tag", "csv-gap",
        "grid-not-json", "security-branch-missing"]


def _hiergrid(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hierarchy.cli", *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)


def test_real_command_line_validate_and_run(case_files):
    expected = {case: (path, fragment) for case, _, path, fragment in CASES}
    jobs = [(case, command) for case in REAL for command in ("validate", "run")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda job: _hiergrid(job[1], str(case_files[job[0]]),
                                                   *(["--quiet"] if job[1] == "run" else [])),
                             jobs))
    for (case, command), result in zip(jobs, done):
        _check(f"{command} {case}", result.returncode, result.stderr, *expected[case])


# ---------------------------------------------------------------- mutated valid scenarios
SB_VALID = {
    "name": "sb_mutants", "seed": 5,
    "grid": {"source": "simbench", "code": "1-MV-semiurb--0-sw"},
    "time": {"start": "2016-06-01 10:00", "duration": "2h", "step": "15min"},
    "profiles": {"source": "simbench"},
    "areas": [{"id": "f1", "buses": {"feeder_of": "bus/4"},
               "coordinator": {"policy": "schedule_tracking", "period": "5min"}},
              {"id": "rest", "buses": "rest", "coordinator": {"policy": "none"}}],
    "units": [
        {"id": "pv", "elements": {"table": "sgen", "where": {"type": "PV_MV"}},
         "policy": "volt_var", "params": {"curve": "ieee1547_cat_b"}},
        {"id": "wind", "elements": {"table": "sgen", "where": {"type": "Wind_MV"}},
         "policy": "curtail"},
        {"id": "bio", "elements": ["sgen/111", "sgen/116"], "policy": "generator",
         "params": {"cost": {"a": 0, "b": 60, "c": 10}, "offer_blocks": 2}},
        {"id": "tap", "elements": ["trafo/0"], "policy": "oltc"},
        {"id": "flex", "elements": ["load/3", "load/4"], "policy": "flexible_load",
         "params": {"bid_price": 90}},
    ],
    "market": {"mechanism": "double_auction", "interval": "1h", "gate_closure": "15min",
               "upstream": {"import_price": 60, "export_price": 20}},
    "communication": {"default": {"latency": "1s", "loss": 0.0}},
    "events": [{"at": "30min", "kind": "line_outage", "target": "line/5"},
               {"at": "45min", "kind": "load_step", "target": "load/3", "delta_mw": 0.5},
               {"at": "1h", "kind": "line_restore", "target": "line/5"},
               {"at": "1h", "kind": "comm_outage", "between": ["area", "unit"],
                "duration": "20min"}],
    "outputs": {"dir": "unused", "plots": False},
}


def _quick_valid() -> dict:
    data = quickstart_dict()
    data["time"]["duration"] = "2h"
    data["events"] = [{"at": "30min", "kind": "load_step", "target": "load/1", "delta_mw": 0.3},
                      {"at": "1h", "kind": "unit_trip", "target": "sgen/3"}]
    return data


# values a mutation puts in place of another (other types, negative numbers, names of
# other elements and policies); no duration short enough to make a run slow
REPLACEMENTS = [None, 0, 1, -1, -2.5, 1.5, 1e6, float("nan"), float("inf"), True, "x", "15min",
                "-15min", "0s", "1h", [], {}, [1], {"a": 1}, ["bus/1"], "rest", "bus/1",
                "sgen/3", "sgen/9999", "load/1", "line/5", "trafo/0", "trafo/1", "storage/0",
                "ext_grid/0", ["sgen/3"], ["load/1", "load/2"], ["storage/0"], ["trafo/0"],
                "battery", "volt_var", "generator", "oltc", "flexible_load", "curtail", "agc",
                "none", "schedule_tracking", "economic_dispatch", "no_such_policy",
                "no_such_module:Policy", "unit_control.battery:Battery", "area", "unit", "market",
                ["area", "market"], ["unit", "unit"], {"feeder_of": "bus/4"}, {"zone": "x"},
                {"table": "sgen", "where": {"type": "PV"}}, {"table": "load"}]
UNKNOWN_KEYS = ["zzz", "kind", "params", "delta_mw", "soc_init", "ki", "target"]
_KEY_PATH = re.compile(r"^(<scenario>|line \d+, column \d+|[A-Za-z_][\w-]*(\[\d+\]|\.[\w-]+)*)$")


@st.composite
def _mutants(draw: st.DrawFn, base: Callable[[], dict]) -> dict:
    data = base()
    for _ in range(draw(st.integers(1, 3))):
        location = draw(st.sampled_from(scenario_locations(data)[1:]))
        parent = data
        for key in location[:-1]:
            parent = parent[key]
        operation = draw(st.sampled_from(["delete", "insert", "replace", "replace"]))
        if operation == "delete" and isinstance(parent, dict):
            del parent[location[-1]]
        elif operation == "insert" and isinstance(parent[location[-1]], dict):
            parent[location[-1]][draw(st.sampled_from(UNKNOWN_KEYS))] = draw(
                st.sampled_from(REPLACEMENTS))
        else:
            parent[location[-1]] = copy.deepcopy(draw(st.sampled_from(REPLACEMENTS)))
    return data


def _runs_or_names_the_key(data: dict) -> None:
    """A mutated scenario either runs to the end or raises one ScenarioError at a key path."""
    import hierarchy
    from hierarchy.scenario import ScenarioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = hierarchy.run(data, write=False)
    except ScenarioError as error:
        assert str(error) == f"{error.path}: {error.message}" and "\n" not in str(error)
        assert _KEY_PATH.match(error.path), error.path
        return
    assert result.summary["complete"] is True


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_mutants(_quick_valid))
def test_mutated_quickstart_runs_or_names_the_key(data: dict) -> None:
    _runs_or_names_the_key(data)


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_mutants(lambda: copy.deepcopy(SB_VALID)))
def test_mutated_simbench_scenario_runs_or_names_the_key(data: dict) -> None:
    _runs_or_names_the_key(data)


def test_both_valid_bases_run():
    """The unmutated bases run to the end (else the mutants above test nothing)."""
    _runs_or_names_the_key(_quick_valid())
    _runs_or_names_the_key(copy.deepcopy(SB_VALID))
