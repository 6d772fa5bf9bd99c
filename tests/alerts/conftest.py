"""Crafted warehouses for the alert tests: the tables the rules read, with exactly the columns and types the marts,
reports and ML tables have (and contract #1's ``marts.fct_competitor_prices``), in a throwaway DuckDB file or a
throwaway PostgreSQL database (tests/support/databases.py). Tests fill them with a few hand-computed rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestration.alerts.sql import is_postgres
from orchestration.settings import PostgresSettings, Settings
from orchestration.warehouse import connect
from tests.support.databases import throwaway_database

TABLES = {
    "marts.cube_channel_daily": "tenant_id varchar, date date, channel varchar, net_sales decimal(18,2), "
                                "orders bigint, refunds decimal(18,2), cm2 decimal(18,2)",
    "marts.fct_ad_spend": "tenant_id varchar, date date, channel varchar, spend_reporting decimal(18,2)",
    "marts.dim_customers": "tenant_id varchar, customer_key varchar, first_order_date date, order_count bigint",
    "marts.fct_traffic": "tenant_id varchar, date date, sessions bigint, conversions bigint",
    "marts.rpt_inventory_intelligence": "tenant_id varchar, as_of_date date, channel varchar, sku varchar, "
                                        "on_hand bigint, inbound bigint, units_sold_28d bigint",
    "ml.demand_forecast": "tenant_id varchar, sku varchar, channel varchar, date date, units_mean double precision, "
                          "lower_80 double precision, upper_80 double precision, lower_95 double precision, "
                          "upper_95 double precision",
    "marts.fct_competitor_prices": "tenant_id varchar, sku varchar, competitor varchar, observed_date date, "
                                   "currency varchar(3), competitor_price decimal(18,2), our_price decimal(18,2), "
                                   "price_gap_pct decimal(18,4)",
}


def days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


@dataclass
class Crafted:
    """A warehouse with the rule tables created empty; ``insert`` adds rows (tuples in the table's column order)."""

    settings: Settings

    def create(self) -> Crafted:
        with connect(self.settings, read_only=False) as con:
            for schema in ("marts", "ml", "alerts"):
                con.execute(f"drop schema if exists {schema} cascade")
            con.execute("create schema marts")
            con.execute("create schema ml")
            for table, columns in TABLES.items():
                con.execute(f"create table {table} ({columns})")
        return self

    def insert(self, table: str, rows: list[tuple]) -> None:
        if not rows:
            return
        marks = ", ".join("?" * len(rows[0]))
        with connect(self.settings, read_only=False) as con:
            if is_postgres(con):
                con.raw.cursor().executemany(f"insert into {table} values ({marks.replace('?', '%s')})", rows)
            else:
                con.executemany(f"insert into {table} values ({marks})", rows)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        from orchestration.alerts.sql import rows

        with connect(self.settings) as con:
            return rows(con, sql, params or [])


def duckdb_settings(home: Path) -> Settings:
    base = Settings.from_env({"OMNI_PROFILE": "embedded", "OMNI_HOME": str(home)})
    return replace(base, duckdb_path=home / "warehouse" / "omni.duckdb")


@pytest.fixture
def duck(tmp_path) -> Crafted:
    settings = duckdb_settings(tmp_path / "omni")
    settings.duckdb_path.parent.mkdir(parents=True)
    return Crafted(settings).create()


@pytest.fixture(scope="module")
def pg_settings(tmp_path_factory) -> Iterator[Settings]:
    """A throwaway PostgreSQL database on the real server (skipped locally, failed under CI=true, if absent)."""
    for url in throwaway_database("postgresql"):
        home = tmp_path_factory.mktemp("pg") / "omni"
        base = Settings.from_env({"OMNI_PROFILE": "production", "OMNI_HOME": str(home)})
        yield replace(base, postgres=PostgresSettings(host=url.host, port=url.port or 5432, user=url.username,
                                                      password="", database=url.database))


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request, tmp_path) -> Crafted:
    """The same crafted warehouse on each profile."""
    if request.param == "duckdb":
        return request.getfixturevalue("duck")
    return Crafted(request.getfixturevalue("pg_settings")).create()


def tenant_entry(slug: str, alerts: dict, *, currency: str = "USD", display_name: str | None = None) -> dict:
    return {"slug": slug, "display_name": display_name or slug.capitalize() + " Co", "currency": currency,
            "timezone": "Europe/Berlin", "alerts": alerts}


def write_registry(path: Path, *entries: dict) -> Path:
    path.write_text(yaml.safe_dump({"tenants": list(entries)}))
    return path


STOCK_RULE = {"name": "top_seller_stock", "kind": "stock_below_safety", "top_n": 5, "lead_time_days": 7,
              "severity": "critical", "title": "Top seller below its reorder point"}


def stock_world(crafted: Crafted, tenant: str, as_of: date, on_hand: dict[str, int]) -> None:
    """One stock snapshot of ``tenant`` on amazon (SKUs ranked in the given order) with a 10-a-day forecast whose
    95 % upper bound is 13.92 (σ_d = 2) over the 10 days after it: the 7-day reorder point is 78.7040 units, so
    a SKU with less than 79 on hand fires ``STOCK_RULE``. Replaces the tenant's earlier snapshot."""
    with connect(crafted.settings, read_only=False) as con:
        for table in ("marts.rpt_inventory_intelligence", "ml.demand_forecast"):
            con.execute(f"delete from {table} where tenant_id = '{tenant}'")
    crafted.insert("marts.rpt_inventory_intelligence", [
        (tenant, as_of, "amazon", sku, units, 0, 100 - rank) for rank, (sku, units) in enumerate(on_hand.items())])
    crafted.insert("ml.demand_forecast", [(tenant, sku, "amazon", d, 10.0, 7.0, 12.6, 6.0, 13.92)
                                          for sku in on_hand for d in days(as_of + timedelta(days=1), 10)])
