"""The QuickBooks Online dlt source against the sandbox twin, over real HTTP, into a real DuckDB — then the dbt
staging models on what it landed, and the connector through the tenant registry.

Every count and sum is compared with ``sandbox.quickbooks.truth.costs_truth`` (the world's own frames).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, timedelta
from pathlib import Path

import dlt
import duckdb
import pytest
import requests
import yaml
from dlt.pipeline.exceptions import PipelineStepFailed

from sandbox.quickbooks.truth import costs_truth
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world
from sources.quickbooks import quickbooks_source

SHOP = "qbshop"
REALM = "9341453000000077"
QBO = {"realm_id": REALM, "client_id": "qbo_client_qbshop", "client_secret": "qbo_secret_qbshop",
       "refresh_token": "qbo_rt_sandbox_qbshop"}
SCHEMA = f"raw_quickbooks__{SHOP}"
TABLES = ("items", "vendors", "bills", "bill_lines", "purchases", "purchase_lines")
REPO = Path(__file__).resolve().parents[2]
SPEC = WorldSpec(seed=23, start_date=date(2025, 1, 1), days=100, shops=[
    ShopSpec(handle=SHOP, name="QB Shop", currency="EUR", timezone="Europe/Berlin", access_token="shpat_sandbox_qb",
             orders_per_day=5, wholesale_orders_per_week=0, n_products=10, channels={"quickbooks": QBO}),
])


@pytest.fixture(scope="module")
def world():
    return build_world(SPEC)


@pytest.fixture
def sandbox():
    with SandboxServer(SPEC, port=0) as server:
        yield server


def source(sandbox, **options):
    return quickbooks_source(realm_id=REALM, client_id=QBO["client_id"],
                             client_secret=options.pop("client_secret", QBO["client_secret"]),
                             refresh_token=QBO["refresh_token"], base_url=f"{sandbox.base_url}/quickbooks",
                             token_url=f"{sandbox.base_url}/quickbooks/oauth2/v1/tokens/bearer", **options)


def pipeline(tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(pipeline_name=f"quickbooks__{SHOP}", dataset_name=SCHEMA, pipelines_dir=str(tmp_path / "dlt"),
                        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"),
                                                            enable_dataset_name_normalization=False))


def landed(tmp_path: Path) -> dict:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        def one(sql: str):
            return con.execute(sql).fetchone()
        counts = {t: one(f"select count(*), count(distinct id) from {SCHEMA}.{t}") for t in TABLES}
        return {
            "counts": {t: c[0] for t, c in counts.items()},
            "distinct": {t: c[1] for t, c in counts.items()},
            "bills_total": one(f"select sum(total_amt) from {SCHEMA}.bills")[0],
            "purchases_total": one(f"select sum(total_amt) from {SCHEMA}.purchases")[0],
            # lines of each transaction's current version (as staging reads them)
            "inventory": one(f"select sum(l.amount) from {SCHEMA}.bill_lines l join {SCHEMA}.bills b "
                             "on b.id = l.bill_id and b.updated_at = l.bill_updated_at")[0],
            "operating": one(f"select sum(l.amount) from {SCHEMA}.purchase_lines l join {SCHEMA}.purchases p "
                             "on p.id = l.purchase_id and p.updated_at = l.purchase_updated_at")[0],
            "costs": dict(con.execute(f"select sku, purchase_cost from {SCHEMA}.items").fetchall()),
            "types": dict(con.execute("select table_name || '.' || column_name, data_type from "
                                      f"information_schema.columns where table_schema = '{SCHEMA}'").fetchall()),
        }


def assert_exact(got: dict, truth: dict) -> None:
    assert got["counts"] == {t: truth[t] for t in TABLES}
    assert got["distinct"] == got["counts"]  # nothing landed twice
    for key in ("bills_total", "purchases_total", "inventory", "operating"):
        assert got[key] == truth[key], key
    assert got["costs"] == truth["purchase_cost_by_sku"]


def control(sandbox, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{sandbox.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def twin_stats(sandbox) -> dict:
    return control(sandbox, "GET", "stats")["apis"]["quickbooks"]


def test_full_load_over_many_pages_is_exact(tmp_path, sandbox, world):
    pipeline(tmp_path).run(source(sandbox, page_size=7))
    truth = costs_truth(SPEC, world.shop(SHOP))
    got = landed(tmp_path)
    assert_exact(got, truth)
    assert truth["bills"] >= 3 * 7 and truth["purchases"] >= 3 * 7  # each paged through ≥ 3 pages
    requests_made = twin_stats(sandbox)["shops"][SHOP]["requests"]
    pages = sum(-(-truth[t] // 7) + (truth[t] % 7 == 0) for t in ("items", "vendors", "bills", "purchases"))
    assert requests_made == pages + 1  # every page once, a closing short/empty page, and the Preferences query
    assert got["types"]["bills.total_amt"] == "DECIMAL(18,2)"
    assert got["types"]["items.purchase_cost"] == "DECIMAL(18,4)"
    assert got["types"]["bill_lines.bill_updated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert got["types"]["purchases.txn_date"] == "DATE"


def test_expired_token_throttling_and_server_errors_mid_run(tmp_path, sandbox, world):
    for kind, after in (("http_429", 2), ("expire_token", 5), ("throttle", 8), ("http_500", 11), ("http_503", 14)):
        control(sandbox, "POST", "faults", api="quickbooks", shop=SHOP, kind=kind, after=after)
    rotated: list[str] = []
    run = pipeline(tmp_path)
    run.run(source(sandbox, page_size=10, on_refresh_token=rotated.append))
    assert_exact(landed(tmp_path), costs_truth(SPEC, world.shop(SHOP)))
    stats = twin_stats(sandbox)
    assert stats["shops"][SHOP]["faults_fired_by_kind"] == {"http_429": 1, "expire_token": 1, "throttle": 1,
                                                            "http_500": 1, "http_503": 1}
    # the first refresh used the configured token; after the expiry the client refreshed with the NEWEST one
    assert stats["refreshes"][SHOP] == {"seed": 1, "rotated": 1, "refused": 0}
    assert len(rotated) == 2 and len(set(rotated)) == 2
    assert run.state["sources"]["quickbooks"]["oauth"]["rotations_in_last_run"] == 2


def test_incremental_second_run_merges_updates_without_duplicates(tmp_path, sandbox, world):
    shop = world.shop(SHOP)
    middle = SPEC.start + timedelta(days=60)
    control(sandbox, "POST", "clock", as_of=middle.isoformat())
    pipeline(tmp_path).run(source(sandbox, page_size=25))
    assert_exact(landed(tmp_path), costs_truth(SPEC, shop, as_of=middle))
    first = twin_stats(sandbox)["shops"][SHOP]["requests"]
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        open_bills = con.execute(f"select count(*) from {SCHEMA}.bills where balance > 0").fetchone()[0]

    control(sandbox, "POST", "clock")  # back to the world's end: new bills and purchases, payments, edits
    pipeline(tmp_path).run(source(sandbox, page_size=25))
    truth = costs_truth(SPEC, shop)
    got = landed(tmp_path)
    assert_exact(got, truth)
    second = twin_stats(sandbox)["shops"][SHOP]["requests"] - first
    assert second < first, "the second run should only read what changed since the cursor"
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        still_open = con.execute(f"select count(*) from {SCHEMA}.bills where balance > 0 "
                                 f"and due_date < date '{(SPEC.start_date + timedelta(days=90)).isoformat()}'"
                                 ).fetchone()[0]
    assert open_bills > 0 and still_open == 0  # the bills paid since were merged in their new version


def test_refused_client_secret_fails_clearly_without_secrets(tmp_path, sandbox):
    with pytest.raises(PipelineStepFailed) as err:
        pipeline(tmp_path).run(source(sandbox, client_secret="wrong_secret_value"))
    text = str(err.value)
    assert "refused the app's client credentials (invalid_client)" in text
    assert "wrong_secret_value" not in text and QBO["refresh_token"] not in text


def test_staging_models_reconcile_to_the_world(tmp_path, sandbox, world):
    pipeline(tmp_path).run(source(sandbox))
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
           "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "dbt"), "build", "--select", "staging.quickbooks",
                           "--vars", json.dumps({"tenant": SHOP}), "--target-path", str(tmp_path / "target"),
                           "--log-path", str(tmp_path / "logs")], cwd=REPO / "dbt_project", env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:]
    truth = costs_truth(SPEC, world.shop(SHOP))
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        by_category = dict(con.execute(f"select cost_category, sum(amount) from stg_{SHOP}.stg_quickbooks__expenses "
                                       "group by 1").fetchall())
        lines = con.execute(f"select count(*), count(sku), count(distinct currency) "
                            f"from stg_{SHOP}.stg_quickbooks__expenses").fetchone()
        by_account = dict(con.execute(f"select account_name, sum(amount) from stg_{SHOP}.stg_quickbooks__expenses "
                                      "where cost_category = 'operating' group by 1").fetchall())
        costs = dict(con.execute(f"select sku, purchase_cost from stg_{SHOP}.stg_quickbooks__item_costs").fetchall())
        columns = [r[0] for r in con.execute(f"describe stg_{SHOP}.stg_quickbooks__expenses").fetchall()]
    assert by_category == {"inventory": truth["inventory"], "operating": truth["operating"]}
    assert lines == (truth["bill_lines"] + truth["purchase_lines"], truth["bill_lines"], 1)
    assert by_account == truth["operating_by_account"]
    assert costs == truth["purchase_cost_by_sku"]
    assert columns == ["tenant_id", "expense_id", "expense_line_id", "expense_type", "txn_date", "vendor_name",
                       "account_name", "cost_category", "sku", "amount", "quantity", "unit_cost", "currency",
                       "updated_at"]


def test_connector_builds_from_the_registry_and_persists_rotated_tokens(tmp_path, sandbox, world, monkeypatch):
    from orchestration.tenants import MissingSecretError, load_registry

    entry = {"slug": SHOP, "display_name": "QB Shop", "currency": "EUR", "timezone": "Europe/Berlin", "sources": {
        "quickbooks": {"realm_id": REALM, "base_url": f"{sandbox.base_url}/quickbooks",
                       "token_url": f"{sandbox.base_url}/quickbooks/oauth2/v1/tokens/bearer",
                       "refresh_token_file": "state/qbshop.refresh_token",
                       "secrets": {"client_id": "QB_CLIENT_ID", "client_secret": "QB_CLIENT_SECRET",
                                   "refresh_token": "QB_REFRESH_TOKEN"}}}}
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump({"tenants": [entry]}))
    registry = load_registry(path)
    tenant = registry.get(SHOP)
    connector_cfg = tenant.sources["quickbooks"]
    from orchestration.connectors import CONNECTORS

    with pytest.raises(MissingSecretError, match="QB_REFRESH_TOKEN .refresh_token. is not set"):
        CONNECTORS["quickbooks"].build(tenant, connector_cfg, registry)
    monkeypatch.setenv("QB_CLIENT_ID", QBO["client_id"])
    monkeypatch.setenv("QB_CLIENT_SECRET", QBO["client_secret"])
    monkeypatch.setenv("QB_REFRESH_TOKEN", QBO["refresh_token"])
    pipeline(tmp_path).run(CONNECTORS["quickbooks"].build(tenant, connector_cfg, registry))
    stored = tmp_path / "state" / "qbshop.refresh_token"
    assert stored.stat().st_mode & 0o777 == 0o600
    # the next run starts from the persisted (rotated) token, not the one in the environment
    pipeline(tmp_path).run(CONNECTORS["quickbooks"].build(tenant, connector_cfg, registry))
    assert twin_stats(sandbox)["refreshes"][SHOP] == {"seed": 1, "rotated": 1, "refused": 0}
    assert_exact(landed(tmp_path), costs_truth(SPEC, world.shop(SHOP)))

    bad = {**entry, "sources": {"quickbooks": {**entry["sources"]["quickbooks"], "secrets": {"client_id": "X"}}}}
    path.write_text(yaml.safe_dump({"tenants": [bad]}))
    with pytest.raises(Exception, match="client_secret"):
        load_registry(path)
