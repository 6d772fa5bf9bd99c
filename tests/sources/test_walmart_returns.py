"""The Walmart source's ``returns`` resource (GET /v3/returns) against the twin over real HTTP, into a real DuckDB,
then through ``stg_walmart__returns``. Every expected number comes from the world's return records
(``simulate_returns``), never from what was landed."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dlt
import duckdb
import polars as pl
import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.walmart.options import WalmartOptions
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.marketplace import simulate_marketplace
from sandbox.world.marketplace_returns import returns_truth, simulate_returns
from sources.walmart import walmart_source

REPO = Path(__file__).resolve().parents[2]
SHOP = "mart"
CLIENT_ID, CLIENT_SECRET = "wm_client_mart_test", "wm_secret_mart_test_value"
OPTIONS = {"orders_per_day": 6, "return_rate": 0.15, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
SPEC = WorldSpec(seed=9, start_date=date(2025, 1, 1), days=90, shops=[
    ShopSpec(handle=SHOP, name="Mart", currency="USD", timezone="UTC", access_token="shpat_sandbox_mart",
             orders_per_day=4, n_products=12, channels={"walmart": OPTIONS}),
])
RAW = f"raw_walmart__{SHOP}"
PAGE = 20


@pytest.fixture(scope="module")
def market():
    return simulate_marketplace(SPEC, build_world(SPEC).shop(SHOP), "walmart", WalmartOptions(**OPTIONS))


@pytest.fixture(scope="module")
def world_returns(market):
    return simulate_returns(SPEC, market)


@pytest.fixture
def sandbox():
    with SandboxServer(SPEC, port=0) as server:
        yield server  # the clock starts at the world's end


def admin(sandbox, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{sandbox.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def load(tmp_path: Path, sandbox, *resources: str, **options) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name=f"walmart__{SHOP}", dataset_name=RAW, pipelines_dir=str(tmp_path / "dlt"),
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False))
    source = walmart_source(base_url=f"{sandbox.base_url}/walmart", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                            start_date="2024-12-01T00:00:00.000Z", **options)
    pipeline.run(source.with_resources(*(resources or ("returns",))))
    return pipeline


def landed(tmp_path: Path) -> dict:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        count, keys, units = con.execute(
            f"select count(*), count(distinct return_order_id || '-' || return_order_line_number), sum(quantity)"
            f" from {RAW}.returns").fetchone()
        records = Counter(con.execute(f"select line_id, sku, return_order_date, quantity, return_reason"
                                      f" from {RAW}.returns").fetchall())
    return {"rows": (count, keys), "units": units, "records": records}


def expected(market, returns: pl.DataFrame, as_of: datetime | None = None) -> dict:
    frame = returns if as_of is None else returns.filter(pl.col("returned_at") <= as_of)
    numbers = market.lines.sort("order_id", "line_id").with_columns(
        number=pl.col("line_id").rank("ordinal").over("order_id").cast(pl.Int64)).select("line_id", "number")
    rows = frame.join(numbers, on="line_id").select(
        pl.format("{}-{}", "order_id", "number").alias("line_id"), "sku", "returned_at", "quantity", "reason")
    truth = returns_truth(frame)
    return {"rows": (truth["returns"], truth["returns"]), "units": truth["units"],
            "records": Counter(rows.iter_rows())}


def test_returns_land_exactly_through_expiry_throttling_and_server_errors(tmp_path, sandbox, market, world_returns):
    # 5 pages of 20 return orders (requests: token, page 1, page 2 …); the token expires on pages 2 and 5, a 500,
    # a 503 and a 429 hit pages 2, 3 and 4, Walmart's own throttle page 5 after the renewal
    for fault in ({"kind": "expire_token", "after": 2}, {"kind": "http_500", "after": 4},
                  {"kind": "http_503", "after": 6}, {"kind": "http_429", "after": 8},
                  {"kind": "expire_token", "after": 10}, {"kind": "throttle", "after": 12}):
        admin(sandbox, "POST", "faults", api="walmart", shop=SHOP, **fault)
    pipeline = load(tmp_path, sandbox, returns_page_size=PAGE)
    got, want = landed(tmp_path), expected(market, world_returns)
    assert got == want  # every return line once, with its order line, sku, date, quantity and reason
    assert world_returns.height > 4 * PAGE and want["units"] > world_returns.height  # ≥ 5 pages, multi-unit lines
    stats = admin(sandbox, "GET", "stats")["apis"]["walmart"]
    assert stats["shops"][SHOP]["faults_fired_by_kind"] == {"expire_token": 2, "http_500": 1, "http_503": 1,
                                                             "http_429": 1, "throttle": 1}
    assert stats["tokens_issued"][SHOP] == 3  # the first token, then one after each expiry
    newest = world_returns["returned_at"].max()
    assert pipeline.state["sources"]["walmart"]["resources"]["returns"]["return_created_cursor"] == \
        newest.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        types = dict(con.execute("select column_name, data_type from information_schema.columns where "
                                 f"table_schema = '{RAW}' and table_name = 'returns'").fetchall())
        statuses = dict(con.execute(f"select status, count(*) from {RAW}.returns group by 1").fetchall())
    assert types["quantity"] == "BIGINT" and types["return_order_date"] == "TIMESTAMP WITH TIME ZONE"
    assert types["total_refund_amount"] == "DECIMAL(18,2)"
    assert statuses == {"COMPLETED": world_returns.height}  # at the world's end every return is refunded


def test_an_incremental_run_adds_only_new_returns_and_a_rerun_nothing(tmp_path, sandbox, market, world_returns):
    first_clock = datetime(2025, 2, 20, 12, 0, tzinfo=UTC)
    admin(sandbox, "POST", "clock", as_of=first_clock.isoformat())
    load(tmp_path, sandbox, returns_page_size=PAGE)
    assert landed(tmp_path) == expected(market, world_returns, first_clock)
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        open_then = con.execute(f"select count(*) from {RAW}.returns where status <> 'COMPLETED'").fetchone()[0]
    assert open_then > 0  # some returns were still on their way at the first clock

    admin(sandbox, "POST", "clock", as_of=(SPEC.end + timedelta(hours=1)).isoformat())
    load(tmp_path, sandbox, returns_page_size=PAGE)
    load(tmp_path, sandbox, returns_page_size=PAGE)  # nothing new: the overlap merges onto what is there
    assert landed(tmp_path) == expected(market, world_returns)
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        still_open = con.execute(f"select count(*) from {RAW}.returns where status <> 'COMPLETED'").fetchone()[0]
    assert still_open == 0  # the overlap re-read the returns opened near the first clock: their status moved on


CONTRACT = ["tenant_id", "return_id", "order_id", "line_id", "sku", "returned_at", "returned_quantity", "reason",
            "disposition", "channel"]


def test_staging_returns_match_the_world(tmp_path, sandbox, market, world_returns):
    load(tmp_path, sandbox, "orders", "order_lines", "returns")
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    project = REPO / "dbt_project"
    run = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dbt"), "build", "--select", "staging.walmart",
         "--vars", json.dumps({"tenant": SHOP}), "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    stg = f"stg_{SHOP}"
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        columns = [r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?"
            " order by ordinal_position", [stg, "stg_walmart__returns"]).fetchall()]
        count, ids, units, dispositions, channels = con.execute(
            f"select count(*), count(distinct return_id), sum(returned_quantity), count(disposition),"
            f" string_agg(distinct channel, ',') from {stg}.stg_walmart__returns").fetchone()
        joined, same_sku = con.execute(
            f"select count(*), count(*) filter (where r.sku = l.sku) from {stg}.stg_walmart__returns r"
            f" join {stg}.stg_walmart__order_lines l on l.line_id = r.line_id and l.order_id = r.order_id").fetchone()
        by_reason = dict(con.execute(f"select reason, sum(returned_quantity) from {stg}.stg_walmart__returns"
                                     " group by 1").fetchall())
    truth = returns_truth(world_returns)
    assert columns == CONTRACT
    assert (count, ids, units) == (truth["returns"], truth["returns"], truth["units"])
    assert joined == same_sku == count  # every return finds its order line, with the same SKU
    assert by_reason == truth["by_reason"]
    assert "WRONG_SIZE/POOR_FIT" in by_reason or "NO_LONGER_WANTED" in by_reason  # Walmart's own codes
    assert dispositions == 0 and channels == "walmart"
