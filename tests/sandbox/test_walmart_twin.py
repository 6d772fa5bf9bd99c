"""The Walmart Marketplace twin over real HTTP: token, headers, Orders v3 with Walmart's cursor, refunds in the
order lines, the reconciliation report, rate limits and injected faults.

Every number is compared with the world's own frames (``simulate_marketplace`` + ``marketplace_truth``).
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.walmart.options import WalmartOptions
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.marketplace import marketplace_truth, simulate_marketplace

SHOP, OTHER = "mart", "corner"
OPTIONS = {"orders_per_day": 6, "settlement_period_days": 1, "fulfilled_share": 0.3, "fulfillment_fee_cents": 345,
           "client_id": "wm_client_id_mart", "client_secret": "wm_secret_mart_sandbox"}
D = Decimal


@pytest.fixture(scope="module")
def spec() -> WorldSpec:
    return WorldSpec(seed=5, start_date=datetime(2025, 1, 1).date(), days=90, shops=[
        ShopSpec(handle=SHOP, name="Mart", currency="USD", timezone="UTC", access_token="shpat_sandbox_mart",
                 orders_per_day=4, n_products=12, channels={"walmart": OPTIONS}),
        ShopSpec(handle=OTHER, name="Corner", currency="USD", timezone="UTC", access_token="shpat_sandbox_corner",
                 orders_per_day=2, n_products=5),  # not on Walmart
    ])


@pytest.fixture(scope="module")
def market(spec):
    return simulate_marketplace(spec, build_world(spec).shop(SHOP), "walmart", WalmartOptions(**OPTIONS))


@pytest.fixture
def server(spec):
    with SandboxServer(spec, port=0) as running:
        yield running


def headers(**extra: str) -> dict[str, str]:
    return {"WM_SVC.NAME": "Walmart Marketplace", "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
            "Accept": "application/json", **extra}


def token(server, client_id=OPTIONS["client_id"], secret=OPTIONS["client_secret"], **kw) -> requests.Response:
    return requests.post(f"{server.base_url}/walmart/v3/token", auth=(client_id, secret),
                         data=kw.get("data", {"grant_type": "client_credentials"}),
                         headers=kw.get("headers", headers()), timeout=10)


class Api:
    def __init__(self, server) -> None:
        self.server = server
        self.access_token = token(server).json()["access_token"]

    def get(self, path: str, params=None, **extra) -> requests.Response:
        return requests.get(f"{self.server.base_url}/walmart{path}", params=params, timeout=30,
                            headers=headers(**{"WM_SEC.ACCESS_TOKEN": self.access_token, **extra}))

    def json(self, path: str, params=None) -> dict:
        response = self.get(path, params)
        assert response.status_code == 200, response.text
        return json.loads(response.content, parse_float=Decimal)

    def all_orders(self, params: dict, *, wrapped: bool = False) -> tuple[list[dict], int]:
        body, pages = self.json("/v3/orders", params), 1
        orders = body["list"]["elements"]["order"]
        while cursor := body["list"]["meta"]["nextCursor"]:
            body = self.json("/v3/orders", {"nextCursor": cursor}) if wrapped else self.json(f"/v3/orders{cursor}")
            orders += body["list"]["elements"]["order"]
            pages += 1
        return orders, pages


def admin(server, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def charges(orders: list[dict], name: str) -> Decimal:
    return sum((c["chargeAmount"]["amount"] for o in orders for line in o["orderLines"]["orderLine"]
                for c in line["charges"]["charge"] if c["chargeName"] == name), D("0"))


def test_token_is_issued_for_basic_client_credentials_and_refused_otherwise(server):
    ok = token(server)
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["access_token"]
    refused = token(server, secret="wrong_secret_value")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "UNAUTHORIZED.GMP_GATEWAY_API"
    assert token(server, client_id="wm_client_corner", secret="wm_secret_corner").status_code == 401  # not on Walmart
    assert token(server, data={"grant_type": "password"}).status_code == 400
    no_correlation = token(server, headers={"WM_SVC.NAME": "Walmart Marketplace"})
    assert no_correlation.status_code == 400
    assert no_correlation.json()["errors"][0]["field"] == "WM_QOS.CORRELATION_ID"


def test_calls_need_walmart_headers_and_a_live_token(server):
    api = Api(server)
    params = {"createdStartDate": "2025-01-01"}
    assert api.get("/v3/orders", params).status_code == 200
    missing = api.get("/v3/orders", params, **{"WM_QOS.CORRELATION_ID": ""})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["code"] == "MISSING_REQUIRED_HEADER.GMP_GATEWAY_API"
    assert api.get("/v3/orders", params, **{"WM_SVC.NAME": ""}).status_code == 400
    bad = api.get("/v3/orders", params, **{"WM_SEC.ACCESS_TOKEN": "not-a-token"})
    assert bad.status_code == 401
    error = bad.json()["errors"][0]
    assert (error["code"], error["field"], error["info"]) == (
        "UNAUTHORIZED.GMP_GATEWAY_API", "UNAUTHORIZED", "Unauthorized token or token expired")
    # an injected expiry: every token issued so far stops working, a new one works
    admin(server, "POST", "faults", api="walmart", shop=SHOP, kind="expire_token")
    expired = api.get("/v3/orders", params)
    assert expired.status_code == 401 and expired.json()["errors"][0]["code"] == "UNAUTHORIZED.GMP_GATEWAY_API"
    assert api.get("/v3/orders", params).status_code == 401
    assert Api(server).get("/v3/orders", params).status_code == 200


def test_orders_page_through_walmarts_cursor_with_exact_counts_and_money(server, market):
    api = Api(server)
    orders, pages = api.all_orders({"createdStartDate": "2025-01-01T00:00:00Z", "limit": 40})
    truth = marketplace_truth(market)
    assert pages == -(-truth["orders"] // 40) >= 3
    assert len(orders) == len({o["purchaseOrderId"] for o in orders}) == truth["orders"] == market.orders.height
    assert sum(len(o["orderLines"]["orderLine"]) for o in orders) == market.lines.height
    assert sum(int(line["orderLineQuantity"]["amount"]) for o in orders
               for line in o["orderLines"]["orderLine"]) == truth["units"]
    assert charges(orders, "ItemPrice") == truth["gross"]
    assert -charges(orders, "Discount") == truth["discounts"]
    assert charges(orders, "Shipping") == truth["shipping"]
    assert sum((c["tax"]["taxAmount"]["amount"] for o in orders for line in o["orderLines"]["orderLine"]
                for c in line["charges"]["charge"] if c["tax"]), D("0")) == truth["tax"]
    refunds = [line["refund"] for o in orders for line in o["orderLines"]["orderLine"] if line["refund"]]
    assert len(refunds) == market.refunds.height > 0
    assert -sum((rc["charge"]["chargeAmount"]["amount"] for r in refunds
                 for rc in r["refundCharges"]["refundCharge"]), D("0")) == truth["refunds"]
    refunded_units = sum(int(s["statusQuantity"]["amount"]) for o in orders for line in o["orderLines"]["orderLine"]
                         for s in line["orderLineStatuses"]["orderLineStatus"] if s["status"] == "Refund")
    assert refunded_units == int(market.refunds["quantity"].sum())
    first = orders[0]
    assert first["orderDate"] >= orders[-1]["orderDate"]  # newest first
    assert first["customerEmailId"] in set(market.orders["buyer_email"].to_list())


def test_cursor_is_walmarts_query_string_and_also_works_wrapped_in_next_cursor(server):
    api = Api(server)
    body = api.json("/v3/orders", {"createdStartDate": "2025-01-01", "limit": 25})
    meta = body["list"]["meta"]
    cursor = meta["nextCursor"]
    assert meta["limit"] == 25 and cursor.startswith("?limit=25&hasMoreElements=true&soIndex=")
    assert f"soIndex={meta['totalCount']}&poIndex=25&" in cursor and "createdStartDate=2025-01-01" in cursor
    appended = api.json(f"/v3/orders{cursor}")["list"]["elements"]["order"]
    wrapped = api.json("/v3/orders", {"nextCursor": cursor})["list"]["elements"]["order"]
    assert [o["purchaseOrderId"] for o in appended] == [o["purchaseOrderId"] for o in wrapped]
    first = {o["purchaseOrderId"] for o in body["list"]["elements"]["order"]}
    assert len(appended) == 25 and not first & {o["purchaseOrderId"] for o in appended}
    everything, _ = api.all_orders({"createdStartDate": "2025-01-01", "limit": 200}, wrapped=True)
    assert len(everything) == meta["totalCount"]


def test_limits_filters_and_empty_results_answer_like_walmart(server, market):
    api = Api(server)
    too_many = api.get("/v3/orders", {"createdStartDate": "2025-01-01", "limit": 201})
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["field"] == "limit"
    none = api.get("/v3/orders", {"createdStartDate": "2030-01-01"})
    assert none.status_code == 404 and none.json()["errors"][0]["code"] == "CONTENT_NOT_FOUND.GMP_ORDER_API"
    since = datetime(2025, 3, 1, tzinfo=UTC)
    modified, _ = api.all_orders({"lastModifiedStartDate": "2025-03-01T00:00:00Z", "limit": 200})
    expected = set(market.orders.filter(market.orders["updated_at"] >= since)["order_id"].cast(str).to_list())
    assert {o["purchaseOrderId"] for o in modified} == expected
    assert len(expected) > len(set(market.orders.filter(market.orders["created_at"] >= since)["order_id"].to_list()))
    po = next(iter(expected))
    assert api.json(f"/v3/orders/{po}")["order"]["purchaseOrderId"] == po
    # without a start date Walmart shows the last 7 days
    recent, _ = api.all_orders({"limit": 200})
    horizon = market.as_of - timedelta(days=7)
    assert len(recent) == market.orders.filter(market.orders["created_at"] >= horizon).height


def test_clock_limits_what_the_api_shows(server, market):
    as_of = datetime(2025, 2, 15, tzinfo=UTC)
    admin(server, "POST", "clock", as_of=as_of.isoformat())
    api = Api(server)
    orders, _ = api.all_orders({"createdStartDate": "2025-01-01", "limit": 200})
    truth = marketplace_truth(market, as_of)
    assert len(orders) == truth["orders"]
    assert charges(orders, "ItemPrice") == truth["gross"]
    dates = api.json("/v3/report/reconreport/availableReconFiles", {"reportVersion": "v1"})["availableApReportDates"]
    assert dates[0] == "02152025" and dates[-1] == "01022025" and len(dates) == 45


def test_recon_report_carries_every_fee_to_the_cent(server, market):
    api = Api(server)
    admin(server, "POST", "ratelimit", api="walmart", operation="reports", rate=1000, burst=1000)
    dates = api.json("/v3/report/reconreport/availableReconFiles", {"reportVersion": "v1"})["availableApReportDates"]
    assert len(dates) == 90  # daily settlement (settlement_period_days: 1), each available the next day
    rows, pages = [], 0
    for date in dates:
        offset = 0
        while offset >= 0:
            body = api.json("/v3/report/reconreport/reconFileJson",
                            {"reportDate": date, "offset": offset, "noOfRecords": 20})
            rows += body["reportData"]
            offset, pages = body["nextOffset"], pages + 1
    assert pages > len(dates)  # some days need more than one page
    summaries = [r for r in rows if r["Transaction Type"] == "PaymentSummary"]
    assert len(summaries) == 90 and {r["Currency"] for r in summaries} == {"USD"}
    money = [r for r in rows if r["Transaction Type"] != "PaymentSummary"]
    assert sum(r["Total Payable"] for r in summaries) == sum(r["Amount"] for r in money)

    def total(transaction: str, amount_type: str) -> Decimal:
        return sum((r["Amount"] for r in money if (r["Transaction Type"], r["Amount Type"]) == (transaction,
                                                                                                amount_type)), D(0))
    fees = market.fees
    referral = D(int(fees.filter(fees["fee_type"] == "referral")["amount_cents"].sum())).scaleb(-2)
    wfs = D(int(fees.filter(fees["fee_type"] == "fulfillment")["amount_cents"].sum())).scaleb(-2)
    truth = marketplace_truth(market)
    assert -total("Sale", "Commission on Product") == referral > 0
    assert -total("Sale", "WFS Fulfillment fee") == wfs > 0
    assert total("Refund", "Commission on Product") == truth["fee_refunds"] > 0
    assert referral + wfs - truth["fee_refunds"] == truth["net_fees"]
    assert -total("Refund", "Product Price") == truth["refunds"]
    # the CSV in a ZIP carries the same rows
    zipped = api.get("/v3/report/reconreport/reconFile", {"reportDate": dates[0], "reportVersion": "v1"},
                     Accept="application/octet-stream")
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        csv_text = archive.read(archive.namelist()[0]).decode()
    day_rows = api.json("/v3/report/reconreport/reconFileJson", {"reportDate": dates[0], "offset": 0,
                                                                  "noOfRecords": 1000})["totalRecords"]
    assert len(csv_text.strip().splitlines()) == day_rows + 1
    assert api.get("/v3/report/reconreport/reconFileJson", {"reportDate": "01012030", "offset": 0,
                                                            "noOfRecords": 10}).status_code == 404
    assert api.get("/v3/report/reconreport/reconFileJson", {"reportDate": dates[0]}).status_code == 400


def test_rate_limits_answer_429_with_walmarts_headers(server):
    api = Api(server)
    params = {"createdStartDate": "2025-03-01", "limit": 5}
    assert 4900 < int(api.get("/v3/orders", params).headers["x-current-token-count"]) <= 5000  # 5,000 a minute
    admin(server, "POST", "ratelimit", api="walmart", operation="orders", rate=0.5, burst=2)
    answers = [api.get("/v3/orders", params) for _ in range(2)]
    assert [(a.status_code, a.headers["x-current-token-count"]) for a in answers] == [(200, "1"), (200, "0")]
    started = time.time() * 1000
    throttled = api.get("/v3/orders", params)
    assert throttled.status_code == 429
    assert throttled.json()["errors"][0]["code"] == "REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API"
    assert throttled.headers["x-current-token-count"] == "0"
    assert started + 1000 < int(throttled.headers["x-next-replenish-time"]) < started + 2500
    assert "retry-after" not in throttled.headers  # Walmart tells the refill time, not Retry-After
    stats = admin(server, "GET", "stats")["apis"]["walmart"]
    assert stats["throttled"][SHOP]["orders"] == 1
    admin(server, "POST", "ratelimit", api="walmart", operation="orders", rate=100, burst=100)
    admin(server, "POST", "faults", api="walmart", shop=SHOP, kind="throttle")
    admin(server, "POST", "faults", api="walmart", shop=SHOP, kind="http_503", after=1)
    injected = api.get("/v3/orders", params)
    assert injected.status_code == 429 and injected.headers["x-current-token-count"] == "0"
    assert api.get("/v3/orders", params).status_code == 503
    assert api.get("/v3/orders", params).status_code == 200
