"""The dbt project, tenant by tenant, on a real DuckDB warehouse (fixtures and hand computations: conftest.py).

One scenario, three builds, as the orchestration runs them: ``dbt build --vars '{tenant: acme}'``, then
borealis with ``--full-refresh`` (which must not touch acme), then acme again (the incremental path on existing
tables). Then every figure is checked to the cent against numbers computed by hand.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.dbt.conftest import MARTS, REPO, TENANT_A, TENANT_B, run_dbt

D = Decimal

# (tenant, order_id) -> channel, order_date, line_count, units, gross, discount, shipping, tax, refund, net, total,
#                       is_cancelled
EXPECTED_ORDERS = {
    (TENANT_A, "gid://shopify/Order/1001"): ("online_store", date(2025, 1, 4), 2, 6, "60.98", "6.00", "4.95",
                                             "4.76", "17.99", "36.99", "64.69", False),
    (TENANT_A, "gid://shopify/Order/1002"): ("online_store", date(2025, 1, 5), 1, 2, "100.00", "10.00", "0.00",
                                             "7.20", "90.00", "0.00", "97.20", False),
    (TENANT_A, "gid://shopify/Order/1003"): ("online_store", date(2025, 2, 1), 1, 1, "19.99", "0.00", "4.95",
                                             "1.73", "0.00", "19.99", "26.67", True),
    (TENANT_A, "gid://shopify/Order/1004"): ("online_store", date(2025, 7, 3), 2, 5, "15.00", "1.00", "5.00",
                                             "0.00", "0.00", "14.00", "19.00", False),
    (TENANT_A, "W-1"): ("wholesale", date(2025, 1, 31), 2, 17, "148.33", "5.00", "25.00", "0.00", "0.00",
                        "143.33", "168.33", False),
    (TENANT_A, "W-2"): ("retail", date(2025, 3, 10), 1, 100, "33.50", "0.00", "0.00", "2.68", "0.00", "33.50",
                        "36.18", False),
    (TENANT_B, "gid://shopify/Order/1001"): ("online_store", date(2025, 1, 5), 1, 2, "80.00", "0.00", "0.00",
                                             "15.20", "0.00", "80.00", "95.20", False),
    (TENANT_B, "gid://shopify/Order/1002"): ("online_store", date(2025, 7, 1), 1, 1, "12.35", "0.35", "4.90",
                                             "2.28", "12.00", "0.00", "19.18", False),
}

# tenant -> orders, gross, discounts, refunds, net revenue, shipping, tax, total
EXPECTED_TOTALS = {
    TENANT_A: (6, "377.80", "22.00", "107.99", "247.81", "39.90", "16.37", "412.07"),
    TENANT_B: (2, "92.35", "0.35", "12.00", "80.00", "4.90", "17.48", "114.38"),
}


def money(*values: str) -> tuple[Decimal, ...]:
    return tuple(D(v) for v in values)


# --- the builds ------------------------------------------------------------------------------------------------

def test_every_build_passes_every_dbt_test(scenario):
    for run in (scenario.first_a, scenario.build_b, scenario.second_a):
        statuses = run.statuses()
        assert statuses, f"no run_results for {run.args}"
        bad = {uid: s for uid, s in statuses.items() if s not in ("success", "pass")}
        assert not bad, f"{run.args}: {bad}"
        # the reconciliation to the Shopify API, the money unit test and the slice pre-hook all really ran
        assert statuses["test.omnianalytics.assert_shopify_orders_reconcile_to_the_api"] == "pass"
        assert statuses["unit_test.omnianalytics.fct_orders.fct_orders_money_logic"] == "pass"
        assert sum(uid.startswith("test.") for uid in statuses) > 100


# --- money, to the cent ------------------------------------------------------------------------------------------

def test_order_money_to_the_cent(query):
    rows = query("""
        select tenant_id, order_id, channel, order_date, line_count, units, gross_amount, discount_amount,
               shipping_amount, tax_amount, refund_amount, net_revenue, total_amount, is_cancelled
        from marts.fct_orders""")
    got = {(r[0], r[1]): r[2:] for r in rows}
    expected = {k: (*v[:4], *money(*v[4:11]), v[11]) for k, v in EXPECTED_ORDERS.items()}
    assert got == expected


def test_tenant_totals_to_the_cent(query):
    rows = query("""
        select tenant_id, count(*), sum(gross_amount), sum(discount_amount), sum(refund_amount), sum(net_revenue),
               sum(shipping_amount), sum(tax_amount), sum(total_amount)
        from marts.fct_orders group by tenant_id""")
    assert {r[0]: r[1:] for r in rows} == {t: (v[0], *money(*v[1:])) for t, v in EXPECTED_TOTALS.items()}


def test_order_lines_round_half_away_from_zero_and_carry_their_refunds(query):
    rows = query("""
        select tenant_id, line_id, quantity, unit_price, gross_amount, discount_amount, net_line_amount,
               refunded_quantity, refunded_amount
        from marts.fct_order_lines""")
    lines = {(r[0], r[1]): r[2:] for r in rows}
    assert len(lines) == 9 + 2
    li = "gid://shopify/LineItem/"
    # 3 × 0.3350 = 1.005 → 1.01; 7 × 3.3333 = 23.3331 → 23.33; 1 × 12.3450 → 12.35
    assert lines[(TENANT_A, li + "12")][:4] == (3, D("0.3350"), D("1.01"), D("0.00"))
    assert lines[(TENANT_A, "W-1#2")][:4] == (7, D("3.3333"), D("23.33"), D("0.00"))
    assert lines[(TENANT_B, li + "21")] == (1, D("12.3450"), D("12.35"), D("0.35"), D("12.00"), 1, D("12.00"))
    # one unit of three refunded once; a line refunded in two refunds sums them
    assert lines[(TENANT_A, li + "11")][4:] == (D("53.97"), 1, D("17.99"))
    assert lines[(TENANT_A, li + "21")][4:] == (D("90.00"), 2, D("90.00"))
    assert lines[(TENANT_A, "W-1#1")][4:] == (D("120.00"), 0, D("0.00"))


def test_orders_are_the_sum_of_their_lines(query):
    mismatched = query("""
        with lines as (
            select order_key, count(*) as n, sum(quantity) as units, sum(gross_amount) as gross,
                   sum(discount_amount) as discount, sum(tax_amount) as tax, sum(refunded_amount) as refund
            from marts.fct_order_lines group by order_key
        )
        select o.order_key from marts.fct_orders as o left join lines as l using (order_key)
        where (o.line_count, o.units, o.gross_amount, o.discount_amount, o.tax_amount, o.refund_amount)
              is distinct from (l.n, l.units, l.gross, l.discount, l.tax, l.refund)""")
    assert mismatched == []


def test_shopify_orders_reconcile_with_the_api(query):
    """Contract: subtotal = lines after discounts; total_refunded = Σ refund line subtotal + tax."""
    for tenant in (TENANT_A, TENANT_B):
        rows = query(f"""
            select o.order_id, o.gross_amount - o.discount_amount, raw.subtotal_amount,
                   o.total_amount, raw.total_price_amount
            from marts.fct_orders as o
            join raw_shopify__{tenant}.orders as raw on raw.id = o.order_id
            where o.tenant_id = ? and o.source = 'shopify'""", [tenant])
        assert rows and all(r[1] == r[2] and r[3] == r[4] for r in rows), rows


# --- time ----------------------------------------------------------------------------------------------------

def test_order_date_is_the_day_in_the_tenants_time_zone(query):
    rows = dict(((r[0], r[1]), (r[2], r[3])) for r in query(
        "select tenant_id, order_id, cast(ordered_at as varchar), order_date from marts.fct_orders"))
    o = "gid://shopify/Order/"
    # 03:00Z on 5 January is the evening of 4 January in New York (EST, UTC-5)
    assert rows[(TENANT_A, o + "1001")][1] == date(2025, 1, 4)
    # 04:30Z on 1 February is 23:30 on 31 January in New York
    assert rows[(TENANT_A, "W-1")][1] == date(2025, 1, 31)
    # 03:59:59Z on 4 July is 23:59:59 on 3 July in New York (EDT, UTC-4)
    assert rows[(TENANT_A, o + "1004")][1] == date(2025, 7, 3)
    # 23:30Z on 4 January is 00:30 on 5 January in Berlin (CET, UTC+1); 22:15Z 30 June is 1 July (CEST, UTC+2)
    assert rows[(TENANT_B, o + "1001")][1] == date(2025, 1, 5)
    assert rows[(TENANT_B, o + "1002")][1] == date(2025, 7, 1)
    # lines carry their order's day
    assert query("""select count(*) from marts.fct_order_lines l join marts.fct_orders o using (order_key)
                    where l.order_date <> o.order_date or l.ordered_at <> o.ordered_at""") == [(0,)]


def test_dim_date_covers_every_order_date(query):
    (first, last, days, missing), = query("""
        select min(date_day), max(date_day), count(*),
               (select count(*) from marts.fct_orders where order_date not in (select date_day from marts.dim_date))
        from marts.dim_date""")
    assert first == date(2025, 1, 1) and last >= date(2026, 12, 31)
    assert days == (last - first).days + 1 and missing == 0
    assert query("select iso_day_of_week, is_weekend, week_start, quarter_start from marts.dim_date "
                 "where date_day = date '2025-07-05'") == [(6, True, date(2025, 6, 30), date(2025, 7, 1))]


# --- tenancy ---------------------------------------------------------------------------------------------------

def test_building_tenant_b_leaves_tenant_a_byte_identical(scenario):
    """borealis was built with --full-refresh: full_refresh: false keeps it from rebuilding the shared tables."""
    assert "--full-refresh" in scenario.build_b.args
    assert scenario.a_after_b == scenario.a_after_first


def test_rebuilding_tenant_a_replaces_its_slice_and_changes_nothing_else(scenario):
    assert scenario.a_after_second == scenario.a_after_first
    assert scenario.b_after_second_a == scenario.b_after_b
    counts = {mart: scenario.a_after_second[mart][0] for mart in MARTS}
    assert counts == {"fct_orders": 6, "fct_order_lines": 9, "dim_customers": 4, "dim_products": 5,
                      "dim_channels": 3, "dim_tenants": 1}
    assert {mart: scenario.b_after_b[mart][0] for mart in MARTS} == {
        "fct_orders": 2, "fct_order_lines": 2, "dim_customers": 1, "dim_products": 2, "dim_channels": 1,
        "dim_tenants": 1}


def test_tenant_without_files_or_customers_still_builds(scenario, query):
    assert query("select count(*) from information_schema.schemata where schema_name = ?",
                 [f"raw_files__{TENANT_B}"]) == [(0,)]
    assert query("select distinct source from marts.fct_orders where tenant_id = ?", [TENANT_B]) == [("shopify",)]
    # its (empty, typed) file-drop staging views exist all the same
    assert query(f"select count(*) from stg_{TENANT_B}.stg_files__order_lines") == [(0,)]
    assert query("select data_type from information_schema.columns where table_schema = ? and "
                 "table_name = 'stg_files__order_lines' and column_name = 'unit_price'",
                 [f"stg_{TENANT_B}"]) == [("DECIMAL(18,4)",)]
    # no customer records yet: the ordering customer is known from its order
    assert query("select identity_type, sources, has_customer_record, order_count, net_revenue_reporting "
                 "from marts.dim_customers where tenant_id = ?", [TENANT_B]) == [
        ("channel", "shopify", False, 1, D("80.00"))]
    # its orders table predates cancelled_at: read as null, said so
    assert "lacks documented column(s) cancelled_at" in scenario.build_b.output


def test_keys_include_the_tenant(query):
    """borealis reuses acme's Shopify GIDs: every key still differs across tenants."""
    for mart, key in [("fct_orders", "order_key"), ("fct_order_lines", "order_line_key"),
                      ("dim_customers", "customer_key"), ("dim_products", "product_key"),
                      ("dim_channels", "channel_key")]:
        assert query(f"select count(*) - count(distinct {key}) from marts.{mart}") == [(0,)], mart
    assert query("select count(distinct order_key) from marts.fct_orders "
                 "where order_id = 'gid://shopify/Order/1001'") == [(2,)]


def test_staging_lives_in_the_tenants_schema_and_marts_are_shared(query):
    schemas = {r[0] for r in query("select distinct table_schema from information_schema.tables")}
    assert {f"stg_{TENANT_A}", f"stg_{TENANT_B}", "marts", "reference"} <= schemas
    assert not any(s.startswith("stg__") for s in schemas)
    views = {r[0] for r in query("select table_name from information_schema.tables where table_schema = ? "
                                 "and table_type = 'VIEW'", [f"stg_{TENANT_A}"])}
    # every staging model of the project is a view in the tenant's schema (whether or not it landed the source)
    staging = {p.stem for p in (REPO / "dbt_project" / "models" / "staging").rglob("stg_*.sql")}
    assert views == staging and {"stg_shopify__refunds", "stg_files__orders", "stg_platform__tenants"} <= views
    for mart in MARTS + ["dim_date"]:
        first = query("select column_name from information_schema.columns where table_schema = 'marts' and "
                      "table_name = ? order by ordinal_position limit 1", [mart])
        assert first == [("date_day",)] if mart == "dim_date" else first == [("tenant_id",)], mart


# --- dimensions --------------------------------------------------------------------------------------------------

def test_dim_customers_unifies_one_person_across_channels(query):
    """Shopify's Ann and the store's loyalty record B2B-2 share an e-mail (in other case and spacing): one
    customer with three orders on two channels, acquired online in January. RFM as of 3 July (the latest order
    not cancelled): recency 0 / 153 / 179 days -> R 5, 4, 3; net 84.49 / 143.33 / 0.00 -> M 2, 3, 1."""
    rows = query("""select email, identity_type, sources, has_customer_record, first_name, order_count,
                           net_revenue_reporting, cast(first_order_at as varchar), cast(first_order_date as varchar),
                           cast(first_order_month as varchar), acquisition_channel, recency_days, r_score, f_score,
                           m_score, rfm_segment
                    from marts.dim_customers where tenant_id = ? order by email""", [TENANT_A])
    assert rows == [
        ("ann@example.com", "email", "files, shopify", True, "Ann", 3, D("84.49"), "2025-01-05 03:00:00+00",
         "2025-01-04", "2025-01-01", "online_store", 0, 5, 3, 2, "loyal"),
        ("bob@example.com", "email", "shopify", True, "Bob", 1, D("0.00"), "2025-01-05 12:00:00+00",
         "2025-01-05", "2025-01-01", "online_store", 179, 3, 1, 1, "promising"),
        ("buyer@corner.example", "email", "files", True, "Pat", 1, D("143.33"), "2025-02-01 04:30:00+00",
         "2025-01-31", "2025-01-01", "wholesale", 153, 4, 1, 3, "new"),
        ("cy@example.com", "email", "shopify", True, "Cy", 0, D("0.00"), None, None, None, None, None, None, None,
         None, "no_orders"),
    ]
    # every order of Ann, whichever channel, carries her one key; the guest order none
    assert query("""select channel, customer_segment, customer_order_number from marts.fct_orders
                    where tenant_id = ? and customer_key = (select customer_key from marts.dim_customers
                                                            where tenant_id = ? and email = 'ann@example.com')
                    order by ordered_at""", [TENANT_A, TENANT_A]) == [
        ("online_store", "new", 1), ("retail", "returning", 2), ("online_store", "returning", 3)]
    # the one guest order, #1003, was cancelled: not a purchase
    assert query("select order_number, customer_segment, customer_order_number from marts.fct_orders "
                 "where tenant_id = ? and customer_key is null", [TENANT_A]) == [("#1003", "cancelled", None)]


def test_dim_products_one_row_per_sku_shopify_first(query):
    rows = query("""select sku, title, category, price, unit_cost, sources, has_catalogue_record
                    from marts.dim_products where tenant_id = ? order by sku""", [TENANT_A])
    assert rows == [
        ("SKU-A", "Trail Mug", "Drinkware", D("19.9900"), D("7.5000"), "files, shopify", True),
        ("SKU-B", "Trail Mug - Mini", "Drinkware", D("0.3350"), D("0.1000"), "files, shopify", True),
        ("SKU-C", "Camp Stove", "Cooking", D("50.0000"), D("21.0000"), "shopify", True),
        ("SKU-D", None, None, None, None, "shopify", False),
        ("SKU-E", "Enamel Pin", "Accessories", D("3.3333"), D("0.9000"), "files", True),
    ]
    # the custom item without SKU has no product; every other line finds its product
    assert query("""select count(*) filter (where product_key is null),
                           count(*) filter (where product_key is not null and product_key not in
                                            (select product_key from marts.dim_products))
                    from marts.fct_order_lines where tenant_id = ?""", [TENANT_A]) == [(1, 0)]


def test_dim_channels_and_dim_tenants(query):
    assert query("""select channel, channel_name, channel_type, source from marts.dim_channels
                    where tenant_id = ? order by channel""", [TENANT_A]) == [
        ("online_store", "Online store", "dtc", "shopify"),
        ("retail", "Retail stores", "dtc", "files"),
        ("wholesale", "Wholesale", "b2b", "files"),
    ]
    # only built tenants have a slice (cobalt is registered but was never built)
    assert query("select tenant_id, currency, timezone from marts.dim_tenants order by tenant_id") == [
        (TENANT_A, "USD", "America/New_York"), (TENANT_B, "EUR", "Europe/Berlin")]


# --- refusing to run without a safe tenant ----------------------------------------------------------------------

@pytest.mark.parametrize(("command", "tenant", "message"), [
    # parses without vars (the manifest Dagster reads), but refuses to run SQL without a tenant
    (["compile", "--select", "stg_platform__tenants"], None, "no tenant given"),
    # an unsafe slug is refused while parsing, before dbt could create a schema named after it
    (["parse"], "Acme; drop schema marts", "is not a safe identifier"),
])
def test_missing_or_unsafe_tenant_is_refused(tmp_path, command, tenant, message):
    run = run_dbt(tmp_path, tmp_path / "scratch.duckdb", command, tenant, target="target")
    assert run.returncode != 0
    assert message in run.output, run.output[-3000:]
