"""The PostgreSQL indexes of the marts, cubes and reports (macros/indexes.sql, a post-hook on each model).

A small tenant is landed by hand on a throwaway PostgreSQL database -- tests/dbt/conftest.py's Shopify and file-drop
rows (its ``land`` helper, through a psycopg2 cursor), under the slug ``kumo`` plus three catalogue SKUs that the
``product_channel_map`` seed maps to Amazon ASINs, so ``dim_products.channel_ids`` holds real ids. Then ``dbt build``
runs twice on the production profile: kumo, then another tenant (acme, the same rows) on the same tables. Every
index this file expects must exist after the first build with its access method and, for partial ones, its
predicate; the second build must neither add nor rename any (and execute no ``create index`` at all); the GIN
index must serve ``channel_ids @> ...``. The same project built on DuckDB must work and leave no index behind.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg2
import pytest
import sqlalchemy as sa

from tests.dbt.conftest import (
    ACME_FILES,
    ACME_SHOPIFY,
    FILES,
    LANDED,
    PLATFORM_TENANTS,
    SHOPIFY,
    TENANTS,
    D,
    land,
    land_warehouse,
    run_dbt,
)

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_project"
DBT = REPO / ".venv" / "bin" / "dbt"
TENANT, OTHER = "kumo", "acme"
SEED_MAP = PROJECT / "seeds" / "product_channel_map.csv"
MAPPED_SKUS = 3  # kumo's first SKUs in the seed with an Amazon id, added to the tenant's file-drop catalogue

# The requirement, table by table: (access method, indexed columns in order, partial predicate as PostgreSQL
# prints it, or None). Facts and cubes: BRIN on the event date; b-trees led by tenant_id on keys and lookups.
EXPECTED: dict[str, set[tuple[str, tuple[str, ...], str | None]]] = {
    "fct_orders": {("btree", ("tenant_id", "order_key"), None), ("brin", ("order_date",), None),
                   ("btree", ("tenant_id", "customer_key"), "(NOT is_cancelled)")},
    "fct_order_lines": {("btree", ("tenant_id", "order_line_key"), None), ("btree", ("tenant_id", "order_key"), None),
                        ("brin", ("order_date",), None)},
    "fct_refunds": {("btree", ("tenant_id", "refund_line_key"), None),
                    ("btree", ("tenant_id", "order_line_key"), None), ("brin", ("refund_date",), None)},
    "fct_fees": {("btree", ("tenant_id", "fee_key"), None), ("btree", ("tenant_id", "order_key"), None),
                 ("brin", ("posted_date",), None)},
    "fct_ad_spend": {("btree", ("tenant_id", "ad_day_key"), None), ("brin", ("date",), None)},
    "fct_inventory_snapshots": {("btree", ("tenant_id", "inventory_snapshot_key"), None),
                                ("btree", ("tenant_id", "product_key", "snapshot_date"), None),
                                ("brin", ("snapshot_date",), None)},
    "fct_competitor_prices": {("btree", ("tenant_id", "sku", "competitor", "observed_date"), None)},
    "dim_customers": {("btree", ("tenant_id", "customer_key"), None)},
    "dim_products": {("btree", ("tenant_id", "product_key"), None), ("btree", ("tenant_id", "sku"), None),
                     ("gin", ("channel_ids",), None),
                     ("btree", ("tenant_id", "product_key"), "(NOT has_catalogue_record)")},
    "dim_product_costs": {("btree", ("tenant_id", "product_cost_key"), None),
                          ("btree", ("tenant_id", "sku", "valid_from"), None),
                          ("btree", ("tenant_id", "sku"), "(valid_to IS NULL)")},
    "cube_sales_daily": {("btree", ("tenant_id", "cube_key"), None), ("btree", ("tenant_id", "date"), None),
                         ("brin", ("date",), None)},
    "cube_channel_daily": {("btree", ("tenant_id", "cube_key"), None), ("btree", ("tenant_id", "date"), None),
                           ("brin", ("date",), None)},
    "rpt_channel_profitability": {("btree", ("tenant_id", "report_key"), None),
                                  ("btree", ("tenant_id", "month"), None)},
    "rpt_cohort_retention": {("btree", ("tenant_id", "report_key"), None),
                             ("btree", ("tenant_id", "cohort_month"), None)},
    "rpt_inventory_intelligence": {("btree", ("tenant_id", "report_key"), None),
                                   ("btree", ("tenant_id", "stockout_risk_date"), "(stockout_risk_date IS NOT NULL)")},
    "rpt_ltv_cac": {("btree", ("tenant_id", "report_key"), None), ("btree", ("tenant_id", "cohort_month"), None)},
    "rpt_return_rates": {("btree", ("tenant_id", "report_key"), None), ("btree", ("tenant_id", "month"), None)},
}
# dbt build without data and unit tests (tests/dbt and test_postgres_profile.py run those): models and seeds
MODELS_AND_SEEDS = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
CREATE_INDEX = re.compile(r"create index if not exists", re.IGNORECASE)


# --- landing on PostgreSQL ----------------------------------------------------------------------------------

class PgLanding:
    """A psycopg2 cursor behind the DuckDB-style ``execute(sql, params)`` tests/dbt/conftest.land calls, so both
    warehouses are landed by the same code (the contract's types are valid PostgreSQL too)."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params: list | None = None) -> None:
        self.cursor.execute(sql.replace("?", "%s"), params)


def mapped_products() -> list[dict[str, str]]:
    """The seed's first ``MAPPED_SKUS`` kumo SKUs with an Amazon id, and every id the seed gives each of them."""
    with SEED_MAP.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["tenant_id"] == TENANT and r["channel_product_id"].strip()]
    skus = list(dict.fromkeys(r["sku"] for r in rows if r["channel"] == "amazon"))[:MAPPED_SKUS]
    assert len(skus) == MAPPED_SKUS, f"seed product_channel_map lacks {MAPPED_SKUS} Amazon-mapped {TENANT} SKUs"
    return [{"sku": sku} | {r["channel"]: r["channel_product_id"].strip() for r in rows if r["sku"] == sku}
            for sku in skus]


def land_postgres(url: sa.URL) -> None:
    products = [(p["sku"], f"Mapped {p['sku']}", "Mapped", D("1.0000"), D("2.0000"), "products.csv", 10 + i)
                for i, p in enumerate(mapped_products())]
    tenants = [*TENANTS, (TENANT, "Kumo", "USD", "America/New_York", "starter", 365, LANDED)]
    with pg_cursor(url) as cursor:
        landing = PgLanding(cursor)
        land(landing, "raw_platform", "tenants", PLATFORM_TENANTS, tenants)
        for tenant in (TENANT, OTHER):
            for table, rows in ACME_SHOPIFY.items():
                land(landing, f"raw_shopify__{tenant}", table, SHOPIFY[table], rows)
            for table, rows in ACME_FILES.items():
                rows = rows + products if table == "products" else rows
                land(landing, f"raw_files__{tenant}", table, FILES[table], rows, dlt_columns=table != "quarantine")


@contextmanager
def pg_cursor(url: sa.URL) -> Iterator:
    """A cursor on the test database, its transaction committed and its connection closed at the end."""
    con = psycopg2.connect(host=url.host, port=url.port, user=url.username, password=url.password or None,
                           dbname=url.database)
    try:
        with con, con.cursor() as cursor:
            yield cursor
    finally:
        con.close()


# --- dbt on the production profile --------------------------------------------------------------------------

@dataclass
class Build:
    tenant: str
    returncode: int
    output: str
    log: str  # dbt.log: every statement dbt executed, hooks included

    def create_index_statements(self) -> int:
        return len(CREATE_INDEX.findall(self.log))


def build_on_postgres(url: sa.URL, workdir: Path, tenant: str, n: int) -> Build:
    """``dbt build`` (models and seeds; their data tests are tests/dbt's and test_postgres_profile's subject) for one
    tenant on the production profile, with its own target and log paths."""
    env = {**os.environ, "OMNI_PROFILE": "production", "OMNI_PG_HOST": url.host, "OMNI_PG_PORT": str(url.port),
           "OMNI_PG_USER": url.username, "OMNI_PG_PASSWORD": url.password or "", "OMNI_PG_DATABASE": url.database,
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    logs = workdir / f"logs_{n}"
    args = [str(DBT), "build", *MODELS_AND_SEEDS,
            "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
            "--target-path", str(workdir / f"target_{n}"), "--log-path", str(logs), "--no-use-colors",
            "--vars", json.dumps({"tenant": tenant})]
    proc = subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600)
    log = (logs / "dbt.log").read_text() if (logs / "dbt.log").exists() else ""
    return Build(tenant, proc.returncode, proc.stdout + proc.stderr, log)


INDEXES_SQL = """
    select t.relname, i.relname, am.amname,
           array(select a.attname from unnest(x.indkey::int2[]) with ordinality as k(attnum, n)
                 join pg_attribute as a on a.attrelid = t.oid and a.attnum = k.attnum order by k.n),
           pg_get_expr(x.indpred, x.indrelid), x.indisvalid
    from pg_index as x
    join pg_class as i on i.oid = x.indexrelid
    join pg_class as t on t.oid = x.indrelid
    join pg_namespace as s on s.oid = t.relnamespace
    join pg_am as am on am.oid = i.relam
    where s.nspname = 'marts'
    order by 1, 2"""


@dataclass(frozen=True)
class Index:
    table: str
    name: str
    method: str
    columns: tuple[str, ...]
    predicate: str | None
    valid: bool


def pg_indexes(url: sa.URL) -> list[Index]:
    with pg_cursor(url) as cur:
        cur.execute(INDEXES_SQL)
        return [Index(t, name, am, tuple(cols), pred, valid) for t, name, am, cols, pred, valid in cur.fetchall()]


@dataclass
class Warehouse:
    url: sa.URL
    builds: list[Build]
    indexes: list[list[Index]]  # after each build


@pytest.fixture(scope="module")
def warehouse(pg_database, tmp_path_factory) -> Iterator[Warehouse]:
    workdir = tmp_path_factory.mktemp("pg_indexes")
    land_postgres(pg_database)
    builds, indexes = [], []
    for n, tenant in enumerate((TENANT, OTHER)):  # the second build finds every table with its indexes
        build = build_on_postgres(pg_database, workdir, tenant, n)
        assert build.returncode == 0, f"dbt build of {tenant} on PostgreSQL failed:\n{build.output[-6000:]}"
        builds.append(build)
        indexes.append(pg_indexes(pg_database))
    yield Warehouse(pg_database, builds, indexes)


def by_table(indexes: list[Index]) -> dict[str, set[tuple[str, tuple[str, ...], str | None]]]:
    out: dict[str, set] = {}
    for ix in indexes:
        out.setdefault(ix.table, set()).add((ix.method, ix.columns, ix.predicate))
    return out


# --- PostgreSQL ---------------------------------------------------------------------------------------------

def test_every_expected_index_exists_with_its_access_method_and_predicate(warehouse):
    first = warehouse.indexes[0]
    actual = by_table(first)
    for table, expected in EXPECTED.items():
        assert actual.get(table) == expected, table
    assert all(ix.valid for ix in first)
    # one statement per index, executed by the build that found the tables without them
    assert warehouse.builds[0].create_index_statements() == sum(len(e) for e in EXPECTED.values())


def test_names_are_deterministic_and_fit_postgres_identifiers(warehouse):
    for ix in warehouse.indexes[0]:
        assert len(ix.name) <= 63 and ix.name.startswith(f"{ix.table}__{ix.method}__"), ix.name
    names = [ix.name for ix in warehouse.indexes[0]]
    assert len(names) == len(set(names))


def test_further_builds_neither_duplicate_nor_recreate_indexes(warehouse):
    first, *later = warehouse.indexes
    for n, indexes in enumerate(later, start=1):
        assert indexes == first, f"build {n} ({warehouse.builds[n].tenant}) changed the indexes"
        assert warehouse.builds[n].create_index_statements() == 0, warehouse.builds[n].tenant


def test_channel_ids_is_jsonb_and_holds_the_seed_ids(warehouse):
    with pg_cursor(warehouse.url) as cur:
        cur.execute("select data_type from information_schema.columns"
                    " where table_schema = 'marts' and table_name = 'dim_products' and column_name = 'channel_ids'")
        assert cur.fetchone() == ("jsonb",)
        cur.execute("select sku, channel_ids from marts.dim_products where tenant_id = %s and channel_ids is not null",
                    [TENANT])
        held = dict(cur.fetchall())
    assert held == {p["sku"]: {k: v for k, v in p.items() if k != "sku"} for p in mapped_products()}


def plan_index_names(cur, sql: str, params: list) -> set[str]:
    """The indexes the plan of ``sql`` reads, sequential scans disabled (tiny tables would be scanned anyway)."""
    cur.execute("set enable_seqscan = off")
    cur.execute(f"explain (format json) {sql}", params)
    plan = cur.fetchone()[0]
    names, stack = set(), [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        if "Index Name" in node:
            names.add(node["Index Name"])
        stack.extend(node.get("Plans", []))
    return names


def index_named(warehouse, table: str, method: str, columns: tuple[str, ...], predicate: str | None = None) -> str:
    [name] = [ix.name for ix in warehouse.indexes[0]
              if (ix.table, ix.method, ix.columns, ix.predicate) == (table, method, columns, predicate)]
    return name


def test_the_gin_index_serves_containment_on_channel_ids(warehouse):
    product = mapped_products()[1]
    sql = "select sku from marts.dim_products where channel_ids @> %s::jsonb"
    params = [json.dumps({"amazon": product["amazon"]})]
    with pg_cursor(warehouse.url) as cur:
        cur.execute(sql, params)
        assert cur.fetchall() == [(product["sku"],)]  # acme's catalogue has the same SKUs but no seed rows
        assert index_named(warehouse, "dim_products", "gin", ("channel_ids",)) in plan_index_names(cur, sql, params)


def test_the_partial_and_brin_indexes_serve_their_queries(warehouse):
    with pg_cursor(warehouse.url) as cur:
        cur.execute("select customer_key from marts.fct_orders where tenant_id = %s and customer_key is not null"
                    " limit 1", [TENANT])
        [customer] = cur.fetchone()
        partial = plan_index_names(cur, "select order_key from marts.fct_orders"
                                        " where tenant_id = %s and customer_key = %s and not is_cancelled",
                                   [TENANT, customer])
        brin = plan_index_names(cur, "select count(*) from marts.fct_orders where order_date between %s and %s",
                                ["2025-01-01", "2025-01-31"])
    assert index_named(warehouse, "fct_orders", "btree", ("tenant_id", "customer_key"), "(NOT is_cancelled)") in partial
    assert index_named(warehouse, "fct_orders", "brin", ("order_date",)) in brin


# --- DuckDB -------------------------------------------------------------------------------------------------

def test_the_duckdb_build_of_the_same_project_creates_no_index(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    land_warehouse(db)
    run = run_dbt(tmp_path, db, ["build", *MODELS_AND_SEEDS], OTHER, target="target_duckdb")
    assert run.returncode == 0, f"dbt build of {OTHER} on DuckDB failed:\n{run.output[-6000:]}"
    assert not CREATE_INDEX.search((tmp_path / "logs" / "dbt.log").read_text())
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_indexes()").fetchone() == (0,)
        assert con.execute("select count(*) from marts.dim_products where tenant_id = ?", [OTHER]).fetchone()[0] > 0
