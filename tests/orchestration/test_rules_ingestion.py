"""Tenant rules from the registry, applied by Dagster's ingestion to any source (here Shopify over real HTTP):
bad rows wait in the dataset's quarantine, good ones land, a second run changes nothing; a rule that cannot be
checked is refused when the registry loads, or fails its source's run with a clear message."""

from __future__ import annotations

import dagster as dg
import duckdb
import polars as pl
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.automation import REFRESH_JOB
from orchestration.settings import Settings
from orchestration.tenants import TenantConfigError, load_registry
from sources.shopify.helpers import ORDER_TABLES
from tests.orchestration.conftest import write_registry

SHOP = "testshop"
SINGLE_UNIT = {"name": "single_unit", "table": "order_line_items", "column": "quantity", "maximum": 1}


def tenant(sandbox, rules: list[dict]) -> dict:
    return {"slug": SHOP, "display_name": "Test Shop", "currency": "USD", "timezone": "America/New_York",
            "sources": {"shopify": {"shop_url": sandbox.shop_url(SHOP), "page_size": 100, "rules": rules,
                                    "secrets": {"access_token": "TESTSHOP_SHOPIFY_TOKEN"}}}}


def run_shopify(tmp_path, monkeypatch, sandbox, rules: list[dict], runs: int = 1) -> tuple[list, Settings]:
    registry = write_registry(tmp_path / "tenants.yaml", [tenant(sandbox, rules)])
    monkeypatch.setenv("OMNI_TENANTS_FILE", str(registry))
    monkeypatch.setenv("TESTSHOP_SHOPIFY_TOKEN", "shpat_sandbox_testshop")
    settings = Settings.from_env()
    job = build_definitions(settings).resolve_job_def(REFRESH_JOB)
    instance = dg.DagsterInstance.ephemeral()
    selection = [dg.AssetKey(["raw", "shopify", t]) for t in ORDER_TABLES]
    results = [job.execute_in_process(partition_key=SHOP, instance=instance, asset_selection=selection,
                                      raise_on_error=False) for _ in range(runs)]
    return results, settings


def landed(settings: Settings) -> tuple:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        def one(sql: str) -> tuple:
            return con.execute(sql.replace("$", f"raw_shopify__{SHOP}")).fetchone()
        return (one("select count(*), count(distinct id), sum(quantity) from $.order_line_items"),
                one("select count(*), count(distinct record_key), min(rule), max(reason) from $.quarantine"))


def test_a_registry_rule_quarantines_through_dagster_and_a_rerun_changes_nothing(
        platform_env, tmp_path, monkeypatch, sandbox, small_world):
    shop = small_world.shop(SHOP)
    online = shop.order_lines.join(shop.channel("online_store").select("order_id"), on="order_id")
    multi, single = online.filter(pl.col("quantity") > 1), online.filter(pl.col("quantity") <= 1)
    assert multi.height > 0 and single.height > 0
    top = multi["quantity"].cast(pl.String).max()  # max(reason) is the one with the largest quantity (as text)

    results, settings = run_shopify(tmp_path, monkeypatch, sandbox, [SINGLE_UNIT], runs=2)
    assert all(r.success for r in results)
    lines, quarantine = landed(settings)
    assert lines == (single.height, single.height, single.height)
    assert quarantine == (multi.height, multi.height, "tenant_rule:single_unit",
                          f"quantity '{top}' breaks the tenant's rule single_unit: expected at most 1")


def test_a_rule_on_an_unknown_column_fails_its_source_naming_it(platform_env, tmp_path, monkeypatch, sandbox):
    rules = [{"name": "colour", "table": "order_line_items", "column": "colour", "allowed": ["red"]}]
    (result,), _ = run_shopify(tmp_path, monkeypatch, sandbox, rules)
    assert not result.success
    failures = {e.step_key: e.step_failure_data.error.message for e in result.all_events if e.is_step_failure}
    assert list(failures) == ["raw_shopify"]
    message = failures["raw_shopify"]
    assert "tenant 'testshop', source 'shopify'" in message
    assert "rule 'colour' names column 'colour', which table 'order_line_items' does not have" in message


@pytest.mark.parametrize(("rule", "words"), [
    ({"name": "x", "table": "orders", "column": "currency"}, "sets none of allowed, minimum, maximum, pattern"),
    ({"name": "x", "table": "orders", "column": "currency", "minimum": "low"}, "is not a decimal number"),
    ({"name": "x", "entity": "orders", "column": "currency", "allowed": ["EUR"]}, "Extra inputs"),
])
def test_a_rule_that_cannot_be_checked_is_refused_at_load(tmp_path, rule, words):
    class Sandbox:
        def shop_url(self, handle: str) -> str:
            return f"http://127.0.0.1:1/{handle}"

    path = write_registry(tmp_path / "tenants.yaml", [tenant(Sandbox(), [rule])])
    with pytest.raises(TenantConfigError) as err:
        load_registry(path)
    assert "tenant 'testshop'" in str(err.value) and "shopify.rules.0" in str(err.value)
    assert words in str(err.value)


def test_rules_load_for_any_source_and_files_keeps_its_entity_spelling(tmp_path):
    path = write_registry(tmp_path / "tenants.yaml", [{
        "slug": SHOP, "display_name": "Test Shop", "currency": "EUR", "timezone": "Europe/Berlin",
        "sources": {
            "shopify": {"shop_url": "https://x.myshopify.com", "secrets": {"access_token": "T"},
                        "rules": [{"name": "eur_only", "table": "orders", "column": "currency", "allowed": ["EUR"]},
                                  {"name": "no_negative", "table": "order_line_items", "column": "quantity",
                                   "minimum": 0}]},
            "files": {"bucket_url": "d", "rules": [
                {"name": "eur_only", "entity": "orders", "column": "currency", "allowed": ["EUR"]},
                {"name": "case_quantity", "table": "order_lines", "column": "quantity", "maximum": "600"}]},
        }}])
    registry = load_registry(path)
    shopify = registry.get(SHOP).source("shopify").tenant_rules()
    assert [(r.name, r.table, r.column, r.allowed, r.minimum) for r in shopify] == [
        ("eur_only", "orders", "currency", ("EUR",), None), ("no_negative", "order_line_items", "quantity", None, "0")]
    files = registry.get(SHOP).source("files").tenant_rules()
    assert [(r.name, r.table, r.maximum) for r in files] == [("eur_only", "orders", None),
                                                             ("case_quantity", "order_lines", "600")]
