"""The report marts (dbt_project/models/reports) on a real warehouse, recomputed independently from the facts.

The two hand-landed tenants of conftest.py (acme: Shopify + file drop; borealis: Shopify only), and for acme also
an Amazon account (orders, fees, a refund, FBA stock) and Meta ads, landed here by hand. Builds as the
orchestration runs them: acme, then borealis. Every report figure is checked
against sums taken straight from the facts in Python, and the anchors below are computed by hand:

acme (USD, America/New_York); Amazon orders at 15:00Z = the same local day; every Amazon unit 19.99 (SKU-A):
  A5 25 May  a4  SKU-A × 4  79.96                      (outside the inventory window, May cohort)
  A1 10 Jun  a1  SKU-A × 2  39.98  fees 6.00 + 3.50 posted 12 Jun
  A2 20 Jun  a2  SKU-A × 3  59.97  fees 9.00 + 5.25 posted 22 Jun; 1 unit refunded 2 Jul: 19.99, the referral
                                   fee given back −1.50, refund administration fee 0.30
  A3 25 Jun  a3  SKU-A × 5  99.95  Canceled (a3 never bought: in no cohort)
  A4 28 Jun  a1  SKU-C × 1  50.00
FBA stock on 30 June (29 June's is superseded): SKU-A 30 fulfillable + 5 + 10 inbound, SKU-C 0, SKU-E 12.
  SKU-A: 2 + 3 = 5 units in 3..30 June (A3 cancelled, A5 before) → 5/28 = 0.1786 a day; 30 × 28 / 5 = 168.0 days
         (45 × 28 / 5 = 252.0 with inbound); sell-through 5/35 = 0.1429; stock out 30 Jun + 168 = 15 Dec; overstock
  SKU-C: nothing on hand, 1 sold → 0.0 days, out_of_stock on 30 June. SKU-E: 12 on hand, no sales → no_sales.
Meta (→ online_store): 40.00 on 3 Jan + 35.50 on 20 Jan, 20.00 on 15 Jun.
  January: new customers Ann, Bob (online store) and B2B-1 (wholesale) → blended CAC 75.50/3 = 25.17,
  online-store CAC 75.50/2 = 37.75, wholesale none. June: a1, a2 → blended 20.00/2 = 10.00, Amazon none.
Channel profitability, January, online store (#1001 4 Jan, #1002 5 Jan): net sales 54.98 + 90.00 = 144.98, COGS
  3 × 7.50 + 3 × 0.10 + 2 × 21.00 = 64.80 → CM1 80.18; payment fees 2.9 % + 0.30 of the totals 64.69 and 97.20 =
  2.18 + 3.12 = 5.30, shipping 2 × 6.50 − 4.95 charged = 8.05, refunds 17.99 + 45 + 45 = 107.99 → CM2 −41.16;
  CM3 −41.16 − 75.50 = −116.66.
Cohorts: online store January = Ann, Bob: m0 36.99 + 0.00; m2 (March) Ann again, in the shop (W-2, retail, B2B-2
  is Ann by e-mail): 33.50, still the online-store cohort; m6 (July) Ann's #1004 14.00 → 84.49 / 2 = 42.25.
  Amazon June = a1, a2: m0 3 orders, 39.98 + 59.97 + 50.00 = 149.95 (A2's refund is order-attributed: −19.99)
  → 129.96.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.dbt.conftest import (
    PROJECT,
    TENANT_A,
    TENANT_B,
    DbtRun,
    land,
    land_scenario,
    run_dbt,
    ts,
)

D = Decimal
REPORTS = ["rpt_channel_profitability", "rpt_cohort_retention", "rpt_inventory_intelligence", "rpt_ltv_cac",
           "rpt_return_rates"]
AMAZON_BUYER = "{}@marketplace.amazon.com"


def source_tables(source: str) -> dict[str, dict[str, str]]:
    """A source's documented tables and column types, read from its yml (the contract tenant_source() reads)."""
    spec = yaml.safe_load((PROJECT / "models" / "staging" / source / f"_{source}__sources.yml").read_text())
    return {t["name"]: {c["name"]: c["data_type"] for c in t["columns"]} for t in spec["sources"][0]["tables"]}


def amazon_order(order_id, at, buyer, status="Shipped"):
    return {"amazon_order_id": order_id, "purchase_date": ts(at), "last_update_date": ts(at), "order_status": status,
            "fulfillment_channel": "AFN", "sales_channel": "Amazon.com", "marketplace_id": "ATVPDKIKX0DER",
            "order_total_currency_code": "USD", "buyer_email": AMAZON_BUYER.format(buyer), "ship_country_code": "US"}


def amazon_item(order_id, item_id, at, sku, quantity, price):
    return {"order_item_id": item_id, "amazon_order_id": order_id, "order_last_update_date": ts(at),
            "seller_sku": sku, "quantity_ordered": quantity, "quantity_shipped": quantity, "currency_code": "USD",
            "item_price_amount": D(price), "item_tax_amount": D("0.00"), "promotion_discount_amount": D("0.00")}


def shipment(order_id, item_id, at, sku, quantity, principal, commission, fba):
    return {"event_key": f"{order_id}/{item_id}/{at}", "amazon_order_id": order_id, "posted_date": ts(at),
            "order_item_id": item_id, "seller_sku": sku, "quantity_shipped": quantity, "currency_code": "USD",
            "principal_amount": D(principal), "commission_amount": D(commission), "fba_fulfillment_fee_amount": D(fba)}


def stock(day, sku, fulfillable, working=0, shipped=0, reserved=0):
    return {"snapshot_date": day, "seller_sku": sku, "marketplace_id": "ATVPDKIKX0DER",
            "fulfillable_quantity": fulfillable, "inbound_working_quantity": working,
            "inbound_shipped_quantity": shipped, "inbound_receiving_quantity": 0, "reserved_quantity": reserved}


def ad_day(day, ad_id, spend):
    return {"date_start": day, "date_stop": day, "account_id": "120330000000001", "account_currency": "usd",
            "campaign_id": "c1", "campaign_name": "Prospecting", "adset_id": "s1", "adset_name": "Lookalike",
            "ad_id": ad_id, "ad_name": f"Ad {ad_id}", "spend": D(spend), "impressions": 1000, "clicks": 20,
            "conversions": 1, "conversion_value": D("50.00")}


A1, A2, A3, A4, A5 = (f"113-000000{n}-000000{n}" for n in range(1, 6))
ACME_AMAZON = {
    "orders": [amazon_order(A5, "2025-05-25T15:00:00Z", "a4"), amazon_order(A1, "2025-06-10T15:00:00Z", "a1"),
               amazon_order(A2, "2025-06-20T15:00:00Z", "a2"),
               amazon_order(A3, "2025-06-25T15:00:00Z", "a3", status="Canceled"),
               amazon_order(A4, "2025-06-28T15:00:00Z", "a1")],
    "order_items": [amazon_item(A5, "A5-1", "2025-05-25T15:00:00Z", "SKU-A", 4, "79.96"),
                    amazon_item(A1, "A1-1", "2025-06-10T15:00:00Z", "SKU-A", 2, "39.98"),
                    amazon_item(A2, "A2-1", "2025-06-20T15:00:00Z", "SKU-A", 3, "59.97"),
                    amazon_item(A3, "A3-1", "2025-06-25T15:00:00Z", "SKU-A", 5, "99.95"),
                    amazon_item(A4, "A4-1", "2025-06-28T15:00:00Z", "SKU-C", 1, "50.00")],
    "shipment_events": [shipment(A1, "A1-1", "2025-06-12T15:00:00Z", "SKU-A", 2, "39.98", "-6.00", "-3.50"),
                        shipment(A2, "A2-1", "2025-06-22T15:00:00Z", "SKU-A", 3, "59.97", "-9.00", "-5.25")],
    "refund_events": [{"event_key": f"{A2}/R1", "amazon_order_id": A2, "posted_date": ts("2025-07-02T15:00:00Z"),
                       "order_item_id": "A2-1", "seller_sku": "SKU-A", "order_adjustment_item_id": "R1",
                       "quantity": 1, "currency_code": "USD", "principal_amount": D("-19.99"),
                       "tax_amount": D("0.00"), "commission_amount": D("1.50"),
                       "refund_commission_amount": D("-0.30")}],
    "inventory_summaries": [stock(date(2025, 6, 29), "SKU-A", 99), stock(date(2025, 6, 30), "SKU-A", 30, 5, 10, 2),
                            stock(date(2025, 6, 30), "SKU-C", 0), stock(date(2025, 6, 30), "SKU-E", 12)],
}
ACME_META = {"ad_insights": [ad_day(date(2025, 1, 3), "a1", "40.00"), ad_day(date(2025, 1, 20), "a1", "35.50"),
                             ad_day(date(2025, 6, 15), "a2", "20.00")]}


def land_everything(con) -> None:
    """conftest's two tenants exactly as conftest lands them, plus acme's Amazon account and Meta ads."""
    land_scenario(con)
    for source, tables in (("amazon", ACME_AMAZON), ("meta_ads", ACME_META)):
        columns = source_tables(source)
        for table, records in tables.items():
            rows = [tuple(record.get(name) for name in columns[table]) for record in records]
            land(con, f"raw_{source}__{TENANT_A}", table, columns[table], rows)


def report_rows(fetch, tenant: str | None = None) -> dict[str, list[tuple]]:
    """Every report's rows (of one tenant, or all), ordered by (tenant_id, report_key) in Python: the two
    warehouses' string collations need not agree."""
    where = f" where tenant_id = '{tenant}'" if tenant else ""
    return {r: sorted(fetch(f"select * from marts.{r}{where}"), key=lambda row: (row[0], row[1])) for r in REPORTS}


@dataclass
class Reports:
    db: Path
    builds: list[DbtRun]
    acme_first: dict[str, list[tuple]]
    borealis_first: dict[str, list[tuple]]

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def dicts(self, sql: str, params: list | None = None) -> list[dict]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            cursor = con.execute(sql, params or [])
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Reports:
    workdir = tmp_path_factory.mktemp("reports")
    db = workdir / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        land_everything(con)

    def build(tenant: str) -> DbtRun:
        run = run_dbt(workdir, db, ["build"], tenant, target=f"target_{tenant}")
        assert run.returncode == 0, f"dbt build for {tenant} failed:\n{run.output[-6000:]}"
        return run

    def fetch(sql):
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute(sql).fetchall()

    # acme, then borealis (the reports are tenant-sliced like every mart: rebuilding a slice is
    # test_tenant_slices.py's subject, and PostgreSQL's identical rows tests/production's)
    first = build(TENANT_A)
    acme_first = report_rows(fetch, TENANT_A)
    second = build(TENANT_B)
    return Reports(db, [first, second], acme_first, report_rows(fetch, TENANT_B))


def cents(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def share(numerator, denominator, places: str = "0.0001") -> Decimal | None:
    """The exact ratio, half away from zero (all inputs here are non-negative or handled by sign)."""
    if not denominator:
        return None
    q = D(numerator) / D(denominator)
    return q.quantize(D(places), rounding=ROUND_HALF_UP)


def month_of(day: date) -> date:
    return day.replace(day=1)


# --- the builds --------------------------------------------------------------------------------------------------

def test_every_build_passes_and_the_report_unit_tests_ran(reports):
    for run in reports.builds:
        statuses = run.statuses()
        bad = {uid: s for uid, s in statuses.items() if s not in ("success", "pass")}
        assert not bad, f"{run.args}: {bad}"
        for report in REPORTS:
            assert statuses[f"model.omnianalytics.{report}"] == "success"
        unit = [uid for uid in statuses if uid.startswith("unit_test.omnianalytics.rpt_")]
        assert len(unit) == 5 and all(statuses[uid] == "pass" for uid in unit), unit


def test_each_tenant_holds_only_its_own_report_rows(reports):
    def fetch(sql):
        return reports.query(sql)

    assert report_rows(fetch, TENANT_A) == reports.acme_first  # borealis's build never touched acme's slice
    for report in REPORTS:
        tenants = {t for (t,) in reports.query(f"select distinct tenant_id from marts.{report}")}
        assert tenants <= {TENANT_A, TENANT_B}
        if report != "rpt_inventory_intelligence":  # borealis holds no stock anywhere
            assert tenants == {TENANT_A, TENANT_B}, report
    currencies = reports.query("select distinct tenant_id, reporting_currency from marts.rpt_channel_profitability")
    assert sorted(currencies) == [(TENANT_A, "USD"), (TENANT_B, "EUR")]


def test_report_columns_are_exact_types(reports):
    """Money decimal(18,2), ratios decimal(18,4), counts bigint: never a float, never DuckDB's hugeint."""
    types = reports.query("select table_name, column_name, data_type from information_schema.columns "
                          "where table_schema = 'marts' and table_name like 'rpt\\_%' escape '\\'")
    assert {t for t, _, _ in types} == set(REPORTS)
    assert not [(t, c, d) for t, c, d in types if d in ("DOUBLE", "FLOAT", "REAL", "HUGEINT") or d == "DECIMAL(38,2)"]
    by_column = {(t, c): d for t, c, d in types}
    assert by_column[("rpt_ltv_cac", "ltv_365d")] == "DECIMAL(18,2)"
    assert by_column[("rpt_cohort_retention", "retention_rate")] == "DECIMAL(18,4)"
    assert by_column[("rpt_return_rates", "units_sold")] == "BIGINT"


# --- channel profitability = the facts, summed per month and channel -----------------------------------------

def facts_per_month_and_channel(reports, tenant: str) -> dict[tuple[date, str], dict[str, Decimal]]:
    """Every measure of rpt_channel_profitability, summed straight from fct_orders, fct_refunds, fct_fees and
    fct_ad_spend (event-dated, as the cube; cancelled orders' sales and refunds left out, as the cube leaves them):
    the independent side of the reconciliation."""
    out: dict[tuple[date, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(D))
    orders = reports.dicts("select * from marts.fct_orders where tenant_id = ?", [tenant])
    cancelled = {o["order_key"] for o in orders if o["is_cancelled"]}  # not purchases: no sales, no refunds
    for o in orders:
        if o["order_key"] in cancelled:
            continue
        cell = out[(month_of(o["order_date"]), o["channel"])]
        cell["orders"] += 1
        cell["net_sales"] += o["gross_amount_reporting"] - o["discount_amount_reporting"]
        cell["shipping_revenue"] += o["shipping_amount_reporting"]
        cell["cogs"] += o["cogs_amount_reporting"] or 0
        cell["payment_fees"] += o["payment_fee_reporting"] or 0
        cell["shipping_cost"] += o["shipping_cost_reporting"] or 0
    for r in reports.dicts("select * from marts.fct_refunds where tenant_id = ?", [tenant]):
        if r["order_key"] in cancelled:
            continue
        out[(month_of(r["refund_date"]), r["channel"])]["refunds"] += r["refunded_amount_reporting"]
    for f in reports.dicts("select * from marts.fct_fees where tenant_id = ?", [tenant]):
        out[(month_of(f["posted_date"]), f["channel"])]["channel_fees"] += f["amount_reporting"]
    for a in reports.dicts("select * from marts.fct_ad_spend where tenant_id = ?", [tenant]):
        out[(month_of(a["date"]), a["channel"])]["ad_spend"] += a["spend_reporting"]
    return out


@pytest.mark.parametrize("tenant", [TENANT_A, TENANT_B])
def test_channel_profitability_is_the_facts_summed(reports, tenant):
    expected = facts_per_month_and_channel(reports, tenant)
    rows = reports.dicts("select * from marts.rpt_channel_profitability where tenant_id = ?", [tenant])
    assert {(r["month"], r["channel"]) for r in rows} == set(expected)
    for row in rows:
        e = expected[(row["month"], row["channel"])]
        for measure in ("net_sales", "shipping_revenue", "cogs", "payment_fees", "shipping_cost", "refunds",
                        "channel_fees", "ad_spend"):
            assert row[measure] == e[measure], (row["month"], row["channel"], measure)
        assert row["orders"] == e["orders"]
        cm1 = e["net_sales"] - e["cogs"]
        cm2 = cm1 - e["channel_fees"] - e["payment_fees"] - (e["shipping_cost"] - e["shipping_revenue"]) - e["refunds"]
        assert (row["cm1"], row["cm2"], row["cm3"]) == (cm1, cm2, cm2 - e["ad_spend"])
        assert row["cm2_margin"] == share(cm2, e["net_sales"])


def test_channel_profitability_hand_computed_january(reports):
    [row] = reports.dicts("select * from marts.rpt_channel_profitability where tenant_id = ? and channel = ? and "
                          "month = ?", [TENANT_A, "online_store", date(2025, 1, 1)])
    assert (row["orders"], row["new_customer_orders"], row["net_sales"], row["cogs"], row["cm1"]) == (
        2, 2, D("144.98"), D("64.80"), D("80.18"))
    assert (row["payment_fees"], row["net_shipping_cost"], row["refunds"], row["cm2"]) == (
        D("5.30"), D("8.05"), D("107.99"), D("-41.16"))
    assert (row["ad_spend"], row["cm3"], row["cm1_margin"], row["is_month_complete"]) == (
        D("75.50"), D("-116.66"), D("0.5530"), True)
    [june] = reports.dicts("select * from marts.rpt_channel_profitability where tenant_id = ? and channel = ? and "
                           "month = ?", [TENANT_A, "amazon", date(2025, 6, 1)])
    assert june["channel_fees"] == D("23.75")  # 6.00 + 3.50 + 9.00 + 5.25
    [july] = reports.dicts("select * from marts.rpt_channel_profitability where tenant_id = ? and channel = ? and "
                           "month = ?", [TENANT_A, "amazon", date(2025, 7, 1)])
    # only A2's refund lands in July: 19.99 back, the referral fee given back and the administration fee
    assert (july["orders"], july["refunds"], july["channel_fees"], july["cm2"]) == (
        0, D("19.99"), D("-1.20"), D("-18.79"))
    assert july["cm2_margin"] is None and july["is_month_complete"] is False


# --- cohort retention --------------------------------------------------------------------------------------------

def test_cohort_retention_hand_computed(reports):
    rows = {(r["acquisition_channel"], r["cohort_month"], r["months_since_first"]): r
            for r in reports.dicts("select * from marts.rpt_cohort_retention where tenant_id = ?", [TENANT_A])}
    jan, jun = date(2025, 1, 1), date(2025, 6, 1)
    online = [rows[("online_store", jan, m)] for m in range(7)]
    assert [r["active_customers"] for r in online] == [2, 0, 1, 0, 0, 0, 1]
    assert [online[m]["net_revenue"] for m in (0, 2, 6)] == [D("36.99"), D("33.50"), D("14.00")]
    assert (online[6]["cumulative_net_revenue"], online[6]["cumulative_net_revenue_per_customer"],
            online[6]["retention_rate"]) == (D("84.49"), D("42.25"), D("0.5000"))
    assert not any(channel == "retail" for channel, _, _ in rows)  # Ann's retail order acquired nobody
    assert ("online_store", jan, 7) not in rows  # the tenant's latest order month is July
    amazon = rows[("amazon", jun, 0)]
    assert (amazon["cohort_customers"], amazon["active_customers"], amazon["orders"], amazon["net_revenue"]) == (
        2, 2, 3, D("129.96"))
    assert rows[("all", jan, 0)]["cohort_customers"] == 3  # Ann, Bob and the wholesale buyer


def test_cohorts_add_up_to_the_customers(reports):
    customers = reports.dicts("select * from marts.dim_customers where tenant_id = ? and order_count > 0",
                              [TENANT_A])
    rows = reports.dicts("select * from marts.rpt_cohort_retention where tenant_id = ?", [TENANT_A])
    last = {}
    for r in rows:
        key = (r["acquisition_channel"], r["cohort_month"])
        if key not in last or r["months_since_first"] > last[key]["months_since_first"]:
            last[key] = r
    expected = defaultdict(lambda: [0, D(0)])
    for c in customers:
        for channel in (c["acquisition_channel"], "all"):
            expected[(channel, c["first_order_month"])][0] += 1
            expected[(channel, c["first_order_month"])][1] += c["net_revenue_reporting"]
    assert {k: (r["cohort_customers"], r["cumulative_net_revenue"]) for k, r in last.items()} == {
        k: tuple(v) for k, v in expected.items()}
    # 'all' is the sum of the channels, month by month
    per_month = defaultdict(lambda: [0, 0, D(0)])
    for r in rows:
        if r["acquisition_channel"] != "all":
            cell = per_month[(r["cohort_month"], r["months_since_first"])]
            cell[0] += r["active_customers"]
            cell[1] += r["orders"]
            cell[2] += r["net_revenue"]
    for r in rows:
        if r["acquisition_channel"] == "all":
            assert [r["active_customers"], r["orders"], r["net_revenue"]] == per_month[
                (r["cohort_month"], r["months_since_first"])]


# --- LTV / CAC ---------------------------------------------------------------------------------------------------

def test_cac_hand_computed(reports):
    rows = {(r["acquisition_channel"], r["cohort_month"]): r
            for r in reports.dicts("select * from marts.rpt_ltv_cac where tenant_id = ?", [TENANT_A])}
    jan, may, jun = date(2025, 1, 1), date(2025, 5, 1), date(2025, 6, 1)
    assert (rows[("online_store", jan)]["blended_cac"], rows[("online_store", jan)]["new_customer_cac"]) == (
        D("25.17"), D("37.75"))
    assert (rows[("wholesale", jan)]["blended_cac"], rows[("wholesale", jan)]["new_customer_cac"]) == (
        D("25.17"), None)
    assert (rows[("amazon", jun)]["month_new_customers"], rows[("amazon", jun)]["blended_cac"],
            rows[("amazon", jun)]["new_customer_cac"]) == (2, D("10.00"), None)
    assert rows[("amazon", may)]["blended_cac"] is None  # no ad spend at all in May


def test_ltv_and_payback_recomputed_from_the_facts(reports):
    """LTV_N and payback per row, recomputed in Python from dim_customers, fct_orders and fct_fees."""
    customers = {c["customer_key"]: c for c in reports.dicts(
        "select * from marts.dim_customers where tenant_id = ? and order_count > 0", [TENANT_A])}
    fees = defaultdict(D)
    for f in reports.dicts("select * from marts.fct_fees where tenant_id = ?", [TENANT_A]):
        fees[f["order_key"]] += f["amount_reporting"]
    orders = reports.dicts("select * from marts.fct_orders where tenant_id = ?", [TENANT_A])
    as_of = max(o["order_date"] for o in orders)
    groups = defaultdict(list)
    for c in customers.values():
        category = c["acquisition_category"] or "uncategorized"
        groups[(category, c["acquisition_channel"], c["first_order_month"])].append(c)
    contribution = defaultdict(list)  # customer -> [(day offset, month offset, contribution)]
    for o in orders:
        c = customers.get(o["customer_key"])
        if c is None or o["is_cancelled"]:
            continue
        value = (o["net_revenue_reporting"] - (o["cogs_amount_reporting"] or 0) - fees[o["order_key"]]
                 - (o["payment_fee_reporting"] or 0) - ((o["shipping_cost_reporting"] or 0)
                                                        - o["shipping_amount_reporting"]))
        months = (o["order_date"].year - c["first_order_month"].year) * 12 + o["order_date"].month \
            - c["first_order_month"].month
        contribution[o["customer_key"]].append(((o["order_date"] - c["first_order_date"]).days, months, value))
    rows = {(r["acquisition_category"], r["acquisition_channel"], r["cohort_month"]): r
            for r in reports.dicts("select * from marts.rpt_ltv_cac where tenant_id = ?", [TENANT_A])}
    assert set(rows) == set(groups)
    for key, members in groups.items():
        row, n = rows[key], len(members)
        last_first = max(c["first_order_date"] for c in members)
        for window in (30, 90, 180, 365):
            total = sum((v for c in members for d, _, v in contribution[c["customer_key"]] if d < window), D(0))
            complete = last_first + timedelta(days=window - 1) <= as_of
            assert row[f"ltv_{window}d"] == (cents(total / n) if complete else None), (key, window)
        by_month = defaultdict(D)
        for c in members:
            for _, m, v in contribution[c["customer_key"]]:
                by_month[m] += v
        running, payback = D(0), None
        for m in sorted(by_month):
            running += by_month[m]
            if payback is None and row["new_customer_cac"] is not None and cents(running / n) >= row[
                    "new_customer_cac"]:
                payback = m
        assert row["payback_month"] == payback, key
    online = rows[("Drinkware", "online_store", date(2025, 1, 1))]
    assert online["ltv_30d"] is not None and online["ltv_365d"] is None  # 4 Jan + 364 days is after 3 July


# --- return rates, both date bases -------------------------------------------------------------------------------

def test_return_rates_hand_computed_and_both_views_agree(reports):
    rows = reports.dicts("select * from marts.rpt_return_rates where tenant_id = ? and channel = 'amazon' and "
                         "sku = 'SKU-A'", [TENANT_A])
    cells = {(r["date_basis"], r["month"], r["customer_segment"]): r for r in rows}
    june, july = date(2025, 6, 1), date(2025, 7, 1)
    ordered = cells[("order_date", june, "new")]  # A1 and A2, each a buyer's first order (A3 cancelled: out)
    assert (ordered["units_sold"], ordered["units_returned"], ordered["unit_return_rate"], ordered["orders"],
            ordered["orders_with_return"], ordered["refund_amount"], ordered["refund_rate"]) == (
        5, 1, D("0.2000"), 2, 1, D("19.99"), share(D("19.99"), D("99.95")))
    assert cells[("refund_date", june, "new")]["units_returned"] == 0
    refunded = cells[("refund_date", july, "new")]  # the unit came back in July: nothing of SKU-A sold then
    assert (refunded["units_sold"], refunded["units_returned"], refunded["unit_return_rate"],
            refunded["orders_with_return"], refunded["refund_amount"]) == (0, 1, None, 1, D("19.99"))
    for tenant in (TENANT_A, TENANT_B):
        totals = dict(((basis, (units, sold)) for basis, units, sold in reports.query(
            "select date_basis, sum(units_returned), sum(units_sold) from marts.rpt_return_rates "
            "where tenant_id = ? group by date_basis", [tenant])))
        assert totals["order_date"] == totals["refund_date"], tenant
        refunds = reports.query(
            "select sum(r.refunded_quantity), sum(r.refunded_amount_reporting) from marts.fct_refunds as r "
            "join marts.fct_orders as o on o.order_key = r.order_key where r.tenant_id = ? and not o.is_cancelled",
            [tenant])[0]
        assert reports.query("select sum(units_returned), sum(refund_amount) from marts.rpt_return_rates "
                             "where tenant_id = ? and date_basis = 'refund_date'", [tenant])[0] == refunds


# --- inventory ---------------------------------------------------------------------------------------------------

def test_inventory_intelligence_hand_computed(reports):
    rows = {r["sku"]: r for r in reports.dicts(
        "select * from marts.rpt_inventory_intelligence where tenant_id = ?", [TENANT_A])}
    assert set(rows) == {"SKU-A", "SKU-C", "SKU-E"}
    a, c, e = rows["SKU-A"], rows["SKU-C"], rows["SKU-E"]
    assert {r["as_of_date"] for r in rows.values()} == {date(2025, 6, 30)}
    assert (a["on_hand"], a["inbound"], a["reserved"], a["units_sold_28d"], a["avg_daily_units"]) == (
        30, 15, 2, 5, D("0.1786"))
    assert (a["days_of_cover"], a["days_of_cover_with_inbound"], a["sell_through_28d"], a["stockout_risk_date"],
            a["risk_level"]) == (D("168.0"), D("252.0"), D("0.1429"), date(2025, 12, 15), "overstock")
    assert (c["on_hand"], c["units_sold_28d"], c["days_of_cover"], c["stockout_risk_date"], c["risk_level"]) == (
        0, 1, D("0.0"), date(2025, 6, 30), "out_of_stock")
    assert (e["units_sold_28d"], e["days_of_cover"], e["stockout_risk_date"], e["risk_level"]) == (
        0, None, None, "no_sales")


# --- PostgreSQL: the same reports, row for row -------------------------------------------------------------------
