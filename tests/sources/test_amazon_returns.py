"""The Amazon source's ``returns`` resource (FBA customer returns report through the Reports API 2021-06-30) against
the SP-API twin over real HTTP, into a real DuckDB, then through ``stg_amazon__returns``. Every expected number
comes from the world's return records (``simulate_returns``), never from what was landed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dlt
import duckdb
import polars as pl
import pytest
import requests
from dlt.pipeline.exceptions import PipelineStepFailed

from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.marketplace import simulate_marketplace
from sandbox.world.marketplace_returns import returns_truth, simulate_returns
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


@pytest.fixture(scope="module")
def market():
    return simulate_marketplace(SPEC, build_world(SPEC).shop(SHOP), "amazon", SPEC.shop(SHOP).channels["amazon"])


@pytest.fixture(scope="module")
def fba_returns(market):
    """The world's returns the FBA report lists: those of Amazon-fulfilled lines."""
    return simulate_returns(SPEC, market).filter(pl.col("fulfilled_by_marketplace"))


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
            "calls": stats["requests_by_operation"].get(SHOP, {}), "reports": stats["reports"]}


def load(tmp_path: Path, server, *resources: str, **options) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name=f"amazon__{SHOP}", dataset_name=SCHEMA, pipelines_dir=str(tmp_path / "dlt"),
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False))
    options.setdefault("sleep", nap)
    source = amazon_source(
        endpoint=f"{server.base_url}/amazon/sp", lwa_token_url=f"{server.base_url}/amazon/auth/o2/token",
        marketplace_id=MARKETPLACE, refresh_token=f"Atzr|sandbox-{SHOP}", start_date="2024-12-01T00:00:00Z",
        **CLIENT, **options)
    pipeline.run(source.with_resources(*(resources or ("returns",))))
    return pipeline


def nap(seconds: float) -> None:
    """Waits pass briefly for real (the twin's buckets refill in real time), never for what was asked."""
    time.sleep(min(seconds, 0.02))


def recording(waits: list[float]):
    return lambda seconds: (waits.append(seconds), nap(seconds))


def cursor_of(pipeline: dlt.Pipeline) -> str:
    return pipeline.state["sources"]["amazon"]["resources"]["returns"]["return_date_cursor"]


def landed(tmp_path: Path) -> dict:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        count, keys, units = con.execute(
            f"select count(*), count(distinct return_key), sum(quantity) from {SCHEMA}.returns").fetchone()
        rows = con.execute(f"select sku, return_date, quantity, reason, detailed_disposition from {SCHEMA}.returns"
                           ).fetchall()
    return {"rows": (count, keys), "units": units, "records": Counter(rows)}


def expected(returns: pl.DataFrame, as_of: datetime | None = None) -> dict:
    truth = returns_truth(returns, None if as_of is None else as_of.astimezone(UTC))
    frame = returns if as_of is None else returns.filter(pl.col("returned_at") <= as_of.astimezone(UTC))
    records = Counter(frame.select("sku", "returned_at", "quantity", "reason", "disposition").iter_rows())
    return {"rows": (truth["returns"], truth["returns"]), "units": truth["units"], "records": records}


def assert_exact(tmp_path: Path, returns: pl.DataFrame, as_of: datetime | None = None) -> None:
    got, want = landed(tmp_path), expected(returns, as_of)
    assert got["rows"] == want["rows"]  # every return, none twice
    assert got["units"] == want["units"]
    assert got["records"] == want["records"]  # same sku, instant, quantity, reason and disposition, one by one


def test_returns_land_exactly_through_expiry_throttling_and_server_errors(tmp_path, sandbox, fba_returns):
    # 30-day windows: 5 reports (Dec–Apr; December has no data → CANCELLED), each polled 3 times; the token
    # expires twice, and a 429, a QuotaExceeded, a 500 and a 503 are injected along the way.
    for kind, after in (("expire_token", 3), ("http_429", 6), ("throttle", 9), ("http_500", 12),
                        ("http_503", 15), ("expire_token", 20)):
        admin(sandbox, "POST", "faults", api="amazon", shop=SHOP, kind=kind, after=after)
    waits: list[float] = []
    pipeline = load(tmp_path, sandbox, returns_window_days=30, sleep=recording(waits), report_poll_waits_s=(5, 10))
    assert_exact(tmp_path, fba_returns)
    truth = returns_truth(fba_returns)
    assert truth["returns"] > 40 and truth["units"] > truth["returns"]  # multi-unit returns exist
    stats = amazon_stats(sandbox)
    assert stats["faults_fired_by_kind"] == {"expire_token": 2, "http_429": 1, "throttle": 1, "http_500": 1,
                                             "http_503": 1}
    assert stats["tokens"] == 3  # the first token and one refresh per expiry
    reports = stats["reports"]["reports_created"][SHOP]
    assert reports == 5 and stats["reports"]["documents"] == 4  # the empty December report was CANCELLED
    assert stats["calls"]["getReport"] >= 3 * reports  # IN_QUEUE, IN_PROGRESS, then the outcome, per report
    assert waits.count(5.0) >= reports and waits.count(10.0) >= reports  # the poll backoff, through `sleep`
    assert any(w >= 1.0 for w in waits if w not in (5.0, 10.0))  # the injected 429's Retry-After was honoured
    assert cursor_of(pipeline) == AFTER_END.strftime("%Y-%m-%dT%H:%M:%SZ")  # the last report's end: Amazon's now
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        types = dict(con.execute("select column_name, data_type from information_schema.columns where "
                                 f"table_schema = '{SCHEMA}' and table_name = 'returns'").fetchall())
    assert types["quantity"] == "BIGINT" and types["return_date"] == "TIMESTAMP WITH TIME ZONE"


def test_an_incremental_run_adds_only_new_returns_and_a_rerun_nothing(tmp_path, sandbox, fba_returns):
    first_clock = datetime(2025, 2, 20, 3, 0, tzinfo=ZoneInfo(TZ))
    admin(sandbox, "POST", "clock", as_of=first_clock.isoformat())
    pipeline = load(tmp_path, sandbox)
    assert_exact(tmp_path, fba_returns, first_clock)
    assert 0 < landed(tmp_path)["rows"][0] < fba_returns.height
    assert cursor_of(pipeline) == first_clock.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    admin(sandbox, "POST", "clock", as_of=AFTER_END.isoformat())
    pipeline = load(tmp_path, sandbox)
    assert_exact(tmp_path, fba_returns)
    assert cursor_of(pipeline) == AFTER_END.strftime("%Y-%m-%dT%H:%M:%SZ")

    before = amazon_stats(sandbox)["reports"]["reports_created"][SHOP]
    load(tmp_path, sandbox)  # nothing new: one report over the 3-day overlap, merged onto what is there
    assert_exact(tmp_path, fba_returns)
    assert amazon_stats(sandbox)["reports"]["reports_created"][SHOP] == before + 1


def test_a_fatal_report_fails_the_run_clearly(tmp_path, sandbox):
    requests.post(f"{sandbox.base_url}/_sandbox/amazon/reports", json={"shop": SHOP, "outcome": "FATAL"},
                  timeout=10).raise_for_status()
    with pytest.raises(PipelineStepFailed) as err:
        load(tmp_path, sandbox)
    text = str(err.value)
    assert "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA" in text and "ended FATAL" in text and "getReport" in text
    assert "Atzr|" not in text and CLIENT["client_secret"] not in text


def test_polling_is_bounded(tmp_path, sandbox):
    # a report that stays queued: the source gives up after max_report_wait_s, never waits for ever
    requests.post(f"{sandbox.base_url}/_sandbox/amazon/reports", json={"shop": SHOP, "polls": 10_000},
                  timeout=10).raise_for_status()
    waits: list[float] = []
    with pytest.raises(PipelineStepFailed, match=r"still IN_QUEUE after 8 polls over 245 s \(limit 300 s\)"):
        load(tmp_path, sandbox, sleep=recording(waits), report_poll_waits_s=(5, 10, 20, 30, 60), max_report_wait_s=300)
    assert waits == [5.0, 10.0, 20.0, 30.0, 60.0, 60.0, 60.0]  # growing, then capped, in all ≤ the limit


CONTRACT = ["tenant_id", "return_id", "order_id", "line_id", "sku", "returned_at", "returned_quantity", "reason",
            "disposition", "channel"]


def test_staging_returns_match_the_world(tmp_path, sandbox, market, fba_returns):
    load(tmp_path, sandbox, "orders", "order_items", "returns", report_poll_waits_s=(0.01,))
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    project = REPO / "dbt_project"
    run = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dbt"), "build", "--select", "stg_amazon__returns", "--vars",
         json.dumps({"tenant": SHOP}), "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # the report has no order item id: the line is known when the order holds the SKU on one line only
    lines_per_sku = market.lines.group_by("order_id", "sku").len()
    unique = fba_returns.join(lines_per_sku, on=["order_id", "sku"]).filter(pl.col("len") == 1).height
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        columns = [r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?"
            " order by ordinal_position", [f"stg_{SHOP}", "stg_amazon__returns"]).fetchall()]
        stg = f"stg_{SHOP}.stg_amazon__returns"
        count, ids, units, matched, channels, tenants = con.execute(
            f"select count(*), count(distinct return_id), sum(returned_quantity), count(line_id),"
            f" string_agg(distinct channel, ','), string_agg(distinct tenant_id, ',') from {stg}").fetchone()
        joined = con.execute(f"select count(*) from {stg} r join {SCHEMA}.order_items i"
                             " on i.order_item_id = r.line_id and i.seller_sku = r.sku"
                             " and i.amazon_order_id = r.order_id").fetchone()[0]
        by_reason = dict(con.execute(f"select reason, sum(returned_quantity) from {stg} group by 1").fetchall())
        by_disposition = dict(con.execute(f"select disposition, sum(returned_quantity) from {stg} group by 1"
                                          ).fetchall())
        types = dict(con.execute("select column_name, data_type from information_schema.columns where"
                                 f" table_schema = 'stg_{SHOP}' and table_name = 'stg_amazon__returns'").fetchall())
    truth = returns_truth(fba_returns)
    assert columns == CONTRACT
    assert (count, ids, units) == (truth["returns"], truth["returns"], truth["units"])
    assert matched == joined == unique and 0 < unique <= count
    assert by_reason == truth["by_reason"] and by_disposition == truth["by_disposition"]
    assert (channels, tenants) == ("amazon", SHOP)
    assert types["returned_at"] == "TIMESTAMP WITH TIME ZONE" and types["returned_quantity"] == "BIGINT"
