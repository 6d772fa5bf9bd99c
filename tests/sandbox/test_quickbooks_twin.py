"""The QuickBooks Online twin over real HTTP: Intuit OAuth with rotating refresh tokens, the query language and its
paging, exact JSON amounts, entity versions at the sandbox clock, QBO's faults and throttle — and the truth."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
import requests

from sandbox.quickbooks.entities import Row
from sandbox.quickbooks.query import execute, parse
from sandbox.quickbooks.truth import costs_truth, stock_bought
from sandbox.quickbooks.world import build_books
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world

SHOP, OTHER = "qbtea", "qbgear"
OPTIONS = {
    SHOP: {"realm_id": "9341453000000101", "client_id": "qbo_client_qbtea", "client_secret": "qbo_secret_qbtea",
           "refresh_token": "qbo_rt_sandbox_qbtea"},
    OTHER: {"realm_id": "9341453000000102", "client_id": "qbo_client_qbgear", "client_secret": "qbo_secret_qbgear",
            "refresh_token": "qbo_rt_sandbox_qbgear", "cost_change_share": 1.0},
}
SPEC = WorldSpec(seed=31, start_date=date(2025, 1, 1), days=90, shops=[
    ShopSpec(handle=SHOP, name="QB Tea", currency="EUR", timezone="Europe/Berlin", access_token="shpat_x1",
             orders_per_day=6, n_products=8, categories=["Tea", "Teaware"], channels={"quickbooks": OPTIONS[SHOP]}),
    ShopSpec(handle=OTHER, name="QB Gear", currency="USD", timezone="America/New_York", access_token="shpat_x2",
             orders_per_day=4, n_products=6, channels={"quickbooks": OPTIONS[OTHER]}),
])


@pytest.fixture(scope="module")
def world():
    return build_world(SPEC)


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SPEC, port=0) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset(server):
    yield
    requests.delete(f"{server.base_url}/_sandbox/faults", timeout=10)
    requests.post(f"{server.base_url}/_sandbox/clock", json={}, timeout=10)
    requests.post(f"{server.base_url}/_sandbox/ratelimit", json={"api": "quickbooks", "rate": 500 / 60, "burst": 500},
                  timeout=10)


def refresh(server, shop: str, refresh_token: str | None = None, secret: str | None = None) -> requests.Response:
    o = OPTIONS[shop]
    return requests.post(f"{server.base_url}/quickbooks/oauth2/v1/tokens/bearer",
                         auth=(o["client_id"], secret or o["client_secret"]),
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token or o["refresh_token"]},
                         timeout=10)


def access_token(server, shop: str = SHOP) -> str:
    return refresh(server, shop).json()["access_token"]


def query(server, statement: str, token: str, shop: str = SHOP) -> requests.Response:
    return requests.get(f"{server.base_url}/quickbooks/v3/company/{OPTIONS[shop]['realm_id']}/query",
                        params={"query": statement, "minorversion": 75},
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=10)


def answer(server, statement: str, token: str, shop: str = SHOP) -> dict:
    response = query(server, statement, token, shop)
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def everything(server, entity: str, token: str, size: int = 7, shop: str = SHOP) -> list[dict]:
    out, start = [], 1
    while True:
        page = answer(server, f"SELECT * FROM {entity} STARTPOSITION {start} MAXRESULTS {size}", token, shop)
        rows = page["QueryResponse"].get(entity, [])
        if rows:
            assert page["QueryResponse"]["startPosition"] == start
            assert page["QueryResponse"]["maxResults"] == len(rows)
        out += rows
        if len(rows) < size:
            return out
        start += size


def test_refresh_rotates_the_refresh_token_and_a_used_one_is_refused(server):
    first = refresh(server, SHOP)
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "x_refresh_token_expires_in", "token_type"}
    assert body["expires_in"] == 3600 and body["token_type"] == "bearer"
    assert body["refresh_token"] != OPTIONS[SHOP]["refresh_token"]
    second = refresh(server, SHOP, body["refresh_token"])
    assert second.status_code == 200
    reused = refresh(server, SHOP, body["refresh_token"])  # already exchanged
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert refresh(server, SHOP, second.json()["refresh_token"]).status_code == 200
    bad_client = refresh(server, SHOP, secret="not-the-secret")
    assert bad_client.status_code == 401 and bad_client.json() == {"error": "invalid_client"}
    other_shops_token = refresh(server, SHOP, OPTIONS[OTHER]["refresh_token"])
    assert other_shops_token.status_code == 400 and other_shops_token.json()["error"] == "invalid_grant"


def test_pages_reassemble_every_entity_once_with_exact_amounts(server, world):
    token = access_token(server)
    truth = costs_truth(SPEC, world.shop(SHOP))
    bills = everything(server, "Bill", token)
    purchases = everything(server, "Purchase", token)
    items = everything(server, "Item", token)
    assert len(bills) == truth["bills"] >= 21 and len({b["Id"] for b in bills}) == len(bills)
    assert len(purchases) == truth["purchases"] and len(items) == truth["items"]
    assert sum((b["TotalAmt"] for b in bills), Decimal(0)) == truth["bills_total"]
    assert sum((p["TotalAmt"] for p in purchases), Decimal(0)) == truth["purchases_total"]
    for bill in bills:  # lines add up, each is stock: qty × unit cost
        assert sum((line["Amount"] for line in bill["Line"]), Decimal(0)) == bill["TotalAmt"]
        for line in bill["Line"]:
            detail = line["ItemBasedExpenseLineDetail"]
            assert line["DetailType"] == "ItemBasedExpenseLineDetail"
            assert detail["Qty"] * detail["UnitPrice"] == line["Amount"]
    assert {i["Sku"]: i["PurchaseCost"] for i in items} == truth["purchase_cost_by_sku"]
    assert all(b["CurrencyRef"]["value"] == "EUR" for b in bills)
    count = answer(server, "select count(*) from Bill", token)
    assert count["QueryResponse"] == {"totalCount": truth["bills"]}
    empty = answer(server, f"SELECT * FROM Bill STARTPOSITION {truth['bills'] + 1} MAXRESULTS 10", token)
    assert empty["QueryResponse"] == {} and "time" in empty


def test_where_and_orderby_on_last_updated_time(server, world):
    token = access_token(server)
    since = "2025-03-01T00:00:00+01:00"
    page = answer(server, f"SELECT * FROM Bill WHERE MetaData.LastUpdatedTime > '{since}' "
                          "ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000", token)
    bills = page["QueryResponse"]["Bill"]
    stamps = [datetime.fromisoformat(b["MetaData"]["LastUpdatedTime"]) for b in bills]
    assert stamps == sorted(stamps) and stamps[0] > datetime.fromisoformat(since)  # ascending, after the cut
    books = build_books(SPEC, world.shop(SHOP)).at_clock(world.shop(SHOP).as_of)
    cut = pl.lit(since).str.to_datetime(time_zone="UTC")
    assert len(bills) == books.bills.filter(pl.col("updated_at") > cut).height > 0
    paid = [b for b in bills if b["SyncToken"] == "1"]
    assert paid and all(b["Balance"] == 0 and b["MetaData"]["LastUpdatedTime"] > b["MetaData"]["CreateTime"]
                        for b in paid)
    # an item whose purchase cost changed is at its second version, updated after it was created
    items = everything(server, "Item", access_token(server, OTHER), shop=OTHER)
    changed = [i for i in items if i["SyncToken"] == "1"]
    assert changed and all(i["MetaData"]["LastUpdatedTime"] != i["MetaData"]["CreateTime"] for i in changed)


def test_the_clock_shows_earlier_versions(server, world):
    middle = SPEC.start + timedelta(days=45)
    token = access_token(server)
    late = everything(server, "Bill", token)
    clock = requests.post(f"{server.base_url}/_sandbox/clock", json={"as_of": middle.isoformat()}, timeout=10)
    clock.raise_for_status()
    early = everything(server, "Bill", token)
    truth = costs_truth(SPEC, world.shop(SHOP), as_of=middle)
    assert len(early) == truth["bills"] < len(late)
    assert sum((b["TotalAmt"] for b in early), Decimal(0)) == truth["bills_total"]
    unpaid_then = {b["Id"] for b in early if b["Balance"] == b["TotalAmt"] and b["SyncToken"] == "0"}
    paid_now = {b["Id"] for b in late if b["SyncToken"] == "1"}
    assert unpaid_then & paid_now  # bills open at the middle of the world were paid later


def test_expired_invalid_and_foreign_tokens(server):
    token = access_token(server)
    requests.post(f"{server.base_url}/_sandbox/faults", json={"api": "quickbooks", "shop": SHOP,
                                                              "kind": "expire_token"}, timeout=10).raise_for_status()
    expired = query(server, "SELECT * FROM Item", token)
    assert expired.status_code == 401
    error = expired.json()["fault"]["error"][0]
    assert error["code"] == "3200" and error["detail"].startswith("Token expired: ")
    assert expired.json()["fault"]["type"] == "AUTHENTICATION"
    assert query(server, "SELECT * FROM Item", "garbage").status_code == 401
    foreign = query(server, "SELECT * FROM Item", access_token(server, OTHER))  # OTHER's token on SHOP's realm
    assert foreign.status_code == 403 and foreign.json()["Fault"]["Error"][0]["code"] == "3100"


def test_throttle_by_the_per_realm_bucket_and_by_fault(server):
    token = access_token(server)
    requests.post(f"{server.base_url}/_sandbox/ratelimit", json={"api": "quickbooks", "rate": 0.01, "burst": 2,
                                                                 "shop": SHOP}, timeout=10).raise_for_status()
    statuses = [query(server, "SELECT * FROM Vendor", token).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = query(server, "SELECT * FROM Vendor", token)
    assert throttled.json()["Fault"]["Error"][0]["Message"].startswith("message=ThrottleExceeded; errorCode=003001")
    assert query(server, "SELECT * FROM Vendor", access_token(server, OTHER), OTHER).status_code == 200  # per realm
    requests.post(f"{server.base_url}/_sandbox/ratelimit", json={"api": "quickbooks", "rate": 100, "burst": 100},
                  timeout=10).raise_for_status()
    requests.post(f"{server.base_url}/_sandbox/faults", json={"api": "quickbooks", "shop": SHOP, "kind": "throttle"},
                  timeout=10).raise_for_status()
    fault = query(server, "SELECT * FROM Vendor", token)
    assert fault.status_code == 429 and fault.json()["Fault"]["Error"][0]["code"] == "3001"


@pytest.mark.parametrize(("statement", "code"), [
    ("SELECT * FRM Item", "4000"),
    ("SELECT * FROM Invoicez", "4001"),
    ("SELECT * FROM Item WHERE Name = 'Mug'", "4001"),
    ("SELECT * FROM Item STARTPOSITION 0", "4001"),
    ("SELECT * FROM Item WHERE MetaData.LastUpdatedTime > 'yesterday'", "4001"),
])
def test_invalid_queries_get_qbo_validation_faults(server, statement, code):
    response = query(server, statement, access_token(server))
    assert response.status_code == 400
    assert response.json()["Fault"]["type"] == "ValidationFault"
    assert response.json()["Fault"]["Error"][0]["code"] == code


def test_maxresults_is_capped_at_1000():
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [Row(i, moment, moment, {"Id": str(i)}) for i in range(1, 1501)]
    page = execute(parse("SELECT * FROM Item STARTPOSITION 401 MAXRESULTS 5000", UTC), rows)
    assert page["maxResults"] == 1000 and page["Item"][0]["Id"] == "401" and page["Item"][-1]["Id"] == "1400"


def test_books_are_deterministic_and_bills_are_the_stock_received(world):
    shop = world.shop(OTHER)
    a, b = build_books(SPEC, shop), build_books(SPEC, build_world(SPEC).shop(OTHER))
    for name in ("vendors", "items", "bills", "bill_lines", "purchases", "purchase_lines"):
        assert getattr(a, name).equals(getattr(b, name)), name
    truth = costs_truth(SPEC, shop)
    assert truth["inventory"] == stock_bought(SPEC, shop) > 0  # independent: inventory_daily × cost in force
    assert truth["units_received"] == int(shop.inventory_daily["units_received"].sum())
    # every item of OTHER changes cost once (cost_change_share 1.0) unless it launched too late
    assert a.items.filter(pl.col("sync_token") == 1).height >= a.items.filter(pl.col("sync_token") == 0).height // 2
    assert set(truth["operating_by_account"]) >= {"Rent & Lease", "Payroll Expenses", "Software & Subscriptions"}
