"""The Meta ads world and its Marketing API twin: the world derived from the ShopWorld (structure, spend,
conversions tied to paid-social first orders, attribution lag), the truth, and the HTTP contract (Insights,
async report runs, paging, OAuth errors and the token exchange, throttling)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
import requests
from pydantic import ValidationError

from sandbox.fx_rates import published_rates
from sandbox.meta_ads import ad_spend_truth
from sandbox.meta_ads.options import MetaAdsOptions, resolve
from sandbox.meta_ads.world import derive_ad_world
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.calendar import Calendar
from sandbox.world.currencies import CURRENCIES

SHOP, OTHER = "adshop", "eushop"
ACCOUNT = "1234567890"
TOKEN = "EAAsandboxAdshopSystemUserToken0"
APP_ID, APP_SECRET = "987654321012345", "sandbox_meta_app_secret_adshop"
ALL_DAYS = json.dumps({"since": "2025-01-01", "until": "2025-04-30"})


@pytest.fixture(scope="module")
def ads_spec() -> WorldSpec:
    return WorldSpec(seed=31, start_date=date(2025, 1, 1), days=100, shops=[
        ShopSpec(handle=SHOP, name="Ad Shop", currency="USD", timezone="America/New_York",
                 access_token="shpat_sandbox_adshop", orders_per_day=30, n_products=10,
                 channels={"meta_ads": {"account_id": f"act_{ACCOUNT}", "daily_budget": "120.00", "app_id": APP_ID,
                                        "app_secret": APP_SECRET, "access_token": TOKEN}}),
        ShopSpec(handle=OTHER, name="EU Shop", currency="EUR", timezone="Europe/Berlin",
                 access_token="shpat_sandbox_eushop", orders_per_day=8, n_products=6, channels={"meta_ads": {}}),
    ])


@pytest.fixture(scope="module")
def ads_world(ads_spec):
    return build_world(ads_spec)


@pytest.fixture
def ads_server(ads_spec):
    with SandboxServer(ads_spec, port=0) as running:
        yield running


def graph(server, method: str, path: str, token: str | None = TOKEN, *, header: bool = True,
          **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token and header else {}
    if token and not header:
        params["access_token"] = token
    url = f"{server.base_url}/meta/v21.0/{path}"
    if method == "POST":
        return requests.post(url, data=params, headers=headers, timeout=30)
    return requests.get(url, params=params, headers=headers, timeout=30)


def control(server, method: str, path: str, **body) -> dict:
    response = requests.request(method, f"{server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
    response.raise_for_status()
    return response.json()


def error(response: requests.Response) -> dict:
    return response.json()["error"]


# --- the world ----------------------------------------------------------------------------------------------

def test_the_ad_world_is_deterministic_and_has_campaigns_that_start_and_stop(ads_spec, ads_world):
    shop = ads_world.shop(SHOP)
    first, again = derive_ad_world(ads_spec, shop), derive_ad_world(ads_spec, build_world(ads_spec).shop(SHOP))
    for frame in ("campaigns", "adsets", "ads", "delivery", "conversions"):
        assert getattr(first, frame).equals(getattr(again, frame)), frame
    campaigns = {r["key"]: r for r in first.campaigns.iter_rows(named=True)}
    assert campaigns["lookalike"]["stop_date"] == date(2025, 1, 1) + timedelta(days=59)  # paused at 60 %
    assert campaigns["catalogue"]["start_date"] == date(2025, 1, 26)  # launched at 25 %
    calendar = Calendar.build(ads_spec, shop.spec)
    promo_days = {d for d, code in zip(calendar.dates, calendar.promo_code, strict=True) if code}
    promo_id = campaigns["promo"]["campaign_id"]
    delivered = set(first.delivery.filter(pl.col("campaign_id") == promo_id)["date"].to_list())
    assert delivered and delivered <= promo_days  # sale pushes run on promotion days only
    d = first.delivery
    assert d.filter((pl.col("spend_cents") <= 0) | (pl.col("clicks") > pl.col("impressions"))).height == 0
    assert d.select(pl.struct("date", "ad_id").is_unique().all()).item()
    daily = d.group_by("date").agg(pl.col("spend_cents").sum())["spend_cents"]
    assert 0.8 * 12_000 < daily.mean() < 1.3 * 12_000  # the daily budget, with seasonality and promotions


def test_conversions_are_the_first_orders_of_paid_social_customers_at_their_totals(ads_spec, ads_world):
    shop = ads_world.shop(SHOP)
    world = derive_ad_world(ads_spec, shop)
    paid = shop.customers.filter((pl.col("acquisition_channel") == "paid_social")
                                 & (pl.col("created_at") >= ads_spec.start))["customer_id"].to_list()
    online = shop.orders.filter(pl.col("channel") == "online_store").sort("created_at", "order_id")
    firsts = {}
    for row in online.iter_rows(named=True):
        if row["customer_id"] in set(paid) and row["customer_id"] not in firsts:
            firsts[row["customer_id"]] = row
    conversions = {r["order_id"]: r for r in world.conversions.iter_rows(named=True)}
    assert len(conversions) == len(firsts) > 100  # every such order, each once (an ad delivered every day)
    for customer, order in firsts.items():
        conversion = conversions[order["order_id"]]
        assert conversion["value_cents"] == order["total_cents"] and conversion["customer_id"] == customer
        lag = conversion["reported_at"] - conversion["ordered_at"]
        assert timedelta(0) <= lag <= timedelta(days=7)
    delivered = set(zip(world.delivery["date"].to_list(), world.delivery["ad_id"].to_list(), strict=True))
    assert all((c["date"], c["ad_id"]) in delivered for c in conversions.values())
    late = sum(1 for c in conversions.values() if c["reported_at"] - c["ordered_at"] > timedelta(hours=6))
    assert 0.2 < late / len(conversions) < 0.5


def test_truth_grows_with_the_clock_and_is_final_after_seven_days(ads_spec, ads_world):
    shop = ads_world.shop(SHOP)
    end = ad_spend_truth(ads_spec, shop)
    clock = ads_spec.start + timedelta(days=50, hours=6)
    now = ad_spend_truth(ads_spec, shop, clock)
    later = ad_spend_truth(ads_spec, shop, clock + timedelta(days=3))
    assert now["pending_conversions"] > 0 and now["final_through"] == max(now["by_date"]) - timedelta(days=7)
    for day, figures in now["by_date"].items():
        assert figures["spend"] == end["by_date"][day]["spend"]  # delivery never changes once reported
        assert figures["conversions"] <= later["by_date"][day]["conversions"] <= end["by_date"][day]["conversions"]
        if day <= now["final_through"]:
            assert figures == end["by_date"][day]
    assert sum(f["conversions"] for f in now["by_date"].values()) == now["conversions"]
    assert sum((f["spend"] for f in now["by_date"].values()), Decimal("0")) == now["spend"]
    assert isinstance(end["conversion_value"], Decimal) and end["currency"] == "USD"


def test_options_are_validated_and_defaulted_deterministically(ads_spec):
    with pytest.raises(ValidationError, match="not a float"):
        MetaAdsOptions.model_validate({"daily_budget": 150.0})
    with pytest.raises(ValidationError):
        MetaAdsOptions.model_validate({"account_id": "act_12x"})
    with pytest.raises(ValidationError):
        MetaAdsOptions.model_validate({"budget": "1.00"})
    first, again = resolve(ads_spec, ads_spec.shop(OTHER)), resolve(ads_spec, ads_spec.shop(OTHER))
    assert first == again and first.account_id.isdigit() and len(first.account_id) == 15
    assert resolve(ads_spec, ads_spec.shop(SHOP)).account_id == ACCOUNT


def test_an_ad_account_may_bill_in_another_currency_than_the_shop(ads_spec, ads_world):
    with pytest.raises(ValidationError, match="unsupported currency"):
        MetaAdsOptions.model_validate({"currency": "JPY"})
    usd_spec = WorldSpec.model_validate({**ads_spec.model_dump(), "shops": [
        {**s.model_dump(), "channels": {"meta_ads": {"currency": "USD"}}} if s.handle == OTHER else s.model_dump()
        for s in ads_spec.shops]})
    shop = build_world(usd_spec).shop(OTHER)  # the EUR shop, its account now billing in USD
    eur, usd = derive_ad_world(ads_spec, ads_world.shop(OTHER)), derive_ad_world(usd_spec, shop)
    assert (eur.currency, usd.currency, ad_spend_truth(usd_spec, shop)["currency"]) == ("EUR", "USD", "USD")
    # the same budget figure is now dollars: the same cents are spent, but CPMs are dollar CPMs (fewer
    # impressions per cent than in euros, by the anchors' 1 EUR = 1.08 USD)
    assert usd.delivery["spend_cents"].to_list() == eur.delivery["spend_cents"].to_list()
    ratio = eur.delivery["impressions"].sum() / usd.delivery["impressions"].sum()
    assert ratio == pytest.approx(CURRENCIES["EUR"].usd / CURRENCIES["USD"].usd, rel=0.01)
    # conversion values: each order's EUR total at the ECB rate of its day (or the business day before)
    rates = published_rates(usd_spec, "EUR", "USD")
    totals = dict(zip(eur.conversions["order_id"].to_list(), eur.conversions["value_cents"].to_list(), strict=True))
    assert usd.conversions.height == len(totals) > 20
    for row in usd.conversions.iter_rows(named=True):
        rate = rates[max(d for d in rates if d <= row["date"])]
        expected = (Decimal(totals[row["order_id"]]) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        assert row["value_cents"] == int(expected), row["order_id"]
    assert usd.conversions["value_cents"].sum() > eur.conversions["value_cents"].sum()  # 1 EUR > 1 USD


# --- the API ------------------------------------------------------------------------------------------------

def test_insights_render_like_meta_and_levels_add_up_to_the_truth(ads_server, ads_spec, ads_world):
    truth = ad_spend_truth(ads_spec, ads_world.shop(SHOP))
    fields = "account_currency,campaign_id,campaign_name,spend,impressions,clicks,actions,action_values"
    by_campaign = graph(ads_server, "GET", f"act_{ACCOUNT}/insights", level="campaign", fields=fields,
                        time_range=ALL_DAYS, limit=100)
    assert by_campaign.status_code == 200
    assert json.loads(by_campaign.headers["x-business-use-case-usage"])[ACCOUNT][0]["type"] == "ads_insights"
    rows = by_campaign.json()["data"]
    assert len(rows) == 5 and "next" not in by_campaign.json()["paging"]
    assert all(r["date_start"] == "2025-01-01" and r["date_stop"] == "2025-04-30" for r in rows)
    assert all(isinstance(r["impressions"], str) and r["spend"].count(".") == 1 and len(r["spend"].split(".")[1]) == 2
               for r in rows)
    assert sum(Decimal(r["spend"]) for r in rows) == truth["spend"]
    assert sum(int(r["clicks"]) for r in rows) == truth["clicks"]
    purchases = [int(a["value"]) for r in rows for a in r.get("actions", [])
                 if a["action_type"] == "offsite_conversion.fb_pixel_purchase"]
    every_type = {a["action_type"] for r in rows for a in r.get("actions", [])}
    assert sum(purchases) == truth["conversions"]
    assert every_type == {"link_click", "offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase"}
    values = [Decimal(a["value"]) for r in rows for a in r.get("action_values", []) if a["action_type"] == "purchase"]
    assert sum(values) == truth["conversion_value"]
    daily = graph(ads_server, "GET", f"act_{ACCOUNT}/insights", level="account", time_increment="1",
                  time_range=json.dumps({"since": "2025-02-01", "until": "2025-02-03"})).json()["data"]
    assert [(r["date_start"], Decimal(r["spend"])) for r in daily] == [
        (d.isoformat(), truth["by_date"][d]["spend"]) for d in (date(2025, 2, 1), date(2025, 2, 2), date(2025, 2, 3))]


def test_an_async_report_run_completes_after_polls_and_pages_with_cursors(ads_server, ads_spec, ads_world):
    truth = ad_spend_truth(ads_spec, ads_world.shop(SHOP))
    created = graph(ads_server, "POST", f"act_{ACCOUNT}/insights", level="ad", time_increment="1",
                    fields="ad_id,spend", time_range=ALL_DAYS)
    run_id = created.json()["report_run_id"]
    early = graph(ads_server, "GET", f"{run_id}/insights")
    assert early.status_code == 400 and error(early)["code"] == 2601
    statuses = [graph(ads_server, "GET", run_id).json() for _ in range(3)]
    assert [(s["async_status"], s["async_percent_completion"]) for s in statuses] == [
        ("Job Not Started", 0), ("Job Running", 33), ("Job Completed", 100)]
    url, pages, seen = f"{ads_server.base_url}/meta/v21.0/{run_id}/insights?limit=400", 0, []
    while url:  # follow paging.next exactly as Meta sends it
        body = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).json()
        pages += 1
        seen += [(r["date_start"], r["ad_id"]) for r in body["data"]]
        url = body["paging"].get("next")
    assert pages >= 3 and len(seen) == len(set(seen)) == truth["rows"]
    bad = graph(ads_server, "GET", f"{run_id}/insights", after="bm9wZQ")
    assert bad.status_code == 400 and error(bad)["code"] == 100
    control(ads_server, "POST", "meta_ads/jobs", shop=SHOP, outcome="fail")
    failing = graph(ads_server, "POST", f"act_{ACCOUNT}/insights", time_range=ALL_DAYS).json()["report_run_id"]
    assert [graph(ads_server, "GET", failing).json()["async_status"] for _ in range(2)] == [
        "Job Not Started", "Job Failed"]


def test_oauth_errors_and_the_long_lived_token_exchange(ads_server, ads_spec):
    path = f"act_{ACCOUNT}/insights"
    missing = graph(ads_server, "GET", path, token=None)
    assert missing.status_code == 400 and error(missing)["code"] == 190
    as_param = graph(ads_server, "GET", path, token="EAAnope", header=False)
    assert as_param.status_code == 400 and error(as_param)["type"] == "OAuthException"
    assert "error_subcode" not in error(as_param) and error(as_param)["fbtrace_id"]
    as_header = graph(ads_server, "GET", path, token="EAAnope")
    assert as_header.status_code == 401 and as_header.headers["WWW-Authenticate"].startswith('OAuth "Facebook')
    other = resolve(ads_spec, ads_spec.shop(OTHER)).access_token
    foreign = graph(ads_server, "GET", path, token=other)
    assert (error(foreign)["code"], error(foreign)["error_subcode"]) == (100, 33)

    control(ads_server, "POST", "faults", api="meta_ads", shop=SHOP, kind="expire_token")
    expired = graph(ads_server, "GET", path)
    assert (expired.status_code, error(expired)["code"], error(expired)["error_subcode"]) == (401, 190, 463)
    assert "Session has expired" in error(expired)["message"]
    exchange = {"grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": APP_SECRET,
                "fb_exchange_token": TOKEN}
    assert error(graph(ads_server, "GET", "oauth/access_token", None, **{**exchange, "client_secret": "x" * 9}))[
        "code"] == 1
    assert error(graph(ads_server, "GET", "oauth/access_token", None, **{**exchange, "client_id": "1" * 15}))[
        "code"] == 101
    assert error(graph(ads_server, "GET", "oauth/access_token", None, **{**exchange, "grant_type": "password"}))[
        "code"] == 100
    granted = graph(ads_server, "GET", "oauth/access_token", None, **exchange).json()
    assert granted["token_type"] == "bearer" and granted["expires_in"] == 60 * 24 * 3600
    assert graph(ads_server, "GET", path, token=granted["access_token"]).status_code == 200
    assert graph(ads_server, "GET", path).status_code == 401  # the expired system-user token stays refused


def test_throttling_answers_meta_business_use_case_limits(ads_server):
    path = f"act_{ACCOUNT}/insights"
    control(ads_server, "POST", "faults", api="meta_ads", shop=SHOP, kind="throttle")
    throttled = graph(ads_server, "GET", path)
    assert throttled.status_code == 400
    assert (error(throttled)["code"], error(throttled)["error_subcode"]) == (80000, 2446079)
    assert error(throttled)["is_transient"] is True
    usage = json.loads(throttled.headers["x-business-use-case-usage"])[ACCOUNT][0]
    assert usage["call_count"] == 100 and usage["estimated_time_to_regain_access"] == 1
    assert graph(ads_server, "GET", path).status_code == 200  # the shop's bucket exists from its first call
    control(ads_server, "POST", "ratelimit", api="meta_ads", shop=SHOP, operation="insights", rate=0.01, burst=1)
    assert graph(ads_server, "GET", path).status_code == 200
    bucket = graph(ads_server, "GET", path)
    assert error(bucket)["code"] == 80000
    assert json.loads(bucket.headers["x-business-use-case-usage"])[ACCOUNT][0]["estimated_time_to_regain_access"] >= 1
    assert control(ads_server, "GET", "stats")["apis"]["meta_ads"]["throttled"][SHOP]["insights"] == 1


def test_parameters_meta_refuses(ads_server):
    path = f"act_{ACCOUNT}/insights"
    assert error(graph(ads_server, "GET", path, fields="spend,revenue"))["code"] == 100
    assert error(graph(ads_server, "GET", path, time_range='{"since": "2025-02-01"}'))["code"] == 100
    assert error(graph(ads_server, "GET", path, time_increment="monthly"))["code"] == 100
    old = graph(ads_server, "GET", path, time_range=json.dumps({"since": "2021-01-01", "until": "2021-02-01"}))
    assert error(old)["code"] == 3018
    stale = requests.get(f"{ads_server.base_url}/meta/v16.0/{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                         timeout=10)
    assert error(stale)["code"] == 2635
    unknown = graph(ads_server, "GET", "act_999999999/insights")
    assert (error(unknown)["code"], error(unknown)["type"]) == (100, "GraphMethodException")
    account = graph(ads_server, "GET", f"act_{ACCOUNT}", fields="currency,timezone_name").json()
    assert account == {"id": f"act_{ACCOUNT}", "currency": "USD", "timezone_name": "America/New_York"}
