"""The documentation tells the truth about the code.

* ``docs/scenario_reference.md`` equals what ``python -m hierarchy.docs``
  generates from the schema the loader validates with, every key and every
  registered policy parameter has a row, and the defaults it prints are the
  defaults the loader fills in (checked against ``resolved_dict`` of a
  minimal scenario, an independent path through pydantic);
* ``docs/outputs.md`` names every file, table and column a run writes
  (checked on a quickstart run) and every key of its summary;
* the README lists every scenario file, keeps its Quickstart section, and
  every relative link in README.md and docs/*.md points to a file.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hierarchy import docs
from hierarchy.kernel.durations import parse_duration_ms
from hierarchy.outputs.files import flatten, read_parquet
from hierarchy.scenario import load_scenario, resolved_dict

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

QUICKSTART_SECTION = """## Quickstart

On a fresh machine with Python 3.11, from this folder:

```bash
pip install -e . && hiergrid run scenarios/quickstart.yaml
pip install -e ".[test]" && python -m pytest
```
"""


def test_reference_is_generated_from_the_schema():
    committed = (DOCS / "scenario_reference.md").read_text(encoding="utf-8")
    assert committed == docs.reference_markdown(), "run: python -m hierarchy.docs"


def test_docs_module_check_mode(tmp_path):
    out = tmp_path / "ref.md"
    run = [sys.executable, "-m", "hierarchy.docs", "--out", str(out)]
    assert subprocess.run(run + ["--check"], cwd=ROOT, capture_output=True).returncode == 1
    assert subprocess.run(run, cwd=ROOT, capture_output=True).returncode == 0
    assert subprocess.run(run + ["--check"], cwd=ROOT, capture_output=True).returncode == 0
    assert out.read_text(encoding="utf-8") == docs.reference_markdown()


def _schema_paths(schema: dict, node: dict, prefix: str, out: set[str]) -> None:
    """Every property path of the JSON Schema, walked independently of hierarchy.docs."""
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    for name, prop in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        out.add(path)
        _schema_paths(schema, prop, path, out)
        for variant in prop.get("oneOf", []) + prop.get("anyOf", []):
            _schema_paths(schema, variant, path, out)
        for key, suffix in (("items", "[]"), ("additionalProperties", ".<class>")):
            inner = prop.get(key)
            if isinstance(inner, dict):
                for variant in inner.get("oneOf", [inner]):
                    _schema_paths(schema, variant, path + suffix, out)


def test_every_schema_key_has_a_row():
    from hierarchy.scenario import scenario_json_schema

    schema = scenario_json_schema()
    expected: set[str] = set()
    _schema_paths(schema, schema, "", expected)
    documented = {re.sub(r"\[kind=\w+\]", "[]", r.path).replace("[][]", "[]") for r in docs.schema_rows()}
    documented |= {p.replace("<class>[]", "<class>") for p in documented}
    assert expected - documented == set()
    assert all(r.meaning for r in docs.schema_rows())


def test_no_stale_meanings():
    paths = {r.path for r in docs.schema_rows()}
    wildcards = {re.sub(r"\[kind=\w+\]", "[kind=*]", p) for p in paths}
    assert set(docs.MEANINGS) - paths - wildcards == set()
    params = {f"{name}.{r.path}" for (tier, name), rows in docs.policy_rows().items() for r in rows}
    generic = {f"*.{r.path}" for rows in docs.policy_rows().values() for r in rows}
    assert set(docs.PARAM_MEANINGS) - params - generic == set()


def _lookup(data, path: str):
    for part in path.split("."):
        if part.endswith("[]"):
            data = data[part[:-2]][0]
        else:
            data = data[part]
    return data


def test_printed_defaults_are_the_loaders_defaults():
    scenario = load_scenario({"name": "x", "grid": {"source": "pandapower", "name": "create_cigre_network_mv"},
                              "time": {"duration": "1h", "step": "15min"},
                              "communication": {"links": [{"between": ["area", "market"]}]},
                              "add": [{"name": "x", "table": "sgen", "bus": 1,
                                       "profile": {"copy": "sgen/0"}}]})
    resolved = resolved_dict(scenario)
    checked = 0
    for row in docs.schema_rows():
        if row.default in ("required", "—", "none") or "<class>" in row.path or "[kind=" in row.path \
                or row.path.startswith(("grid.upstream.", "outputs.", "communication.links[]", "areas[].ufls[]",
                                        "market.day_ahead.", "market.continuous.")) \
                or (row.path.startswith("forecast.") and row.path.count(".") == 2
                    and not row.path.endswith(".method")):  # written only for method noisy
            continue
        value = _lookup(resolved, row.path)
        if row.type == "duration":
            assert parse_duration_ms(row.default) == parse_duration_ms(value), row.path
        elif isinstance(value, bool):
            assert row.default == str(value).lower(), row.path
        elif isinstance(value, (int, float)):
            assert float(row.default) == pytest.approx(float(value)), row.path
        elif isinstance(value, str):
            assert row.default == value or row.path == "time.start", row.path
        checked += 1
    assert checked >= 20


def test_policy_parameters_are_the_policies_defaults():
    from hierarchy.kernel import registry

    rows = docs.policy_rows()
    assert {name for tier, name in rows if tier == "unit"} == set(registry.names("unit"))
    assert {name for tier, name in rows if tier == "area"} == set(registry.names("area"))
    battery = {r.path: r for r in rows[("unit", "battery")]}
    assert battery["soc_init"].default == "0.5" and battery["capacity_mwh"].unit == "MWh"
    agc = {r.path: r for r in rows[("area", "agc")]}
    assert "period_s" not in agc and agc["bias_mw_per_hz"].unit == "MW/Hz"


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    import hierarchy

    out = tmp_path_factory.mktemp("quickstart")
    result = hierarchy.run(ROOT / "scenarios" / "quickstart.yaml", out=out)
    return result, out


def test_outputs_doc_names_every_file_and_column(quickstart_run):
    result, out = quickstart_run
    text = (DOCS / "outputs.md").read_text(encoding="utf-8")
    for path in out.rglob("*"):
        if path.is_file():
            name = path.stem if path.parent.name == "timeseries" else path.name
            assert f"`{name}`" in text, f"docs/outputs.md does not name {path.relative_to(out)}"
    for table in ("system_balance_mw", "market_clearing"):
        for column in read_parquet(out / "timeseries" / f"{table}.parquet").columns:
            assert f"`{column}`" in text, f"docs/outputs.md does not name {table}.{column}"
    assert "`flow_<a>_<b>_mw`" in text
    for kind in ("trip", "reconnect", "tap", "island", "resynchronise", "late_order", "nonconverged"):
        assert f"`{kind}`" in text


def test_outputs_doc_names_every_summary_key(quickstart_run):
    result, _ = quickstart_run
    text = (DOCS / "outputs.md").read_text(encoding="utf-8")
    for key in flatten(result.summary):
        parts = key.split(".")
        if parts[0] == "areas":
            parts = parts[2:]
        if parts[:2] == ["market", "settlement"] and len(parts) > 3:
            parts = parts[:3]
        if parts[:2] == ["market", "mean_price_by_area"]:
            parts = parts[:2]
        assert parts[-1] in text, f"docs/outputs.md does not explain summary key {key}"


def test_readme_lists_every_scenario_and_keeps_the_quickstart():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert QUICKSTART_SECTION in readme
    table = readme[readme.index("## Scenarios"):readme.index("## Documentation")]
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        assert f"[`{path.name}`](scenarios/{path.name})" in table, f"README: no line for {path.name}"
    for name in ("docs/sweeps.md", "docs/outputs.md", "docs/scenario_reference.md", "notebooks/"):
        assert name in readme


@pytest.mark.parametrize("page", ["README.md"] + sorted(f"docs/{p.name}" for p in DOCS.glob("*.md")))
def test_relative_links_resolve(page):
    path = ROOT / page
    for target in re.findall(r"\]\(([^)#\s]+)", path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://", target):
            continue
        assert (path.parent / target).exists(), f"{page}: broken link {target}"
