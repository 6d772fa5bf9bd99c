"""The wholesale file drop: canonical CSV layout, exact money text, and malformed rows kept apart from truth."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from sandbox.__main__ import main
from sandbox.files_drop import BAD_ROWS, write_drop
from sandbox.truth import revenue_truth

HEADERS = {
    "orders": ["order_id", "order_number", "customer_id", "ordered_at", "currency", "shipping_amount", "channel"],
    "order_lines": ["order_id", "line_number", "sku", "quantity", "unit_price", "discount_amount", "tax_amount"],
    "customers": ["customer_id", "email", "first_name", "last_name", "country_code", "created_at"],
    "products": ["sku", "title", "category", "unit_cost", "price"],
}


def read(files: list[Path], entity: str) -> list[dict[str, str]]:
    """The rows of an entity's files (``orders_2025-01.csv`` …, or ``customers.csv``), with their file name."""
    rows = []
    for path in sorted(f for f in files if f.name == f"{entity}.csv" or f.name.startswith(f"{entity}_2")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            assert reader.fieldnames == HEADERS[entity], path.name
            rows += [dict(r, _file=path.name) for r in reader]
    return rows


def test_the_drop_is_the_wholesale_channel_in_the_canonical_layout(tmp_path, shop):
    files = write_drop(shop, tmp_path)
    names = sorted(f.name for f in files)
    assert names == sorted(p.name for p in tmp_path.iterdir())
    assert "customers.csv" in names and "products.csv" in names
    months = {n.removeprefix("orders_").removesuffix(".csv") for n in names if n.startswith("orders_")}
    assert months and {n.removeprefix("order_lines_").removesuffix(".csv")
                       for n in names if n.startswith("order_lines_")} == months

    wholesale = shop.channel("wholesale")
    orders, lines = read(files, "orders"), read(files, "order_lines")
    assert len(orders) == wholesale.height and {o["channel"] for o in orders} == {"wholesale"}
    for order in orders:  # local time with its offset, in the file of its local month
        ordered_at = datetime.fromisoformat(order["ordered_at"])
        assert ordered_at.utcoffset() is not None and order["_file"] == f"orders_{ordered_at:%Y-%m}.csv"
    assert {o["currency"] for o in orders} == {"EUR"}
    keys = [(line["order_id"], line["line_number"]) for line in lines]
    assert len(keys) == len(set(keys))
    assert all(Decimal(line["unit_price"]).as_tuple().exponent == -2 for line in lines)

    # money in the files reconciles to the wholesale truth to the cent
    truth = revenue_truth(shop, channel="wholesale")
    assert sum(Decimal(line["quantity"]) * Decimal(line["unit_price"]) for line in lines) == truth["gross"]
    assert sum(Decimal(line["discount_amount"]) for line in lines) == truth["discounts"]
    assert sum(Decimal(o["shipping_amount"]) for o in orders) == truth["shipping"]

    customers = read(files, "customers")
    assert {c["customer_id"] for c in customers} == {o["customer_id"] for o in orders}
    products = read(files, "products")
    assert [p["sku"] for p in products] == sorted(shop.variants["sku"].to_list())
    assert all(Decimal(p["unit_cost"]) < Decimal(p["price"]) for p in products)


def test_bad_rows_are_deterministic_spread_and_outside_the_world(tmp_path, shop):
    count = 2 * len(BAD_ROWS) + 1
    files = write_drop(shop, tmp_path / "a", bad_rows=count)
    again = write_drop(shop, tmp_path / "b", bad_rows=count)
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in again]

    orders, lines = read(files, "orders"), read(files, "order_lines")
    bad_orders = [o for o in orders if not o["order_id"].startswith("WH-1")]
    bad_lines = [line for line in lines if line["order_id"].startswith("WH-BAD")]
    assert len(bad_orders) + len(bad_lines) == count
    assert len({r["_file"] for r in bad_orders + bad_lines}) > 2  # spread over the months' files
    assert len(orders) - len(bad_orders) == shop.channel("wholesale").height
    breaking = {"quantity": 0, "date": 0, "places": 0, "missing": 0}
    for row in bad_orders:
        if row["order_id"] == "":
            breaking["missing"] += 1
        else:
            assert row["ordered_at"] == "31/02/2025"
            breaking["date"] += 1
    for row in bad_lines:
        if row["discount_amount"] == "12.345":
            breaking["places"] += 1
        else:
            assert not row["quantity"].isdigit() or int(row["quantity"]) <= 0
            breaking["quantity"] += 1
    assert all(breaking.values())


def test_the_drop_command_writes_a_drop_as_of_a_date(tmp_path, spec, shop):
    world_file = tmp_path / "world.yaml"
    world_file.write_text(spec.model_dump_json())  # JSON is YAML
    main(["drop", "--world", str(world_file), "--shop", "teashop", "--out", str(tmp_path / "drop"),
          "--bad-rows", "2", "--as-of", "2025-04-01T00:00:00Z"])
    orders = pl.concat([pl.read_csv(f, infer_schema=False) for f in (tmp_path / "drop").glob("orders_*.csv")])
    as_of = datetime(2025, 4, 1, tzinfo=UTC)
    assert orders.height == shop.visible(as_of).channel("wholesale").height + 1
