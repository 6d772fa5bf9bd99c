"""The dbt project on a real DuckDB file: two tenants' raw landings written by hand, exactly per contract
section 4, and the per-tenant builds the orchestration runs.

- ``acme`` (USD, America/New_York) has Shopify and a file drop;
- ``borealis`` (EUR, Europe/Berlin) has Shopify only: NO ``raw_files__borealis`` schema at all, no Shopify
  ``customers`` table yet, and an ``orders`` table landed before ``cancelled_at`` existed. It reuses acme's
  Shopify GIDs on purpose (ids are only unique per shop).

Every number asserted in test_tenant_slices.py is computed by hand in the comments below.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
DBT = REPO / ".venv" / "bin" / "dbt"

TENANT_A = "acme"
TENANT_B = "borealis"
MARTS = ["fct_orders", "fct_order_lines", "dim_customers", "dim_products", "dim_channels", "dim_tenants"]

D = Decimal


def ts(text: str) -> datetime:
    """An ISO instant ('2025-01-05T03:00:00Z') as an aware UTC datetime (lands as timestamp with time zone)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --- landing: the raw tables dlt writes (contracts.md section 4), with dlt's own columns ---------------------

TEXT, BIGINT, TSTZ, MONEY, UNIT = "text", "bigint", "timestamp with time zone", "decimal(18,2)", "decimal(18,4)"
DLT = {"_dlt_load_id": TEXT, "_dlt_id": TEXT}

SHOPIFY = {
    "orders": {
        "id": TEXT, "legacy_resource_id": BIGINT, "name": TEXT, "created_at": TSTZ, "updated_at": TSTZ,
        "processed_at": TSTZ, "cancelled_at": TSTZ, "currency_code": TEXT, "presentment_currency_code": TEXT,
        "source_name": TEXT, "customer_id": TEXT, "subtotal_amount": MONEY, "total_discounts_amount": MONEY,
        "total_tax_amount": MONEY, "total_shipping_amount": MONEY, "total_price_amount": MONEY,
        "total_refunded_amount": MONEY, "total_price_presentment_amount": MONEY,
    },
    "order_line_items": {
        "id": TEXT, "order_id": TEXT, "order_updated_at": TSTZ, "sku": TEXT, "quantity": BIGINT, "variant_id": TEXT,
        "product_id": TEXT, "original_unit_price_amount": UNIT, "original_unit_price_presentment_amount": UNIT,
        "total_discount_amount": MONEY, "tax_amount": MONEY,
    },
    "refunds": {"id": TEXT, "order_id": TEXT, "created_at": TSTZ, "total_refunded_amount": MONEY},
    "refund_line_items": {
        "id": TEXT, "refund_id": TEXT, "order_id": TEXT, "line_item_id": TEXT, "quantity": BIGINT,
        "subtotal_amount": MONEY, "total_tax_amount": MONEY,
    },
    "customers": {
        "id": TEXT, "email": TEXT, "first_name": TEXT, "last_name": TEXT, "created_at": TSTZ, "updated_at": TSTZ,
        "number_of_orders": BIGINT, "amount_spent_amount": MONEY, "country_code": TEXT,
    },
    "products": {
        "id": TEXT, "title": TEXT, "product_type": TEXT, "vendor": TEXT, "status": TEXT, "created_at": TSTZ,
        "updated_at": TSTZ,
    },
    "product_variants": {
        "id": TEXT, "product_id": TEXT, "sku": TEXT, "title": TEXT, "price_amount": UNIT, "unit_cost_amount": UNIT,
        "updated_at": TSTZ,
    },
}
FILE_COLUMNS = {"_source_file": TEXT, "_source_line": BIGINT}
FILES = {
    "orders": {"order_id": TEXT, "order_number": TEXT, "customer_id": TEXT, "ordered_at": TSTZ, "currency": TEXT,
               "shipping_amount": MONEY, "channel": TEXT, **FILE_COLUMNS},
    "order_lines": {"order_id": TEXT, "line_number": BIGINT, "sku": TEXT, "quantity": BIGINT, "unit_price": UNIT,
                    "discount_amount": MONEY, "tax_amount": MONEY, **FILE_COLUMNS},
    "customers": {"customer_id": TEXT, "email": TEXT, "first_name": TEXT, "last_name": TEXT, "country_code": TEXT,
                  "created_at": TSTZ, **FILE_COLUMNS},
    "products": {"sku": TEXT, "title": TEXT, "category": TEXT, "unit_cost": UNIT, "price": UNIT, **FILE_COLUMNS},
    "quarantine": {"tenant": TEXT, "source": TEXT, "file": TEXT, "line": BIGINT, "entity": TEXT, "rule": TEXT,
                   "reason": TEXT, "raw_record": TEXT, "quarantined_at": TSTZ},
}
PLATFORM_TENANTS = {"tenant_id": TEXT, "display_name": TEXT, "currency": TEXT, "timezone": TEXT, "plan_tier": TEXT,
                    "data_retention_days": BIGINT, "updated_at": TSTZ}


def gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def o(n):
    return gid("Order", n)


def li(n):
    return gid("LineItem", n)


LANDED = ts("2025-08-01T00:00:00Z")

# ---- tenant A: acme, USD, America/New_York (EST = UTC-5, EDT = UTC-4 from 9 March 2025) --------------------
# Shopify orders (gross = Σ round(q × p, 2); net = gross − discounts − refunds; total = gross − disc + ship + tax)
#  #1001 03:00Z 5 Jan (= 4 Jan NY): 3 × 19.99 = 59.97 (disc 6.00, tax 4.68) + 3 × 0.3350 = 1.005 → 1.01 (tax 0.08)
#        gross 60.98, disc 6.00, ship 4.95, tax 4.76, refunded 1 unit of the first line: 17.99 + 1.56 tax
#        → net 60.98 − 6.00 − 17.99 = 36.99; total 64.69; API subtotal 54.98, API refunded 19.55
#  #1002 12:00Z 5 Jan (= 5 Jan): 2 × 50.00 = 100.00, disc 10.00, tax 7.20, fully refunded in two refunds of
#        45.00 + 3.60 → refund 90.00, net 0.00; total 97.20; API refunded 97.20
#  #1003 05:30Z 1 Feb (= 00:30 1 Feb), cancelled, guest: 19.99, tax 1.73, ship 4.95 → net 19.99, total 26.67
#  #1004 03:59:59Z 4 Jul (= 23:59:59 3 Jul EDT): 4 × 2.50 = 10.00 disc 1.00 (SKU-D in no catalogue) + a custom
#        item without SKU 1 × 5.00; ship 5.00 → gross 15.00, net 14.00, total 19.00
# File-drop orders
#  W-1 04:30Z 1 Feb (= 23:30 31 Jan), wholesale: 10 × 12.50 = 125.00 disc 5.00 + 7 × 3.3333 = 23.3331 → 23.33;
#        ship 25.00 → gross 148.33, net 143.33, total 168.33
#  W-2 15:00Z 10 Mar (= 11:00 EDT), channel retail, customer B2B-2 = Shopify's Ann by e-mail: 100 × 0.3350 = 33.50,
#        tax 2.68 → net 33.50, total 36.18
# Tenant totals: 6 orders, gross 377.80, discounts 22.00, refunds 107.99, net 247.81, shipping 39.90,
#                tax 16.37, total 412.07
ACME_SHOPIFY = {
    "orders": [
        # id, legacy, name, created, updated, processed, cancelled, cur, pres, source, customer,
        # subtotal, discounts, tax, shipping, total, refunded, total_presentment
        (o(1001), 1001, "#1001", ts("2025-01-05T03:00:00Z"), ts("2025-01-20T10:00:00Z"), ts("2025-01-05T03:00:00Z"),
         None, "USD", "CAD", "web", gid("Customer", 1),
         D("54.98"), D("6.00"), D("4.76"), D("4.95"), D("64.69"), D("19.55"), D("88.14")),
        (o(1002), 1002, "#1002", ts("2025-01-05T12:00:00Z"), ts("2025-01-12T09:00:00Z"), ts("2025-01-05T12:00:00Z"),
         None, "USD", "USD", "web", gid("Customer", 2),
         D("90.00"), D("10.00"), D("7.20"), D("0.00"), D("97.20"), D("97.20"), D("97.20")),
        (o(1003), 1003, "#1003", ts("2025-02-01T05:30:00Z"), ts("2025-02-01T06:00:00Z"), ts("2025-02-01T05:30:00Z"),
         ts("2025-02-01T06:00:00Z"), "USD", "USD", "web", None,
         D("19.99"), D("0.00"), D("1.73"), D("4.95"), D("26.67"), D("0.00"), D("26.67")),
        (o(1004), 1004, "#1004", ts("2025-07-04T03:59:59Z"), ts("2025-07-04T03:59:59Z"), ts("2025-07-04T03:59:59Z"),
         None, "USD", "USD", "web", gid("Customer", 1),
         D("14.00"), D("1.00"), D("0.00"), D("5.00"), D("19.00"), D("0.00"), D("19.00")),
    ],
    "order_line_items": [
        # id, order, order_updated, sku, qty, variant, product, unit, unit_presentment, discount, tax
        (li(11), o(1001), ts("2025-01-20T10:00:00Z"), "SKU-A", 3, gid("ProductVariant", 1), gid("Product", 1),
         D("19.9900"), D("27.0100"), D("6.00"), D("4.68")),
        (li(12), o(1001), ts("2025-01-20T10:00:00Z"), "SKU-B", 3, gid("ProductVariant", 2), gid("Product", 1),
         D("0.3350"), D("0.4500"), D("0.00"), D("0.08")),
        (li(21), o(1002), ts("2025-01-12T09:00:00Z"), "SKU-C", 2, gid("ProductVariant", 3), gid("Product", 2),
         D("50.0000"), D("50.0000"), D("10.00"), D("7.20")),
        (li(31), o(1003), ts("2025-02-01T06:00:00Z"), "SKU-A", 1, gid("ProductVariant", 1), gid("Product", 1),
         D("19.9900"), D("19.9900"), D("0.00"), D("1.73")),
        (li(41), o(1004), ts("2025-07-04T03:59:59Z"), "SKU-D", 4, None, None,
         D("2.5000"), D("2.5000"), D("1.00"), D("0.00")),
        (li(42), o(1004), ts("2025-07-04T03:59:59Z"), None, 1, None, None,
         D("5.0000"), D("5.0000"), D("0.00"), D("0.00")),
    ],
    "refunds": [
        (gid("Refund", 1), o(1001), ts("2025-01-20T10:00:00Z"), D("19.55")),
        (gid("Refund", 2), o(1002), ts("2025-01-10T09:00:00Z"), D("48.60")),
        (gid("Refund", 3), o(1002), ts("2025-01-12T09:00:00Z"), D("48.60")),
    ],
    "refund_line_items": [
        (gid("RefundLineItem", 1), gid("Refund", 1), o(1001), li(11), 1, D("17.99"), D("1.56")),
        (gid("RefundLineItem", 2), gid("Refund", 2), o(1002), li(21), 1, D("45.00"), D("3.60")),
        (gid("RefundLineItem", 3), gid("Refund", 3), o(1002), li(21), 1, D("45.00"), D("3.60")),
    ],
    "customers": [
        (gid("Customer", 1), "  Ann@Example.COM ", "Ann", "Lee", ts("2024-12-01T10:00:00Z"),
         ts("2025-07-04T03:59:59Z"), 2, D("83.69"), "us"),
        (gid("Customer", 2), "bob@example.com", "Bob", "Ng", ts("2024-12-02T10:00:00Z"),
         ts("2025-01-12T09:00:00Z"), 1, D("0.00"), "US"),
        (gid("Customer", 3), "cy@example.com", "Cy", "Ode", ts("2024-12-03T10:00:00Z"),
         ts("2024-12-03T10:00:00Z"), 0, D("0.00"), "CA"),
    ],
    "products": [
        (gid("Product", 1), "Trail Mug", "Drinkware", "Acme", "ACTIVE", ts("2024-10-01T00:00:00Z"),
         ts("2024-11-01T00:00:00Z")),
        (gid("Product", 2), "Camp Stove", "Cooking", "Acme", "ACTIVE", ts("2024-10-01T00:00:00Z"),
         ts("2024-11-01T00:00:00Z")),
    ],
    "product_variants": [
        (gid("ProductVariant", 1), gid("Product", 1), "SKU-A", "Default Title", D("19.9900"), D("7.5000"),
         ts("2024-11-01T00:00:00Z")),
        (gid("ProductVariant", 2), gid("Product", 1), "SKU-B", "Mini", D("0.3350"), D("0.1000"),
         ts("2024-11-01T00:00:00Z")),
        (gid("ProductVariant", 3), gid("Product", 2), "SKU-C", "Default Title", D("50.0000"), D("21.0000"),
         ts("2024-11-01T00:00:00Z")),
        (gid("ProductVariant", 4), gid("Product", 2), "", "Spare part", D("3.0000"), None,  # a variant without SKU
         ts("2024-11-01T00:00:00Z")),
    ],
}
ACME_FILES = {
    "orders": [
        ("W-1", "W-1", "B2B-1", ts("2025-02-01T04:30:00Z"), "USD", D("25.00"), "wholesale",
         "orders_2025-01.csv", 2),
        ("W-2", "W-2", "B2B-2", ts("2025-03-10T15:00:00Z"), "USD", D("0.00"), "retail", "orders_2025-03.csv", 2),
    ],
    "order_lines": [
        ("W-1", 1, "SKU-A", 10, D("12.5000"), D("5.00"), D("0.00"), "order_lines_2025-01.csv", 2),
        ("W-1", 2, "SKU-E", 7, D("3.3333"), D("0.00"), D("0.00"), "order_lines_2025-01.csv", 3),
        ("W-2", 1, "SKU-B", 100, D("0.3350"), D("0.00"), D("2.68"), "order_lines_2025-03.csv", 2),
    ],
    "customers": [
        ("B2B-1", " Buyer@Corner.EXAMPLE ", "Pat", "Corner Store", "US", ts("2024-06-01T00:00:00Z"),
         "customers.csv", 2),
        # the store's loyalty record of Shopify's Ann (same e-mail, other case): one customer across channels
        ("B2B-2", "ann@EXAMPLE.com ", "Ann", "Lee", "US", ts("2025-03-10T14:00:00Z"), "customers.csv", 3),
    ],
    "products": [
        ("SKU-A", "Trail Mug (wholesale pack)", "Drinkware", D("7.0000"), D("12.5000"), "products.csv", 2),
        ("SKU-E", "Enamel Pin", "Accessories", D("0.9000"), D("3.3333"), "products.csv", 3),
    ],
    "quarantine": [
        ("acme", "files", "orders_2025-03.csv", 3, "orders", "required", "order_id is empty",
         '{"order_id": ""}', LANDED),
    ],
}

# ---- tenant B: borealis, EUR, Europe/Berlin (CET = UTC+1, CEST = UTC+2) -------------------------------------
#  #1001 23:30Z 4 Jan (= 00:30 5 Jan Berlin): 2 × 40.00 = 80.00, tax 15.20 → net 80.00, total 95.20
#  #1002 22:15Z 30 Jun (= 00:15 1 Jul CEST), guest: 1 × 12.3450 = 12.345 → 12.35 (half away from zero),
#        disc 0.35, tax 2.28, ship 4.90; refunded 12.00 + 2.28 tax → net 0.00, total 19.18
# Totals: 2 orders, gross 92.35, discounts 0.35, refunds 12.00, net 80.00, shipping 4.90, tax 17.48, total 114.38
BOREALIS_ORDERS_WITHOUT = "cancelled_at"  # landed before the column existed: reads as null (with a warning)
BOREALIS_SHOPIFY = {
    "orders": [
        (o(1001), 1001, "#1001", ts("2025-01-04T23:30:00Z"), ts("2025-01-04T23:30:00Z"), ts("2025-01-04T23:30:00Z"),
         None, "EUR", "EUR", "web", gid("Customer", 1),
         D("80.00"), D("0.00"), D("15.20"), D("0.00"), D("95.20"), D("0.00"), D("95.20")),
        (o(1002), 1002, "#1002", ts("2025-06-30T22:15:00Z"), ts("2025-07-10T08:00:00Z"), ts("2025-06-30T22:15:00Z"),
         None, "EUR", "SEK", "web", None,
         D("12.00"), D("0.35"), D("2.28"), D("4.90"), D("19.18"), D("14.28"), D("219.90")),
    ],
    "order_line_items": [
        (li(11), o(1001), ts("2025-01-04T23:30:00Z"), "SKU-A", 2, gid("ProductVariant", 1), gid("Product", 1),
         D("40.0000"), D("40.0000"), D("0.00"), D("15.20")),
        (li(21), o(1002), ts("2025-07-10T08:00:00Z"), "SKU-Z", 1, None, None,
         D("12.3450"), D("141.5000"), D("0.35"), D("2.28")),
    ],
    "refunds": [(gid("Refund", 1), o(1002), ts("2025-07-10T08:00:00Z"), D("14.28"))],
    "refund_line_items": [
        (gid("RefundLineItem", 1), gid("Refund", 1), o(1002), li(21), 1, D("12.00"), D("2.28")),
    ],
    # no "customers" table: the tenant has not landed it yet
    "products": [
        (gid("Product", 1), "Polar Mug", "Drinkware", "Borealis", "ACTIVE", ts("2024-10-01T00:00:00Z"),
         ts("2024-11-01T00:00:00Z")),
    ],
    "product_variants": [
        (gid("ProductVariant", 1), gid("Product", 1), "SKU-A", "Default Title", D("40.0000"), D("16.0000"),
         ts("2024-11-01T00:00:00Z")),
    ],
}

TENANTS = [
    ("acme", "Acme Outdoor", "USD", "America/New_York", "growth", 1095, LANDED),
    ("borealis", "Borealis Design", "EUR", "Europe/Berlin", "starter", 730, LANDED),
    ("cobalt", "Cobalt Goods", "GBP", "Europe/London", "starter", 365, LANDED),  # registered, never built here
]


def land(con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: dict[str, str], rows: list[tuple],
         *, dlt_columns: bool = True, without: tuple[str, ...] = ()) -> None:
    """Create schema.table with exactly the contract's types (plus dlt's columns) and insert the rows."""
    keep = [i for i, name in enumerate(columns) if name not in without]
    names = [list(columns)[i] for i in keep]
    types = {name: columns[name] for name in names} | (DLT if dlt_columns else {})
    con.execute(f"create schema if not exists {schema}")
    con.execute(f"create table {schema}.{table} ({', '.join(f'{n} {t}' for n, t in types.items())})")
    extra = ("1754006400.1", None) if dlt_columns else ()
    for i, row in enumerate(rows):
        values = [row[k] for k in keep] + ([extra[0], f"{table}-{i}"] if dlt_columns else [])
        con.execute(f"insert into {schema}.{table} values ({', '.join('?' * len(values))})", values)


def land_scenario(con) -> None:
    """The registry and both tenants' raw tables, through ``con`` (a DuckDB connection, or anything with its
    ``execute(sql, params)``)."""
    land(con, "raw_platform", "tenants", PLATFORM_TENANTS, TENANTS)
    for table, rows in ACME_SHOPIFY.items():
        land(con, f"raw_shopify__{TENANT_A}", table, SHOPIFY[table], rows)
    for table, rows in ACME_FILES.items():
        land(con, f"raw_files__{TENANT_A}", table, FILES[table], rows, dlt_columns=table != "quarantine")
    for table, rows in BOREALIS_SHOPIFY.items():
        without = (BOREALIS_ORDERS_WITHOUT,) if table == "orders" else ()
        land(con, f"raw_shopify__{TENANT_B}", table, SHOPIFY[table], rows, without=without)


def land_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        land_scenario(con)


# --- running dbt as the orchestration does: one tenant per invocation ----------------------------------------

@dataclass
class DbtRun:
    args: list[str]
    returncode: int
    output: str
    seconds: float
    results: list[dict] = field(default_factory=list)

    def statuses(self) -> dict[str, str]:
        return {r["unique_id"]: r["status"] for r in self.results}


def run_dbt(workdir: Path, db: Path, command: list[str], tenant: str | None, *, target: str) -> DbtRun:
    """``dbt <command> --vars '{tenant: ...}'`` in a subprocess against ``db``, with its own target and log paths
    (so parallel runs never share dbt's state) and telemetry off."""
    env = {
        **os.environ,
        "OMNI_PROFILE": "embedded",
        "OMNI_DUCKDB_PATH": str(db),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
    }
    args = [str(DBT), *command, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
            "--target-path", str(workdir / target), "--log-path", str(workdir / "logs"), "--no-use-colors"]
    if tenant is not None:
        args += ["--vars", json.dumps({"tenant": tenant})]
    results = workdir / target / "run_results.json"
    results.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    run = DbtRun(args, proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start)
    if results.exists():
        run.results = json.loads(results.read_text())["results"]
    return run


def slice_digest(db: Path, tenant: str) -> dict[str, tuple[int, str]]:
    """Per mart: (row count, md5 of the tenant's rows rendered as text in a fixed order)."""
    with duckdb.connect(str(db), read_only=True) as con:
        digest = {}
        for mart in MARTS:
            digest[mart] = con.execute(
                f"select count(*), md5(coalesce(string_agg(cast(t as varchar), '\n' order by cast(t as varchar)), ''))"
                f" from marts.{mart} as t where tenant_id = ?", [tenant]).fetchone()
        return digest


@dataclass
class Scenario:
    """The warehouse after: build A, build B with --full-refresh, build A again (the incremental path)."""

    db: Path
    first_a: DbtRun
    build_b: DbtRun
    second_a: DbtRun
    a_after_first: dict
    a_after_b: dict
    a_after_second: dict
    b_after_b: dict
    b_after_second_a: dict


@pytest.fixture(scope="session")
def scenario(tmp_path_factory, worker_id) -> Scenario:
    """Built once per session; under pytest-xdist once for all workers (the first builds it under a file lock,
    the others read the pickled result: every test only reads the scenario's warehouse)."""
    if worker_id == "master":
        return build_scenario(tmp_path_factory.mktemp("dbt"))
    shared = tmp_path_factory.getbasetemp().parent / "dbt_scenario"
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = shared / "scenario.pickle"
        if not built.exists():
            built.write_bytes(pickle.dumps(build_scenario(shared)))
        return pickle.loads(built.read_bytes())


def build_scenario(workdir: Path) -> Scenario:
    db = workdir / "warehouse.duckdb"
    land_warehouse(db)

    def build(tenant: str, *flags: str) -> DbtRun:
        run = run_dbt(workdir, db, ["build", *flags], tenant, target=f"target_{tenant}")
        assert run.returncode == 0, f"dbt build for {tenant} failed:\n{run.output[-6000:]}"
        return run

    first_a = build(TENANT_A)
    a_after_first = slice_digest(db, TENANT_A)
    build_b = build(TENANT_B, "--full-refresh")  # a per-tenant full refresh must not wipe the other tenants
    a_after_b, b_after_b = slice_digest(db, TENANT_A), slice_digest(db, TENANT_B)
    second_a = build(TENANT_A)
    return Scenario(db, first_a, build_b, second_a, a_after_first, a_after_b, slice_digest(db, TENANT_A),
                    b_after_b, slice_digest(db, TENANT_B))


@pytest.fixture(scope="session")
def query(scenario):
    """Run a read-only query on the scenario's warehouse, returning all rows."""
    def run(sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(scenario.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()
    return run
