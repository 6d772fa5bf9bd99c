"""The Amazon dlt source against the SP-API twin, over real HTTP, into a real DuckDB, then through the dbt staging
models. Every expected number is computed from the world (``marketplace_truth``), never from what was landed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import dlt
import duckdb
import pytest
import requests
import yaml
from dlt.pipeline.exceptions import PipelineStepFailed

from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.marketplace import marketplace_truth, simulate_marketplace
from sources.amazon import amazon_source

REPO = Path(__file__).resolve().parents[2]
SHOP, MARKETPLACE, TZ = "acme", "ATVPDKIKX0DER", "America/New_York"
CLIENT = {"client_id": "amzn1.application-oa2-client.sandbox", "client_secret": "amzn1.oa2-cs.v1.sandbox"}
SPEC = WorldSpec(seed=5, start_date=date(2025, 1, 1), days=90, shops=[
    ShopSpec(handle=SHOP, name="Acme", currency="USD", timezone=TZ, access_token="shpat_acme", orders_per_day=4,
             n_products=10, channels={"amazon": {"orders_per_day": 5, "deal_share": 0.25, "return_rate": 0.15}}),
])
AFTER_END = SPEC.end + timedelta(hours=1)
SCHEMA = f"raw_amazon__{SHOP}"
D = Decimal


@pytest.fixture(scope="module")
def market():
    world = build_world(SPEC)
    return simulate_marketplace(SPEC, world.shop(SHOP), "amazon", SPEC.shop(SHOP).channels["amazon"])


@pytest.fixture
def sandbox():
    with SandboxServer(SPEC, port=0) as server:
        admin(server, "POST", "clock", as_of=AFTER_END.isoformat())
        yield server


def admin(server, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def amazon_stats(server) -> dict:
    stats = admin(server, "GET", "stats")["apis"]["amazon"]
    return {**stats["shops"][SHOP], "tokens": stats["tokens_issued"].get(SHOP, 0),
            "throttled_by_operation": stats["throttled"].get(SHOP, {}),
            "calls": stats["requests_by_operation"].get(SHOP, {})}


def load(tmp_path: Path, server, **options) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name=f"amazon__{SHOP}", dataset_name=SCHEMA, pipelines_dir=str(tmp_path / "dlt"),
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False))
    source = amazon_source(
        endpoint=f"{server.base_url}/amazon/sp", lwa_token_url=f"{server.base_url}/amazon/auth/o2/token",
        marketplace_id=MARKETPLACE, refresh_token=options.pop("refresh_token", f"Atzr|sandbox-{SHOP}"),
        start_date="2024-12-01T00:00:00Z", report_poll_waits_s=options.pop("report_poll_waits_s", (0.01,)),
        **CLIENT, **options)
    pipeline.run(source)
    return pipeline


def landed(tmp_path: Path) -> dict:
    """Counts (total and distinct keys) and money sums of the raw tables, signs as the staging contract has them."""
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        def one(sql: str) -> tuple:
            return con.execute(sql.replace("$", SCHEMA)).fetchone()

        out = {
            "orders": one("select count(*), count(distinct amazon_order_id) from $.orders"),
            "items": one("select count(*), count(distinct order_item_id) from $.order_items"),
            "shipments": one("select count(*), count(distinct event_key) from $.shipment_events"),
            "refund_rows": one("select count(*), count(distinct event_key) from $.refund_events"),
        }
        out["gross"], out["discounts"], out["tax"], out["shipping"], out["units"] = one(
            "select sum(item_price_amount), sum(promotion_discount_amount), sum(item_tax_amount),"
            " sum(shipping_price_amount), sum(quantity_ordered) from $.order_items")
        out["refunds"] = -one("select sum(principal_amount + coalesce(promotion_amount, 0)) from $.refund_events")[0]
        out["net_fees"] = -(one("select sum(commission_amount + coalesce(fba_fulfillment_fee_amount, 0))"
                                " from $.shipment_events")[0]
                            + one("select sum(commission_amount + refund_commission_amount) from $.refund_events")[0])
        return out


def assert_exact(tmp_path: Path, market, as_of: datetime | None = None) -> None:
    got = landed(tmp_path)
    view = market if as_of is None else market.visible(as_of.astimezone(UTC))
    truth = marketplace_truth(view)
    assert got["orders"] == (truth["orders"], truth["orders"])  # every order, none twice
    assert got["items"] == (view.lines.height, view.lines.height)
    assert got["refund_rows"] == (view.refunds.height, view.refunds.height)
    shipped_lines = view.fees.filter(view.fees["fee_type"] == "referral").height
    assert got["shipments"] == (shipped_lines, shipped_lines)
    for name in ("gross", "discounts", "tax", "shipping", "refunds", "net_fees"):
        assert got[name] == truth[name], name
    assert got["units"] == truth["units"]


def test_full_load_is_exact_through_expiry_throttling_and_server_errors(tmp_path, sandbox, market):
    # 5 pages of orders (+ their items) and 9 of financial events; the token expires mid-run, and a 429,
    # a QuotaExceeded with an emptied bucket, a 500 and a 503 are injected along the way.
    for kind, after in (("expire_token", 40), ("http_429", 70), ("throttle", 120), ("http_500", 200),
                        ("http_503", 300), ("expire_token", 400)):
        admin(sandbox, "POST", "faults", api="amazon", shop=SHOP, kind=kind, after=after)
    waits: list[float] = []
    load(tmp_path, sandbox, page_size=100, events_page_size=60,
         sleep=lambda s: (waits.append(s), time.sleep(min(s, 0.05))))
    assert_exact(tmp_path, market)
    stats = amazon_stats(sandbox)
    assert stats["faults_fired_by_kind"] == {"expire_token": 2, "http_429": 1, "throttle": 1, "http_500": 1,
                                             "http_503": 1}
    assert stats["tokens"] == 3  # the first token and one refresh per expiry
    assert any(w >= 1.0 for w in waits)  # the injected 429's Retry-After was honoured
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        types = dict(con.execute("select column_name, data_type from information_schema.columns where "
                                 f"table_schema = '{SCHEMA}' and table_name = 'shipment_events'").fetchall())
    assert types["commission_amount"] == "DECIMAL(18,2)" and types["posted_date"] == "TIMESTAMP WITH TIME ZONE"
    assert market.orders.height > 4 * 100  # MaxResultsPerPage=100: at least 5 pages of orders
    assert stats["requests"] > market.orders.height  # one getOrderItems per order


def test_pacing_follows_the_rate_limit_header(tmp_path, sandbox, market):
    # getOrderItems: 40/s (slower than the client could go) with a burst of 3 (the documented burst is 30: the
    # first 429 teaches the client that it is smaller)
    as_of = datetime(2025, 1, 17, 3, 0, tzinfo=ZoneInfo(TZ))
    admin(sandbox, "POST", "clock", as_of=as_of.isoformat())
    admin(sandbox, "POST", "ratelimit", api="amazon", shop=SHOP, operation="getOrderItems", rate=40, burst=3)
    waits: list[float] = []
    load(tmp_path, sandbox, sleep=lambda s: (waits.append(s), time.sleep(s)))
    assert_exact(tmp_path, market, as_of - timedelta(minutes=2))
    orders = market.visible((as_of - timedelta(minutes=2)).astimezone(UTC)).orders.height
    throttled = amazon_stats(sandbox)["throttled_by_operation"]["getOrderItems"]
    assert orders > 50 and throttled <= 2  # at most the discovery of the small burst, then paced
    paced = [w for w in waits if w <= 1 / 40]
    assert len(paced) >= orders - 35  # the client waited before (nearly) every call past its burst
    assert sum(waits) < 6.0  # by the header's 40/s, not the documented 0.5/s (that would be minutes)


def test_incremental_run_adds_only_what_changed(tmp_path, sandbox, market):
    first_clock = datetime(2025, 2, 20, 3, 0, tzinfo=ZoneInfo(TZ))  # 03:00 local: nothing ships or refunds now
    admin(sandbox, "POST", "clock", as_of=first_clock.isoformat())
    pipeline = load(tmp_path, sandbox)
    assert_exact(tmp_path, market, first_clock - timedelta(minutes=2))
    first = amazon_stats(sandbox)["calls"]
    state = pipeline.state["sources"]["amazon"]["resources"]
    cursor = state["order_pages"]["last_updated_before"]
    assert cursor == "2025-02-20T07:58:00Z"  # Amazon's LastUpdatedBefore: the first clock − 2 minutes

    admin(sandbox, "POST", "clock", as_of=AFTER_END.isoformat())
    load(tmp_path, sandbox)
    assert_exact(tmp_path, market)  # counts equal the truth as (rows, distinct keys): no duplicates
    calls = amazon_stats(sandbox)["calls"]
    # the second run re-reads the items of exactly the orders updated since the cursor (less its 30-minute overlap)
    since = datetime.fromisoformat(cursor.replace("Z", "+00:00")) - timedelta(minutes=30)
    changed = market.orders.filter(market.orders["updated_at"] >= since).height
    assert calls["getOrderItems"] - first["getOrderItems"] == changed < market.orders.height
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        snapshots = con.execute(f"select snapshot_date, count(*) from {SCHEMA}.inventory_summaries "
                                "group by 1 order by 1").fetchall()
    listed = market.listings.height
    assert snapshots == [(date(2025, 2, 20), listed), (AFTER_END.date(), listed)]


def test_a_refused_refresh_token_fails_clearly_without_secrets(tmp_path, sandbox):
    with pytest.raises(PipelineStepFailed) as err:
        load(tmp_path, sandbox, refresh_token="Atzr|revoked-secret-value")
    assert "invalid_grant" in str(err.value) and "Login with Amazon" in str(err.value)
    assert "revoked-secret-value" not in str(err.value) and CLIENT["client_secret"] not in str(err.value)


CONTRACT = {
    "stg_amazon__orders": ["tenant_id", "order_id", "order_number", "customer_id", "ordered_at", "currency",
                           "presentment_currency", "shipping_amount", "channel", "is_cancelled"],
    "stg_amazon__order_lines": ["tenant_id", "line_id", "order_id", "sku", "quantity", "unit_price",
                                "discount_amount", "tax_amount"],
    "stg_amazon__refunds": ["tenant_id", "refund_line_id", "order_id", "line_id", "refunded_at",
                            "refunded_quantity", "refunded_amount", "refunded_tax_amount"],
    "stg_amazon__fees": ["tenant_id", "fee_id", "order_id", "line_id", "channel", "fee_type", "amount", "currency",
                         "posted_at", "posted_on"],
    "stg_amazon__inventory": ["tenant_id", "snapshot_date", "sku", "channel", "fulfillable_quantity",
                              "inbound_quantity", "reserved_quantity"],
}


def test_staging_totals_equal_the_truth_to_the_cent(tmp_path, sandbox, market):
    load(tmp_path, sandbox)
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    project = REPO / "dbt_project"
    run = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dbt"), "build", "--select", "staging.amazon", "--vars",
         json.dumps({"tenant": SHOP}), "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    truth = marketplace_truth(market)
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        def q(sql: str) -> tuple:
            return con.execute(sql.replace("stg.", f"stg_{SHOP}.")).fetchone()

        for model, columns in CONTRACT.items():
            got = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?"
                " order by ordinal_position", [f"stg_{SHOP}", model]).fetchall()]
            assert got == columns, model
        orders, shipping, cancelled, tenants = q(
            "select count(*), sum(shipping_amount), count(*) filter (where is_cancelled), count(distinct tenant_id)"
            " from stg.stg_amazon__orders")
        gross, discounts, tax, units = q(
            "select sum(round(quantity * unit_price, 2)), sum(discount_amount), sum(tax_amount), sum(quantity)"
            " from stg.stg_amazon__order_lines")
        refunds, refunded_tax = q("select sum(refunded_amount), sum(refunded_tax_amount) from stg.stg_amazon__refunds")
        fees, fee_refunds, fee_types = q(
            "select sum(amount), -sum(amount) filter (where fee_type in ('referral_refund', 'refund_administration')),"
            " string_agg(distinct fee_type, ',' order by fee_type) from stg.stg_amazon__fees")
        inventory = q("select sum(fulfillable_quantity), sum(inbound_quantity), count(*)"
                      " from stg.stg_amazon__inventory")
        unit_type = q("select data_type from information_schema.columns where table_name = 'stg_amazon__order_lines'"
                      f" and table_schema = 'stg_{SHOP}' and column_name = 'unit_price'")[0]
    assert (orders, cancelled, tenants) == (truth["orders"], 0, 1)
    assert (gross, discounts, tax, shipping, units) == (truth["gross"], truth["discounts"], truth["tax"],
                                                        truth["shipping"], truth["units"])
    assert refunds == truth["refunds"] and refunded_tax == D(int(market.refunds["tax_cents"].sum())).scaleb(-2)
    assert gross - discounts - refunds == truth["net"]
    assert fees == truth["net_fees"] and fee_refunds == truth["fee_refunds"]
    assert fee_types == "fulfillment,referral,referral_refund,refund_administration"
    latest = market.inventory_daily.filter(market.inventory_daily["date"] == market.inventory_daily["date"].max())
    assert inventory == (int(latest["fulfillable"].sum()), int(latest["inbound"].sum()), latest.height)
    assert unit_type == "DECIMAL(18,4)"


def test_a_tenant_entry_validates_and_builds_the_source(tmp_path, monkeypatch):
    from orchestration.tenants import MissingSecretError, TenantConfigError, load_registry

    entry = {"slug": "acme", "display_name": "Acme", "currency": "USD", "timezone": TZ, "sources": {"amazon": {
        "marketplace_id": MARKETPLACE, "endpoint": "http://127.0.0.1:8765/amazon/sp/",
        "lwa_token_url": "http://127.0.0.1:8765/amazon/auth/o2/token",
        "secrets": {"client_id": "ACME_AMAZON_CLIENT_ID", "client_secret": "ACME_AMAZON_CLIENT_SECRET",
                    "refresh_token": "ACME_AMAZON_REFRESH_TOKEN"}}}}
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump({"tenants": [entry]}))
    registry = load_registry(path)
    tenant = registry.get("acme")
    cfg = tenant.source("amazon")
    assert cfg.endpoint == "http://127.0.0.1:8765/amazon/sp" and cfg.page_size == 100
    from orchestration.connectors import CONNECTORS

    with pytest.raises(MissingSecretError, match="ACME_AMAZON_CLIENT_ID"):
        CONNECTORS["amazon"].build(tenant, cfg, registry)
    monkeypatch.setenv("ACME_AMAZON_CLIENT_ID", CLIENT["client_id"])
    monkeypatch.setenv("ACME_AMAZON_CLIENT_SECRET", CLIENT["client_secret"])
    monkeypatch.setenv("ACME_AMAZON_REFRESH_TOKEN", "Atzr|sandbox-acme")
    source = CONNECTORS["amazon"].build(tenant, cfg, registry)
    assert set(source.selected_resources) == {"orders", "order_items", "shipment_events", "refund_events",
                                              "inventory_summaries", "returns"}
    broken = {**entry, "sources": {"amazon": {**entry["sources"]["amazon"], "secrets": {"client_id": "X"}}}}
    path.write_text(yaml.safe_dump({"tenants": [broken]}))
    with pytest.raises(TenantConfigError, match="client_secret, refresh_token"):
        load_registry(path)
