"""The GA4 Data API twin: its world (derived from the ShopWorld), Google's channel rules, and the HTTP contract
(OAuth2 token endpoint, runReport request/response, paging, errors, quotas) over real HTTP."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
import requests

from sandbox.ga4.channels import default_channel_group
from sandbox.ga4.report import money_text
from sandbox.ga4.truth import online_orders_truth, traffic_truth
from sandbox.ga4.world import Ga4Property, ga4_options
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world

SHOP, OTHER = "ga4shop", "ga4other"
PROPERTY, OTHER_PROPERTY = "412345678", "498765432"
CLIENT = {"grant_type": "refresh_token", "client_id": f"sandbox-{SHOP}.apps.googleusercontent.com",
          "client_secret": f"GOCSPX-sandbox-{SHOP}", "refresh_token": f"1//sandbox-{SHOP}"}
DIMS = ["date", "sessionSource", "sessionMedium", "sessionCampaignName", "sessionDefaultChannelGroup"]
METS = ["sessions", "totalUsers", "keyEvents", "purchaseRevenue"]


@pytest.fixture(scope="module")
def spec() -> WorldSpec:
    return WorldSpec(seed=23, start_date=date(2025, 2, 1), days=75, shops=[
        ShopSpec(handle=SHOP, name="GA Shop", currency="EUR", timezone="Europe/Berlin", access_token="shpat_x",
                 orders_per_day=5, n_products=8, channels={"ga4": {"property_id": PROPERTY}}),
        ShopSpec(handle=OTHER, name="Other", currency="USD", timezone="America/Los_Angeles", access_token="shpat_y",
                 orders_per_day=3, n_products=5, channels={"ga4": {"property_id": OTHER_PROPERTY}}),
    ])


@pytest.fixture(scope="module")
def world(spec):
    return build_world(spec)


@pytest.fixture(scope="module")
def server(spec):
    with SandboxServer(spec, port=0) as running:
        yield running


def token(server, **override) -> requests.Response:
    return requests.post(f"{server.base_url}/ga4/token", data={**CLIENT, **override}, timeout=10)


def access(server) -> str:
    response = token(server)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def report(server, body: dict, *, bearer: str | None = None, prop: str = PROPERTY) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer or access(server)}"}
    return requests.post(f"{server.base_url}/ga4/v1beta/properties/{prop}:runReport", json=body, headers=headers,
                         timeout=30)


def body(**extra) -> dict:
    return {"dateRanges": [{"startDate": "2025-02-01", "endDate": "today"}],
            "dimensions": [{"name": d} for d in DIMS], "metrics": [{"name": m} for m in METS],
            "orderBys": [{"dimension": {"dimensionName": d}} for d in DIMS[:4]], **extra}


def control(server, method: str, path: str, **payload) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=payload or None, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize(("source", "medium", "campaign", "group"), [
    ("(direct)", "(none)", "(direct)", "Direct"),
    ("google", "organic", "(organic)", "Organic Search"),
    ("google", "cpc", "brand_search", "Paid Search"),
    ("google", "cpc", "shopping_feed", "Paid Shopping"),  # the campaign rule comes before Paid Search
    ("facebook", "paid", "prospecting_broad", "Paid Social"),
    ("Instagram", "CPC", "x", "Paid Social"),  # rules are case-insensitive
    ("l.instagram.com", "referral", "(referral)", "Organic Social"),  # a social site before Referral
    ("partnerblog.example.net", "referral", "(referral)", "Referral"),
    ("newsletter", "email", "weekly_newsletter", "Email"),
    ("youtube", "cpc", "x", "Paid Video"),
    ("criteo", "display", "x", "Display"),
    ("unknown", "paid_other", "x", "Paid Other"),
    ("google", "cpc", "pmax cross-network", "Cross-network"),
    ("foo", "affiliate", "x", "Affiliates"),
    ("firebase", "notif", "x", "Mobile Push Notifications"),
    ("foo", "bar", "x", "Unassigned"),
])
def test_default_channel_group_follows_googles_rules(source, medium, campaign, group):
    assert default_channel_group(source, medium, campaign) == group


def test_money_text_prints_currency_like_ga4():
    assert [money_text(c) for c in (12345, 1230, 4000, 0, 5)] == ["123.45", "12.3", "40", "0", "0.05"]


def test_world_is_derived_from_the_orders_and_deterministic(spec, world):
    shop = world.shop(SHOP)
    rows = Ga4Property(spec, shop, ga4_options(spec.shop(SHOP))).rows()
    again = Ga4Property(spec, build_world(spec).shop(SHOP), ga4_options(spec.shop(SHOP))).rows()
    assert rows.equals(again)
    assert (rows["sessions"] >= rows["conversions"]).all() and (rows["users"] <= rows["sessions"]).all()
    assert (rows["users"] >= 1).all()
    assert rows.filter(pl.col("conversions") == 0).height > 0  # traffic without purchases exists too
    per_day = rows.group_by("date").agg(pl.col("conversions").sum(), pl.col("revenue_cents").sum())
    got = {d: (n, Decimal(c).scaleb(-2)) for d, n, c in per_day.filter(pl.col("conversions") > 0).iter_rows()}
    assert got == online_orders_truth(spec, shop)  # every online order is one purchase, on its local day
    groups = set(rows["channel_group"])
    assert {"Direct", "Organic Search", "Paid Search", "Paid Social", "Email", "Referral"} <= groups
    truth = traffic_truth(spec, shop)
    online = shop.channel("online_store")
    assert truth["conversions"] == online.height
    assert truth["purchase_revenue"] == Decimal(int(online["total_cents"].sum())).scaleb(-2)


def test_token_endpoint_speaks_oauth2(server):
    good = token(server).json()
    assert good["token_type"] == "Bearer" and good["expires_in"] == 3599
    assert good["scope"] == "https://www.googleapis.com/auth/analytics.readonly"
    assert token(server, client_secret="nope").status_code == 401
    assert token(server, client_secret="nope").json()["error"] == "invalid_client"
    assert token(server, refresh_token="1//stolen").json() == {"error": "invalid_grant",
                                                               "error_description": "Bad Request"}
    assert token(server, grant_type="password").json()["error"] == "unsupported_grant_type"


def test_auth_errors_are_googles(server):
    missing = requests.post(f"{server.base_url}/ga4/v1beta/properties/{PROPERTY}:runReport", json=body(),
                            timeout=10)
    assert missing.status_code == 401 and missing.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "invalid_token" in missing.headers["WWW-Authenticate"]
    other = report(server, body(), prop=OTHER_PROPERTY)  # a token of the other shop's OAuth client
    assert other.status_code == 403 and other.json()["error"]["status"] == "PERMISSION_DENIED"
    assert report(server, body(), prop="123456789").status_code == 403


def test_invalid_requests_get_invalid_argument(server):
    bearer = access(server)
    cases = {
        "Field sessionFoo is not a valid dimension": body(dimensions=[{"name": "sessionFoo"}]),
        "Field revenue is not a valid metric": body(metrics=[{"name": "revenue"}]),
        'Unknown name "pageSize"': body(pageSize=10),
        "Must specify at least one date range": body(dateRanges=[]),
        "is after endDate": body(dateRanges=[{"startDate": "2025-03-02", "endDate": "2025-03-01"}]),
        "must be a dimension in the request": body(orderBys=[{"dimension": {"dimensionName": "sessionMedium"}}],
                                                   dimensions=[{"name": "date"}]),
    }
    for words, request in cases.items():
        answer = report(server, request, bearer=bearer)
        assert answer.status_code == 400, words
        error = answer.json()["error"]
        assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and words in error["message"]


def test_offset_paging_covers_every_row_once_with_a_constant_row_count(server, spec, world):
    bearer = access(server)
    first = report(server, body(limit=500, returnPropertyQuota=True), bearer=bearer).json()
    assert first["kind"] == "analyticsData#runReport"
    assert first["metadata"] == {"currencyCode": "EUR", "timeZone": "Europe/Berlin"}
    assert [h["type"] for h in first["metricHeaders"]] == ["TYPE_INTEGER"] * 3 + ["TYPE_CURRENCY"]
    assert first["propertyQuota"]["tokensPerHour"]["consumed"] >= 1
    assert first["propertyQuota"]["concurrentRequests"]["remaining"] == 10
    total = first["rowCount"]
    rows, offset = list(first["rows"]), len(first["rows"])
    while offset < total:
        page = report(server, body(limit=500, offset=str(offset)), bearer=bearer).json()  # int64 as a string
        assert page["rowCount"] == total
        rows += page["rows"]
        offset += len(page["rows"])
    assert offset // 500 >= 2
    keys = [tuple(v["value"] for v in r["dimensionValues"][:4]) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) == total
    truth = traffic_truth(spec, world.shop(SHOP))
    assert total == truth["rows"]
    assert sum(int(r["metricValues"][0]["value"]) for r in rows) == truth["sessions"]
    assert sum(Decimal(r["metricValues"][3]["value"]) for r in rows) == truth["purchase_revenue"]
    beyond = report(server, body(offset=total + 10), bearer=bearer).json()
    assert "rows" not in beyond and beyond["rowCount"] == total


def test_aggregated_report_with_filter_and_totals(server, spec, world):
    request = {"dateRanges": [{"startDate": "2025-02-01", "endDate": "2025-02-28"}],
               "dimensions": [{"name": "sessionDefaultChannelGroup"}],
               "metrics": [{"name": "keyEvents"}, {"name": "purchaseRevenue"}],
               "dimensionFilter": {"filter": {"fieldName": "sessionDefaultChannelGroup",
                                              "inListFilter": {"values": ["Direct", "Email"]}}},
               "metricAggregations": ["TOTAL"]}
    answer = report(server, request).json()
    assert {r["dimensionValues"][0]["value"] for r in answer["rows"]} == {"Direct", "Email"}
    rows = Ga4Property(spec, world.shop(SHOP), ga4_options(spec.shop(SHOP))).rows()
    feb = rows.filter((pl.col("date") <= date(2025, 2, 28)) & pl.col("channel_group").is_in(["Direct", "Email"]))
    total = answer["totals"][0]
    assert total["dimensionValues"] == [{"value": "RESERVED_TOTAL"}]
    assert int(total["metricValues"][0]["value"]) == feb["conversions"].sum()
    assert Decimal(total["metricValues"][1]["value"]) == Decimal(int(feb["revenue_cents"].sum())).scaleb(-2)
    empty = report(server, {**request, "dateRanges": [{"startDate": "2020-01-01", "endDate": "2020-01-31"}]}).json()
    assert "rows" not in empty and "rowCount" not in empty


def test_recent_days_are_still_processing_before_the_end(server, spec, world):
    as_of = spec.start + timedelta(days=40, hours=12)
    control(server, "POST", "clock", as_of=as_of.isoformat())
    try:
        answer = report(server, body(limit=100000)).json()
    finally:
        control(server, "POST", "clock")
    interim = traffic_truth(spec, world.shop(SHOP), as_of=as_of)
    final = traffic_truth(spec, world.shop(SHOP))
    got = sum(int(r["metricValues"][2]["value"]) for r in answer["rows"])
    assert got == interim["conversions"]
    last = max(interim["per_date"])
    assert last <= as_of.date()
    assert interim["per_date"][last]["conversions"] < final["per_date"][last]["conversions"]
    settled = last - timedelta(days=3)
    assert interim["per_date"][settled] == final["per_date"][settled]


def test_property_token_bucket_answers_resource_exhausted(server):
    bearer = access(server)
    control(server, "POST", "ratelimit", api="ga4", rate=0.01, burst=2, shop=SHOP)
    try:
        statuses = [report(server, body(limit=10), bearer=bearer) for _ in range(4)]
    finally:
        control(server, "POST", "ratelimit", api="ga4", rate=40000, burst=40000)
    assert [r.status_code for r in statuses] == [200, 200, 429, 429]
    error = statuses[2].json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED" and "tokens per hour" in error["message"]
    assert control(server, "GET", "stats")["apis"]["ga4"]["throttled"][SHOP]["tokensPerHour"] == 2
