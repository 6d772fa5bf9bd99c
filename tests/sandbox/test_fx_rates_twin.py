"""The Frankfurter (ECB reference rates) twin over real HTTP: the business-day calendar, weekend and holiday
answers, cross rates as Frankfurter computes them, the publication time on the sandbox clock, its error
answers, and faults through the shared framework.

Expected numbers come from hand-known dates (Easter, TARGET holidays) and from the base=EUR answers recomputed
here with exact Decimal arithmetic and Frankfurter's rounding rule, not from the twin's own cross-rate code.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
import requests

from sandbox.fx_rates import published_rates, reference_rates
from sandbox.fx_rates.business_days import business_days, easter_sunday, published_at
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec
from sandbox.world.currencies import CURRENCIES

START, DAYS = date(2024, 12, 1), 160  # Christmas, New Year, Easter 2025 (18–21 April) and 1 May inside


@pytest.fixture(scope="module")
def spec() -> WorldSpec:
    return WorldSpec(seed=31, start_date=START, days=DAYS, shops=[
        ShopSpec(handle="fxshop", name="FX Shop", currency="EUR", timezone="Europe/Berlin", access_token="shpat_fx",
                 orders_per_day=2, wholesale_orders_per_week=0, n_products=4)])


@pytest.fixture(scope="module")
def server(spec):
    with SandboxServer(spec, port=0) as running:
        yield running


@pytest.fixture
def clock(server):
    """Set the sandbox clock for one test; back to the world's end afterwards."""
    def set_clock(as_of: str) -> None:
        requests.post(f"{server.base_url}/_sandbox/clock", json={"as_of": as_of}, timeout=10).raise_for_status()
    yield set_clock
    requests.post(f"{server.base_url}/_sandbox/clock", json={}, timeout=10).raise_for_status()


def fx(server, path: str, **params) -> requests.Response:
    return requests.get(f"{server.base_url}/fx/v1/{path}", params=params, timeout=10)


def ok(server, path: str, **params) -> dict:
    response = fx(server, path, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.json(parse_float=Decimal, parse_int=Decimal)


def frankfurter_round(value: Decimal) -> Decimal:
    """Frankfurter's quoting precision (lib/roundable.rb), on an exact decimal."""
    places = (0 if value > 5000 else 2 if value > 80 else 3 if value > 20 else 4 if value > 1
              else 5 if value > Decimal("0.0001") else 6)
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def test_the_business_day_calendar_is_target2():
    assert [easter_sunday(y) for y in (2024, 2025, 2026)] == [date(2024, 3, 31), date(2025, 4, 20), date(2026, 4, 5)]
    # 23 Dec 2024 .. 3 Jan 2025: closed on both Christmas days, New Year's Day and the weekend
    assert business_days(date(2024, 12, 23), date(2025, 1, 3)) == [
        date(2024, 12, 23), date(2024, 12, 24), date(2024, 12, 27), date(2024, 12, 30), date(2024, 12, 31),
        date(2025, 1, 2), date(2025, 1, 3)]
    # Easter week 2025 and Labour Day
    assert business_days(date(2025, 4, 16), date(2025, 5, 2)) == [
        date(2025, 4, 16), date(2025, 4, 17), date(2025, 4, 22), date(2025, 4, 23), date(2025, 4, 24),
        date(2025, 4, 25), date(2025, 4, 28), date(2025, 4, 29), date(2025, 4, 30), date(2025, 5, 2)]
    # 16:00 in Frankfurt: 15:00 UTC in winter, 14:00 UTC in summer
    assert published_at(date(2025, 1, 15)).isoformat() == "2025-01-15T15:00:00+00:00"
    assert published_at(date(2025, 4, 30)).isoformat() == "2025-04-30T14:00:00+00:00"


def test_a_series_has_no_weekend_or_holiday_and_starts_before_the_world(server, spec):
    body = ok(server, f"{START - timedelta(days=30)}..{START + timedelta(days=DAYS - 1)}")
    days = [date.fromisoformat(d) for d in body["rates"]]
    assert body["base"] == "EUR" and body["amount"] == 1
    assert days[0] < START  # a lead-in: the world's first day has a previous business day's rate
    assert days == business_days(days[0], days[-1])
    assert all(d.weekday() < 5 for d in days)
    for closed in (date(2024, 12, 25), date(2024, 12, 26), date(2025, 1, 1), date(2025, 4, 18), date(2025, 4, 21),
                   date(2025, 5, 1)):
        assert closed not in days
    # every currency the sandbox knows, per euro, near its anchor (EUR.usd / code.usd)
    assert set(body["rates"][days[-1].isoformat()]) == set(CURRENCIES) - {"EUR"}
    for code in set(CURRENCIES) - {"EUR"}:
        anchor = Decimal(str(CURRENCIES["EUR"].usd / CURRENCIES[code].usd))
        for rates in body["rates"].values():
            assert abs(rates[code] / anchor - 1) < Decimal("0.2"), code
    # the twin's frame is what it serves, digit for digit
    assert {date.fromisoformat(d): r["USD"] for d, r in body["rates"].items()} == published_rates(spec, "EUR", "USD")


def test_a_closed_day_answers_the_previous_business_day(server):
    assert ok(server, "2025-04-19", symbols="USD")["date"] == "2025-04-17"  # Easter Saturday → Maundy Thursday
    assert ok(server, "2025-04-21", symbols="USD")["date"] == "2025-04-17"  # Easter Monday
    assert ok(server, "2025-01-01", symbols="USD")["date"] == "2024-12-31"
    saturday = ok(server, "2025-01-04", symbols="USD,GBP")
    friday = ok(server, "2025-01-03", symbols="USD,GBP")
    assert saturday == friday and saturday["date"] == "2025-01-03" and list(saturday["rates"]) == ["GBP", "USD"]
    # a series starting on a weekend starts on the Friday before it (Frankfurter issue #71)
    weekend = ok(server, "2025-01-04..2025-01-07", symbols="USD")
    assert list(weekend["rates"]) == ["2025-01-03", "2025-01-06", "2025-01-07"]
    assert weekend["start_date"] == "2025-01-03" and weekend["end_date"] == "2025-01-07"


def test_cross_rates_are_rounded_quotients_of_the_rounded_euro_rates(server):
    for day in ("2025-01-15", "2025-03-03", "2025-04-30"):
        eur = ok(server, day)["rates"]
        for base, quote in (("GBP", "USD"), ("USD", "GBP"), ("SEK", "NOK"), ("CAD", "CHF"), ("PLN", "DKK")):
            got = ok(server, day, base=base, symbols=quote)
            assert got["base"] == base and got["date"] == day
            assert got["rates"] == {quote: frankfurter_round(eur[quote] / eur[base])}, (day, base, quote)
        # into the euro: 1 / the day's rate, rounded the same way
        assert ok(server, day, base="USD", symbols="EUR")["rates"] == {"EUR": frankfurter_round(1 / eur["USD"])}
        # every currency at once, rebased: EUR included, sorted by code
        usd = ok(server, day, base="USD")["rates"]
        assert list(usd) == sorted(set(CURRENCIES) - {"USD"})
        assert usd["GBP"] == frankfurter_round(eur["GBP"] / eur["USD"])
        # an amount: round(amount × round(amount × q) / round(amount × b)), as Frankfurter does
        hundred = ok(server, day, base="GBP", symbols="USD", amount="100")
        assert hundred["amount"] == 100
        assert hundred["rates"]["USD"] == frankfurter_round(
            100 * frankfurter_round(100 * eur["USD"]) / frankfurter_round(100 * eur["GBP"]))


def test_todays_rate_appears_only_after_16_00_in_frankfurt(server, clock):
    clock("2025-01-15T14:59:59Z")  # winter: publication at 15:00 UTC
    assert ok(server, "latest", symbols="USD")["date"] == "2025-01-14"
    assert ok(server, "2025-01-15", symbols="USD")["date"] == "2025-01-14"
    assert fx(server, "2025-01-16", symbols="USD").status_code == 404  # after today
    assert ok(server, "2025-01-10..", symbols="USD")["end_date"] == "2025-01-14"
    clock("2025-01-15T15:00:00Z")
    assert ok(server, "latest", symbols="USD")["date"] == "2025-01-15"
    clock("2025-04-30T13:59:00Z")  # summer: publication at 14:00 UTC
    assert ok(server, "2025-04-28..2025-04-30", base="USD", symbols="EUR")["end_date"] == "2025-04-29"
    clock("2025-04-30T14:00:00Z")
    assert ok(server, "2025-04-28..2025-04-30", base="USD", symbols="EUR")["end_date"] == "2025-04-30"
    clock("2025-05-01T12:00:00Z")  # Labour Day: nothing new
    assert ok(server, "latest")["date"] == "2025-04-30"
    clock("2025-05-03T09:00:00Z")  # a series that starts after today: nothing
    body = fx(server, "2025-05-05..", symbols="USD")
    assert (body.status_code, body.json()) == (404, {"message": "not found"})


def test_frankfurters_refusals(server):
    cases = {
        ("latest", (("symbols", "XXX"),)): (404, "not found"),  # an unknown symbol
        ("latest", (("base", "XXX"), ("symbols", "EUR"))): (404, "not found"),  # an unknown base
        ("latest", (("base", "JPY"),)): (404, "not found"),  # a real currency this ECB does not quote
        ("2024-01-01..2024-06-30", (("symbols", "USD"),)): (404, "not found"),  # before the first rate
        ("2020-01-01", ()): (404, "not found"),
        ("2025-13-01", ()): (422, "invalid date"),
        ("2025-02-30..2025-03-10", ()): (422, "invalid date"),
        ("latest", (("base", "USD"), ("symbols", "USD"))): (422, "bad currency pair"),
        ("latest", (("amount", "0"),)): (422, "invalid amount"),
        ("latest", (("amount", "abc"),)): (422, "invalid amount"),
    }
    for (path, params), (status, text) in cases.items():
        response = fx(server, path, **dict(params))
        assert (response.status_code, response.json()) == (status, {"message": text}), (path, params)
    assert fx(server, "nothing-here").status_code == 404
    # unknown symbols beside known ones are left out; lower case is read as upper case
    assert list(ok(server, "2025-02-03", base="usd", symbols="eur,XXX,gbp")["rates"]) == ["EUR", "GBP"]
    names = ok(server, "currencies")
    assert set(names) == set(CURRENCIES) and names["USD"] == "United States Dollar"


def test_faults_and_rate_limits_through_the_shared_controls(server):
    control = f"{server.base_url}/_sandbox"
    requests.post(f"{control}/faults", json={"api": "fx_rates", "kind": "http_503", "count": 1},
                  timeout=10).raise_for_status()
    requests.post(f"{control}/faults", json={"api": "fx_rates", "kind": "http_429", "count": 1, "after": 1},
                  timeout=10).raise_for_status()
    first, second = fx(server, "latest"), fx(server, "latest")
    assert (first.status_code, first.headers["Retry-After"], first.json()["message"]) == (
        503, "1", "Service Unavailable (injected)")
    assert (second.status_code, second.headers["Retry-After"]) == (429, "1")
    assert fx(server, "latest").status_code == 200
    stats = requests.get(f"{control}/stats", timeout=10).json()["apis"]["fx_rates"]["shops"]["*"]
    assert stats["faults_fired_by_kind"] == {"http_503": 1, "http_429": 1}
    # the API's own limit (nginx limit_req: a bare 429 without Retry-After)
    requests.post(f"{control}/ratelimit", json={"api": "fx_rates", "rate": 0.01, "burst": 1},
                  timeout=10).raise_for_status()
    try:
        assert fx(server, "latest").status_code == 200
        throttled = fx(server, "latest")
        assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    finally:
        requests.post(f"{control}/ratelimit", json={"api": "fx_rates", "rate": 50, "burst": 500},
                      timeout=10).raise_for_status()


def test_the_series_is_deterministic_per_seed(spec):
    again = WorldSpec.model_validate({**spec.model_dump(), "shops": [s.model_dump() for s in spec.shops]})
    assert reference_rates(again) is reference_rates(spec)  # cached per seed and span
    other = spec.model_copy(update={"seed": spec.seed + 1})
    assert published_rates(other, "EUR", "USD") != published_rates(spec, "EUR", "USD")
    assert len(published_rates(spec, "GBP", "EUR")) == len(reference_rates(spec).days)
