"""The GA4 dlt source against the sandbox twin, over real HTTP, into a real DuckDB; then its dbt staging view.

Every expected number comes from the world itself (sandbox/ga4/truth.py over the world frames), never from
what was landed.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import pytest
import requests
import yaml
from dlt.pipeline.exceptions import PipelineStepFailed

from orchestration.tenants import load_registry
from sandbox.ga4.truth import online_orders_truth, traffic_truth
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world
from sources.ga4 import ga4_source

SHOP, PROPERTY = "ga4src", "423456789"
REPO = Path(__file__).resolve().parents[2]
SECRET, REFRESH = f"GOCSPX-sandbox-{SHOP}", f"1//sandbox-{SHOP}"
SPEC = WorldSpec(seed=31, start_date=date(2025, 3, 1), days=90, shops=[
    ShopSpec(handle=SHOP, name="GA4 Source Shop", currency="USD", timezone="America/New_York",
             access_token="shpat_sandbox_ga4src", orders_per_day=4, n_products=6,
             channels={"ga4": {"property_id": PROPERTY}}),
])
SCHEMA = f"raw_ga4__{SHOP}"


@pytest.fixture(scope="module")
def world():
    return build_world(SPEC)


@pytest.fixture
def sandbox():
    with SandboxServer(SPEC, port=0) as server:
        yield server


def source(sandbox, **options):
    return ga4_source(property_id=PROPERTY, client_id=f"sandbox-{SHOP}.apps.googleusercontent.com",
                      client_secret=options.pop("client_secret", SECRET), refresh_token=REFRESH,
                      api_base_url=f"{sandbox.base_url}/ga4", token_url=f"{sandbox.base_url}/ga4/token",
                      start_date="2025-01-01", backoff_s=0.05, **options)


def load(tmp_path: Path, sandbox, **options) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"ga4__{SHOP}", dataset_name=SCHEMA, pipelines_dir=str(tmp_path / "dlt"),
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False))
    pipeline.run(source(sandbox, **options))


def landed(tmp_path: Path) -> dict:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        rows, distinct, sessions, users, conversions, revenue = con.execute(
            f"select count(*), count(distinct (date, session_source, session_medium, session_campaign_name)), "
            f"sum(sessions), sum(total_users), sum(key_events), sum(purchase_revenue) from {SCHEMA}.traffic"
        ).fetchone()
        per_date = {d: (int(n), r) for d, n, r in con.execute(
            f"select date, sum(key_events), sum(purchase_revenue) from {SCHEMA}.traffic group by date").fetchall()}
    return {"rows": rows, "distinct": distinct, "sessions": sessions, "users": users, "conversions": conversions,
            "purchase_revenue": revenue, "per_date": per_date}


def assert_exact(tmp_path: Path, world, as_of=None) -> dict:
    got, want = landed(tmp_path), traffic_truth(SPEC, world.shop(SHOP), as_of=as_of)
    assert got["rows"] == got["distinct"] == want["rows"]  # every row landed, none twice
    for metric in ("sessions", "users", "conversions", "purchase_revenue"):
        assert got[metric] == want[metric], metric
    assert got["per_date"] == {
        d: (v["conversions"], v["purchase_revenue"]) for d, v in want["per_date"].items()}
    return got


def rows_per_date(world) -> dict[date, int]:
    """Final traffic rows per property day, from the world's derivation."""
    from sandbox.ga4.world import Ga4Property, ga4_options

    rows = Ga4Property(SPEC, world.shop(SHOP), ga4_options(SPEC.shop(SHOP))).rows()
    return dict(rows.group_by("date").len().iter_rows())


def admin(sandbox, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{sandbox.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def ga4_stats(sandbox) -> dict:
    return admin(sandbox, "GET", "stats")["apis"]["ga4"]


def test_pages_land_exact_counts_and_money(tmp_path, sandbox, world):
    load(tmp_path, sandbox, page_size=200)
    got = assert_exact(tmp_path, world)
    stats = ga4_stats(sandbox)
    assert stats["reports"][SHOP] >= 3 and stats["reports"][SHOP] >= got["rows"] // 200
    # the conversions of each day are exactly that day's online-store orders, revenue to the cent
    orders = online_orders_truth(SPEC, world.shop(SHOP))
    assert {d: v for d, v in got["per_date"].items() if v[0]} == orders
    online = world.shop(SHOP).channel("online_store")
    assert got["purchase_revenue"] == Decimal(int(online["total_cents"].sum())).scaleb(-2)
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        types = dict(con.execute("select column_name, data_type from information_schema.columns "
                                 f"where table_schema = '{SCHEMA}' and table_name = 'traffic'").fetchall())
        currencies = con.execute(f"select distinct currency_code from {SCHEMA}.traffic").fetchall()
    assert types["purchase_revenue"] == "DECIMAL(18,2)" and types["date"] == "DATE"
    assert types["sessions"] == "BIGINT" and currencies == [("USD",)]


def test_expired_token_throttling_and_server_errors_are_survived(tmp_path, sandbox, world):
    for kind, after in (("expire_token", 2), ("http_429", 4), ("throttle", 6), ("http_500", 8), ("http_503", 10)):
        admin(sandbox, "POST", "faults", api="ga4", shop=SHOP, kind=kind, count=1, after=after)
    load(tmp_path, sandbox, page_size=100)
    assert_exact(tmp_path, world)
    stats = ga4_stats(sandbox)
    book = stats["shops"][SHOP]
    assert book["faults_fired_by_kind"] == {"expire_token": 1, "http_429": 1, "throttle": 1, "http_500": 1,
                                            "http_503": 1}
    assert stats["tokens_issued"][SHOP] == 2  # the first token, and the one refreshed after the 401
    assert book["throttled"] == 2


def test_property_token_bucket_paces_the_run(tmp_path, sandbox, world):
    # 3 tokens of burst, 40 a second back: a run of ~15 pages keeps running the bucket dry and backs off
    admin(sandbox, "POST", "ratelimit", api="ga4", rate=40, burst=3)
    load(tmp_path, sandbox, page_size=100)
    assert_exact(tmp_path, world)
    assert ga4_stats(sandbox)["throttled"][SHOP]["tokensPerHour"] >= 1


def test_incremental_run_rereads_the_unsettled_days_only(tmp_path, sandbox, world):
    earlier = SPEC.start + timedelta(days=75, hours=15)
    admin(sandbox, "POST", "clock", as_of=earlier.isoformat())
    load(tmp_path, sandbox, page_size=100)
    first = assert_exact(tmp_path, world, as_of=earlier)  # the interim numbers GA4 shows at that clock
    first_reports = ga4_stats(sandbox)["reports"][SHOP]
    assert first["conversions"] < traffic_truth(SPEC, world.shop(SHOP))["conversions"]

    admin(sandbox, "POST", "clock")  # the world's end: every day processed
    load(tmp_path, sandbox, page_size=100)
    assert_exact(tmp_path, world)  # revised days replaced, nothing duplicated
    final = traffic_truth(SPEC, world.shop(SHOP))
    # the second run asked only from 3 days before the last date landed: ceil(those rows / page) pages
    since = max(traffic_truth(SPEC, world.shop(SHOP), as_of=earlier)["per_date"]) - timedelta(days=3)
    reread = sum(1 for d in final["per_date"] if d >= since)
    rows_since = sum(n for d, n in rows_per_date(world).items() if d >= since)
    assert 0 < reread < len(final["per_date"]) / 4
    assert ga4_stats(sandbox)["reports"][SHOP] - first_reports == -(-rows_since // 100)
    load(tmp_path, sandbox, page_size=100)  # and a re-run at the same clock changes nothing
    assert_exact(tmp_path, world)


def test_refused_credentials_fail_clearly_without_the_secret(tmp_path, sandbox):
    with pytest.raises(PipelineStepFailed) as err:
        load(tmp_path, sandbox, client_secret="GOCSPX-wrong-secret")
    text = str(err.value)
    assert "ga4: the token endpoint" in text and "invalid_client" in text and "HTTP 401" in text
    assert "GOCSPX-wrong-secret" not in text and REFRESH not in text


def test_staging_view_matches_the_world(tmp_path, sandbox, world):
    load(tmp_path, sandbox, page_size=1000)
    db = tmp_path / "wh.duckdb"
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(db), "DO_NOT_TRACK": "1",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    project = REPO / "dbt_project"
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dbt"), "build", "--select", "staging.ga4", "--vars",
         json.dumps({"tenant": SHOP}), "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    truth = traffic_truth(SPEC, world.shop(SHOP))
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                              "and table_name = 'stg_ga4__traffic' order by ordinal_position",
                              [f"stg_{SHOP}"]).fetchall()
        sums = con.execute(f"select count(*), sum(sessions), sum(total_users), sum(conversions), "
                           f"sum(purchase_revenue), min(tenant_id), min(currency) from stg_{SHOP}.stg_ga4__traffic"
                           ).fetchone()
    assert columns == [("tenant_id", "VARCHAR"), ("date", "DATE"), ("session_source", "VARCHAR"),
                       ("session_medium", "VARCHAR"), ("session_campaign", "VARCHAR"), ("channel_group", "VARCHAR"),
                       ("sessions", "BIGINT"), ("total_users", "BIGINT"), ("conversions", "BIGINT"),
                       ("purchase_revenue", "DECIMAL(18,2)"), ("currency", "VARCHAR")]
    assert sums == (truth["rows"], truth["sessions"], truth["users"], truth["conversions"],
                    truth["purchase_revenue"], SHOP, "USD")


def test_tenant_registry_accepts_a_ga4_source(tmp_path, monkeypatch):
    entry = {"slug": "acme", "display_name": "Acme", "currency": "USD", "timezone": "America/New_York",
             "sources": {"ga4": {"property_id": "310000001", "client_id": "sandbox-acme.apps.googleusercontent.com",
                                 "api_base_url": "http://127.0.0.1:8765/ga4/",
                                 "token_url": "http://127.0.0.1:8765/ga4/token",
                                 "secrets": {"client_secret": "ACME_GA4_CLIENT_SECRET",
                                             "refresh_token": "ACME_GA4_REFRESH_TOKEN"}}}}
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump({"tenants": [entry]}))
    registry = load_registry(path)
    cfg = registry.get("acme").source("ga4")
    assert cfg.api_base_url == "http://127.0.0.1:8765/ga4" and cfg.lookback_days == 3
    from orchestration.connectors import CONNECTORS
    monkeypatch.setenv("ACME_GA4_CLIENT_SECRET", "GOCSPX-sandbox-acme")
    monkeypatch.setenv("ACME_GA4_REFRESH_TOKEN", "1//sandbox-acme")
    built = CONNECTORS["ga4"].build(registry.get("acme"), cfg, registry)
    assert list(built.resources) == ["traffic"]
    bad = {**entry, "sources": {"ga4": {**entry["sources"]["ga4"], "secrets": {"client_secret": "X"}}}}
    path.write_text(yaml.safe_dump({"tenants": [bad]}))
    with pytest.raises(ValueError, match="refresh_token"):
        load_registry(path)
