"""Each rule kind fires on crafted data and stays silent on normal data, with its numbers computed by hand, on
DuckDB and on PostgreSQL (the same SQL). Every table also holds another tenant's rows that would fire (or change
the numbers) if a rule ever read outside its tenant's slice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import TypeAdapter

from orchestration.alerts.rules import Rule, Scope, service_z
from orchestration.warehouse import connect
from tests.alerts.conftest import days

T, OTHER = "acme", "globex"
SCOPE = Scope(T, "USD")
FIRST = date(2025, 2, 1)  # the crafted data run from here to 2025-03-14 (42 days)
END = date(2025, 3, 14)
rule = TypeAdapter(Rule).validate_python


def evaluate(warehouse, spec: dict):
    with connect(warehouse.settings) as con:
        return rule(spec).evaluate(con, SCOPE)


def sales(warehouse, tenant: str = T, net: str = "1000.00", orders: int = 10, last: date = END) -> None:
    warehouse.insert("marts.cube_channel_daily", [(tenant, d, "online_store", Decimal(net), orders, Decimal("0"),
                                                   Decimal("0")) for d in days(FIRST, (last - FIRST).days + 1)])


def spend(warehouse, per_day: dict[date, str], tenant: str = T) -> None:
    warehouse.insert("marts.fct_ad_spend", [(tenant, d, "online_store", Decimal(v)) for d, v in per_day.items()])


def customers(on: date, count: int, tenant: str = T, order_count: int = 1) -> list[tuple]:
    return [(tenant, f"{tenant}-{on}-{order_count}-{i}", on, order_count) for i in range(count)]


def cac_world(warehouse, prior_spend: str, current_spend: str) -> None:
    """Prior week (2025-03-01..07) and current week (03-08..14): 2 new customers a day in each, plus customers
    whose only orders were cancelled (never acquired) and another tenant's expensive week."""
    sales(warehouse)
    spend(warehouse, {d: prior_spend for d in days(date(2025, 3, 1), 7)}
          | {d: current_spend for d in days(date(2025, 3, 8), 7)})
    warehouse.insert("marts.dim_customers", [row for d in days(date(2025, 3, 1), 14)
                                             for row in customers(d, 2) + customers(d, 1, order_count=0)]
                     + customers(END, 1, OTHER))
    sales(warehouse, OTHER)
    spend(warehouse, {d: "9999.00" for d in days(date(2025, 3, 8), 7)}, OTHER)


THRESHOLD = {"name": "cac_ceiling", "kind": "threshold", "metric": "blended_cac", "op": "above", "value": "30"}


def test_threshold_fires_above_and_stays_silent_below(warehouse):
    cac_world(warehouse, prior_spend="50.00", current_spend="70.00")  # current week: 490.00 / 14 = 35.00
    (finding,) = evaluate(warehouse, THRESHOLD)
    assert (finding.rule, finding.kind, finding.subject, finding.window) == (
        "cac_ceiling", "threshold", "tenant", "2025-03-08..2025-03-14")
    assert (finding.observed, finding.reference) == (Decimal("35.0000"), Decimal("30.0000"))
    assert finding.message == ("Blended CAC was 35.00 USD over the 7 days to 2025-03-14, above the threshold of "
                               "30.00 USD.")
    assert evaluate(warehouse, {**THRESHOLD, "value": "35"}) == []  # not above 35.00
    assert evaluate(warehouse, {**THRESHOLD, "op": "below", "value": "36"})[0].observed == Decimal("35.0000")


def test_the_window_ends_on_the_last_day_every_input_has(warehouse):
    """Ad spend lags a day behind the orders: the CAC window ends on 03-13, never reading a spend-less day."""
    sales(warehouse)
    spend(warehouse, {d: "70.00" for d in days(date(2025, 3, 1), 13)})  # to 03-13
    warehouse.insert("marts.dim_customers", [row for d in days(date(2025, 3, 1), 14) for row in customers(d, 2)])
    (finding,) = evaluate(warehouse, THRESHOLD)
    assert finding.window == "2025-03-07..2025-03-13" and finding.observed == Decimal("35.0000")


CHANGE = {"name": "cac_spike", "kind": "change_over_window", "metric": "blended_cac", "window_days": 7,
          "direction": "up", "min_change_pct": "0.20"}


def test_change_over_window_fires_on_a_20_percent_rise_and_not_on_10(warehouse):
    cac_world(warehouse, prior_spend="70.00", current_spend="84.00")  # 35.00 -> 42.00: exactly +20 %
    (finding,) = evaluate(warehouse, CHANGE)
    assert (finding.observed, finding.reference) == (Decimal("42.0000"), Decimal("35.0000"))
    assert finding.details["change_pct"] == "0.2000" and finding.details["prior_window"] == "2025-03-01..2025-03-07"
    assert finding.message == ("Blended CAC rose 20.0% to 42.00 USD over the 7 days to 2025-03-14, against "
                               "35.00 USD in the 7 days before.")
    assert evaluate(warehouse, {**CHANGE, "direction": "down"}) == []


def test_change_over_window_is_silent_on_normal_weeks(warehouse):
    cac_world(warehouse, prior_spend="70.00", current_spend="77.00")  # 35.00 -> 38.50: +10 %
    assert evaluate(warehouse, CHANGE) == []
    assert evaluate(warehouse, {**CHANGE, "direction": "either", "min_change_pct": "0.10"})[0].observed == \
        Decimal("38.5000")


BASELINE = {"name": "conversion_drop", "kind": "below_baseline", "metric": "conversion_rate", "window_days": 7,
            "baseline_days": 28, "tolerance_pct": "0.10"}


def traffic(warehouse, current_conversions: int) -> None:
    """1,000 sessions a day; 30 conversions a day over the 28-day baseline (02-08..03-07), then the week's."""
    rows = [(T, d, 1000, 30) for d in days(date(2025, 2, 8), 28)]
    rows += [(T, d, 1000, current_conversions) for d in days(date(2025, 3, 8), 7)]
    rows += [(OTHER, d, 1000, 1) for d in days(date(2025, 2, 8), 35)]
    warehouse.insert("marts.fct_traffic", rows)


def test_below_baseline_fires_on_a_conversion_rate_drop(warehouse):
    traffic(warehouse, current_conversions=24)  # 0.024 against 0.030: -20 %, beyond the 10 % allowed
    (finding,) = evaluate(warehouse, BASELINE)
    assert (finding.observed, finding.reference) == (Decimal("0.0240"), Decimal("0.0300"))
    assert finding.details["baseline_window"] == "2025-02-08..2025-03-07"
    assert finding.message == ("Conversion rate was 2.40% over the 7 days to 2025-03-14, -20.0% against its "
                               "baseline of 3.00% (the 28 days before); the rule allows -10.0%.")


def test_below_baseline_is_silent_within_tolerance(warehouse):
    traffic(warehouse, current_conversions=28)  # -6.7 %
    assert evaluate(warehouse, BASELINE) == []


def test_below_baseline_scales_a_total_to_the_window(warehouse):
    """Net sales (a total): the 28-day baseline of 28,000.00 is 7,000.00 a week; 5,600.00 is -20 %."""
    sales(warehouse, last=date(2025, 3, 7))
    warehouse.insert("marts.cube_channel_daily", [(T, d, "online_store", Decimal("800.00"), 8, Decimal(0),
                                                   Decimal(0)) for d in days(date(2025, 3, 8), 7)])
    spec = {**BASELINE, "name": "sales_drop", "metric": "net_sales"}
    (finding,) = evaluate(warehouse, spec)
    assert (finding.observed, finding.reference) == (Decimal("5600.0000"), Decimal("7000.0000"))
    assert evaluate(warehouse, {**spec, "tolerance_pct": "0.25"}) == []


STOCK = {"name": "top_seller_stock", "kind": "stock_below_safety", "top_n": 2, "lead_time_days": 7,
         "service_level": "0.95", "interval": 95}


def inventory(warehouse, a_on_hand: int) -> None:
    """Snapshot 03-14 on amazon: SKU-A (top seller, 50 units in 28 days), SKU-B (#2, plenty), SKU-C (#3, empty
    but outside the top 2). SKU-A's forecast: 10 units a day, upper_95 = 10 + 1.96 × 2 (σ_d = 2), from 03-14 (the
    snapshot day: not in the lead time) to 03-28 (beyond it). SKU-B's forecast covers 5 of the 7 days."""
    warehouse.insert("marts.rpt_inventory_intelligence", [
        (T, END, "amazon", "SKU-A", a_on_hand, 10, 50),
        (T, END, "amazon", "SKU-B", 3, 0, 40),
        (T, END, "amazon", "SKU-C", 0, 0, 30),
        (OTHER, END, "amazon", "SKU-A", 0, 0, 99),
    ])
    forecast = [(T, "SKU-A", "amazon", d, 10.0, 7.0, 12.6, 6.0, 13.92) for d in days(END, 15)]
    forecast += [(T, "SKU-B", "amazon", d, 10.0, 7.0, 12.6, 6.0, 13.92) for d in days(date(2025, 3, 15), 5)]
    forecast += [(T, "SKU-C", "amazon", d, 10.0, 7.0, 12.6, 6.0, 13.92) for d in days(date(2025, 3, 15), 7)]
    forecast += [(OTHER, "SKU-A", "amazon", d, 500.0, 400.0, 600.0, 300.0, 700.0) for d in days(date(2025, 3, 15), 7)]
    warehouse.insert("ml.demand_forecast", forecast)


def test_stock_below_safety_fires_for_a_top_seller_under_its_reorder_point(warehouse):
    inventory(warehouse, a_on_hand=60)  # position 70 < ROP 70 + 1.6449 × 2 × √7 = 78.7040
    (finding,) = evaluate(warehouse, STOCK)
    assert service_z(Decimal("0.95")) == Decimal("1.6449")
    assert (finding.subject, finding.window) == ("amazon/SKU-A", "2025-03-14")
    assert (finding.observed, finding.reference) == (Decimal("70.0000"), Decimal("78.7040"))
    assert {k: finding.details[k] for k in ("lead_time_demand", "lead_time_sigma", "safety_stock", "seller_rank")} \
        == {"lead_time_demand": "70.0000", "lead_time_sigma": "5.2915", "safety_stock": "8.7040", "seller_rank": 1}
    assert finding.message == ("SKU-A on amazon: 60 on hand + 10 inbound is below its reorder point of 78.70 units "
                               "for the 7-day lead time (70.00 expected + 8.70 safety stock at 95% service); top "
                               "seller #1 with 50 units in 28 days.")


def test_stock_below_safety_is_silent_with_enough_stock(warehouse):
    inventory(warehouse, a_on_hand=69)  # position 79 ≥ 78.7040; SKU-B's forecast is short, SKU-C not a top 2
    assert evaluate(warehouse, STOCK) == []
    assert [f.subject for f in evaluate(warehouse, {**STOCK, "top_n": 3})] == ["amazon/SKU-C"]


UNDERCUT = {"name": "competitor_undercut", "kind": "competitor_undercut", "min_undercut_pct": "0.10"}


def prices(warehouse, pricely_price: str) -> None:
    gap = (Decimal(pricely_price) - 100) / 100
    warehouse.insert("marts.fct_competitor_prices", [
        (T, "SKU-A", "shopbot", date(2025, 3, 10), "USD", Decimal("85.00"), Decimal("100.00"), Decimal("-0.1500")),
        (T, "SKU-A", "shopbot", END, "USD", Decimal("95.00"), Decimal("100.00"), Decimal("-0.0500")),  # latest
        (T, "SKU-A", "pricely", END, "USD", Decimal(pricely_price), Decimal("100.00"), gap),
        (T, "SKU-A", "cheapco", date(2025, 3, 13), "USD", Decimal("89.90"), Decimal("100.00"), Decimal("-0.1010")),
        (T, "SKU-B", "shopbot", date(2025, 3, 1), "USD", Decimal("50.00"), Decimal("100.00"), Decimal("-0.5000")),
        (T, "SKU-C", "shopbot", END, "USD", Decimal("45.00"), Decimal("50.00"), Decimal("-0.1000")),
        (T, "SKU-D", "shopbot", END, "USD", Decimal("9.00"), None, None),  # not in our catalogue
        (OTHER, "SKU-A", "shopbot", END, "USD", Decimal("1.00"), Decimal("100.00"), Decimal("-0.9900")),
    ])


def test_competitor_undercut_fires_on_latest_prices_10_percent_below_ours(warehouse):
    prices(warehouse, pricely_price="88.00")
    a, c = evaluate(warehouse, UNDERCUT)
    assert (a.subject, a.window, a.observed, a.reference) == ("SKU-A", "2025-03-14", Decimal("88.0000"),
                                                              Decimal("100.0000"))
    assert [u["competitor"] for u in a.details["undercuts"]] == ["pricely", "cheapco"]  # shopbot's latest: -5 %
    assert a.message == ("pricely sells SKU-A at 88.00 USD on 2025-03-14, 12.0% below our 100.00 USD; 1 more "
                         "competitor(s) are also at least 10.0% below.")
    assert (c.subject, c.observed, c.reference) == ("SKU-C", Decimal("45.0000"), Decimal("50.0000"))  # exactly 10 %


def test_competitor_undercut_is_silent_on_normal_prices(warehouse):
    warehouse.insert("marts.fct_competitor_prices", [
        (T, "SKU-A", "shopbot", END, "USD", Decimal("95.00"), Decimal("100.00"), Decimal("-0.0500")),
        (T, "SKU-A", "pricely", END, "USD", Decimal("91.00"), Decimal("100.00"), Decimal("-0.0900")),
        (T, "SKU-B", "pricely", date(2025, 3, 1), "USD", Decimal("10.00"), Decimal("100.00"), Decimal("-0.9000")),
        (OTHER, "SKU-A", "shopbot", END, "USD", Decimal("1.00"), Decimal("100.00"), Decimal("-0.9900")),
    ])
    assert evaluate(warehouse, UNDERCUT) == []


@pytest.mark.parametrize("spec", [THRESHOLD, CHANGE, BASELINE, STOCK, UNDERCUT], ids=lambda s: s["kind"])
def test_a_tenant_without_data_never_fires(duck, spec):
    cac_world(duck, "70.00", "99.00")  # all of it another tenant's, as far as "nobody" is concerned
    with connect(duck.settings) as con:
        assert rule(spec).evaluate(con, Scope("nobody", "USD")) == []
