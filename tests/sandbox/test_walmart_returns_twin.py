"""The Walmart twin's Returns API (``GET /v3/returns``) over real HTTP: Walmart's shape, its nextCursor paging, the
creation / modification / status filters, the clock, headers, rate limits and errors. Every number comes from the
world's return records (``simulate_returns``)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.walmart.options import WalmartOptions
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.marketplace import simulate_marketplace
from sandbox.world.marketplace_returns import WALMART_REASONS, simulate_returns

SHOP = "mart"
OPTIONS = {"orders_per_day": 6, "return_rate": 0.15, "client_id": "wm_client_id_mart",
           "client_secret": "wm_secret_mart_sandbox"}
SPEC = WorldSpec(seed=5, start_date=date(2025, 1, 1), days=90, shops=[
    ShopSpec(handle=SHOP, name="Mart", currency="USD", timezone="UTC", access_token="shpat_sandbox_mart",
             orders_per_day=4, n_products=12, channels={"walmart": OPTIONS}),
])


@pytest.fixture(scope="module")
def market():
    return simulate_marketplace(SPEC, build_world(SPEC).shop(SHOP), "walmart", WalmartOptions(**OPTIONS))


@pytest.fixture(scope="module")
def world_returns(market):
    return simulate_returns(SPEC, market)


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SPEC, port=0) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(server):
    requests.delete(f"{server.base_url}/_sandbox/faults", timeout=10).raise_for_status()
    requests.post(f"{server.base_url}/_sandbox/clock", json={"as_of": SPEC.end.isoformat()},
                  timeout=10).raise_for_status()


def headers(**extra: str) -> dict[str, str]:
    return {"WM_SVC.NAME": "Walmart Marketplace", "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
            "Accept": "application/json", **extra}


def access_token(server) -> str:
    response = requests.post(f"{server.base_url}/walmart/v3/token", auth=(OPTIONS["client_id"],
                             OPTIONS["client_secret"]), data={"grant_type": "client_credentials"}, headers=headers(),
                             timeout=10)
    return response.json()["access_token"]


def returns(server, token: str, path: str = "/v3/returns", **params) -> requests.Response:
    return requests.get(f"{server.base_url}/walmart{path}", params=params or None, timeout=10,
                        headers=headers(**{"WM_SEC.ACCESS_TOKEN": token}))


def every_page(server, token: str, **params) -> tuple[list[dict], int]:
    orders, pages = [], 0
    response = returns(server, token, **params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        orders += body["returnOrders"]
        pages += 1
        cursor = body["meta"]["nextCursor"]
        if cursor is None:
            return orders, pages
        response = returns(server, token, path=f"/v3/returns{cursor}")


def test_every_return_order_once_newest_first_in_walmarts_shape(server, world_returns):
    token = access_token(server)
    first = returns(server, token, limit=25)
    assert first.headers["x-current-token-count"].isdigit() and first.headers["x-next-replenish-time"].isdigit()
    meta = first.json()["meta"]
    assert meta["totalCount"] == world_returns.height and meta["limit"] == 25
    assert meta["nextCursor"].startswith("?sellerId=") and "offset=25" in meta["nextCursor"]
    orders, pages = every_page(server, token, limit=25)
    assert pages == -(-world_returns.height // 25) >= 3
    assert len({o["returnOrderId"] for o in orders}) == len(orders) == world_returns.height
    dates = [o["returnOrderDate"] for o in orders]
    assert dates == sorted(dates, reverse=True)  # most recently created first
    lines = [line for o in orders for line in o["returnOrderLines"]]
    got = Counter((line["item"]["sku"], line["quantity"]["measurementValue"], line["returnReason"]) for line in lines)
    assert got == Counter(world_returns.select("sku", "quantity", "reason").iter_rows())
    one = orders[0]
    assert set(one) >= {"returnOrderId", "customerEmailId", "customerOrderId", "returnOrderDate", "returnLineGroups",
                        "returnOrderLines", "totalRefundAmount"}
    line = one["returnOrderLines"][0]
    assert line["returnOrderLineNumber"] == 1 and line["quantity"]["unitOfMeasure"] == "EACH"
    assert line["purchaseOrderLineNumber"] == line["salesOrderLineNumber"] >= 1
    assert line["returnReason"] in WALMART_REASONS and line["status"] == "COMPLETED"
    assert one["returnOrderDate"].endswith("Z") and len(one["returnOrderId"]) == 18
    assert one["customerOrderId"] != line["purchaseOrderId"]


def test_filters_and_the_clock(server, world_returns):
    token = access_token(server)
    start, end = datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC)
    window, _ = every_page(server, token, returnCreationStartDate="2025-02-01",
                           returnCreationEndDate="2025-02-28T23:59:59Z", limit=10)
    want = world_returns.filter((pl.col("returned_at") >= start) & (pl.col("returned_at") <= end))
    assert 10 < len(window) == want.height

    clock = datetime(2025, 2, 20, 12, 0, tzinfo=UTC)
    requests.post(f"{server.base_url}/_sandbox/clock", json={"as_of": clock.isoformat()}, timeout=10)
    seen, _ = every_page(server, token, limit=200)
    visible = world_returns.filter(pl.col("returned_at") <= clock)
    refunded = visible.filter(pl.col("refunded_at") <= clock)
    assert len(seen) == visible.height
    statuses = Counter(o["returnOrderLines"][0]["status"] for o in seen)
    assert statuses["COMPLETED"] == refunded.height < visible.height  # some still on their way back
    pending, _ = every_page(server, token, status="INITIATED", limit=200)
    delivered, _ = every_page(server, token, status="DELIVERED", limit=200)
    assert len(pending) + len(delivered) == visible.height - refunded.height
    assert all(o["returnOrderLines"][0]["refundedQty"] == 0 for o in pending + delivered)
    one = seen[0]["returnOrderId"]
    assert [o["returnOrderId"] for o in returns(server, token, returnOrderId=one).json()["returnOrders"]] == [one]
    changed = returns(server, token, returnLastModifiedStartDate=(clock - timedelta(days=1)).isoformat(), limit=200)
    assert 0 < changed.json()["meta"]["totalCount"] < visible.height


def test_errors_are_walmarts(server):
    token = access_token(server)
    too_many = returns(server, token, limit=500)
    assert too_many.status_code == 400 and too_many.json()["errors"][0]["code"].startswith("INVALID_REQUEST_PARAM")
    assert returns(server, token, status="LOST").status_code == 400
    assert returns(server, token, returnCreationStartDate="last week").status_code == 400
    missing = requests.get(f"{server.base_url}/walmart/v3/returns", headers={"WM_SEC.ACCESS_TOKEN": token},
                           timeout=10)
    assert missing.status_code == 400 and missing.json()["errors"][0]["code"].startswith("MISSING_REQUIRED_HEADER")
    assert returns(server, "wm_sandbox_not-a-token").status_code == 401
    requests.post(f"{server.base_url}/_sandbox/faults", json={"api": "walmart", "shop": SHOP, "kind": "expire_token"},
                  timeout=10).raise_for_status()
    expired = returns(server, token)
    assert expired.status_code == 401 and expired.json()["errors"][0]["code"] == "UNAUTHORIZED.GMP_GATEWAY_API"
    fresh_token = access_token(server)
    requests.post(f"{server.base_url}/_sandbox/faults", json={"api": "walmart", "shop": SHOP, "kind": "throttle"},
                  timeout=10).raise_for_status()
    throttled = returns(server, fresh_token)
    assert throttled.status_code == 429 and throttled.headers["x-current-token-count"] == "0"
    assert throttled.json()["errors"][0]["code"] == "REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API"
