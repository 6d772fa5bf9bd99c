"""The Shopify dlt source against the sandbox twin, over real HTTP, into a real DuckDB.

Every count is compared with the sandbox world itself (the ground truth), not with a number written here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import pytest
import requests
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.shopify import shopify_source

SHOP = "testshop"
TOKEN = "shpat_sandbox_testshop"
REPO = Path(__file__).resolve().parents[2]


def pipeline(tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"shopify__{SHOP}",
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False),
        dataset_name=f"raw_shopify__{SHOP}",
        pipelines_dir=str(tmp_path / "dlt"),
    )


def load(tmp_path: Path, sandbox, **options) -> None:
    source = shopify_source(shop_url=sandbox.shop_url(SHOP), access_token=options.pop("token", TOKEN), **options)
    pipeline(tmp_path).run(source)


def counts(tmp_path: Path) -> dict[str, int]:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        schema = f"raw_shopify__{SHOP}"
        return {
            table: con.execute(f"select count(*), count(distinct id) from {schema}.{table}").fetchone()
            for table in ("orders", "order_line_items", "refunds", "refund_line_items", "customers", "products",
                          "product_variants")
        }


def expected(world, as_of=None) -> dict[str, int]:
    shop = world.shop(SHOP) if as_of is None else world.shop(SHOP).visible(as_of)
    online = shop.orders.filter(shop.orders["channel"] == "online_store")
    online_ids = set(online["order_id"].to_list())
    lines = shop.order_lines.filter(shop.order_lines["order_id"].is_in(online_ids))
    return {
        "orders": online.height,
        "order_line_items": lines.height,
        "refunds": shop.refunds.height,
        "refund_line_items": shop.refund_lines.height,
        "customers": shop.customers.filter(shop.customers["acquisition_channel"] != "wholesale").height,
        "products": shop.products.height,
        "product_variants": shop.variants.height,
    }


def assert_exact(tmp_path: Path, world, as_of=None) -> None:
    got, want = counts(tmp_path), expected(world, as_of)
    assert {t: c[0] for t, c in got.items()} == want  # every record landed
    assert all(total == distinct for total, distinct in got.values())  # and none twice


def admin(sandbox, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{sandbox.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else {}


def shop_stats(sandbox) -> dict:
    return admin(sandbox, "GET", "stats")[SHOP]


def test_pages_across_many_pages_with_exact_counts_and_money(tmp_path, sandbox, small_world):
    load(tmp_path, sandbox, page_size=20)
    assert_exact(tmp_path, small_world)
    want = expected(small_world)
    assert shop_stats(sandbox)["requests"] >= want["orders"] // 20 >= 5
    shop = small_world.shop(SHOP)
    online = shop.orders.filter(shop.orders["channel"] == "online_store")
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        total, refunded = con.execute(
            f"select sum(total_price_amount), sum(total_refunded_amount) from raw_shopify__{SHOP}.orders"
        ).fetchone()
        types = dict(con.execute(
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'raw_shopify__{SHOP}' and table_name = 'orders'"
        ).fetchall())
    assert total == Decimal(int(online["total_cents"].sum())).scaleb(-2)
    assert refunded == Decimal(int(online["refunded_cents"].sum())).scaleb(-2)
    assert types["total_price_amount"] == "DECIMAL(18,2)"
    assert types["updated_at"] == "TIMESTAMP WITH TIME ZONE"


def test_throttled_run_paces_itself_and_finishes_exact(tmp_path, sandbox, small_world):
    # A bucket barely bigger than one page's requested cost (page of 5 orders ≈ 3,000 points) that refills at
    # 3,000/s, and one THROTTLED answer with an emptied bucket on the 4th request.
    as_of = small_world.spec.start + timedelta(days=30)
    admin(sandbox, "POST", "clock", as_of=as_of.isoformat())
    admin(sandbox, "POST", "throttle", shop=SHOP, maximum_available=3500, restore_rate=3000)
    admin(sandbox, "POST", "faults", shop=SHOP, kind="throttle", count=1, after=3)
    load(tmp_path, sandbox, page_size=5)
    assert_exact(tmp_path, small_world, as_of=as_of)
    stats = shop_stats(sandbox)
    assert stats["requests"] >= 20
    # the only THROTTLED answer was the injected one: otherwise the client waited for the refill itself,
    assert stats["throttled"] == 1
    # although it ran the bucket nearly dry
    assert stats["lowest_available"] < 500


def test_server_errors_and_timeouts_are_retried(tmp_path, sandbox, small_world):
    admin(sandbox, "POST", "faults", shop=SHOP, kind="http_500", count=2, after=2)
    admin(sandbox, "POST", "faults", shop=SHOP, kind="http_503", count=1, after=6)
    admin(sandbox, "POST", "faults", shop=SHOP, kind="timeout", count=1, after=9, delay_s=2.0)
    load(tmp_path, sandbox, page_size=40, request_timeout_s=1.0)
    assert_exact(tmp_path, small_world)
    assert shop_stats(sandbox)["faults_fired"] == 4


def test_refused_token_fails_with_a_clear_error(tmp_path, sandbox):
    with pytest.raises(PipelineStepFailed) as err:
        load(tmp_path, sandbox, token="shpat_wrong")
    assert "access token refused (HTTP 401)" in str(err.value)
    assert "shpat_wrong" not in str(err.value)


def test_incremental_run_fetches_only_what_changed(tmp_path, sandbox, small_world):
    end = small_world.shop(SHOP).orders["created_at"].max()
    earlier = end.replace(microsecond=0) - timedelta(days=30)
    admin(sandbox, "POST", "clock", as_of=earlier.isoformat())
    load(tmp_path, sandbox, page_size=50)
    assert_exact(tmp_path, small_world, as_of=earlier)
    first_requests = shop_stats(sandbox)["requests"]

    admin(sandbox, "POST", "clock", as_of=end.isoformat())
    load(tmp_path, sandbox, page_size=50)
    assert_exact(tmp_path, small_world, as_of=end)
    second_requests = shop_stats(sandbox)["requests"] - first_requests
    assert second_requests < first_requests / 2, "the second run should only page through recent updates"


RUNNER = textwrap.dedent("""
    import sys, dlt
    from sources.shopify import shopify_source
    shop_url, tmp = sys.argv[1], sys.argv[2]
    pipeline = dlt.pipeline(pipeline_name="shopify__testshop", dataset_name="raw_shopify__testshop",
                            pipelines_dir=tmp + "/dlt", destination=dlt.destinations.duckdb(
                                tmp + "/wh.duckdb", enable_dataset_name_normalization=False))
    pipeline.run(shopify_source(shop_url=shop_url, access_token="shpat_sandbox_testshop", page_size=20))
""")


def test_killed_load_then_rerun_lands_everything_once(tmp_path, sandbox, small_world):
    # The runner is SIGKILLed while it waits on its 4th page: extracted files are left half-written.
    admin(sandbox, "POST", "faults", shop=SHOP, kind="hang", count=1, after=3, delay_s=60)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, sandbox.shop_url(SHOP), str(tmp_path)], env=env,
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while shop_stats(sandbox)["in_flight_hangs"] == 0:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the runner never reached the hanging page"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    admin(sandbox, "DELETE", "faults")
    load(tmp_path, sandbox, page_size=20)
    assert_exact(tmp_path, small_world)
