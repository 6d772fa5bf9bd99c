"""The metric glossary (dbt_project/models/metrics/README.md) and the semantic layer must never drift apart.

`dbt parse` (into a temporary target path) writes the manifest with the semantic models, metrics and time spine,
validated by dbt-semantic-interfaces on the way. Against it:

- every metric has exactly one section ``### `name` `` in the README and every section is a metric; the metric's
  description is that section's docs block; the section's first line states the metric's type and the models
  its measures are read from;
- every column a semantic model reads (entities, dimensions, measures) and every ``model.column`` the README
  names is a documented column of that model's yml; metric filters name dimensions that exist;
- on the built warehouse of conftest.py every measure's SQL runs, and borealis (EUR, no FX) gives the glossary's
  numbers with their date basis, hand-computed from the landed rows (conftest.py's comments).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.dbt.conftest import DBT, PROJECT, TENANT_A, TENANT_B

GLOSSARY = PROJECT / "models" / "metrics" / "README.md"
PACKAGE = "omnianalytics"
SECTION = re.compile(r"^### `([a-z0-9_]+)`$", re.MULTILINE)
HEADER = re.compile(r"^\*\*(simple|ratio|derived|cumulative)\*\* on ((?:`[a-z0-9_]+`(?:, )?)+)"
                    r" \(.+?\) · date: .+ · .+$")
COLUMN_REF = re.compile(r"`([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)`")
DIMENSION_REF = re.compile(r"Dimension\('([a-z0-9_]+?)__([a-z0-9_]+)'\)")
SQL_WORDS = {"case", "when", "then", "else", "end", "and", "or", "not", "is", "null", "true", "false", "cast", "as",
             "coalesce", "in", "between", "decimal", "bigint", "integer"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    """The manifest of a fresh `dbt parse` (no warehouse needed; the semantic manifest is validated by it)."""
    work = tmp_path_factory.mktemp("glossary")
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(work / "unused.duckdb"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    args = [str(DBT), "parse", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--no-use-colors"]
    proc = subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"dbt parse failed (semantic manifest invalid?):\n{proc.stdout[-4000:]}"
    parsed = json.loads((work / "target" / "manifest.json").read_text())
    parsed["semantic_manifest"] = json.loads((work / "target" / "semantic_manifest.json").read_text())
    return parsed


@pytest.fixture(scope="module")
def glossary() -> dict[str, str]:
    """README.md cut into its metric sections: name -> the section's text (up to the next heading)."""
    text = GLOSSARY.read_text()
    heads = list(SECTION.finditer(text))
    sections: dict[str, str] = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[head.end():end]
        next_heading = re.search(r"^#{1,3} ", body, re.MULTILINE)
        assert head.group(1) not in sections, f"README.md: metric {head.group(1)} has two sections"
        sections[head.group(1)] = body[:next_heading.start()] if next_heading else body
    return sections


def metrics(manifest: dict) -> dict[str, dict]:
    return {m["name"]: m for m in manifest["metrics"].values() if m["package_name"] == PACKAGE}


def semantic_models(manifest: dict) -> dict[str, dict]:
    return {s["name"]: s for s in manifest["semantic_models"].values() if s["package_name"] == PACKAGE}


def model_node(manifest: dict, semantic_model: dict) -> dict:
    (node_id,) = semantic_model["depends_on"]["nodes"]
    return manifest["nodes"][node_id]


def measure_models(manifest: dict) -> dict[str, str]:
    """measure name -> the dbt model its semantic model reads."""
    return {measure["name"]: model_node(manifest, sm)["name"]
            for sm in semantic_models(manifest).values() for measure in sm["measures"]}


def identifiers(expr: str) -> set[str]:
    """The column names an SQL expression reads (words that are not SQL, numbers or string literals)."""
    expr = re.sub(r"'[^']*'", "", expr)
    return {word for word in re.findall(r"[a-z_][a-z0-9_]*", expr.lower()) if word not in SQL_WORDS}


def element_expr(element: dict) -> str:
    return element.get("expr") or element["name"]


# --- glossary <-> manifest -------------------------------------------------------------------------------------

def test_every_metric_has_one_glossary_section_and_every_section_is_a_metric(manifest, glossary):
    defined = set(metrics(manifest))
    assert len(defined) >= 30, f"only {len(defined)} metrics parsed"
    assert sorted(defined - set(glossary)) == [], "metrics without a section in models/metrics/README.md"
    assert sorted(set(glossary) - defined) == [], "README.md sections naming no metric of the semantic layer"


def test_each_metric_description_is_its_own_glossary_section(manifest, glossary):
    docs = {d["name"]: d["block_contents"] for d in manifest["docs"].values() if d["package_name"] == PACKAGE}
    for name, metric in metrics(manifest).items():
        block = f"metric_{name}"
        assert block in docs, f"no docs block {block} (README.md section of {name})"
        assert f"{{% docs {block} %}}" in glossary[name], f"docs block {block} is not inside the section of {name}"
        assert metric["description"] == docs[block], f"metric {name}: description is not doc('{block}')"


def test_each_section_states_the_metric_type_and_the_models_it_reads(manifest, glossary):
    models_of = measure_models(manifest)
    for name, metric in metrics(manifest).items():
        header = next((line for line in glossary[name].splitlines() if line.startswith("**")), "")
        match = HEADER.match(header)
        assert match, f"README.md section {name}: first line must read '**<type>** on `model` (grain) · date: …'"
        stated_models = set(re.findall(r"`([a-z0-9_]+)`", match.group(2)))
        read_models = {models_of[m["name"]] for m in metric["type_params"]["input_measures"]}
        assert match.group(1) == metric["type"], f"{name}: README says {match.group(1)}, the metric is {metric['type']}"
        assert stated_models == read_models, f"{name}: README names {stated_models}, its measures read {read_models}"


def test_every_column_the_glossary_names_is_documented(manifest):
    columns = {node["name"]: set(node["columns"]) for node in manifest["nodes"].values()
               if node["resource_type"] == "model" and node["package_name"] == PACKAGE}
    references = COLUMN_REF.findall(GLOSSARY.read_text())
    checked = [(model, column) for model, column in references if model in columns]
    assert len(checked) >= 40, f"only {len(checked)} model.column references found in README.md"
    missing = sorted({f"{model}.{column}" for model, column in checked if column not in columns[model]})
    assert missing == [], "README.md names columns the models' yml do not document"


# --- semantic models <-> the marts' yml ------------------------------------------------------------------------

def test_semantic_models_read_only_documented_columns(manifest):
    problems = []
    for name, sm in semantic_models(manifest).items():
        node = model_node(manifest, sm)
        assert name == node["name"], f"semantic model {name} reads {node['name']}: name it after its model"
        documented = set(node["columns"])
        for kind in ("entities", "dimensions", "measures"):
            for element in sm[kind]:
                unknown = identifiers(element_expr(element)) - documented
                if unknown:
                    problems.append(f"{name}.{element['name']} ({kind}) reads {sorted(unknown)}")
    assert problems == [], "semantic models read columns their model's yml does not document"


def test_metric_filters_name_existing_dimensions(manifest):
    dims_of_entity = defaultdict(set)
    for sm in semantic_models(manifest).values():
        for entity in sm["entities"]:
            if entity["type"] == "primary":
                dims_of_entity[entity["name"]] |= {d["name"] for d in sm["dimensions"]}
    filtered = 0
    for name, metric in metrics(manifest).items():
        for where in (metric["filter"] or {}).get("where_filters", []):
            for entity, dimension in DIMENSION_REF.findall(where["where_sql_template"]):
                filtered += 1
                assert dimension in dims_of_entity[entity], f"{name}: filter on unknown {entity}__{dimension}"
    assert filtered >= 3


def test_the_time_spine_is_dim_date_by_day(manifest):
    (spine,) = manifest["semantic_manifest"]["project_configuration"]["time_spines"]
    assert spine["node_relation"]["alias"] == "dim_date"
    assert spine["primary_column"] == {"name": "date_day", "time_granularity": "day"}


# --- the semantic layer's SQL on a built warehouse -------------------------------------------------------------

def measure_sql(sm: dict, measure: dict) -> str:
    """What MetricFlow's simplest query of a measure does: Σ expr per day of its agg time dimension, one tenant."""
    time_name = measure["agg_time_dimension"] or sm["defaults"]["agg_time_dimension"]
    (time_dim,) = [d for d in sm["dimensions"] if d["name"] == time_name]
    relation = f"{sm['node_relation']['schema_name']}.{sm['node_relation']['alias']}"
    return (f"select cast({element_expr(time_dim)} as date) as day, {measure['agg']}({element_expr(measure)})"
            f" from {relation} where tenant_id = ? group by 1 order by 1")


@pytest.fixture(scope="module")
def measured(manifest, scenario) -> dict[str, dict[str, dict[date, Decimal]]]:
    """tenant -> measure -> {day: value} on the conftest warehouse (acme and borealis built)."""
    values: dict[str, dict[str, dict[date, Decimal]]] = {TENANT_A: {}, TENANT_B: {}}
    with duckdb.connect(str(Path(scenario.db)), read_only=True) as con:
        for sm in semantic_models(manifest).values():
            for measure in sm["measures"]:
                sql = measure_sql(sm, measure)
                for tenant in values:
                    rows = con.execute(sql, [tenant]).fetchall()
                    values[tenant][measure["name"]] = {day: value for day, value in rows if value}
    return values


def test_every_measure_runs_on_the_built_warehouse(manifest, measured):
    names = set(measure_models(manifest))
    assert set(measured[TENANT_A]) == names
    assert measured[TENANT_A]["net_sales"], "acme has sales"


def test_borealis_measures_have_the_glossary_numbers_and_date_basis(measured):
    # borealis (EUR = its reporting currency, Europe/Berlin), conftest.py: #1001 23:30Z 4 Jan = 5 Jan Berlin,
    # 2 × 40.00, a known customer's first order; #1002 22:15Z 30 Jun = 1 Jul, guest, 1 × 12.345 → 12.35, discount
    # 0.35, shipping 4.90; its unit refunded (12.00) at 08:00Z 10 Jul = 10 Jul. SKU-A costs 16.00, SKU-Z nothing.
    jan, jul1, jul10 = date(2025, 1, 5), date(2025, 7, 1), date(2025, 7, 10)
    b = measured[TENANT_B]
    money = {k: {d: Decimal(v) for d, v in days.items()} for k, days in b.items()}
    assert money["gross_sales"] == {jan: Decimal("80.00"), jul1: Decimal("12.35")}      # order date
    assert money["discounts"] == {jul1: Decimal("0.35")}
    assert money["net_sales"] == {jan: Decimal("80.00"), jul1: Decimal("12.00")}        # gross − discounts
    assert money["refunds"] == {jul10: Decimal("12.00")}                                # refund date
    assert money["net_revenue"] == {jan: Decimal("80.00")}                              # refund on the order's day
    assert money["shipping_revenue"] == {jul1: Decimal("4.90")}
    assert money["cogs"] == {jan: Decimal("32.00")}                                     # 2 × 16.00
    assert money["cm1"] == {jan: Decimal("48.00"), jul1: Decimal("12.00")}              # net_sales − cogs
    assert b["orders"] == {jan: 1, jul1: 1}
    assert b["new_customer_orders"] == {jan: 1}
    assert b["new_customers"] == {jan: 1}                                               # first order date
    assert b["units_sold"] == {jan: 2, jul1: 1}
    assert b["units_returned_by_order_date"] == {jul1: 1}
    assert b["units_returned_by_refund_date"] == {jul10: 1}
    assert "ad_spend" not in b or b["ad_spend"] == {}


def test_acme_identities_the_glossary_states(measured):
    a = measured[TENANT_A]

    def total(measure: str) -> Decimal:
        return sum((Decimal(v) for v in a.get(measure, {}).values()), Decimal("0"))

    # net_sales (cube_channel_daily) = gross_sales − discounts (cube_sales_daily), day by day
    days = set(a["net_sales"]) | set(a["gross_sales"])
    for day in days:
        gross, disc = Decimal(a["gross_sales"].get(day, 0)), Decimal(a["discounts"].get(day, 0))
        assert Decimal(a["net_sales"].get(day, 0)) == gross - disc, day
    # cm1 = net_sales − cogs; cm2, cm3 as the cube's waterfall
    assert total("cm1") == total("net_sales") - total("cogs")
    assert total("cm2") == (total("cm1") - total("channel_fees") - total("payment_fees")
                            - total("net_shipping_cost") - total("refunds"))
    assert total("cm3") == total("cm2") - total("attributed_ad_spend")
    # refunds in the cash view and in the order view are the same merchandise (acme has no FX on refunds)
    assert total("units_returned_by_order_date") == total("units_returned_by_refund_date")
