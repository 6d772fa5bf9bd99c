"""The ERP database seeder (sandbox/databases.py) on real MySQL/MariaDB and PostgreSQL servers: the world's
wholesale channel to the cent in DECIMAL(12,2) columns, idempotent re-seeding, advancing the clock inserts and
updates exactly what the world changed, clerk edits survive, and the command line. Each test has its own
throwaway database (tests/support/databases.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
import yaml

from sandbox.databases import TABLES, advance, cancel_orders, erp_rows, main, seed
from sandbox.truth import revenue_truth
from sandbox.world import ShopSpec, ShopWorld, WorldSpec, build_world
from tests.support.databases import throwaway_database

HANDLE = "ledgershop"
SPEC = WorldSpec(seed=5, start_date=date(2025, 1, 1), days=90, shops=[
    ShopSpec(handle=HANDLE, name="Ledger Shop", currency="EUR", timezone="Europe/Berlin",
             access_token="shpat_sandbox_ledgershop", orders_per_day=2, wholesale_orders_per_week=4, n_products=10),
])


@pytest.fixture(scope="module")
def shop() -> ShopWorld:
    return build_world(SPEC).shop(HANDLE)


@pytest.fixture(params=["mysql", "postgresql"])
def erp(request) -> sa.URL:
    yield from throwaway_database(request.param)


def dump(url: sa.URL) -> dict[str, list[tuple]]:
    """Every row of every ERP table in key order, timestamps as aware UTC (MySQL DATETIME holds naive UTC)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return {name: [tuple(v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None
                                 else v.astimezone(UTC) if isinstance(v, datetime) else v for v in row)
                           for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]
                    for name, table in TABLES.items()}
    finally:
        engine.dispose()


def scalar(url: sa.URL, sql: str):
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


def as_tuples(rows: dict[str, list[dict]]) -> dict[str, list[tuple]]:
    return {name: [tuple(r[c.name] for c in TABLES[name].columns) for r in rows[name]] for name in TABLES}


def test_seed_holds_the_wholesale_channel_to_the_cent_and_reseeding_changes_nothing(erp, shop):
    counts = seed(erp, shop)
    truth = revenue_truth(shop, channel="wholesale")
    assert counts["erp_orders"] == truth["orders"] > 30
    wholesale = shop.channel("wholesale")["order_id"].implode()
    assert counts["erp_order_lines"] == shop.order_lines.filter(pl.col("order_id").is_in(wholesale)).height
    assert counts["erp_customers"] == shop.customers.filter(pl.col("acquisition_channel") == "wholesale").height
    # exact DECIMAL arithmetic in the server itself
    assert scalar(erp, "SELECT SUM(quantity * unit_price) FROM erp_order_lines") == truth["gross"]
    assert scalar(erp, "SELECT SUM(discount_amount) FROM erp_order_lines") == truth["discounts"]
    assert scalar(erp, "SELECT SUM(shipping_amount) FROM erp_orders") == truth["shipping"]
    assert scalar(erp, "SELECT SUM(subtotal_amount + shipping_amount + tax_amount - total_amount) FROM erp_orders") \
        == Decimal("0.00")
    assert scalar(erp, "SELECT COUNT(*) FROM erp_orders WHERE currency <> 'EUR' OR status <> 'invoiced'") == 0

    columns = {c["name"]: c["type"] for c in sa.inspect(sa.create_engine(erp, poolclass=sa.NullPool))
               .get_columns("erp_order_lines")}
    assert (columns["unit_price"].precision, columns["unit_price"].scale) == (12, 2)

    before = dump(erp)
    assert before == as_tuples(erp_rows(shop))
    assert seed(erp, shop) == counts
    assert dump(erp) == before


def test_advance_inserts_and_updates_what_the_world_changed_and_keeps_clerk_edits(erp, shop):
    cut = SPEC.start + timedelta(days=45)
    early = seed(erp, shop, as_of=cut)
    first_order = min(r["order_id"] for r in erp_rows(shop, cut)["erp_orders"])
    edited_at = shop.as_of + timedelta(days=1)  # after anything the world does
    assert cancel_orders(erp, [first_order], edited_at) == 1

    written = advance(erp, shop)
    full = erp_rows(shop)
    assert written["erp_orders"] == len(full["erp_orders"]) - early["erp_orders"] > 0
    assert written["erp_order_lines"] == len(full["erp_order_lines"]) - early["erp_order_lines"] > 0
    at_cut = {r["customer_id"]: r["updated_at"] for r in erp_rows(shop, cut)["erp_customers"]}
    moved = [r for r in full["erp_customers"] if r["updated_at"] != at_cut[r["customer_id"]]]
    assert written["erp_customers"] == len(moved) > 0

    expected = as_tuples(full)
    status, updated_at = (list(ORDER_COLUMNS).index(c) for c in ("status", "updated_at"))
    expected["erp_orders"] = [row[:status] + ("cancelled",) + row[status + 1:updated_at] + (edited_at,)
                              if row[0] == first_order else row for row in expected["erp_orders"]]
    assert dump(erp) == expected
    assert advance(erp, shop) == {name: 0 for name in TABLES}  # nothing new: nothing written


ORDER_COLUMNS = [c.name for c in TABLES["erp_orders"].columns]


def test_command_line_seeds_advances_and_cancels(erp, shop, tmp_path: Path, capsys):
    world = tmp_path / "world.yaml"
    world.write_text(yaml.safe_dump(SPEC.model_dump(mode="json")))
    url = erp.render_as_string(hide_password=False)
    main(["seed", "--world", str(world), "--shop", HANDLE, "--url", url, "--as-of", "2025-02-01T00:00:00Z"])
    main(["advance", "--world", str(world), "--shop", HANDLE, "--url", url])
    order_id = erp_rows(shop)["erp_orders"][0]["order_id"]
    main(["cancel", "--url", url, "--order-id", str(order_id), "--at", "2025-04-02T10:00:00Z"])
    out = capsys.readouterr().out
    assert "seed:" in out and "advance:" in out and "cancelled 1 order(s)" in out
    if erp.password:
        assert f":{erp.password}@" not in out and ":***@" in out  # the URL is shown with its password masked
    assert dump(erp)["erp_orders"] == [
        row[:ORDER_COLUMNS.index("status")] + ("cancelled",) + row[ORDER_COLUMNS.index("status") + 1:-1]
        + (datetime(2025, 4, 2, 10, tzinfo=UTC),) if row[0] == order_id else row
        for row in as_tuples(erp_rows(shop))["erp_orders"]]
