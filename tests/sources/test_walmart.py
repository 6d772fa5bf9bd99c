"""The Walmart dlt source against the sandbox twin, over real HTTP, into a real DuckDB, then the dbt staging
views on what it landed.

Every count and sum is compared with the world itself (``simulate_marketplace`` + ``marketplace_truth``), never
with what was landed.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import pytest
import requests
import yaml
from dlt.pipeline.exceptions import PipelineStepFailed

from orchestration.connectors.base import MissingSecretError
from orchestration.tenants import TenantConfigError, load_registry
from sandbox.server import SandboxServer
from sandbox.walmart.options import WalmartOptions
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.marketplace import marketplace_truth, simulate_marketplace
from sources.walmart import walmart_source

SHOP = "mart"
CLIENT_ID, CLIENT_SECRET = "wm_client_mart_test", "wm_secret_mart_test_value"
OPTIONS = {"orders_per_day": 6, "settlement_period_days": 1, "fulfilled_share": 0.3, "fulfillment_fee_cents": 345,
           "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
REPO = Path(__file__).resolve().parents[2]
TABLES = {"orders": "order_id", "order_lines": "line_id", "refunds": "refund_line_id", "fees": "fee_id"}
SPEC = WorldSpec(seed=9, start_date=date(2025, 1, 1), days=90, shops=[
    ShopSpec(handle=SHOP, name="Mart", currency="USD", timezone="UTC", access_token="shpat_sandbox_mart",
             orders_per_day=4, n_products=12, channels={"walmart": OPTIONS}),
])


@pytest.fixture(scope="module")
def market():
    return simulate_marketplace(SPEC, build_world(SPEC).shop(SHOP), "walmart", WalmartOptions(**OPTIONS))


@pytest.fixture
def sandbox():
    with SandboxServer(SPEC, port=0) as server:
        yield server


def pipeline(tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"walmart__{SHOP}",
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False),
        dataset_name=f"raw_walmart__{SHOP}",
        pipelines_dir=str(tmp_path / "dlt"),
    )


def load(tmp_path: Path, sandbox, **options) -> None:
    source = walmart_source(base_url=f"{sandbox.base_url}/walmart", client_id=options.pop("client_id", CLIENT_ID),
                            client_secret=options.pop("client_secret", CLIENT_SECRET), **options)
    pipeline(tmp_path).run(source)


def query(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def landed(tmp_path: Path) -> dict[str, tuple[int, int]]:
    return {table: query(tmp_path, f"select count(*), count(distinct {key}) from raw_walmart__{SHOP}.{table}")[0]
            for table, key in TABLES.items()}


def expected(market, as_of=None) -> dict[str, int]:
    m = market if as_of is None else market.visible(as_of)
    return {"orders": m.orders.height, "order_lines": m.lines.height, "refunds": m.refunds.height,
            # one fee row per posted fee, plus the commission Walmart gives back on each refund
            "fees": m.fees.height + m.refunds.filter(m.refunds["fee_refund_cents"] != 0).height}


def assert_exact(tmp_path: Path, market, as_of=None) -> None:
    got = landed(tmp_path)
    assert {t: n for t, (n, _) in got.items()} == expected(market, as_of)  # every record landed
    assert all(total == distinct for total, distinct in got.values())  # and none twice
    truth = marketplace_truth(market, as_of)
    raw = f"raw_walmart__{SHOP}"
    gross, discounts, tax = query(tmp_path, f"select sum(item_price_amount), sum(discount_amount), sum(tax_amount) "
                                            f"from {raw}.order_lines")[0]
    assert (gross, discounts, tax) == (truth["gross"], truth["discounts"], truth["tax"])
    assert query(tmp_path, f"select sum(amount) from {raw}.refunds")[0][0] == truth["refunds"]
    assert query(tmp_path, f"select sum(shipping_amount) from {raw}.orders")[0][0] == truth["shipping"]
    assert -query(tmp_path, f"select sum(amount) from {raw}.fees")[0][0] == truth["net_fees"]


def admin(sandbox, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{sandbox.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def walmart_stats(sandbox) -> dict:
    stats = admin(sandbox, "GET", "stats")["apis"]["walmart"]
    return {**stats["shops"][SHOP], "tokens_issued": stats["tokens_issued"].get(SHOP, 0),
            "throttled_by_bucket": stats.get("throttled", {}).get(SHOP, {})}


def test_full_load_survives_expired_token_throttling_and_server_errors(tmp_path, sandbox, market):
    for fault in ({"kind": "expire_token", "after": 3}, {"kind": "http_500", "after": 5, "count": 2},
                  {"kind": "http_503", "after": 9}, {"kind": "http_429", "after": 12},
                  {"kind": "throttle", "after": 15}, {"kind": "expire_token", "after": 40}):
        admin(sandbox, "POST", "faults", api="walmart", shop=SHOP, **fault)
    load(tmp_path, sandbox, page_size=40)
    assert_exact(tmp_path, market)
    stats = walmart_stats(sandbox)
    assert stats["faults_fired_by_kind"] == {"expire_token": 2, "http_500": 2, "http_503": 1, "http_429": 1,
                                             "throttle": 1}
    assert stats["tokens_issued"] == 3  # the first token, then a new one after each expiry
    assert market.orders.height // 40 >= 3  # many order pages
    types = dict(query(tmp_path, "select column_name, data_type from information_schema.columns "
                                 f"where table_schema = 'raw_walmart__{SHOP}' and table_name = 'order_lines'"))
    assert types["item_price_amount"] == "DECIMAL(18,2)" and types["unit_price_amount"] == "DECIMAL(18,4)"
    assert types["status_date"] == "TIMESTAMP WITH TIME ZONE"


def test_client_paces_itself_on_walmarts_token_count(tmp_path, sandbox, market):
    admin(sandbox, "POST", "ratelimit", api="walmart", operation="orders", rate=20, burst=2)
    admin(sandbox, "POST", "ratelimit", api="walmart", operation="reports", rate=200, burst=3)
    load(tmp_path, sandbox, page_size=50)
    assert_exact(tmp_path, market)
    stats = walmart_stats(sandbox)
    # it ran every bucket dry and waited for x-next-replenish-time instead of earning 429s
    assert stats["throttled"] == 0 and stats["requests"] > 90


def test_incremental_run_adds_only_what_changed(tmp_path, sandbox, market):
    earlier = datetime(2025, 3, 10, tzinfo=UTC)
    admin(sandbox, "POST", "clock", as_of=earlier.isoformat())
    load(tmp_path, sandbox, page_size=50)
    assert_exact(tmp_path, market, earlier)
    first = walmart_stats(sandbox)["requests"]

    admin(sandbox, "POST", "clock")  # back to the world's end
    load(tmp_path, sandbox, page_size=50)
    assert_exact(tmp_path, market)
    second = walmart_stats(sandbox)["requests"] - first
    assert second < first / 2, "the second run should read only recent orders and new reports"
    # an order that got its refund after the first run was updated in place, not duplicated
    late = market.refunds.filter(market.refunds["created_at"] > earlier)
    assert late.height > 0
    ids = late["order_id"].unique()
    updated = query(tmp_path, f"select count(*) from raw_walmart__{SHOP}.orders where order_id in "
                              f"({', '.join(repr(str(i)) for i in ids.to_list())}) "
                              f"and last_modified_at > timestamptz '{earlier.isoformat()}'")[0][0]
    assert updated == ids.len()


def test_refused_credentials_fail_clearly_without_the_secret(tmp_path, sandbox):
    with pytest.raises(PipelineStepFailed) as err:
        load(tmp_path, sandbox, client_secret="wrong_secret_xyz")
    message = str(err.value)
    assert "walmart: POST /v3/token: client credentials refused (HTTP 401" in message
    assert "wrong_secret_xyz" not in message and CLIENT_ID not in message


def test_staging_views_reconcile_to_the_marketplace_truth(tmp_path, sandbox, market):
    load(tmp_path, sandbox, page_size=200)
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    project = REPO / "dbt_project"
    run = subprocess.run([str(REPO / ".venv" / "bin" / "dbt"), "build", "--select", "staging.walmart",
                          "--vars", json.dumps({"tenant": SHOP}), "--project-dir", str(project),
                          "--profiles-dir", str(project), "--target-path", str(tmp_path / "target"),
                          "--log-path", str(tmp_path / "logs")],
                         cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    truth = marketplace_truth(market)
    stg = f"stg_{SHOP}"
    orders, shipping, cancelled = query(tmp_path, f"select count(*), sum(shipping_amount), count(*) filter "
                                                  f"(where is_cancelled) from {stg}.stg_walmart__orders")[0]
    gross, discounts, tax, units = query(tmp_path, "select sum(quantity * unit_price), sum(discount_amount), "
                                                   "sum(tax_amount), sum(quantity) "
                                                   f"from {stg}.stg_walmart__order_lines")[0]
    refunds, = query(tmp_path, f"select sum(refunded_amount) from {stg}.stg_walmart__refunds")[0]
    fees = dict(query(tmp_path, f"select fee_type, sum(amount) from {stg}.stg_walmart__fees group by 1"))
    assert (orders, units, shipping, cancelled) == (truth["orders"], truth["units"], truth["shipping"], 0)
    assert (gross, discounts, tax) == (truth["gross"], truth["discounts"], truth["tax"])
    assert refunds == truth["refunds"]
    assert gross - discounts - refunds == truth["net"]
    assert fees["referral"] + fees["fulfillment"] == truth["fees"]
    assert -fees["referral_refund"] == truth["fee_refunds"]
    assert sum(fees.values()) == truth["net_fees"] > Decimal("0")
    customers, = query(tmp_path, f"select count(distinct customer_id) from {stg}.stg_walmart__orders")[0]
    assert customers == market.orders["buyer_email"].n_unique()


def test_tenant_registry_validates_and_builds_a_walmart_source(tmp_path, monkeypatch):
    entry = {"slug": "acme", "display_name": "Acme", "currency": "USD", "timezone": "America/Chicago",
             "sources": {"walmart": {"base_url": "http://127.0.0.1:8765/walmart/", "page_size": 100,
                                     "secrets": {"client_id": "ACME_WALMART_CLIENT_ID",
                                                 "client_secret": "ACME_WALMART_CLIENT_SECRET"}}}}
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump({"tenants": [entry]}))
    registry = load_registry(path)
    cfg = registry.get("acme").sources["walmart"]
    assert (cfg.base_url, cfg.page_size) == ("http://127.0.0.1:8765/walmart", 100)
    from orchestration.connectors import CONNECTORS

    with pytest.raises(MissingSecretError, match="ACME_WALMART_CLIENT_ID"):
        CONNECTORS["walmart"].build(registry.get("acme"), cfg, registry)
    monkeypatch.setenv("ACME_WALMART_CLIENT_ID", "wm_client_acme")
    monkeypatch.setenv("ACME_WALMART_CLIENT_SECRET", "wm_secret_acme")
    source = CONNECTORS["walmart"].build(registry.get("acme"), cfg, registry)
    assert source.name == "walmart"
    assert {"orders", "order_lines", "refunds", "fees"} <= set(source.resources.selected)
    good = dict(entry["sources"]["walmart"])
    for bad, words in (({"page_size": 201}, "walmart.page_size: Input should be less than or equal to 200"),
                       ({"secrets": {"client_id": "X"}}, "client_secret"),
                       ({"base_url": "ftp://walmart"}, "http")):
        entry["sources"]["walmart"] = {**good, **bad}
        path.write_text(yaml.safe_dump({"tenants": [entry]}))
        with pytest.raises(TenantConfigError, match=words):
            load_registry(path)
