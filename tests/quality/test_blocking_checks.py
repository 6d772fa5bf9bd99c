"""Acceptance: a corrupted raw batch fails its GX check and blocks that tenant's marts; another tenant builds.

Two tenants land through the real paths: ``good`` from the sandbox's Shopify twin over HTTP plus a file drop,
``bad`` from a file drop only. ``bad``'s drop carries well-formed rows that the files source's own layout rules
accept (so they land) but a suite must refuse: an order in a currency that is not the tenant's, a future-dated
order, and a line with an implausible unit price. Each tenant's ``tenant_refresh`` run then goes as the schedule
launches it. ``bad``: its ``raw/files/orders`` and ``raw/files/order_lines`` checks fail (ERROR, naming rule,
tenant and records), the dbt step never starts, no mart row of ``bad`` exists. ``good``: every raw check passes
and its marts build (their checks hold, but for freshness, a non-blocking warning on the sandbox's old world).
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from expectations import default_suites
from orchestration.connectors import CONNECTORS
from orchestration.definitions import build_definitions
from orchestration.defs.automation import REFRESH_JOB, tenant_keys
from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.defs.quality import CHECK_NAME, quality_checks
from orchestration.settings import Settings
from orchestration.tenants import load_registry
from sandbox.files_drop import LINE_COLUMNS, ORDER_COLUMNS, write_drop
from sandbox.truth import revenue_truth
from tests.conftest import SMALL_SHOP
from tests.orchestration.conftest import write_registry

GOOD, BAD = "goodshop", "badshop"
CORRUPT_ORDERS = [  # the files layout accepts every field: ISO currency, ISO timestamp with offset, money
    {"order_id": "WH-EUR-1", "order_number": "WH-EUR-1", "customer_id": "B2B-0", "ordered_at": "2025-03-02T10:00:00Z",
     "currency": "EUR", "shipping_amount": "10.00", "channel": "wholesale"},
    {"order_id": "WH-FUTURE-1", "order_number": "WH-FUTURE-1", "customer_id": "B2B-0",
     "ordered_at": "2031-01-01T10:00:00Z", "currency": "USD", "shipping_amount": "10.00", "channel": "wholesale"},
]
CORRUPT_LINE = {"order_id": "WH-EUR-1", "line_number": "1", "sku": "SKU-X", "quantity": "2",
                "unit_price": "250000.00", "discount_amount": "0.00", "tax_amount": "0.00"}


def csv(columns: list[str], rows: list[dict]) -> str:
    return "\n".join([",".join(columns), *(",".join(r[c] for c in columns) for r in rows)]) + "\n"


def with_quality(defs: dg.Definitions, registry) -> dg.Definitions:
    """The code location with the GX checks (``build_definitions`` adds them once the lead wires them)."""
    keys = defs.resolve_asset_graph().asset_check_keys
    if any(k.name == CHECK_NAME for k in keys):
        return defs
    return dg.Definitions.merge(defs, dg.Definitions(asset_checks=quality_checks(registry, list(defs.assets))))


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()
            if e.check_name == CHECK_NAME}


def test_corrupted_batch_blocks_its_tenants_marts_only(platform_env, dbt_manifest, tmp_path, monkeypatch, sandbox,
                                                        small_world):
    shop = small_world.shop(SMALL_SHOP)
    good_drop, bad_drop = tmp_path / "drops" / GOOD, tmp_path / "drops" / BAD
    write_drop(shop, good_drop)
    write_drop(shop, bad_drop)
    (bad_drop / "orders_2025-03-late.csv").write_text(csv(ORDER_COLUMNS, CORRUPT_ORDERS))
    (bad_drop / "order_lines_2025-03-late.csv").write_text(csv(LINE_COLUMNS, [CORRUPT_LINE]))
    tenant = {"currency": "USD", "timezone": "America/New_York"}
    path = write_registry(tmp_path / "tenants.yaml", [
        {"slug": GOOD, "display_name": "Good Shop", **tenant, "sources": {
            "shopify": {"shop_url": sandbox.shop_url(SMALL_SHOP), "page_size": 100,
                        "secrets": {"access_token": "TESTSHOP_SHOPIFY_TOKEN"}},
            "files": {"bucket_url": str(good_drop)}}},
        {"slug": BAD, "display_name": "Bad Shop", **tenant, "sources": {"files": {"bucket_url": str(bad_drop)}}},
    ])
    monkeypatch.setenv("OMNI_TENANTS_FILE", str(path))
    monkeypatch.setenv("TESTSHOP_SHOPIFY_TOKEN", "shpat_sandbox_testshop")
    settings = Settings.from_env()
    registry = load_registry(path)
    defs = with_quality(build_definitions(settings), registry)
    job = defs.resolve_job_def(REFRESH_JOB)
    graph = defs.resolve_asset_graph()
    instance = dg.DagsterInstance.ephemeral()

    def refresh(slug: str) -> dg.ExecuteInProcessResult:
        keys = tenant_keys(registry.get(slug), list(CONNECTORS), graph)  # as the daily schedule selects them
        return job.execute_in_process(partition_key=slug, instance=instance, asset_selection=keys,
                                      raise_on_error=False)

    bad = refresh(BAD)
    good = refresh(GOOD)

    # bad: the two file landings fail their suites, with rule, tenant and the tenant's own records named
    assert not bad.success
    checks = evaluations(bad)
    orders, lines = checks["raw/files/orders"], checks["raw/files/order_lines"]
    assert (orders.passed, orders.severity, orders.partition) == (False, dg.AssetCheckSeverity.ERROR, BAD)
    assert orders.metadata["tenant"].value == BAD
    failed = {f["rule"]: f for f in orders.metadata["failure_details"].value}
    assert set(failed) == {"expect_column_values_to_be_in_set(currency)",
                           "expect_column_values_to_be_between(ordered_at)"}
    assert failed["expect_column_values_to_be_in_set(currency)"]["unexpected_count"] == 1
    assert failed["expect_column_values_to_be_in_set(currency)"]["samples"] == [
        {"order_id": "WH-EUR-1", "currency": "EUR"}]
    assert failed["expect_column_values_to_be_between(ordered_at)"]["samples"] == [
        {"order_id": "WH-FUTURE-1", "ordered_at": "2031-01-01T10:00:00+00:00"}]
    assert f"tenant '{BAD}'" in orders.description and "WH-EUR-1" in orders.description
    assert "| expect_column_values_to_be_in_set(currency)" in orders.metadata["failures"].value
    line_failures = {f["rule"]: f for f in lines.metadata["failure_details"].value}
    assert line_failures["expect_column_values_to_be_between(unit_price)"]["samples"] == [
        {"order_id": "WH-EUR-1", "line_number": 1, "unit_price": "250000.0000"}]
    # … and block the dbt step: it never started, nothing of bad's was materialized downstream of raw
    started = {e.step_key for e in bad.all_events if e.event_type_value == "STEP_START"}
    assert started == {"raw__platform__tenants", "raw_files", "gx_raw_files"}  # no dbt_models, no gx_marts
    assert not [k for k in bad.get_asset_materialization_events() if k.asset_key.path[0] != "raw"]
    assert {k for k, e in checks.items() if not e.passed} == {"raw/files/orders", "raw/files/order_lines"}

    # good: every raw check passed, the dbt step ran, the marts' checks ran on good's slice
    assert good.success
    checks = evaluations(good)
    raw = {k: e for k, e in checks.items() if k.startswith("raw/")}
    assert set(raw) == {"raw/shopify/orders", "raw/shopify/order_line_items", "raw/files/orders",
                        "raw/files/order_lines"}
    assert all(e.passed and e.partition == GOOD for e in raw.values()), {k: e.description for k, e in raw.items()}
    marts = {k: e for k, e in checks.items() if k.startswith("marts/")}
    assert set(marts) == {"marts/fct_orders", "marts/fct_order_lines", "marts/dim_customers", "marts/dim_products"}
    failing = {k: e for k, e in marts.items() if not e.passed}
    # the small world's last order is from 2025: only the freshness warning fails, and it blocks nothing
    assert list(failing) == ["marts/fct_orders"]
    assert failing["marts/fct_orders"].severity == dg.AssetCheckSeverity.WARN
    assert [f["rule"] for f in failing["marts/fct_orders"].metadata["failure_details"].value] == [
        "expect_column_max_to_be_between(order_date)"]

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        counts = dict(con.execute("select tenant_id, count(*) from marts.fct_orders group by 1").fetchall())
        landed = con.execute(f"select count(*) from raw_files__{BAD}.orders where order_id like 'WH-%-1'").fetchone()[0]
    assert counts == {GOOD: revenue_truth(shop)["orders"]}  # bad has no mart rows at all
    assert landed == 2  # the corrupt rows did land (the source's rules let them through): GX caught them

    # the evaluations are in the instance, per tenant partition: what the UI shows
    key = dg.AssetCheckKey(dg.AssetKey(["raw", "files", "orders"]), CHECK_NAME)
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
    assert sorted((r.event.dagster_event.asset_check_evaluation_data.partition, r.status.value) for r in history) == [
        (BAD, "FAILED"), (GOOD, "SUCCEEDED")]


def test_each_suite_is_a_tenant_partitioned_blocking_check_in_the_warehouse_pool(platform_env, dbt_manifest):
    settings = Settings.from_env()
    registry = load_registry(settings.tenants_file)
    defs = with_quality(build_definitions(settings), registry)
    graph = defs.resolve_asset_graph()
    gx = {k: graph.get(k) for k in graph.asset_check_keys if k.name == CHECK_NAME}
    assert {k.asset_key.to_user_string() for k in gx} == {s.name for s in default_suites()}
    for key, node in gx.items():
        assert node.blocking, key
        assert node.partitions_def == graph.get(key.asset_key).partitions_def is not None, key
    checks = quality_checks(registry, list(defs.assets))  # one op per step's assets, in the warehouse pool
    assert {c.node_def.name: c.node_def.pool for c in checks} == {
        "gx_marts": WAREHOUSE_POOL, "gx_raw_amazon": WAREHOUSE_POOL, "gx_raw_files": WAREHOUSE_POOL,
        "gx_raw_shopify": WAREHOUSE_POOL}
    # a suite whose asset disappeared (a source or model renamed) fails the code location, naming the suite
    without = [a for a in defs.assets if dg.AssetKey(["raw", "amazon", "orders"]) not in a.keys]
    with pytest.raises(ValueError, match=r"raw/amazon/order_items.yaml: no asset raw/amazon/order_items"):
        quality_checks(registry, without)
