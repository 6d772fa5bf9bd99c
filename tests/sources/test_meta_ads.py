"""The Meta ads dlt source against the sandbox twin, over real HTTP, into a real DuckDB; then the staging view.

Every number is compared with ``sandbox.meta_ads.truth.ad_spend_truth`` (the ad world's own frames), never with
what was landed. No test sleeps: the source's waits go to a recorder (``sleep=``).
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

from sandbox.meta_ads import ad_spend_truth
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world
from sources.meta_ads import MetaAuthError, meta_ads_source, oldest_available, reload_window

SHOP = "adshop"
ACCOUNT = "1234567890"
APP_ID, APP_SECRET = "987654321012345", "sandbox_meta_app_secret_adshop"
TOKEN = "EAAsandboxAdshopSystemUserToken0"
REPO = Path(__file__).resolve().parents[2]
SCHEMA = f"raw_meta_ads__{SHOP}"
PAGE = 200


@pytest.fixture(scope="module")
def spec() -> WorldSpec:
    return WorldSpec(seed=23, start_date=date(2025, 1, 1), days=90, shops=[
        ShopSpec(handle=SHOP, name="Ad Shop", currency="USD", timezone="America/New_York",
                 access_token="shpat_sandbox_adshop", orders_per_day=40, n_products=10,
                 channels={"meta_ads": {"account_id": ACCOUNT, "daily_budget": "150.00", "app_id": APP_ID,
                                        "app_secret": APP_SECRET, "access_token": TOKEN}}),
    ])


@pytest.fixture(scope="module")
def shop(spec):
    return build_world(spec).shop(SHOP)


@pytest.fixture
def server(spec):
    with SandboxServer(spec, port=0) as running:
        yield running


def control(server, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def run(tmp_path: Path, server, slept: list[float] | None = None, **options) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name=f"meta_ads__{SHOP}",
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False),
        dataset_name=SCHEMA, pipelines_dir=str(tmp_path / "dlt"))
    credentials = {"access_token": TOKEN, "app_id": APP_ID, "app_secret": APP_SECRET}
    credentials.update({k: options.pop(k) for k in list(options) if k in credentials})
    source = meta_ads_source(account_id=ACCOUNT, base_url=f"{server.base_url}/meta", start_date="2025-01-01",
                             page_size=PAGE, sleep=(slept if slept is not None else []).append,
                             **credentials, **options)
    pipeline.run(source)
    return pipeline


def landed(tmp_path: Path) -> dict:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        rows, distinct, spend, impressions, clicks, conversions, value = con.execute(
            f"select count(*), count(distinct (date_start, ad_id)), sum(spend), sum(impressions), sum(clicks), "
            f"sum(conversions), sum(conversion_value) from {SCHEMA}.ad_insights").fetchone()
        by_date = {d: (s, c, v) for d, s, c, v in con.execute(
            f"select date_start, sum(spend), sum(conversions), sum(conversion_value) from {SCHEMA}.ad_insights "
            "group by 1").fetchall()}
    return {"rows": rows, "distinct": distinct, "spend": spend, "impressions": impressions, "clicks": clicks,
            "conversions": conversions, "conversion_value": value, "by_date": by_date}


def assert_equals_truth(tmp_path: Path, truth: dict) -> dict:
    got = landed(tmp_path)
    assert got["rows"] == got["distinct"] == truth["rows"]  # every (date, ad) row, none twice
    for metric in ("spend", "impressions", "clicks", "conversions", "conversion_value"):
        assert got[metric] == truth[metric], metric
    assert got["by_date"] == {d: (t["spend"], t["conversions"], t["conversion_value"])
                              for d, t in truth["by_date"].items()}
    return got


def test_full_load_pages_and_equals_truth_to_the_cent(tmp_path, server, spec, shop):
    slept: list[float] = []
    # 45-day report runs: 2025-01-01..02-14, 02-15..03-31 and 04-01..04-15 (past the world's end: no rows)
    run(tmp_path, server, slept, end_date="2025-04-15", days_per_report=45)
    truth = ad_spend_truth(spec, shop)
    assert truth["rows"] > 3 * PAGE and truth["conversions"] > 50
    assert_equals_truth(tmp_path, truth)
    twin = server.sandbox.twins["meta_ads"]
    assert twin.runs.stats()[SHOP] == {"created": 3, "completed": 3, "polls": 9}
    # the bounded exponential backoff between each run's three status reads; nothing else waited
    assert slept == [0.5, 1.0] * 3
    windows = [(date(2025, 1, 1), date(2025, 2, 14)), (date(2025, 2, 15), date(2025, 3, 31)),
               (date(2025, 4, 1), date(2025, 4, 15))]
    rows = [sum(t["rows"] for d, t in truth["by_date"].items() if a <= d <= b) for a, b in windows]
    pages = [max(1, -(-r // PAGE)) for r in rows]
    assert rows[2] == 0 and pages[0] >= 3 and pages[1] >= 3
    stats = control(server, "GET", "stats")["apis"]["meta_ads"]["shops"][SHOP]
    assert stats["requests"] == 3 * (1 + 3) + sum(pages)  # per run: POST + 3 polls, then its pages
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        types = dict(con.execute("select column_name, data_type from information_schema.columns "
                                 f"where table_schema = '{SCHEMA}' and table_name = 'ad_insights'").fetchall())
        purchase_type = con.execute(f"select distinct conversion_action_type from {SCHEMA}.ad_insights").fetchall()
    assert types["spend"] == types["conversion_value"] == "DECIMAL(18,2)"
    assert types["date_start"] == "DATE" and types["impressions"] == "BIGINT"
    assert purchase_type == [("offsite_conversion.fb_pixel_purchase",)]


def test_incremental_run_reloads_the_attribution_window_and_updates_late_conversions(tmp_path, server, spec, shop):
    first_clock = spec.start + timedelta(days=60, hours=5)
    control(server, "POST", "clock", as_of=first_clock.isoformat())
    run(tmp_path, server)
    before = ad_spend_truth(spec, shop, first_clock)
    assert before["pending_conversions"] > 0  # some conversions of the loaded days are still to be reported
    assert_equals_truth(tmp_path, before)

    second_clock = first_clock + timedelta(days=3)
    control(server, "POST", "clock", as_of=second_clock.isoformat())
    runs_before = len(server.sandbox.twins["meta_ads"].runs.of_shop(SHOP))
    pipeline = run(tmp_path, server)
    after = ad_spend_truth(spec, shop, second_clock)
    got = assert_equals_truth(tmp_path, after)

    # late conversions of days already loaded arrived, and they replaced the old rows
    last_day = max(before["by_date"])
    grown = [d for d in before["by_date"] if after["by_date"][d]["conversions"] > before["by_date"][d]["conversions"]]
    assert grown and all(last_day - timedelta(days=6) <= d <= last_day for d in grown)
    assert all(got["by_date"][d][1] == after["by_date"][d]["conversions"] for d in grown)
    # the second run asked for the last 7 loaded days onwards, not the whole history
    second_run = server.sandbox.twins["meta_ads"].runs.of_shop(SHOP)[runs_before]
    assert second_run.date_start == last_day - timedelta(days=6)
    state = pipeline.state["sources"]["meta_ads"]["resources"]["ad_insights"]
    assert state["last_date_start"] == max(after["by_date"]).isoformat()


def test_token_expiring_mid_run_is_exchanged_and_the_run_finishes(tmp_path, server, spec, shop):
    control(server, "POST", "faults", api="meta_ads", shop=SHOP, kind="expire_token", after=6)  # on the 2nd page
    run(tmp_path, server)
    assert_equals_truth(tmp_path, ad_spend_truth(spec, shop))
    stats = control(server, "GET", "stats")["apis"]["meta_ads"]
    assert stats["tokens_issued"] == {SHOP: 1}  # exactly one fb_exchange_token grant
    assert stats["shops"][SHOP]["faults_fired_by_kind"] == {"expire_token": 1}


def test_throttling_429_and_5xx_are_waited_out_and_the_run_is_exact(tmp_path, server, spec, shop):
    for kind, after in (("throttle", 1), ("http_429", 3), ("http_500", 5), ("http_503", 7)):
        control(server, "POST", "faults", api="meta_ads", shop=SHOP, kind=kind, after=after)
    slept: list[float] = []
    run(tmp_path, server, slept)
    assert_equals_truth(tmp_path, ad_spend_truth(spec, shop))
    fired = control(server, "GET", "stats")["apis"]["meta_ads"]["shops"][SHOP]["faults_fired_by_kind"]
    assert fired == {"throttle": 1, "http_429": 1, "http_500": 1, "http_503": 1}
    assert 60.0 in slept  # Meta's estimated_time_to_regain_access: 1 minute, honoured as told
    assert sum(1 for s in slept if 1.0 < s <= 1.15) >= 2  # Retry-After: 1 of the 429 and the 503, + jitter


def test_a_failed_report_run_raises_naming_account_and_range(tmp_path, server):
    control(server, "POST", "meta_ads/jobs", shop=SHOP, outcome="fail")
    with pytest.raises(PipelineStepFailed) as failed:
        run(tmp_path, server, end_date="2025-03-31")
    message = str(failed.value)
    assert "act_1234567890 2025-01-01..2025-03-31" in message and "'Job Failed'" in message


def test_a_stuck_report_run_is_polled_a_bounded_number_of_times(tmp_path, server):
    control(server, "POST", "meta_ads/jobs", shop=SHOP, outcome="stall")
    slept: list[float] = []
    with pytest.raises(PipelineStepFailed) as failed:
        run(tmp_path, server, slept, end_date="2025-03-31", max_polls=6)
    assert "not complete after 6 polls" in str(failed.value) and "act_1234567890" in str(failed.value)
    assert slept == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert server.sandbox.twins["meta_ads"].runs.stats()[SHOP]["polls"] == 6


def test_a_refused_token_without_app_credentials_fails_clearly_without_secrets(tmp_path, server):
    control(server, "POST", "faults", api="meta_ads", shop=SHOP, kind="expire_token")
    with pytest.raises(PipelineStepFailed) as failed:
        run(tmp_path, server, app_id="", app_secret="")
    cause = failed.value.__context__
    while cause is not None and not isinstance(cause, MetaAuthError):
        cause = cause.__context__
    assert isinstance(cause, MetaAuthError)
    message = str(failed.value)
    assert "190/463" in message and "act_1234567890" in message
    assert TOKEN not in message and APP_SECRET not in message


def test_reload_window_and_the_oldest_day_meta_serves():
    assert oldest_available(date(2027, 5, 20)) == date(2024, 5, 1)
    start = date(2025, 1, 1)
    assert reload_window(start, None, 7) == start
    assert reload_window(start, "2025-03-10", 7) == date(2025, 3, 4)
    assert reload_window(start, "2025-01-03", 7) == start


def test_registry_entry_validates_and_builds(tmp_path, monkeypatch):
    from orchestration.tenants import load_registry

    registry_file = tmp_path / "tenants.yaml"
    registry_file.write_text(yaml.safe_dump({"tenants": [{
        "slug": SHOP, "display_name": "Ad Shop", "currency": "USD", "timezone": "America/New_York",
        "sources": {"meta_ads": {"account_id": f"act_{ACCOUNT}", "base_url": "http://127.0.0.1:8765/meta",
                                 "secrets": {"access_token": "ADSHOP_META_ACCESS_TOKEN",
                                             "app_id": "ADSHOP_META_APP_ID",
                                             "app_secret": "ADSHOP_META_APP_SECRET"}}}}]}))
    registry = load_registry(registry_file)
    tenant = registry.get(SHOP)
    cfg = tenant.source("meta_ads")
    assert cfg.account_id == ACCOUNT and cfg.attribution_window_days == 7
    monkeypatch.setenv("ADSHOP_META_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("ADSHOP_META_APP_ID", APP_ID)
    monkeypatch.setenv("ADSHOP_META_APP_SECRET", APP_SECRET)
    from orchestration.connectors import CONNECTORS

    source = CONNECTORS["meta_ads"].build(tenant, cfg, registry)
    assert list(source.resources) == ["ad_insights"]
    bad = registry_file.read_text().replace("ADSHOP_META_APP_SECRET", "lower-case")
    registry_file.write_text(bad)
    with pytest.raises(ValueError, match="app_secret"):
        load_registry(registry_file)


STAGING_COLUMNS = ["tenant_id", "platform", "date", "account_id", "campaign_id", "campaign_name", "adset_id",
                   "adset_name", "ad_id", "ad_name", "currency", "spend", "impressions", "clicks", "conversions",
                   "conversion_value"]


def test_staging_view_exposes_the_contract_and_reconciles_to_truth(tmp_path, server, spec, shop):
    run(tmp_path, server)
    db = tmp_path / "wh.duckdb"
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(db),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    project = REPO / "dbt_project"
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dbt"), "build", "--select", "staging.meta_ads", "--vars",
         json.dumps({"tenant": SHOP}), "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"), "--no-use-colors"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    truth = ad_spend_truth(spec, shop)
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'stg_{SHOP}' and table_name = 'stg_meta_ads__ad_insights' "
            "order by ordinal_position").fetchall()
        totals = con.execute(
            f"select count(*), sum(spend), sum(impressions), sum(clicks), sum(conversions), sum(conversion_value), "
            f"min(tenant_id), min(platform), min(currency) from stg_{SHOP}.stg_meta_ads__ad_insights").fetchone()
    assert [c for c, _ in columns] == STAGING_COLUMNS
    types = dict(columns)
    assert types["date"] == "DATE" and types["spend"] == types["conversion_value"] == "DECIMAL(18,2)"
    assert types["impressions"] == types["clicks"] == types["conversions"] == "BIGINT"
    assert totals == (truth["rows"], truth["spend"], truth["impressions"], truth["clicks"], truth["conversions"],
                      truth["conversion_value"], SHOP, "meta", "USD")
    assert isinstance(totals[1], Decimal)
