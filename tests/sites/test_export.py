"""orchestration/sites/export.py on the hand-made warehouse of world.py: only the tenant's rows, the KPIs computed
by hand, a file DuckDB 1.4 (Evidence's driver) can open, a content hash that is stable, moves with the data and
is the same from DuckDB and PostgreSQL; optional tables missing → empty tables and a note."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from orchestration.sites.build import REPORTS_DIR
from orchestration.sites.export import STORAGE_VERSION, TABLES, export_tenant
from orchestration.tenants import load_registry
from orchestration.warehouse import connect
from tests.sites import world
from tests.sites.conftest import build_duckdb_world

D = Decimal


def export(settings, tenant=world.ACME, name="export.duckdb"):
    registry = load_registry(settings.tenants_file)
    return export_tenant(settings, registry.get(tenant), settings.home / name)


def every_text(path) -> str:
    """Every value of every table of the export, as one string."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        return "\n".join(repr(con.execute(f'select * from "{t}"').fetchall()) for t in tables)


def test_export_holds_only_the_tenants_rows_and_the_hand_computed_kpis(duckdb_world):
    result = export(duckdb_world)
    text = every_text(result.path)
    for foreign in (world.RIVAL, world.RIVAL_NAME, world.RIVAL_SKU, "Rival Webshop", "EUR"):
        assert foreign not in text, f"{foreign!r} reached acme's export"
    assert world.ACME_SKU in text and world.ACME_NAME in text  # the scan above can find a value

    assert result.as_of == world.AS_OF
    assert result.row_counts["alerts"] == 1  # the 40-day-old firing is left out
    with duckdb.connect(str(result.path), read_only=True) as con:
        k7 = con.execute("select period_start, period_end, net_revenue, net_revenue_prior, net_revenue_change, "
                         "orders, orders_prior, aov, aov_prior, new_customers, new_customers_prior "
                         "from kpis where window_days = 7").fetchone()
        k28 = con.execute("select period_start, net_revenue, net_revenue_prior, orders, orders_prior "
                          "from kpis where window_days = 28").fetchone()
        tenant = con.execute("select tenant_id, display_name, currency, money_fmt from tenant").fetchone()
        forecast = con.execute("select count(*), sum(units_mean), sum(actual_units) from forecast_daily").fetchone()
        channels = con.execute("select distinct channel_name from daily_channel order by 1").fetchall()
    assert k7 == (date(2025, 3, 8), date(2025, 3, 14), D("200.50"), D("150.00"), D("0.3367"), 3, 2, D("76.83"),
                  D("75.00"), 1, 1)
    assert k28 == (date(2025, 2, 15), D("350.50"), D("40.00"), 5, 1)
    assert tenant == (world.ACME, world.ACME_NAME, "USD", "usd2")
    # 7 forecast days (03-16..03-22) of 2.0 units; 2 units sold on each of the 6 order days of the last 90 whose
    # order was not cancelled (o0..o4, o6; o5 was cancelled)
    assert forecast == (13, 14.0, D(12))
    assert channels == [("Amazon",), ("Online store",)]


def test_export_is_duckdb_1_4_storage_with_every_table_the_pages_read(duckdb_world):
    result = export(duckdb_world)
    with duckdb.connect() as con:
        con.execute(f"attach '{result.path}' as site (read_only)")
        tags = con.execute("select tags from duckdb_databases() where database_name = 'site'").fetchone()[0]
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables() where database_name = 'site'")
                  .fetchall()}
    assert tags["storage_version"] == f"{STORAGE_VERSION}+"
    assert tables == {t.name for t in TABLES}
    sources = {p.stem for p in (REPORTS_DIR / "sources" / "omni").glob("*.sql")}
    assert sources == tables, "reports/sources/omni/*.sql must select exactly the export's tables"


def test_content_hash_is_stable_and_follows_the_data(duckdb_world):
    first, again = export(duckdb_world), export(duckdb_world, name="again.duckdb")
    assert first.content_hash == again.content_hash
    assert first.path.read_bytes() != b""  # (the bytes of two writes differ; the hash is of the rows)
    with connect(duckdb_world, read_only=False) as con:
        con.execute("update marts.fct_orders set net_revenue_reporting = 121.00 where order_key = 'acme-o3'")
    changed = export(duckdb_world)
    assert changed.content_hash != first.content_hash
    with connect(duckdb_world, read_only=False) as con:  # another tenant's change is not acme's
        con.execute("update marts.fct_orders set net_revenue_reporting = 1.00 where tenant_id = 'rival'")
    assert export(duckdb_world).content_hash == changed.content_hash


def test_missing_optional_tables_give_empty_tables_and_a_note(tmp_path):
    settings = build_duckdb_world(tmp_path, with_ml=False, with_alerts=False)
    result = export(settings)
    assert result.row_counts["forecast_sku"] == 0 and result.row_counts["alerts"] == 0
    assert result.row_counts["forecast_daily"] == 6  # history only: the 6 days with units sold
    assert any("ml.demand_forecast does not exist yet" in n for n in result.notes)
    assert any("alerts.firings does not exist yet" in n for n in result.notes)


def test_postgresql_exports_the_same_content_as_duckdb(postgres_world, tmp_path):
    duck = export(build_duckdb_world(tmp_path / "duck"))
    pg = export(postgres_world)
    assert pg.row_counts == duck.row_counts
    assert pg.content_hash == duck.content_hash


def test_a_bad_slug_is_refused(duckdb_world):
    registry = load_registry(duckdb_world.tenants_file)
    bad = registry.get(world.ACME).model_copy(update={"slug": "acme'; drop table x; --"})
    with pytest.raises(ValueError, match="not a valid tenant slug"):
        export_tenant(duckdb_world, bad, duckdb_world.home / "x.duckdb")
