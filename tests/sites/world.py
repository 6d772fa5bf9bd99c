"""A hand-made warehouse for the report-site tests: two tenants, only the columns the export and the insights read,
numbers computed by hand below. Loaded through any DB-API-like connection (DuckDB or PostgreSQL).

acme (USD, "Acme Outdoor"): latest order day 2025-03-15 → as-of 2025-03-14 (the latest day may still fill).
Orders (net revenue):  o0 02-01 online 40.00 | o1 03-02 online 100.00 | o2 03-05 amazon 50.00 |
                       o3 03-09 online 120.00 | o4 03-12 amazon 80.50 | o5 03-13 online cancelled 0.00 (net sales
                       30.00, refunded) | o6 03-15 online 999.99 (after the as-of day: in no window)
  7 days 03-08..03-14: net revenue 120.00 + 80.50 + 0.00 = 200.50, 3 orders; prior 03-01..03-07: 150.00, 2 orders
                       → change 50.50 / 150.00 = 0.3367; net sales 230.50 / 3 = AOV 76.83 vs 150.00 / 2 = 75.00
  28 days 02-15..03-14: 350.50, 5 orders; prior 01-18..02-14: 40.00, 1 order
  new customers (first order in the window, order_count > 0): 7 days c3 (03-09) vs c2 (03-02) = 1 vs 1;
                       c5's only order was cancelled (order_count 0): never new.
rival (EUR, "Rival Goods"): far bigger numbers on the same days, its own SKU RIVAL-ZEP-99, its own channel name
"Rival Webshop", a forecast and an alert whose message names its SKU. None of it may reach acme's export or site.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from models_ml.catalogue import model
from orchestration.predictions import ddl

D = Decimal
ACME, RIVAL = "acme", "rival"
ACME_NAME, RIVAL_NAME = "Acme Outdoor", "Rival Goods"
ACME_SKU, ACME_SKU_2, RIVAL_SKU = "ACME-JKT-01", "ACME-CAP-02", "RIVAL-ZEP-99"
AS_OF = date(2025, 3, 14)
ACME_NET_REVENUE_7D = D("200.50")

TABLES = {
    "marts.dim_tenants": "tenant_id varchar, display_name varchar, currency varchar",
    "marts.dim_channels": "tenant_id varchar, channel varchar, channel_name varchar, channel_type varchar",
    "marts.dim_products": "tenant_id varchar, sku varchar, title varchar",
    "marts.dim_customers": "tenant_id varchar, customer_key varchar, first_order_date date, order_count bigint",
    "marts.fct_orders": "tenant_id varchar, order_key varchar, channel varchar, order_date date, "
                        "is_cancelled boolean, net_revenue_reporting decimal(18,2)",
    "marts.fct_order_lines": "tenant_id varchar, order_key varchar, channel varchar, order_date date, sku varchar, "
                             "quantity bigint, is_cancelled boolean, net_line_amount_reporting decimal(18,2), "
                             "refunded_amount_reporting decimal(18,2)",
    "marts.cube_channel_daily": 'tenant_id varchar, "date" date, channel varchar, orders bigint, '
                                "net_sales decimal(18,2), cm3 decimal(18,2), ad_spend decimal(18,2)",
    "marts.rpt_channel_profitability": (
        "tenant_id varchar, month date, channel varchar, orders bigint, new_customer_orders bigint, units bigint, "
        "net_sales decimal(18,2), cogs decimal(18,2), cm1 decimal(18,2), cm1_margin decimal(18,4), "
        "channel_fees decimal(18,2), payment_fees decimal(18,2), net_shipping_cost decimal(18,2), "
        "refunds decimal(18,2), cm2 decimal(18,2), cm2_margin decimal(18,4), ad_spend decimal(18,2), "
        "cm3 decimal(18,2), cm3_margin decimal(18,4), aov decimal(18,2), is_month_complete boolean"),
    "marts.rpt_cohort_retention": (
        "tenant_id varchar, acquisition_channel varchar, cohort_month date, months_since_first integer, "
        "activity_month date, cohort_customers bigint, active_customers bigint, retention_rate decimal(18,4), "
        "orders bigint, net_revenue decimal(18,2), cumulative_net_revenue_per_customer decimal(18,2)"),
    "marts.rpt_inventory_intelligence": (
        "tenant_id varchar, as_of_date date, channel varchar, sku varchar, title varchar, category varchar, "
        "on_hand bigint, inbound bigint, units_sold_28d bigint, avg_daily_units decimal(18,4), "
        "days_of_cover decimal(18,1), days_of_cover_with_inbound decimal(18,1), sell_through_28d decimal(18,4), "
        "stockout_risk_date date, risk_level varchar"),
    "marts.rpt_ltv_cac": (
        "tenant_id varchar, acquisition_category varchar, acquisition_channel varchar, cohort_month date, "
        "new_customers bigint, ltv_30d decimal(18,2), ltv_90d decimal(18,2), ltv_180d decimal(18,2), "
        "ltv_365d decimal(18,2), month_new_customers bigint, month_ad_spend decimal(18,2), "
        "blended_cac decimal(18,2), channel_new_customers bigint, channel_ad_spend decimal(18,2), "
        "new_customer_cac decimal(18,2), payback_month integer, blended_payback_month integer"),
    "marts.rpt_return_rates": (
        "tenant_id varchar, date_basis varchar, month date, channel varchar, sku varchar, category varchar, "
        "customer_segment varchar, units_sold bigint, units_returned bigint, net_sales decimal(18,2), "
        "refund_amount decimal(18,2)"),
    "alerts.firings": (
        "tenant_id varchar, firing_id varchar, rule varchar, kind varchar, severity varchar, subject varchar, "
        "fired_at timestamp, message varchar, observed decimal(18,4), reference decimal(18,4), details varchar, "
        "delivered_via varchar, delivered_at timestamp"),
}


def d(month: int, day: int) -> date:
    return date(2025, month, day)


def _orders(tenant: str, scale: Decimal) -> list[tuple]:
    rows = [("o0", "online_store", d(2, 1), False, "40.00"), ("o1", "online_store", d(3, 2), False, "100.00"),
            ("o2", "amazon", d(3, 5), False, "50.00"), ("o3", "online_store", d(3, 9), False, "120.00"),
            ("o4", "amazon", d(3, 12), False, "80.50"), ("o5", "online_store", d(3, 13), True, "0.00"),
            ("o6", "online_store", d(3, 15), False, "999.99")]
    return [(tenant, f"{tenant}-{k}", ch, day, cancelled, D(net) * scale) for k, ch, day, cancelled, net in rows]


def rows(now: datetime) -> dict[str, list[tuple]]:
    """Every table's rows; ``now`` dates the alert firings (the export keeps the last 30 days)."""
    now = now.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    r: dict[str, list[tuple]] = {
        "marts.dim_tenants": [(ACME, ACME_NAME, "USD"), (RIVAL, RIVAL_NAME, "EUR")],
        "marts.dim_channels": [(ACME, "online_store", "Online store", "dtc"), (ACME, "amazon", "Amazon", "marketplace"),
                               (RIVAL, "online_store", "Rival Webshop", "dtc")],
        "marts.dim_products": [(ACME, ACME_SKU, "Trail Jacket"), (ACME, ACME_SKU_2, "Camp Cap"),
                               (RIVAL, RIVAL_SKU, "Zeppelin Kit")],
        "marts.dim_customers": [(ACME, "c2", d(3, 2), 2), (ACME, "c3", d(3, 9), 1), (ACME, "c5", d(3, 13), 0),
                                (RIVAL, "r1", d(3, 10), 5)],
        "marts.fct_orders": _orders(ACME, D(1)) + _orders(RIVAL, D(1000)),
    }
    lines = []
    for tenant, key, channel, day, cancelled, net in r["marts.fct_orders"]:
        sku = RIVAL_SKU if tenant == RIVAL else (ACME_SKU if channel == "online_store" else ACME_SKU_2)
        refunded = D("30.00") if key.endswith("o5") and tenant == ACME else D("0.00")
        lines.append((tenant, key, channel, day, sku, 2, cancelled, net + refunded, refunded))
    r["marts.fct_order_lines"] = lines
    r["marts.cube_channel_daily"] = [
        (t, day, ch, 1, net + (D("30.00") if key.endswith("o5") and t == ACME else 0), net / 2, D("5.00"))
        for t, key, ch, day, _, net in r["marts.fct_orders"]]
    for tenant, sku, scale in ((ACME, ACME_SKU, 1), (RIVAL, RIVAL_SKU, 1000)):
        r.setdefault("marts.rpt_channel_profitability", []).append(
            (tenant, d(2, 1), "online_store", 3 * scale, scale, 6 * scale, D("300.00") * scale, D("100.00") * scale,
             D("200.00") * scale, D("0.6667"), D("10.00") * scale, D("5.00") * scale, D("4.00") * scale,
             D("0.00"), D("181.00") * scale, D("0.6033"), D("20.00") * scale, D("161.00") * scale, D("0.5367"),
             D("100.00"), True))
        r.setdefault("marts.rpt_cohort_retention", []).extend([
            (tenant, "all", d(2, 1), 0, d(2, 1), 2 * scale, 2 * scale, D("1.0000"), 2 * scale, D("140.00") * scale,
             D("70.00")),
            (tenant, "all", d(2, 1), 1, d(3, 1), 2 * scale, scale, D("0.5000"), scale, D("120.00") * scale,
             D("130.00"))])
        r.setdefault("marts.rpt_inventory_intelligence", []).append(
            (tenant, d(3, 14), "amazon", sku, "Stocked item", "Outerwear", 5 * scale, 0, 28 * scale, D("1.0000"),
             D("5.0"), D("5.0"), D("0.8485"), d(3, 19), "critical"))
        r.setdefault("marts.rpt_ltv_cac", []).append(
            (tenant, "Outerwear", "online_store", d(2, 1), 2 * scale, D("60.00"), D("90.00"), None, None, 2 * scale,
             D("40.00") * scale, D("20.00"), 2 * scale, D("40.00") * scale, D("20.00"), 0, 0))
        r.setdefault("marts.rpt_return_rates", []).extend([
            (tenant, basis, d(3, 1), "online_store", sku, "Outerwear", "new", 10 * scale, scale,
             D("500.00") * scale, D("50.00") * scale) for basis in ("order_date", "refund_date")])
    forecast = []
    for tenant, sku, scale in ((ACME, ACME_SKU, 1.0), (RIVAL, RIVAL_SKU, 1000.0)):
        for h in range(1, 8):
            day = AS_OF + timedelta(days=h + 1)  # the models' as_of is the latest order day (03-15)
            forecast.append((tenant, d(3, 15), 1, "run-1", sku, "online_store", day, h, 2.0 * scale,
                             1.0 * scale, 3.0 * scale, 0.5 * scale, 4.0 * scale, "lightgbm"))
    r["ml.demand_forecast"] = forecast
    r["alerts.firings"] = [
        (ACME, "f-acme-1", "low_stock", "stock_below_safety", "critical", ACME_SKU, now - timedelta(days=1),
         f"{ACME_SKU} has 5 days of cover left.", D("5"), D("14"), "{}", "log", now - timedelta(days=1)),
        (ACME, "f-acme-old", "low_stock", "stock_below_safety", "warning", ACME_SKU, now - timedelta(days=40),
         "An old firing outside the 30 days.", D("9"), D("14"), "{}", "log", now - timedelta(days=40)),
        (RIVAL, "f-rival-1", "low_stock", "stock_below_safety", "critical", RIVAL_SKU, now - timedelta(days=1),
         f"{RIVAL_SKU} at {RIVAL_NAME} has 2 days of cover left.", D("2"), D("14"), "{}", "log",
         now - timedelta(days=1)),
    ]
    return r


def load(con, placeholder: str, *, now: datetime | None = None, with_ml: bool = True,
         with_alerts: bool = True) -> None:
    """Create and fill every table through ``con`` (``placeholder``: '?' DuckDB, '%s' psycopg2)."""
    data = rows(now or datetime.now(UTC))
    for schema in ("marts", "ml", "alerts"):
        con.execute(f"create schema if not exists {schema}")
    for table, columns in TABLES.items():
        if table == "alerts.firings" and not with_alerts:
            continue
        con.execute(f"create table {table} ({columns})")
    if with_ml:
        spec = model("demand_forecast")
        con.execute(ddl(spec.table, spec.columns, spec.key))
    for table, values in data.items():
        if (table == "ml.demand_forecast" and not with_ml) or (table == "alerts.firings" and not with_alerts):
            continue
        for row in values:
            con.execute(f"insert into {table} values ({', '.join([placeholder] * len(row))})", list(row))
