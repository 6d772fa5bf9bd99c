"""orchestration/sites/insights.py on a crafted warehouse: two tenants with hand-computed weeks, on DuckDB and on a
throwaway PostgreSQL database, through ``orchestration.warehouse.connect`` as the report site calls it.

Tenant acme (USD). As-of day 2025-03-14 (the latest order day, 2025-03-15, is still filling and left out); last 7
complete days 03-08..03-14 vs 03-01..03-07. Net revenue per channel and product (net line − refunds):

    channel        prior     current   change            product            prior    current   change
    online_store  1000.00    1250.00   +250.00 (+25 %)    BTL Trail Bottle      0.00    150.00   +150.00 (new)
    amazon         800.00     720.00    -80.00 (-10 %)    BNE Beanie           25.00     75.00    +50.00 (+200 %)
    wholesale      300.00     300.00      0.00            JKT Anorak         1100.00   1150.00    +50.00 (tie: by name)
    total         2100.00    2270.00   +170.00 (+8.1 %)   SCK Wool Socks      100.00    130.00    +30.00 (4th: cut)
                                                          CAP Cap             555.00    490.00    -65.00
                                                          MUG Camp Mug        300.00    270.00    -30.00
                                                          STK Sticker          20.00      5.00    -15.00 (< floor 22.70)
Amazon's JKT line has a 50.00 refund (net 450.00); a cancelled, fully refunded MUG order adds 0.00 and no units.
Units sold 03-08..03-14 (not cancelled): online_store 34, amazon 32, wholesale 21 (87); MUG 27, CAP 23, SCK 13,
JKT 12. The forecast over 7 days, mean ± √(Σ series half-width²) where a series' half-width is 7 × its daily
(upper − lower) ÷ 2 (JKT, CAP and SCK series 3.5 each, MUG 7, BNE 1.75): amazon 35 ± √61.25 = [27.17, 42.83],
wholesale 29.75 ± √24.5 = [24.80, 34.70], online_store 28 ± √27.5625 = [22.75, 33.25], total 92.75 ± √113.3125 =
[82.11, 103.39]; MUG 28 ± 7 = [21, 35], CAP 22.75 ± 4.95 = [17.80, 27.70], SCK 21 ± 3.5 = [17.5, 24.5].

Tenant other (EUR) shares SKU JKT and channel codes with other names and far larger numbers, and orders on later
days: none of it may reach acme's insights.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from models_ml.catalogue import model
from orchestration.predictions import ddl
from orchestration.settings import PostgresSettings, Settings
from orchestration.sites.insights import Insight, _money, _pct_text, build_insights
from orchestration.warehouse import connect

D = Decimal
TABLES = (
    "create table marts.dim_tenants (tenant_id varchar, display_name varchar, currency varchar)",
    "create table marts.dim_channels (tenant_id varchar, channel varchar, channel_name varchar)",
    "create table marts.dim_products (tenant_id varchar, sku varchar, title varchar)",
    "create table marts.fct_orders (tenant_id varchar, order_key varchar, channel varchar, order_date date, "
    "is_cancelled boolean, net_revenue_reporting decimal(18,2))",
    "create table marts.fct_order_lines (tenant_id varchar, order_key varchar, channel varchar, order_date date, "
    "sku varchar, quantity integer, is_cancelled boolean, net_line_amount_reporting decimal(18,2), "
    "refunded_amount_reporting decimal(18,2))",
)
TENANTS = [("acme", "Acme Outdoor", "USD"), ("other", "Other Brand", "EUR")]
CHANNELS = [("acme", "online_store", "Online store"), ("acme", "amazon", "Amazon"), ("acme", "wholesale", "Wholesale"),
            ("other", "online_store", "Other Webshop"), ("other", "walmart", "Walmart")]
PRODUCTS = [("acme", sku, title) for sku, title in (
    ("JKT", "Anorak"), ("CAP", "Cap"), ("STK", "Sticker"), ("BNE", "Beanie"), ("MUG", "Camp Mug"),
    ("SCK", "Wool Socks"), ("BTL", "Trail Bottle"))] + [("other", "JKT", "Secret Jacket"),
                                                        ("other", "ZEP", "Zeppelin Kit")]
# tenant, order, day of March 2025 (0 = 20 February), channel, cancelled, lines (sku, quantity, net, refunded)
ORDERS = [
    ("acme", "o0", 0, "online_store", False, [("CAP", 2, "50.00", "0")]),
    ("acme", "o1", 2, "online_store", False, [("JKT", 6, "600.00", "0")]),
    ("acme", "o2", 3, "online_store", False, [("CAP", 20, "355.00", "0"), ("STK", 1, "20.00", "0")]),
    ("acme", "o3", 5, "online_store", False, [("BNE", 1, "25.00", "0")]),
    ("acme", "o4", 4, "amazon", False, [("JKT", 5, "500.00", "0")]),
    ("acme", "o5", 6, "amazon", False, [("MUG", 30, "300.00", "0")]),
    ("acme", "o6", 7, "wholesale", False, [("CAP", 10, "200.00", "0"), ("SCK", 10, "100.00", "0")]),
    ("acme", "o7", 8, "online_store", False, [("JKT", 7, "700.00", "0")]),
    ("acme", "o8", 9, "online_store", False, [("CAP", 15, "320.00", "0"), ("STK", 4, "5.00", "0")]),
    ("acme", "o9", 10, "online_store", False, [("BTL", 5, "150.00", "0")]),
    ("acme", "o10", 14, "online_store", False, [("BNE", 3, "75.00", "0")]),
    ("acme", "o11", 11, "amazon", False, [("JKT", 5, "500.00", "50.00")]),
    ("acme", "o12", 12, "amazon", False, [("MUG", 27, "270.00", "0")]),
    ("acme", "o13", 13, "amazon", True, [("MUG", 4, "40.00", "40.00")]),
    ("acme", "o14", 13, "wholesale", False, [("CAP", 8, "170.00", "0"), ("SCK", 13, "130.00", "0")]),
    ("acme", "o15", 15, "online_store", False, [("JKT", 99, "9999.00", "0")]),  # the day still filling
    ("other", "x1", 1, "walmart", False, [("ZEP", 1, "10.00", "0")]),
    ("other", "x2", 8, "walmart", False, [("ZEP", 7, "77777.77", "0")]),
    ("other", "x3", 15, "online_store", False, [("JKT", 3, "1234.56", "0")]),
    ("other", "x4", 20, "walmart", False, [("ZEP", 1, "5.00", "0")]),
]
# acme's series per day: (sku, channel, mean, lower_80, upper_80), all exact in binary
ACME_FORECAST = [("JKT", "online_store", 1.5, 1.0, 2.0), ("JKT", "amazon", 1.0, 0.5, 1.5),
                 ("MUG", "amazon", 4.0, 3.0, 5.0), ("CAP", "online_store", 2.0, 1.5, 2.5),
                 ("CAP", "wholesale", 1.25, 0.75, 1.75), ("SCK", "wholesale", 3.0, 2.5, 3.5),
                 ("BNE", "online_store", 0.5, 0.25, 0.75)]


def day(n: int) -> date:
    return date(2025, 2, 20) if n == 0 else date(2025, 3, n)


def load_world(con, placeholder: str, *, forecast_from: date | None) -> None:
    """The crafted marts (only the columns insights reads) and, unless ``forecast_from`` is None,
    ml.demand_forecast with the real prediction-table DDL: acme's series from that day on for 13 days."""
    def insert(table: str, rows: list[tuple]) -> None:
        for row in rows:
            con.execute(f"insert into {table} values ({', '.join([placeholder] * len(row))})", list(row))

    con.execute("create schema if not exists marts")
    for statement in TABLES:
        con.execute(statement)
    insert("marts.dim_tenants", TENANTS)
    insert("marts.dim_channels", CHANNELS)
    insert("marts.dim_products", PRODUCTS)
    for tenant, order, n, channel, cancelled, lines in ORDERS:
        net = sum(D(amount) - D(refunded) for _, _, amount, refunded in lines)
        insert("marts.fct_orders", [(tenant, order, channel, day(n), cancelled, net)])
        insert("marts.fct_order_lines", [(tenant, order, channel, day(n), sku, qty, cancelled, D(amount), D(refunded))
                                         for sku, qty, amount, refunded in lines])
    if forecast_from is None:
        return
    spec = model("demand_forecast")
    con.execute("create schema if not exists ml")
    con.execute(ddl(spec.table, spec.columns, spec.key))
    columns = "tenant_id, as_of_date, model_version, run_id, sku, channel, date, horizon_day, units_mean, " \
              "lower_80, upper_80, lower_95, upper_95, model"
    rows = []
    for tenant, series, as_of in (("acme", ACME_FORECAST, forecast_from - timedelta(days=1)),
                                  ("other", [("ZEP", "walmart", 1000.0, 900.0, 1100.0)], date(2025, 3, 20))):
        for h in range(1, 14):
            rows += [(tenant, as_of, 1, "run", sku, channel, as_of + timedelta(days=h), h, mean, lo, hi, lo, hi,
                      "lightgbm") for sku, channel, mean, lo, hi in series]
    for row in rows:
        con.execute(f"insert into ml.demand_forecast ({columns}) values ({', '.join([placeholder] * 14)})",
                    list(row))


def duckdb_settings(path) -> Settings:
    return Settings(profile="embedded", home=path, duckdb_path=path / "w.duckdb", tenants_file=path / "t.yaml",
                    postgres=PostgresSettings("127.0.0.1", 5432, "postgres", "", "unused"))


def insights_on_duckdb(tmp_path, *, forecast_from: date | None) -> dict[str, list[Insight]]:
    settings = duckdb_settings(tmp_path)
    with connect(settings, read_only=False) as con:
        load_world(con, "?", forecast_from=forecast_from)
    with connect(settings) as con:
        return {tenant: build_insights(con, tenant) for tenant in ("acme", "other")}


AHEAD = "2025-03-16 to 2025-03-22"
EXPECTED_WOW = [
    Insight("wow_total", "tenant", "Net revenue rose 8.1% week over week, from $2,100.00 to $2,270.00 (+$170.00), "
            "in the 7 days to 2025-03-14 (8 orders vs 6).", D("2270.00"), D("2100.00"), D(170) / D(2100) * 100, 1),
    Insight("wow_channel_up", "online_store", "Online store net revenue rose 25.0% week over week, from $1,000.00 "
            "to $1,250.00 (+$250.00).", D("1250.00"), D("1000.00"), D(25), 1),
    Insight("wow_channel_down", "amazon", "Amazon net revenue fell 10.0% week over week, from $800.00 to $720.00 "
            "(-$80.00).", D("720.00"), D("800.00"), D(-10), 1),
    Insight("wow_product_up", "BTL", "Trail Bottle (BTL) is new this week: net revenue $150.00 in the last 7 days, "
            "none in the prior 7 (+$150.00).", D("150.00"), D(0), None, 1),
    Insight("wow_product_up", "JKT", "Anorak (JKT) net revenue rose 4.5% week over week, from $1,100.00 to "
            "$1,150.00 (+$50.00).", D("1150.00"), D("1100.00"), D(50) / D(1100) * 100, 2),
    Insight("wow_product_up", "BNE", "Beanie (BNE) net revenue rose 200.0% week over week, from $25.00 to $75.00 "
            "(+$50.00).", D("75.00"), D("25.00"), D(200), 3),
    Insight("wow_product_down", "CAP", "Cap (CAP) net revenue fell 11.7% week over week, from $555.00 to $490.00 "
            "(-$65.00).", D("490.00"), D("555.00"), D(-65) / D(555) * 100, 1),
    Insight("wow_product_down", "MUG", "Camp Mug (MUG) net revenue fell 10.0% week over week, from $300.00 to "
            "$270.00 (-$30.00).", D("270.00"), D("300.00"), D(-10), 2),
]
EXPECTED_AHEAD = [
    Insight("forecast_ahead_total", "tenant", f"Demand forecast for the coming 7 days ({AHEAD}): 92.8 units (80% "
            "interval 82.1–103.4), 6.6% above the 87 units sold in the last 7 days.",
            D("92.75"), D(87), D("5.75") / D(87) * 100, 1),
    Insight("forecast_ahead_channel", "amazon", f"Amazon demand forecast for the coming 7 days ({AHEAD}): 35.0 "
            "units (80% interval 27.2–42.8), 9.4% above the 32 units sold in the last 7 days.",
            D(35), D(32), D("9.375"), 1),
    Insight("forecast_ahead_channel", "wholesale", f"Wholesale demand forecast for the coming 7 days ({AHEAD}): "
            "29.8 units (80% interval 24.8–34.7), 41.7% above the 21 units sold in the last 7 days.",
            D("29.75"), D(21), D("8.75") / D(21) * 100, 2),
    Insight("forecast_ahead_channel", "online_store", f"Online store demand forecast for the coming 7 days ({AHEAD}): "
            "28.0 units (80% interval 22.8–33.3), 17.6% below the 34 units sold in the last 7 days.",
            D(28), D(34), D(-6) / D(34) * 100, 3),
    Insight("forecast_ahead_product", "MUG", f"Camp Mug (MUG) demand forecast for the coming 7 days ({AHEAD}): 28.0 "
            "units (80% interval 21.0–35.0), 3.7% above the 27 units sold in the last 7 days.",
            D(28), D(27), D(1) / D(27) * 100, 1),
    Insight("forecast_ahead_product", "CAP", f"Cap (CAP) demand forecast for the coming 7 days ({AHEAD}): 22.8 "
            "units (80% interval 17.8–27.7), 1.1% below the 23 units sold in the last 7 days.",
            D("22.75"), D(23), D("-0.25") / D(23) * 100, 2),
    Insight("forecast_ahead_product", "SCK", f"Wool Socks (SCK) demand forecast for the coming 7 days ({AHEAD}): "
            "21.0 units (80% interval 17.5–24.5), 61.5% above the 13 units sold in the last 7 days.",
            D(21), D(13), D(8) / D(13) * 100, 3),
]
PAST = "2025-03-08 to 2025-03-14"
EXPECTED_BACKTEST = [
    Insight("vs_forecast_total", "tenant", f"Units sold {PAST}: 87 vs 92.8 forecast, 6.2% below the forecast and "
            "within its 80% interval 82.1–103.4.", D(87), D("92.75"), D("-5.75") / D("92.75") * 100, 1),
    Insight("vs_forecast_channel", "amazon", f"Amazon units sold {PAST}: 32 vs 35.0 forecast, 8.6% below the "
            "forecast and within its 80% interval 27.2–42.8.", D(32), D(35), D(-3) / D(35) * 100, 1),
    Insight("vs_forecast_channel", "wholesale", f"Wholesale units sold {PAST}: 21 vs 29.8 forecast, 29.4% below the "
            "forecast and below its 80% interval 24.8–34.7.", D(21), D("29.75"), D("-8.75") / D("29.75") * 100, 2),
    Insight("vs_forecast_channel", "online_store", f"Online store units sold {PAST}: 34 vs 28.0 forecast, 21.4% "
            "above the forecast and above its 80% interval 22.8–33.3.", D(34), D(28), D(6) / D(28) * 100, 3),
    Insight("vs_forecast_product", "MUG", f"Camp Mug (MUG) units sold {PAST}: 27 vs 28.0 forecast, 3.6% below the "
            "forecast and within its 80% interval 21.0–35.0.", D(27), D(28), D(-1) / D(28) * 100, 1),
    Insight("vs_forecast_product", "CAP", f"Cap (CAP) units sold {PAST}: 23 vs 22.8 forecast, 1.1% above the "
            "forecast and within its 80% interval 17.8–27.7.", D(23), D("22.75"), D("0.25") / D("22.75") * 100, 2),
    Insight("vs_forecast_product", "SCK", f"Wool Socks (SCK) units sold {PAST}: 13 vs 21.0 forecast, 38.1% below "
            "the forecast and below its 80% interval 17.5–24.5.", D(13), D(21), D(-8) / D(21) * 100, 3),
]
OTHER_NAMES = ("Other", "Secret", "Zeppelin", "ZEP", "Walmart", "walmart", "Webshop", "€", "77,777", "1,234.56",
               "9,999", "7,000")


def assert_acme_only(insights: list[Insight]) -> None:
    for insight in insights:
        assert not [name for name in OTHER_NAMES if name in insight.sentence or name == insight.subject], insight


def test_week_over_week_and_the_coming_weeks_forecast(tmp_path):
    # the forecast was made on the latest order day (03-15): it only covers the days after it
    insights = insights_on_duckdb(tmp_path, forecast_from=date(2025, 3, 16))
    assert insights["acme"] == EXPECTED_WOW + EXPECTED_AHEAD
    assert_acme_only(insights["acme"])
    other = insights["other"]
    assert other[0].sentence == ("Net revenue fell 98.4% week over week, from €77,777.77 to €1,234.56 (-€76,543.21), "
                                 "in the 7 days to 2025-03-19 (1 order vs 1).")
    assert [i.kind for i in other if i.kind.startswith("forecast")] == [
        "forecast_ahead_total", "forecast_ahead_channel", "forecast_ahead_product"]
    assert other[-1].sentence == ("Zeppelin Kit (ZEP) demand forecast for the coming 7 days (2025-03-21 to "
                                  "2025-03-27): 7,000.0 units (80% interval 6,300.0–7,700.0), with none sold in the "
                                  "last 7 days.")


def test_last_weeks_units_against_a_forecast_that_covers_them(tmp_path):
    insights = insights_on_duckdb(tmp_path, forecast_from=date(2025, 3, 8))
    assert insights["acme"] == EXPECTED_WOW + EXPECTED_BACKTEST
    assert_acme_only(insights["acme"])


def test_without_a_forecast_table_only_week_over_week(tmp_path):
    insights = insights_on_duckdb(tmp_path, forecast_from=None)
    assert insights["acme"] == EXPECTED_WOW
    assert not [i for i in insights["other"] if "forecast" in i.kind]


def test_unknown_and_invalid_tenants(tmp_path):
    settings = duckdb_settings(tmp_path)
    with connect(settings, read_only=False) as con:
        load_world(con, "?", forecast_from=None)
    with connect(settings) as con:
        assert build_insights(con, "nobody") == []
        with pytest.raises(ValueError, match="'acme; drop'.*not a valid tenant slug"):
            build_insights(con, "acme; drop")


def test_money_and_percent_formatting():
    assert _money(D("-2270.5"), "USD", signed=True) == "-$2,270.50"
    assert _money(D("1234567.89"), "GBP", signed=True) == "+£1,234,567.89"
    assert _money(D("12"), "CHF") == "CHF 12.00"
    assert _pct_text(D("0.25")) == "0.3%"  # half up, not half even
    assert _pct_text(D("-18.449999")) == "18.4%"


@pytest.fixture
def pg_url() -> Iterator:
    from tests.support.databases import throwaway_database

    yield from throwaway_database("postgresql")


def test_the_same_insights_on_postgresql(tmp_path, pg_url):
    settings = Settings(profile="production", home=tmp_path, duckdb_path=tmp_path / "unused.duckdb",
                        tenants_file=tmp_path / "t.yaml",
                        postgres=PostgresSettings(pg_url.host, pg_url.port, pg_url.username, "", pg_url.database))
    with connect(settings, read_only=False) as con:
        load_world(con, "%s", forecast_from=date(2025, 3, 16))
    with connect(settings) as con:
        acme = build_insights(con, "acme")
        other = build_insights(con, "other")
    assert acme == EXPECTED_WOW + EXPECTED_AHEAD
    assert other == insights_on_duckdb(tmp_path, forecast_from=date(2025, 3, 16))["other"]
