"""The price-intelligence twin: the feed it derives from a shop's world (who is tracked, at what price, which
SKUs are undercut on the last days) and its API over real HTTP (API key, cursor pages, the clock, 400/401/429
answers, injected faults, one account never seeing another's offers).

Prices are checked against our own list prices from the world's catalogue (``variants.price_cents``), with exact
integer arithmetic; pages are checked against the feed frame, offer by offer.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import requests

from sandbox.competitor_prices import CompetitorPricesOptions, competitor_feed
from sandbox.competitor_prices.feed import _derive
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world

SHOP, OTHER = "teashop", "gearshop"
OTHER_KEY = "cpi_custom_key_gearshop"
OTHER_OPTIONS = {"api_key": OTHER_KEY, "history_days": 30, "competitors": 3, "undercut_share": 0.5,
                 "max_undercut": 3}
START, DAYS = date(2025, 1, 1), 150  # last day 2025-05-30; the default 90-day history starts 2025-03-02


@pytest.fixture(scope="module")
def spec() -> WorldSpec:
    return WorldSpec(seed=11, start_date=START, days=DAYS, shops=[
        ShopSpec(handle=SHOP, name="Tea Shop", currency="EUR", timezone="Europe/Berlin",
                 access_token="shpat_sandbox_teashop", orders_per_day=3, n_products=15),
        ShopSpec(handle=OTHER, name="Gear Shop", currency="USD", timezone="America/New_York",
                 access_token="shpat_sandbox_gearshop", orders_per_day=2, n_products=6,
                 channels={"competitor_prices": OTHER_OPTIONS}),
    ])


@pytest.fixture(scope="module")
def world(spec):
    return build_world(spec)


@pytest.fixture(scope="module")
def feed(spec, world):
    return competitor_feed(spec, world.shop(SHOP))


@pytest.fixture(scope="module")
def server(spec):
    """One sandbox for the read-only tests (tests that throttle or inject faults start their own)."""
    with SandboxServer(spec, port=0) as running:
        yield running


def offers(server, key: str = f"cpi_sandbox_{SHOP}", **params) -> requests.Response:
    return requests.get(f"{server.base_url}/competitor_prices/v1/offers", params=params,
                        headers={"X-API-Key": key} if key else {}, timeout=10)


def account(server, key: str = f"cpi_sandbox_{SHOP}") -> requests.Response:
    return requests.get(f"{server.base_url}/competitor_prices/v1/account", headers={"X-API-Key": key}, timeout=10)


def control(server, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def every_page(server, key: str = f"cpi_sandbox_{SHOP}", **params) -> tuple[list[dict], int]:
    """Follow next_cursor to the end: (every offer, number of pages)."""
    response, rows, pages = offers(server, key, **params), [], 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["data"]
        pages += 1
        if not body["pagination"]["next_cursor"]:
            return rows, pages
        response = offers(server, key, cursor=body["pagination"]["next_cursor"], limit=params.get("limit", ""))


def price_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# --- the feed ------------------------------------------------------------------------------------------------

def test_the_feed_is_deterministic_and_tracks_every_sku_at_two_or_three_competitors(spec, world, feed):
    again = _derive(spec, build_world(spec).shop(SHOP), CompetitorPricesOptions())
    assert again.offers.equals(feed.offers) and again.undercuts.equals(feed.undercuts)
    shop = world.shop(SHOP)
    assert feed.last_day == date(2025, 5, 30) and feed.first_day == feed.last_day - timedelta(days=89)
    assert feed.currency == "EUR" and len(feed.competitors) == 4
    last = feed.offers.filter(pl.col("observed_date") == feed.last_day)
    assert sorted(last["sku"].unique()) == sorted(shop.variants["sku"])  # every SKU, on the last day
    per_sku = last.group_by("sku").agg(pl.col("competitor").n_unique().alias("n"))
    assert set(per_sku["n"]) <= {2, 3} and set(last["competitor"]) <= set(feed.competitors)
    # our price is the catalogue's list price; one offer per SKU, competitor and day
    ours = dict(zip(shop.variants["sku"], shop.variants["price_cents"], strict=True))
    assert all(ours[s] == o for s, o in feed.offers.select("sku", "our_price_cents").iter_rows())
    assert feed.offers.select("sku", "competitor", "observed_date").is_unique().all()
    assert feed.offers.equals(feed.offers.sort("observed_date", "sku", "competitor"))


def test_a_product_launched_meanwhile_is_tracked_from_the_next_local_day(world, feed):
    shop = world.shop(SHOP)
    launched = shop.products.filter(pl.col("created_at").dt.date() > feed.first_day)
    assert launched.height >= 1
    for product_id, created in launched.select("product_id", "created_at").iter_rows():
        skus = shop.variants.filter(pl.col("product_id") == product_id)["sku"]
        first_seen = feed.offers.filter(pl.col("sku").is_in(skus.implode()))["observed_date"].min()
        local = created.astimezone(ZoneInfo("Europe/Berlin")).date()
        assert local < first_seen <= local + timedelta(days=4)  # the next day, unless a crawl failed


def test_only_the_planted_skus_are_more_than_ten_percent_below_us_on_the_last_days(feed):
    planted = feed.undercuts
    skus = feed.offers["sku"].n_unique()
    assert planted.height == min(8, max(2, round(0.035 * skus))) == 2  # few SKUs: min_undercut
    for day in (feed.last_day - timedelta(days=1), feed.last_day):
        below = feed.undercut_on(day)
        assert set(below["sku"]) <= set(planted["sku"])
    last = feed.undercut_on(feed.last_day)
    assert sorted(zip(last["sku"], last["competitor"], strict=True)) == sorted(
        zip(planted["sku"], planted["competitor"], strict=True))
    for row in last.join(planted, on=["sku", "competitor"]).iter_rows(named=True):
        # the planted depth, to the cent: price = round(ours × (1 − depth)), half away from zero
        exact = row["our_price_cents"] * (1_000_000 - row["depth_ppm"])
        assert row["price_cents"] == (2 * exact + 1_000_000) // 2_000_000
        assert 120_000 <= row["depth_ppm"] <= 220_000 and row["in_stock"]
        assert feed.last_day - timedelta(days=3) <= row["from_date"] <= feed.last_day - timedelta(days=1)
    # every other offer of the last week is within −7 % … +9 % of our price; flash sales end before it
    week = feed.offers.filter(pl.col("observed_date") > feed.last_day - timedelta(days=9)).join(
        planted, on=["sku", "competitor"], how="anti")
    assert (week["price_cents"] * 100 >= week["our_price_cents"] * 93 - 50).all()
    assert (week["price_cents"] * 100 <= week["our_price_cents"] * 109 + 50).all()
    history = feed.offers.filter(pl.col("price_cents") * 100 < pl.col("our_price_cents") * 90)
    assert history.height > 0  # there were sales before (the rule must read the latest day only)


def test_shop_options_resize_the_account(spec, world):
    other = competitor_feed(spec, world.shop(OTHER), CompetitorPricesOptions(**OTHER_OPTIONS))
    assert other.currency == "USD" and len(other.competitors) == 3
    assert other.first_day == other.last_day - timedelta(days=29)
    assert other.undercuts.height == 3  # round(0.5 × SKUs) capped at max_undercut


# --- the API ---------------------------------------------------------------------------------------------------

def test_every_page_together_is_the_feed(server, feed):
    rows, pages = every_page(server, observed_from=feed.first_day.isoformat(), limit=400)
    assert pages == -(-feed.offers.height // 400) and len(rows) == feed.offers.height
    expected = feed.offers.iter_rows(named=True)
    for row, truth in zip(rows, expected, strict=True):
        assert row == {"sku": truth["sku"], "product_name": truth["product_name"],
                       "competitor": truth["competitor"], "competitor_url": truth["competitor_url"],
                       "observed_date": truth["observed_date"].isoformat(),
                       "price": price_text(truth["price_cents"]), "currency": "EUR", "in_stock": truth["in_stock"]}
    first = offers(server, observed_from=feed.first_day.isoformat()).json()
    assert first["pagination"]["limit"] == 100 and first["pagination"]["total"] == feed.offers.height
    assert first["meta"] == {"currency": "EUR", "observed_through": feed.last_day.isoformat()}


def test_filters_by_day_range_and_sku(server, feed):
    sku = feed.undercuts["sku"][0]
    body = offers(server, observed_from="2025-05-20", observed_to="2025-05-22", sku=f"{sku},NOT-A-SKU").json()
    truth = feed.offers.filter(pl.col("observed_date").is_between(date(2025, 5, 20), date(2025, 5, 22))
                               & (pl.col("sku") == sku))
    assert [(r["observed_date"], r["competitor"], r["price"]) for r in body["data"]] == [
        (d.isoformat(), c, price_text(p)) for d, c, p in truth.select("observed_date", "competitor", "price_cents")
        .iter_rows()]
    assert body["pagination"] == {"limit": 100, "total": truth.height, "next_cursor": None}


def test_the_account_and_the_clock(spec, feed):
    with SandboxServer(spec, port=0) as server:
        body = account(server).json()
        assert body == {"account": SHOP, "name": "Tea Shop", "currency": "EUR", "competitors": list(feed.competitors),
                        "tracked_skus": feed.offers["sku"].n_unique(), "history_from": feed.first_day.isoformat(),
                        "observed_through": "2025-05-30"}
        # 30 April, 23:30 in Berlin: the 29th is the last whole local day
        control(server, "POST", "clock", as_of="2025-04-30T21:30:00Z")
        assert account(server).json()["observed_through"] == "2025-04-29"
        first = offers(server, observed_from="2025-04-29", limit=50).json()
        assert first["meta"]["observed_through"] == "2025-04-29"
        total = first["pagination"]["total"]
        assert total == feed.offers.filter(pl.col("observed_date") == date(2025, 4, 29)).height
        control(server, "POST", "clock")  # the world's end: the cursor stays on the day it started with
        rows, _ = every_page(server, observed_from="2025-04-29", limit=50)
        assert len(rows) > total
        second = offers(server, cursor=first["pagination"]["next_cursor"], limit=50).json()
        assert second["pagination"]["total"] == total and second["meta"]["observed_through"] == "2025-04-29"
        control(server, "POST", "clock", as_of="2025-02-01T00:00:00Z")  # before the history starts
        assert account(server).json()["observed_through"] is None
        assert offers(server, observed_from="2025-01-01").json()["data"] == []


def test_api_keys_name_the_account_and_accounts_never_mix(server, spec, world):
    for key in (None, "", "cpi_sandbox_nobody", f"cpi_sandbox_{OTHER}"):  # gearshop's key is its custom one
        response = offers(server, key, observed_from="2025-05-01")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    rows, _ = every_page(server, OTHER_KEY, observed_from="2025-01-01", limit=1000)
    other = competitor_feed(spec, world.shop(OTHER), CompetitorPricesOptions(**OTHER_OPTIONS))
    assert len(rows) == other.offers.height and {r["currency"] for r in rows} == {"USD"}
    assert {r["sku"] for r in rows} == set(world.shop(OTHER).variants["sku"])
    assert not {r["sku"] for r in rows} & set(world.shop(SHOP).variants["sku"])
    # a cursor of one account is refused to the other
    cursor = offers(server, observed_from="2025-05-01", limit=1).json()["pagination"]["next_cursor"]
    refused = offers(server, OTHER_KEY, cursor=cursor)
    assert refused.status_code == 400 and refused.json()["error"]["parameter"] == "cursor"
    assert control(server, "GET", "stats")["apis"]["competitor_prices"]["refused_keys"] >= 4


@pytest.mark.parametrize(("params", "parameter"), [
    ({}, "observed_from"), ({"observed_from": "2025-13-01"}, "observed_from"),
    ({"observed_from": "2025-05-02", "observed_to": "2025-05-01"}, "observed_to"),
    ({"observed_from": "2025-05-01", "limit": "1001"}, "limit"),
    ({"observed_from": "2025-05-01", "limit": "0"}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"),
])
def test_bad_parameters_are_named(server, params, parameter):
    response = offers(server, **params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert response.json()["error"]["parameter"] == parameter


def test_the_rate_limit_answers_429_with_retry_after(spec):
    with SandboxServer(spec, port=0) as server:
        control(server, "POST", "ratelimit", api="competitor_prices", rate=0.2, burst=2, shop=SHOP)
        first = offers(server, observed_from="2025-05-30")
        assert first.status_code == 200
        assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "1")
        assert offers(server, observed_from="2025-05-30").status_code == 200
        throttled = offers(server, observed_from="2025-05-30")
        assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "rate_limited"
        assert 4 <= int(throttled.headers["Retry-After"]) <= 5 and throttled.headers["X-RateLimit-Remaining"] == "0"
        assert offers(server, OTHER_KEY, observed_from="2025-05-30").status_code == 200  # its own bucket
        stats = control(server, "GET", "stats")["apis"]["competitor_prices"]
        assert stats["throttled"][SHOP]["api"] == 1
        assert stats["shops"][SHOP] | {"in_flight": 0} == {
            "requests": 3, "throttled": 1, "faults_fired": 0, "faults_fired_by_kind": {}, "in_flight": 0,
            "in_flight_hangs": 0}


def test_injected_faults_come_in_the_apis_own_shape(spec):
    with SandboxServer(spec, port=0) as server:
        control(server, "POST", "faults", api="competitor_prices", shop=SHOP, kind="http_503", count=1)
        control(server, "POST", "faults", api="competitor_prices", shop=SHOP, kind="http_429", count=1, after=1)
        unavailable = offers(server, observed_from="2025-05-30")
        assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "1"
        assert unavailable.json()["error"]["code"] == "unavailable"
        throttled = offers(server, observed_from="2025-05-30")
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
        assert offers(server, observed_from="2025-05-30").status_code == 200
        assert offers(server, OTHER_KEY, observed_from="2025-05-30").status_code == 200  # faults are per account
        book = control(server, "GET", "stats")["apis"]["competitor_prices"]["shops"][SHOP]
        assert book["faults_fired_by_kind"] == {"http_503": 1, "http_429": 1} and book["requests"] == 3
