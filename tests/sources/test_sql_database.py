"""The sql_database source on real servers: a shop's ERP (its wholesale channel) seeded into MySQL/MariaDB and
PostgreSQL (standing in for Redshift), landed into DuckDB through dlt's own ``sql_table`` with the pyarrow
backend — exact counts and DECIMAL sums against the world's truth, an incremental second run that reads only
the changed rows and merges them, dbt staging to the cent, and broken connections that name source and table
but never the password. Each test has its own throwaway database (tests/support/databases.py)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections import Counter
from datetime import date, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import polars as pl
import pyarrow as pa
import pytest
import sqlalchemy as sa
import yaml

from sandbox.databases import KEYS, advance, cancel_orders, erp_rows, seed, update_rows
from sandbox.truth import revenue_truth
from sandbox.world import ShopSpec, ShopWorld, WorldSpec, build_world
from sources.sql_database import sql_database_source
from sources.sql_database.helpers import table_specs
from tests.support.databases import throwaway_database

TENANT = "erpshop"
SCHEMA = f"raw_sql_database__{TENANT}"
CHUNK = 10  # rows per Arrow table: small, so every big table is read in several chunks
REPO = Path(__file__).resolve().parents[2]
SPEC = WorldSpec(seed=21, start_date=date(2025, 1, 1), days=120, shops=[
    ShopSpec(handle=TENANT, name="ERP Shop", currency="USD", timezone="America/New_York",
             access_token="shpat_sandbox_erpshop", orders_per_day=2, wholesale_orders_per_week=5, n_products=12),
])


@pytest.fixture(scope="module")
def shop() -> ShopWorld:
    return build_world(SPEC).shop(TENANT)


@pytest.fixture(params=["mysql", "postgresql"])
def erp(request) -> sa.URL:
    """A throwaway database on a real server, dropped after the test."""
    yield from throwaway_database(request.param)


class Chunks:
    """Counts the Arrow tables (and their rows) each resource hands to dlt."""

    def __init__(self) -> None:
        self.tables: Counter[str] = Counter()
        self.rows: Counter[str] = Counter()

    def watch(self, source):
        for name, resource in source.resources.items():
            resource.add_map(self._counter(name))
        return source

    def _counter(self, name: str):
        def count(item):
            if isinstance(item, pa.Table) and item.num_rows:
                self.tables[name] += 1
                self.rows[name] += item.num_rows
            return item
        return count


def pipeline(tmp_path: Path):
    return dlt.pipeline(
        pipeline_name=f"sql_database__{TENANT}",
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False),
        dataset_name=SCHEMA,
        pipelines_dir=str(tmp_path / "dlt"),
    )


def run(tmp_path: Path, url: sa.URL) -> tuple[dict[str, int], Chunks]:
    """One pipeline run; returns the rows normalised per ERP table (what dlt loaded) and the chunks read."""
    chunks = Chunks()
    p = pipeline(tmp_path)
    p.run(chunks.watch(sql_database_source(url=url.render_as_string(hide_password=False), chunk_size=CHUNK)))
    counts = p.last_trace.last_normalize_info.row_counts
    return {t: counts.get(t, 0) for t in ("erp_orders", "erp_order_lines", "erp_customers")}, chunks


def query(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def landed_totals(tmp_path: Path) -> dict[str, object]:
    (orders, distinct_orders, shipping), = query(
        tmp_path, f"select count(*), count(distinct order_id), sum(shipping_amount) from {SCHEMA}.erp_orders")
    (lines, distinct_lines, gross, discounts), = query(
        tmp_path, f"select count(*), count(distinct line_id), sum(quantity * unit_price), sum(discount_amount) "
                  f"from {SCHEMA}.erp_order_lines")
    (customers, distinct_customers), = query(
        tmp_path, f"select count(*), count(distinct customer_id) from {SCHEMA}.erp_customers")
    assert (orders, lines, customers) == (distinct_orders, distinct_lines, distinct_customers), "duplicates landed"
    return {"orders": orders, "lines": lines, "customers": customers, "gross": gross, "discounts": discounts,
            "net": gross - discounts, "shipping": shipping}


def world_totals(shop: ShopWorld, as_of=None) -> dict[str, object]:
    """The world's truth for the wholesale channel (sandbox.truth), plus line and account counts."""
    world = shop if as_of is None else shop.visible(as_of)
    truth = revenue_truth(shop, as_of=as_of, channel="wholesale")
    ids = world.channel("wholesale")["order_id"].implode()
    return {"orders": truth["orders"], "lines": world.order_lines.filter(pl.col("order_id").is_in(ids)).height,
            "customers": world.customers.filter(pl.col("acquisition_channel") == "wholesale").height,
            "gross": truth["gross"], "discounts": truth["discounts"], "net": truth["net"],
            "shipping": truth["shipping"]}


def new_keys(before: dict, after: dict, table: str) -> set[int]:
    """Keys of the rows the world added or changed (a later updated_at) between two ERP snapshots."""
    key, was = KEYS[table], {r[KEYS[table]]: r["updated_at"] for r in before[table]}
    return {r[key] for r in after[table] if r[key] not in was or r["updated_at"] > was[r[key]]}


def at_last_cursor(rows: list[dict], key: str) -> set[int]:
    last = max(r["updated_at"] for r in rows)
    return {r[key] for r in rows if r["updated_at"] == last}


def test_lands_exactly_then_reads_and_merges_only_the_changed_rows(tmp_path, erp, shop):
    cut = SPEC.start + timedelta(days=80)
    seed(erp, shop, as_of=cut)

    first, chunks = run(tmp_path, erp)
    truth_at_cut = world_totals(shop, cut)
    assert first == {"erp_orders": truth_at_cut["orders"], "erp_order_lines": truth_at_cut["lines"],
                     "erp_customers": truth_at_cut["customers"]}
    assert chunks.tables["erp_orders"] >= 3 and chunks.tables["erp_order_lines"] >= 3, chunks.tables
    assert max(chunks.rows[t] / chunks.tables[t] for t in chunks.tables) <= CHUNK
    assert landed_totals(tmp_path) == truth_at_cut
    assert isinstance(truth_at_cut["gross"], Decimal) and truth_at_cut["orders"] >= 40

    # The ERP moves on: the world's later orders arrive, accounts change; a clerk cancels two old orders and
    # corrects one old line's discount. Every edit bumps updated_at.
    written = advance(erp, shop)
    edited_at = shop.as_of + timedelta(hours=1)
    old_orders = shop.channel("wholesale").filter(pl.col("created_at") <= cut).sort("order_id")
    cancelled = old_orders["order_id"].to_list()[:2]
    assert cancel_orders(erp, cancelled, edited_at) == 2
    line = shop.order_lines.filter(pl.col("order_id") == old_orders["order_id"][5]).row(0, named=True)
    new_discount = Decimal(line["discount_cents"]).scaleb(-2) + Decimal("1.25")
    assert update_rows(erp, "erp_order_lines", [line["line_id"]], edited_at, discount_amount=new_discount) == 1
    truth = world_totals(shop)
    assert written["erp_orders"] == truth["orders"] - truth_at_cut["orders"] > 0
    assert written["erp_order_lines"] == truth["lines"] - truth_at_cut["lines"] > 0

    second, read = run(tmp_path, erp)
    assert second == {"erp_orders": written["erp_orders"] + 2, "erp_order_lines": written["erp_order_lines"] + 1,
                      "erp_customers": written["erp_customers"]}
    # What the server sent: the changed rows, plus the rows still AT the first run's last cursor value (dlt asks
    # updated_at >= last and drops the ones it already has), nothing else.
    before, after = erp_rows(shop, cut), erp_rows(shop)
    changed = {"erp_orders": new_keys(before, after, "erp_orders") | set(cancelled),
               "erp_order_lines": new_keys(before, after, "erp_order_lines") | {line["line_id"]},
               "erp_customers": new_keys(before, after, "erp_customers")}
    assert {t: len(keys) for t, keys in changed.items()} == second
    assert dict(read.rows) == {t: len(changed[t] | at_last_cursor(before[t], KEYS[t])) for t in changed}
    assert landed_totals(tmp_path) == {**truth, "discounts": truth["discounts"] + Decimal("1.25"),
                                       "net": truth["net"] - Decimal("1.25")}
    assert query(tmp_path, f"select order_id from {SCHEMA}.erp_orders where status = 'cancelled' order by 1") \
        == [(i,) for i in cancelled]
    assert query(tmp_path, f"select discount_amount from {SCHEMA}.erp_order_lines where line_id = {line['line_id']}") \
        == [(new_discount,)]

    third, _ = run(tmp_path, erp)
    assert third == {"erp_orders": 0, "erp_order_lines": 0, "erp_customers": 0}


def test_lands_exact_types(tmp_path, erp, shop):
    seed(erp, shop)
    run(tmp_path, erp)
    types = dict(query(tmp_path, f"select table_name || '.' || column_name, data_type from information_schema.columns "
                                 f"where table_schema = '{SCHEMA}' and column_name not like '\\_dlt%' escape '\\'"))
    assert {c: types[c] for c in ("erp_orders.order_id", "erp_orders.ordered_at", "erp_orders.shipping_amount",
                                  "erp_order_lines.quantity", "erp_order_lines.unit_price",
                                  "erp_customers.updated_at")} == {
        "erp_orders.order_id": "BIGINT", "erp_orders.ordered_at": "TIMESTAMP WITH TIME ZONE",
        "erp_orders.shipping_amount": "DECIMAL(18,2)", "erp_order_lines.quantity": "BIGINT",
        "erp_order_lines.unit_price": "DECIMAL(18,2)", "erp_customers.updated_at": "TIMESTAMP WITH TIME ZONE"}
    first = shop.channel("wholesale").sort("order_id").row(0, named=True)
    assert query(tmp_path, f"select ordered_at from {SCHEMA}.erp_orders where order_id = {first['order_id']}") \
        == [(first["created_at"],)]  # the same instant, whichever server and column type held it


def test_initial_value_starts_the_cursor_at_an_instant_in_any_offset(tmp_path, erp, shop):
    seed(erp, shop)
    start = shop.channel("wholesale").sort("updated_at")["updated_at"][40]  # exactly an order's instant
    in_berlin = start.astimezone(timezone(timedelta(hours=2)))  # the same instant, written with an offset
    p = pipeline(tmp_path)
    p.run(sql_database_source(url=erp.render_as_string(hide_password=False), tables=["erp_orders"],
                              initial_value=in_berlin))
    expected = shop.channel("wholesale").filter(pl.col("updated_at") >= start)
    assert query(tmp_path, f"select count(*), min(updated_at) from {SCHEMA}.erp_orders") == [
        (expected.height, expected["updated_at"].min())]


SECRET = "n0t-The-Passw0rd!"


@pytest.mark.parametrize("broken", ["wrong_database", "refused_login"])
def test_broken_connection_names_source_and_table_never_the_password(tmp_path, erp, broken, caplog):
    if broken == "wrong_database":
        url = erp.set(database=erp.database + "_missing", password=SECRET)
    elif erp.get_backend_name() == "mysql":
        url = erp.set(password=SECRET)  # the account has another password (or none): access denied
    else:
        url = erp.set(username="omni_no_such_role", password=SECRET)  # trust auth still needs a real role
    caplog.set_level(logging.DEBUG)
    p = pipeline(tmp_path)
    with pytest.raises(Exception) as failure:
        p.run(sql_database_source(url=url.render_as_string(hide_password=False), tables=["erp_orders"]))
    message = str(failure.value)
    assert "source sql_database, table erp_orders" in message
    assert "refused" in message and ("database" in message or "denied" in message or "role" in message)
    texts = [message, repr(failure.value), caplog.text, str(p.last_trace)]
    cause = failure.value
    while cause is not None:
        texts.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    assert not [t for t in texts if SECRET in t]


# --- dbt staging: the ERP's wholesale channel in the unified order model -------------------------------------

STAGING_CONTRACT = {
    "stg_sql_database__orders": ["tenant_id", "order_id", "order_number", "customer_id", "ordered_at", "currency",
                                 "presentment_currency", "shipping_amount", "channel", "is_cancelled"],
    "stg_sql_database__order_lines": ["tenant_id", "line_id", "order_id", "sku", "quantity", "unit_price",
                                      "discount_amount", "tax_amount"],
    "stg_sql_database__customers": ["tenant_id", "customer_id", "email", "first_name", "last_name",
                                    "country_code", "created_at"],
}


def dbt_build(tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    project = REPO / "dbt_project"
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "dbt"), "build", "--select", "staging.sql_database", "--vars",
         json.dumps({"tenant": TENANT}), "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"), "--no-use-colors"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("erp", ["mysql"], indirect=True)
def test_staging_views_reconcile_to_the_worlds_truth(tmp_path, erp, shop):
    seed(erp, shop)
    cancel_orders(erp, shop.channel("wholesale")["order_id"].to_list()[:1], shop.as_of)
    run(tmp_path, erp)
    build = dbt_build(tmp_path)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-2000:]

    stg = f"stg_{TENANT}"
    for model, columns in STAGING_CONTRACT.items():
        assert [c for (c,) in query(tmp_path, f"select column_name from information_schema.columns where "
                                              f"table_schema = '{stg}' and table_name = '{model}' "
                                              f"order by ordinal_position")] == columns
    types = dict(query(tmp_path, f"select table_name || '.' || column_name, data_type from information_schema.columns"
                                 f" where table_schema = '{stg}'"))
    assert types["stg_sql_database__orders.ordered_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["stg_sql_database__orders.shipping_amount"] == "DECIMAL(18,2)"
    assert types["stg_sql_database__orders.is_cancelled"] == "BOOLEAN"
    assert types["stg_sql_database__order_lines.quantity"] == "BIGINT"
    assert types["stg_sql_database__order_lines.unit_price"] == "DECIMAL(18,4)"
    assert types["stg_sql_database__order_lines.discount_amount"] == "DECIMAL(18,2)"

    truth = revenue_truth(shop, channel="wholesale")
    (orders, shipping, cancelled, channels, tenants), = query(
        tmp_path, f"select count(*), sum(shipping_amount), count(*) filter (where is_cancelled), "
                  f"string_agg(distinct channel, ','), string_agg(distinct tenant_id, ',') "
                  f"from {stg}.stg_sql_database__orders")
    (gross, discounts, tax), = query(
        tmp_path, f"select sum(round(quantity * unit_price, 2)), sum(discount_amount), sum(tax_amount) "
                  f"from {stg}.stg_sql_database__order_lines")
    assert (orders, shipping, cancelled, channels, tenants) == (truth["orders"], truth["shipping"], 1, "wholesale",
                                                                 TENANT)
    assert (gross, discounts, gross - discounts, tax) == (truth["gross"], truth["discounts"], truth["net"],
                                                          truth["tax"])


# --- the connector: a tenant's registry entry --------------------------------------------------------------

def table_spec(entry):
    """A registry table entry as the source resolves it (names get the ERP layout's key and the default cursor)."""
    return table_specs([entry])[0]


def registry_file(tmp_path: Path, sql_database: dict) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump({"tenants": [{
        "slug": "acme", "display_name": "Acme", "currency": "USD", "timezone": "America/Chicago",
        "sources": {"sql_database": sql_database},
    }]}))
    return path


def test_registry_entry_builds_the_source_with_the_password_from_the_environment(tmp_path, monkeypatch):
    # imported here: the orchestration package is not needed by the source tests above
    from orchestration.connectors import CONNECTORS
    from orchestration.tenants import MissingSecretError, TenantConfigError, load_registry

    entry = {"url": "mysql+pymysql://omni@erp.acme.internal:3306/acme_erp",
             "secrets": {"password": "ACME_ERP_PASSWORD"},
             "tables": ["erp_orders", {"name": "erp_order_lines", "cursor_column": "modified_at"}, "erp_customers"],
             "chunk_size": 5000}
    registry = load_registry(registry_file(tmp_path, entry))
    tenant = registry.get("acme")
    cfg = tenant.sources["sql_database"]
    with pytest.raises(MissingSecretError, match="ACME_ERP_PASSWORD"):
        CONNECTORS["sql_database"].build(tenant, cfg, registry)
    monkeypatch.setenv("ACME_ERP_PASSWORD", SECRET)
    source = CONNECTORS["sql_database"].build(tenant, cfg, registry)  # builds without connecting
    assert source.name == "sql_database"
    assert list(source.resources) == ["erp_orders", "erp_order_lines", "erp_customers"]
    assert [(s.name, s.primary_key, s.cursor_column) for s in map(table_spec, cfg.table_specs())] == [
        ("erp_orders", ("order_id",), "updated_at"), ("erp_order_lines", ("line_id",), "modified_at"),
        ("erp_customers", ("customer_id",), "updated_at")]
    lines = source.resources["erp_order_lines"].compute_table_schema()
    assert lines["write_disposition"] == "merge"
    assert [c for c, hints in lines["columns"].items() if hints.get("primary_key")] == ["line_id"]

    for bad, words in [({**entry, "url": "mysql+pymysql://omni:hunter2@erp:3306/acme_erp"}, "must not hold"),
                       ({**entry, "url": "mysql+pymysql://omni@erp:3306"}, "name the host and the database"),
                       ({**entry, "tables": ["erp_orders", "erp_orders"]}, "distinct"),
                       ({**entry, "tables": ["orders; drop table x"]}, "identifiers"),
                       ({**entry, "secrets": {"password": "hunter2"}}, "environment variable")]:
        with pytest.raises(TenantConfigError, match=words):
            load_registry(registry_file(tmp_path, bad))
