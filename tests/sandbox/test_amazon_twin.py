"""The Amazon SP-API twin over real HTTP: Login with Amazon, the four operations' shapes, pagination, the 2-minute
and 180-day rules, token expiry, rate limits and error bodies. Every number comes from the world itself."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.marketplace import marketplace_truth, simulate_marketplace

US, DE = "ATVPDKIKX0DER", "A1PA6795UKMFR9"
CLIENT = {"client_id": "amzn1.application-oa2-client.sandbox", "client_secret": "amzn1.oa2-cs.v1.sandbox"}
SPEC = WorldSpec(seed=11, start_date=date(2025, 1, 1), days=80, shops=[
    ShopSpec(handle="acme", name="Acme", currency="USD", timezone="America/New_York", access_token="shpat_acme",
             orders_per_day=4, n_products=10, channels={"amazon": {"orders_per_day": 4, "deal_share": 0.3,
                                                                   "return_rate": 0.15}}),
    ShopSpec(handle="brezel", name="Brezel", currency="EUR", timezone="Europe/Berlin", access_token="shpat_brezel",
             orders_per_day=3, n_products=8, channels={"amazon": {"orders_per_day": 2}}),
])
AFTER_END = SPEC.end + timedelta(hours=1)  # every event of the world is older than "now − 2 minutes"


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SPEC, port=0) as running:
        yield running


@pytest.fixture(scope="module")
def market():
    world = build_world(SPEC)
    return simulate_marketplace(SPEC, world.shop("acme"), "amazon", SPEC.shop("acme").channels["amazon"])


@pytest.fixture(autouse=True)
def fresh(server):
    admin(server, "DELETE", "faults")
    admin(server, "POST", "clock", as_of=AFTER_END.isoformat())
    admin(server, "POST", "ratelimit", api="amazon", rate=1000, burst=1000)


def admin(server, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def login(server, refresh_token: str = "Atzr|sandbox-acme", **overrides) -> requests.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **CLIENT, **overrides}
    return requests.post(f"{server.base_url}/amazon/auth/o2/token", data=form, timeout=10)


def token(server, handle: str = "acme") -> str:
    return login(server, f"Atzr|sandbox-{handle}").json()["access_token"]


def sp(server, path: str, access: str | None, **params) -> requests.Response:
    headers = {"x-amz-access-token": access} if access else {}
    return requests.get(f"{server.base_url}/amazon/sp{path}", params=params, headers=headers, timeout=10)


def all_orders(server, access: str, **params) -> tuple[list[dict], int]:
    query = {"MarketplaceIds": US, "LastUpdatedAfter": "2024-01-01T00:00:00Z", **params}
    orders, pages = [], 0
    while True:
        response = sp(server, "/orders/v0/orders", access, **query)
        assert response.status_code == 200, response.text
        payload = response.json()["payload"]
        orders += payload["Orders"]
        pages += 1
        if not payload.get("NextToken"):
            return orders, pages
        query = {"MarketplaceIds": US, "NextToken": payload["NextToken"]}


def cents(amount) -> int:
    return int(Decimal(str(amount)) * 100)


def test_login_with_amazon_issues_and_refuses_like_lwa(server):
    answer = login(server)
    assert answer.status_code == 200
    body = answer.json()
    assert body["access_token"].startswith("Atza|") and body["token_type"] == "bearer"
    assert body["expires_in"] == 3600 and body["refresh_token"] == "Atzr|sandbox-acme"
    bad_grant = login(server, "Atzr|nobody")
    assert (bad_grant.status_code, bad_grant.json()["error"]) == (400, "invalid_grant")
    bad_client = login(server, client_secret="wrong")
    assert (bad_client.status_code, bad_client.json()["error"]) == (401, "invalid_client")
    bad_type = login(server, grant_type="client_credentials")
    assert (bad_type.status_code, bad_type.json()["error"]) == (400, "unsupported_grant_type")


def test_orders_page_with_next_token_and_match_the_world(server, market):
    access = token(server)
    orders, pages = all_orders(server, access, MaxResultsPerPage=40)
    truth = marketplace_truth(market)
    assert len(orders) == truth["orders"] and pages == -(-truth["orders"] // 40) >= 3
    assert len({o["AmazonOrderId"] for o in orders}) == len(orders)
    assert all(o["MarketplaceId"] == US and o["SalesChannel"] == "Amazon.com" for o in orders)
    assert sum(cents(o["OrderTotal"]["Amount"]) for o in orders) == int(market.orders["total_cents"].sum())
    first = sp(server, "/orders/v0/orders", access, MarketplaceIds=US, LastUpdatedAfter="2024-01-01T00:00:00Z")
    assert first.headers["x-amzn-RateLimit-Limit"] == "1000" and first.headers["x-amzn-RequestId"]
    # the window ends two minutes before "now" (the sandbox clock) and says so
    assert first.json()["payload"]["LastUpdatedBefore"] == (AFTER_END - timedelta(minutes=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    stamps = [o["LastUpdateDate"] for o in orders]
    assert stamps == sorted(stamps)


def test_order_items_carry_the_line_money(server, market):
    access = token(server)
    orders, _ = all_orders(server, access)
    items = []
    for order in orders:
        response = sp(server, f"/orders/v0/orders/{order['AmazonOrderId']}/orderItems", access)
        assert response.status_code == 200
        assert response.json()["payload"]["AmazonOrderId"] == order["AmazonOrderId"]
        items += response.json()["payload"]["OrderItems"]
    truth = marketplace_truth(market)
    assert len(items) == market.lines.height
    assert sum(cents(i["ItemPrice"]["Amount"]) for i in items) == cents(truth["gross"])
    assert sum(cents(i["PromotionDiscount"]["Amount"]) for i in items) == cents(truth["discounts"]) > 0
    assert sum(cents(i["ItemTax"]["Amount"]) for i in items) == cents(truth["tax"])
    assert sum(cents(i["ShippingPrice"]["Amount"]) for i in items) == cents(truth["shipping"])
    assert sum(i["QuantityOrdered"] for i in items) == truth["units"]
    missing = sp(server, "/orders/v0/orders/111-0000000-0000000/orderItems", access)
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "NotFound"


def test_financial_events_are_numbers_and_add_up_to_the_truth(server, market):
    access = token(server)
    truth = marketplace_truth(market)
    charges: dict[str, int] = {}
    fees = refunded = promo_back = 0
    windows = [("2024-12-01T00:00:00Z", "2025-02-01T00:00:00Z"), ("2025-02-01T00:00:00Z", None)]
    for after, before in windows:
        query = {"PostedAfter": after, "MaxResultsPerPage": 100, **({"PostedBefore": before} if before else {})}
        while True:
            response = sp(server, "/finances/v0/financialEvents", access, **query)
            assert response.status_code == 200, response.text
            payload = response.json()["payload"]
            events = payload["FinancialEvents"]
            for event in events["ShipmentEventList"]:
                for item in event["ShipmentItemList"]:
                    for charge in item["ItemChargeList"]:
                        assert isinstance(charge["ChargeAmount"]["CurrencyAmount"], float | int)
                        charges[charge["ChargeType"]] = charges.get(charge["ChargeType"], 0) + cents(
                            charge["ChargeAmount"]["CurrencyAmount"])
                    fees += sum(cents(f["FeeAmount"]["CurrencyAmount"]) for f in item["ItemFeeList"])
            for event in events["RefundEventList"]:
                for item in event["ShipmentItemAdjustmentList"]:
                    principal = sum(cents(c["ChargeAmount"]["CurrencyAmount"]) for c in item["ItemChargeAdjustmentList"]
                                    if c["ChargeType"] == "Principal")
                    promo = sum(cents(p["PromotionAmount"]["CurrencyAmount"]) for p in item["PromotionAdjustmentList"])
                    refunded -= principal + promo
                    promo_back += promo
                    fees += sum(cents(f["FeeAmount"]["CurrencyAmount"]) for f in item["ItemFeeAdjustmentList"])
            if not payload.get("NextToken"):
                break
            query = {"NextToken": payload["NextToken"]}
    # shipments post when the order ships: the lines of the orders shipped by now
    shipped = market.orders.filter(pl.col("shipped_at").is_not_null())
    lines = market.lines.filter(pl.col("order_id").is_in(shipped["order_id"].implode()))
    assert shipped.height < market.orders.height  # the last days' orders have not shipped yet
    assert charges["Principal"] == int((lines["quantity"] * lines["unit_price_cents"]).sum())
    assert charges["Tax"] == int(lines["tax_cents"].sum())
    assert charges["ShippingCharge"] == int(shipped["shipping_cents"].sum())
    assert refunded == cents(truth["refunds"]) > 0 and promo_back > 0
    assert -fees == cents(truth["net_fees"]) > 0
    # a window wider than 180 days returns nothing (as Amazon's); a PostedBefore too close to now is refused
    wide = sp(server, "/finances/v0/financialEvents", access, PostedAfter="2024-06-01T00:00:00Z",
              PostedBefore="2025-03-01T00:00:00Z").json()["payload"]["FinancialEvents"]
    assert wide["ShipmentEventList"] == [] and wide["RefundEventList"] == []
    late = sp(server, "/finances/v0/financialEvents", access, PostedAfter="2025-03-01T00:00:00Z",
              PostedBefore=(AFTER_END - timedelta(seconds=30)).isoformat())
    assert late.status_code == 400 and late.json()["errors"][0]["code"] == "InvalidInput"
    assert "PostedBefore" in late.json()["errors"][0]["message"]


def test_inventory_summaries_show_the_latest_stock(server, market):
    response = sp(server, "/fba/inventory/v1/summaries", token(server), granularityType="Marketplace",
                  granularityId=US, marketplaceIds=US, details="true")
    assert response.status_code == 200
    body = response.json()
    assert body["payload"]["granularity"] == {"granularityType": "Marketplace", "granularityId": US}
    summaries = {s["sellerSku"]: s for s in body["payload"]["inventorySummaries"]}
    latest = market.inventory_daily.filter(market.inventory_daily["date"] == market.inventory_daily["date"].max())
    assert set(summaries) == set(latest["sku"].to_list())
    for row in latest.iter_rows(named=True):
        details = summaries[row["sku"]]["inventoryDetails"]
        assert details["fulfillableQuantity"] == row["fulfillable"]
        assert details["inboundShippedQuantity"] == row["inbound"]
        assert details["reservedQuantity"]["totalReservedQuantity"] == row["reserved"]
    wrong = sp(server, "/fba/inventory/v1/summaries", token(server), granularityType="Marketplace",
               granularityId=DE, marketplaceIds=DE)
    assert wrong.status_code == 400


def test_the_token_identifies_the_seller(server):
    brezel = token(server, "brezel")
    assert sp(server, "/orders/v0/orders", brezel, MarketplaceIds=US,
              CreatedAfter="2025-01-01T00:00:00Z").status_code == 400  # not brezel's marketplace
    orders = sp(server, "/orders/v0/orders", brezel, MarketplaceIds=DE, CreatedAfter="2025-01-01T00:00:00Z")
    assert orders.status_code == 200
    assert {o["SalesChannel"] for o in orders.json()["payload"]["Orders"]} == {"Amazon.de"}
    assert {o["OrderTotal"]["CurrencyCode"] for o in orders.json()["payload"]["Orders"]} == {"EUR"}


def test_refused_tokens_and_bad_parameters_answer_like_sp_api(server):
    invalid = sp(server, "/orders/v0/orders", "Atza|forged", MarketplaceIds=US, CreatedAfter="2025-01-01T00:00:00Z")
    assert invalid.status_code == 403
    assert invalid.json()["errors"][0]["code"] == "Unauthorized"
    assert sp(server, "/orders/v0/orders", None, MarketplaceIds=US).status_code == 403
    access = token(server)
    admin(server, "POST", "faults", api="amazon", shop="acme", kind="expire_token")
    expired = sp(server, "/orders/v0/orders", access, MarketplaceIds=US, CreatedAfter="2025-01-01T00:00:00Z")
    assert expired.status_code == 403
    assert expired.json() == {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
                                          "details": "The access token you provided has expired."}]}
    assert sp(server, "/orders/v0/orders", token(server), MarketplaceIds=US,
              CreatedAfter="2025-01-01T00:00:00Z").status_code == 200
    both = sp(server, "/orders/v0/orders", access, MarketplaceIds=US)
    assert both.status_code in (400, 403)
    access = token(server)
    neither = sp(server, "/orders/v0/orders", access, MarketplaceIds=US)
    assert neither.status_code == 400 and neither.json()["errors"][0]["code"] == "InvalidInput"
    too_late = sp(server, "/orders/v0/orders", access, MarketplaceIds=US, LastUpdatedAfter="2025-01-01T00:00:00Z",
                  LastUpdatedBefore=AFTER_END.isoformat())
    assert too_late.status_code == 400
    assert sp(server, "/orders/v0/orders", access, MarketplaceIds=US, CreatedAfter="2025-01-01T00:00:00Z",
              MaxResultsPerPage=101).status_code == 400
    assert sp(server, "/orders/v0/orders", access, MarketplaceIds=US, NextToken="garbage").status_code == 400
    admin(server, "POST", "faults", api="amazon", shop="acme", kind="http_503")
    unavailable = sp(server, "/orders/v0/orders", access, MarketplaceIds=US, CreatedAfter="2025-01-01T00:00:00Z")
    assert unavailable.status_code == 503 and unavailable.json()["errors"][0]["code"] == "ServiceUnavailable"


def test_each_operation_has_its_own_bucket_and_429_says_so(server):
    access = token(server)
    admin(server, "POST", "ratelimit", api="amazon", shop="acme", operation="getOrders", rate=0.0167, burst=2)
    query = {"MarketplaceIds": US, "CreatedAfter": "2025-01-01T00:00:00Z", "MaxResultsPerPage": 1}
    statuses = [sp(server, "/orders/v0/orders", access, **query) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].json() == {"errors": [{"code": "QuotaExceeded",
                                              "message": "You exceeded your quota for the requested resource."}]}
    assert statuses[2].headers["x-amzn-RateLimit-Limit"] == "0.0167"
    assert statuses[0].headers["x-amzn-RateLimit-Limit"] == "0.0167"
    # the other operations' buckets are untouched
    assert sp(server, "/finances/v0/financialEvents", access, PostedAfter="2025-01-01T00:00:00Z").status_code == 200
    # the injected throttle answers with the operation's own 429
    admin(server, "POST", "faults", api="amazon", shop="acme", kind="throttle")
    throttled = sp(server, "/finances/v0/financialEvents", access, PostedAfter="2025-01-01T00:00:00Z")
    assert throttled.status_code == 429 and throttled.headers["x-amzn-RateLimit-Limit"] == "1000"
    stats = admin(server, "GET", "stats")["apis"]["amazon"]
    assert stats["throttled"]["acme"]["getOrders"] == 1
