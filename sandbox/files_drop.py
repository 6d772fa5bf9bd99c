"""A tenant's file drop: the wholesale channel written in the canonical CSV layout (sources/files/README.md).

One file per entity and month for orders and order lines, plus ``customers.csv`` and ``products.csv``.
``bad_rows`` appends deterministic malformed rows that are not part of the world (so the ground truth is
unaffected), to exercise quarantine.
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from sandbox.world import ShopWorld

ORDER_COLUMNS = ["order_id", "order_number", "customer_id", "ordered_at", "currency", "shipping_amount", "channel"]
LINE_COLUMNS = ["order_id", "line_number", "sku", "quantity", "unit_price", "discount_amount", "tax_amount"]
CUSTOMER_COLUMNS = ["customer_id", "email", "first_name", "last_name", "country_code", "created_at"]
PRODUCT_COLUMNS = ["sku", "title", "category", "unit_cost", "price"]

# (file kind, row) — each breaks exactly one rule of the canonical layout
BAD_ROWS = [
    ("order_lines", {"order_id": "WH-BAD-1", "line_number": "1", "sku": "X-1", "quantity": "-3",
                     "unit_price": "10.00", "discount_amount": "0.00", "tax_amount": "0.00"}),
    ("orders", {"order_id": "WH-BAD-2", "order_number": "BAD-2", "customer_id": "C-1", "ordered_at": "31/02/2025",
                "currency": "USD", "shipping_amount": "0.00", "channel": "wholesale"}),
    ("order_lines", {"order_id": "WH-BAD-3", "line_number": "1", "sku": "X-3", "quantity": "2",
                     "unit_price": "10.00", "discount_amount": "12.345", "tax_amount": "0.00"}),
    ("orders", {"order_id": "", "order_number": "BAD-4", "customer_id": "C-1", "ordered_at": "2025-03-01T10:00:00Z",
                "currency": "USD", "shipping_amount": "0.00", "channel": "wholesale"}),
    ("order_lines", {"order_id": "WH-BAD-5", "line_number": "1", "sku": "X-5", "quantity": "two",
                     "unit_price": "10.00", "discount_amount": "0.00", "tax_amount": "0.00"}),
]


def money(cents: int) -> str:
    return f"{Decimal(int(cents)).scaleb(-2):.2f}"


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_drop(shop: ShopWorld, folder: Path | str, *, as_of: datetime | None = None, bad_rows: int = 0) -> list[Path]:
    """Write the shop's wholesale channel as a file drop; returns the files written."""
    world = shop if as_of is None else shop.visible(as_of)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    orders = world.channel("wholesale").with_columns(month=pl.col("created_at").dt.strftime("%Y-%m"))
    lines = world.order_lines.join(orders.select("order_id", "month"), on="order_id").sort("order_id", "line_id")
    lines = lines.with_columns(line_number=pl.col("line_id").rank("ordinal").over("order_id"))
    currency = world.spec.currency
    order_rows: dict[str, list[dict]] = {}
    for o in orders.iter_rows(named=True):
        order_rows.setdefault(o["month"], []).append({
            "order_id": o["name"], "order_number": o["name"], "customer_id": f"B2B-{o['customer_id']}",
            "ordered_at": iso(o["created_at"]), "currency": currency, "shipping_amount": money(o["shipping_cents"]),
            "channel": "wholesale",
        })
    names = dict(zip(orders["order_id"], orders["name"], strict=True))
    line_rows: dict[str, list[dict]] = {}
    for line in lines.iter_rows(named=True):
        line_rows.setdefault(line["month"], []).append({
            "order_id": names[line["order_id"]], "line_number": line["line_number"], "sku": line["sku"],
            "quantity": line["quantity"], "unit_price": money(line["unit_price_cents"]),
            "discount_amount": money(line["discount_cents"]), "tax_amount": money(line["tax_cents"]),
        })
    for kind, row in BAD_ROWS[:bad_rows]:
        target = order_rows if kind == "orders" else line_rows
        target.setdefault(max(target) if target else "2025-01", []).append(row)

    written = []
    for month, rows in sorted(order_rows.items()):
        written.append(_write(folder / f"orders_{month}.csv", ORDER_COLUMNS, rows))
    for month, rows in sorted(line_rows.items()):
        written.append(_write(folder / f"order_lines_{month}.csv", LINE_COLUMNS, rows))
    account_ids = set(orders["customer_id"].to_list())
    accounts = world.customers.filter(pl.col("customer_id").is_in(list(account_ids))).sort("customer_id")
    written.append(_write(folder / "customers.csv", CUSTOMER_COLUMNS, [
        {"customer_id": f"B2B-{c['customer_id']}", "email": c["email"], "first_name": c["first_name"],
         "last_name": c["last_name"], "country_code": c["country_code"], "created_at": iso(c["created_at"])}
        for c in accounts.iter_rows(named=True)]))
    products = world.variants.join(world.products.select("product_id", "title", "product_type"), on="product_id")
    written.append(_write(folder / "products.csv", PRODUCT_COLUMNS, [
        {"sku": v["sku"], "title": f"{v['title_right']} {v['title']}".replace(" Default Title", ""),
         "category": v["product_type"], "unit_cost": money(v["unit_cost_cents"]), "price": money(v["price_cents"])}
        for v in products.sort("sku").iter_rows(named=True)]))
    return written


def _write(path: Path, columns: list[str], rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path
