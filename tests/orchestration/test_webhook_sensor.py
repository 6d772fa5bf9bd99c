"""Shopify webhooks through Dagster, end to end over real HTTP: a tenant landed at an early sandbox clock, the
clock moves on, the sandbox delivers signed webhooks to the receiver, the sensor turns the spool into ONE run
request for that tenant, and the run (the incremental Shopify pull + the dbt models downstream) puts the new
orders into marts.fct_orders with their exact amounts. The sensor's cursor then stops it from firing again."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg
import duckdb
import polars as pl
import requests

from orchestration.connectors import CONNECTORS
from orchestration.definitions import build_definitions
from orchestration.defs.automation import REFRESH_JOB, tenant_selection
from orchestration.defs.webhooks import SENSOR, SETTLE_S, WEBHOOK_JOB
from orchestration.settings import Settings
from orchestration.tenants import load_registry
from orchestration.webhooks.server import ReceiverServer
from orchestration.webhooks.spool import Spool, spool_root
from sandbox.shopify.webhooks import client_secret
from tests.orchestration.conftest import write_registry

SHOP = "testshop"
T0 = datetime(2025, 3, 1, tzinfo=UTC)
T1 = T0 + timedelta(hours=18)


def move_clock(sandbox, moment: datetime) -> int:
    response = requests.post(f"{sandbox.base_url}/_sandbox/clock", json={"as_of": moment.isoformat()}, timeout=10)
    response.raise_for_status()
    return response.json()["webhooks_queued"]


def marts_orders(settings: Settings) -> dict[str, Decimal]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        rows = con.execute("select order_id, total_amount from marts.fct_orders where tenant_id = ? "
                           "and source = 'shopify'", [SHOP]).fetchall()
    return dict(rows)


def poll(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout_s}s")


def test_a_new_order_webhook_becomes_an_incremental_run(platform_env, tmp_path, monkeypatch, sandbox,
                                                        small_world, small_world_spec):
    registry_file = write_registry(tmp_path / "tenants.yaml", [{
        "slug": SHOP, "display_name": "Test Shop", "currency": "USD", "timezone": "America/New_York",
        "sources": {"shopify": {"shop_url": sandbox.shop_url(SHOP), "page_size": 100,
                                "secrets": {"access_token": "TESTSHOP_SHOPIFY_TOKEN",
                                            "webhook_secret": "TESTSHOP_SHOPIFY_WEBHOOK_SECRET"}}},
    }])
    monkeypatch.setenv("OMNI_TENANTS_FILE", str(registry_file))
    monkeypatch.setenv("TESTSHOP_SHOPIFY_TOKEN", "shpat_sandbox_testshop")
    monkeypatch.setenv("TESTSHOP_SHOPIFY_WEBHOOK_SECRET", client_secret(small_world_spec.shop(SHOP)))
    settings = Settings.from_env()
    registry = load_registry(registry_file)
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    online = small_world.shop(SHOP).channel("online_store")

    # the tenant as landed at an early clock (its refresh, minus the sources it does not have)
    move_clock(sandbox, T0)
    keys = tenant_selection(registry.get(SHOP), list(CONNECTORS)).resolve(defs.resolve_asset_graph())
    first = defs.resolve_job_def(REFRESH_JOB).execute_in_process(partition_key=SHOP, instance=instance,
                                                                asset_selection=sorted(keys))
    assert first.success
    before = marts_orders(settings)
    assert len(before) == online.filter(pl.col("created_at") <= T0).height

    sensor = defs.resolve_sensor_def(SENSOR)
    assert sensor.minimum_interval_seconds <= 30
    assert not sensor(dg.build_sensor_context(instance=instance, definitions=defs)).run_requests  # spool empty

    spool = Spool(spool_root(settings)).tenant(SHOP)
    with ReceiverServer(registry, Spool(spool_root(settings)), port=0) as receiver:
        base = f"{sandbox.shop_url(SHOP)}/admin/api/2025-01"
        for topic in ("orders/create", "refunds/create"):
            answer = requests.post(f"{base}/webhooks.json", timeout=5,
                                   headers={"X-Shopify-Access-Token": "shpat_sandbox_testshop"},
                                   json={"webhook": {"topic": topic, "address": receiver.url(SHOP), "format": "json"}})
            assert answer.status_code == 201, answer.text
        queued = move_clock(sandbox, T1)
        new_orders = online.filter(pl.col("created_at") > T0, pl.col("created_at") <= T1)
        assert new_orders.height >= 2 and queued >= new_orders.height
        poll(lambda: len(spool.entries()) == queued, 20, f"{queued} webhooks spooled")

    # the sensor counts an event once it has settled in the spool (SETTLE_S): then ONE request for the tenant,
    # keyed on the newest event
    newest = spool.entries()[-1]
    poll(lambda: time.time_ns() - newest.received_ns > SETTLE_S * 1e9, 10, "the newest event settled")
    result = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    (request,) = result.run_requests
    assert (request.partition_key, request.run_key) == (SHOP, f"shopify-webhooks:{SHOP}:{newest.webhook_id}")
    assert request.tags["webhook_events"] == str(queued)

    run = defs.resolve_job_def(WEBHOOK_JOB).execute_in_process(partition_key=SHOP, instance=instance,
                                                              tags=request.tags)
    assert run.success
    materialized = {e.asset_key for e in run.get_asset_materialization_events()}
    assert dg.AssetKey(["raw", "shopify", "orders"]) in materialized
    assert dg.AssetKey(["marts", "fct_orders"]) in materialized
    assert not any(k.path[:2] == ["raw", "files"] for k in materialized)

    after = marts_orders(settings)
    assert len(after) == online.filter(pl.col("created_at") <= T1).height
    for order_id, total_cents in new_orders.select("order_id", "total_cents").iter_rows():
        assert after[f"gid://shopify/Order/{order_id}"] == Decimal(total_cents).scaleb(-2)
    assert sum(after.values()) - sum(before.values()) == Decimal(int(new_orders["total_cents"].sum())).scaleb(-2)

    # the cursor moved: the same spool requests nothing more
    again = sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor, definitions=defs))
    assert not again.run_requests
