"""A tenant's file drop: the wholesale channel written in the canonical CSV layout (sources/files/README.md),
as a merchant's ERP would export it — local times with their UTC offset, money as decimal text.

One file per entity and local month for orders and order lines (``orders_2025-01.csv``,
``order_lines_2025-01.csv``), plus ``customers.csv`` (the wholesale accounts) and ``products.csv`` (the whole
catalogue by SKU). ``bad_rows`` appends deterministic malformed rows, spread over the order and order-line
files, each breaking exactly one rule of the layout; they are not part of the world, so truth is unaffected.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from sandbox.world import ShopWorld
from sandbox.world.money import cents_text

ORDER_COLUMNS = ["order_id", "order_number", "customer_id", "ordered_at", "currency", "shipping_amount", "channel"]
LINE_COLUMNS = ["order_id", "line_number", "sku", "quantity", "unit_price", "discount_amount", "tax_amount"]
CUSTOMER_COLUMNS = ["customer_id", "email", "first_name", "last_name", "country_code", "created_at"]
PRODUCT_COLUMNS = ["sku", "title", "category", "unit_cost", "price"]
LOCAL_ISO = "%Y-%m-%dT%H:%M:%S%:z"

# each breaks exactly one rule of the layout; the k-th bad row is BAD_ROWS[k % 5] with an id of its own
BAD_ROWS: tuple[tuple[str, dict[str, str]], ...] = (
    ("order_lines", {"quantity": "-3"}),  # quantity must be > 0
    ("orders", {"ordered_at": "31/02/2025"}),  # not an ISO 8601 timestamp
    ("order_lines", {"discount_amount": "12.345"}),  # money has at most two places
    ("orders", {"order_id": ""}),  # a required id is missing
    ("order_lines", {"quantity": "two"}),  # not a number
)


def write_drop(shop: ShopWorld, folder: Path | str, *, as_of: datetime | None = None, bad_rows: int = 0) -> list[Path]:
    """Write the shop's wholesale channel (as seen at ``as_of``, default everything) into ``folder``;
    returns the files written."""
    world = shop if as_of is None else shop.visible(as_of)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tz = world.spec.timezone
    orders = (world.channel("wholesale").sort("created_at", "order_id")
              .with_columns(local=pl.col("created_at").dt.convert_time_zone(tz)))
    order_rows = orders.select(
        month=pl.col("local").dt.strftime("%Y-%m"),
        order_id=pl.col("name"),
        order_number=pl.col("name"),
        customer_id=pl.lit("B2B-") + pl.col("customer_id").cast(pl.String),
        ordered_at=pl.col("local").dt.strftime(LOCAL_ISO),
        currency=pl.lit(world.spec.currency),
        shipping_amount=cents_text(orders["shipping_cents"]),
        channel=pl.col("channel"),
    )
    lines = (world.order_lines.join(orders.select("order_id", "name", "local"), on="order_id")
             .sort("order_id", "line_id"))
    line_rows = lines.select(
        month=pl.col("local").dt.strftime("%Y-%m"),
        order_id=pl.col("name"),
        line_number=pl.col("line_id").rank("ordinal").over("order_id").cast(pl.String),
        sku=pl.col("sku"),
        quantity=pl.col("quantity").cast(pl.String),
        unit_price=cents_text(lines["unit_price_cents"]),
        discount_amount=cents_text(lines["discount_cents"]),
        tax_amount=cents_text(lines["tax_cents"]),
    )
    order_rows, line_rows = _with_bad_rows(order_rows, line_rows, bad_rows, world)

    written = []
    for name, rows, columns in (("orders", order_rows, ORDER_COLUMNS), ("order_lines", line_rows, LINE_COLUMNS)):
        for (month,), part in sorted(rows.partition_by("month", as_dict=True, maintain_order=True).items()):
            written.append(_write(folder / f"{name}_{month}.csv", part.select(columns)))

    accounts = (world.customers.filter(pl.col("customer_id").is_in(orders["customer_id"].implode()))
                .sort("customer_id"))
    written.append(_write(folder / "customers.csv", accounts.select(
        customer_id=pl.lit("B2B-") + pl.col("customer_id").cast(pl.String),
        email="email", first_name="first_name", last_name="last_name", country_code="country_code",
        created_at=pl.col("created_at").dt.convert_time_zone(tz).dt.strftime(LOCAL_ISO),
    )))
    catalogue = (world.variants.join(world.products.select("product_id", "product_type",
                                                           product_title="title"), on="product_id")
                 .sort("sku"))
    written.append(_write(folder / "products.csv", catalogue.select(
        sku="sku",
        title=pl.when(pl.col("title") == "Default Title").then(pl.col("product_title"))
        .otherwise(pl.col("product_title") + " " + pl.col("title")),
        category="product_type",
        unit_cost=cents_text(catalogue["unit_cost_cents"]),
        price=cents_text(catalogue["price_cents"]),
    )))
    return written


def _valid_row(entity: str, order_id: str, currency: str, sku: str) -> dict[str, str]:
    if entity == "orders":
        return {"order_id": order_id, "order_number": order_id, "customer_id": "B2B-0",
                "ordered_at": "2025-03-01T10:00:00Z", "currency": currency, "shipping_amount": "0.00",
                "channel": "wholesale"}
    return {"order_id": order_id, "line_number": "1", "sku": sku, "quantity": "2", "unit_price": "10.00",
            "discount_amount": "0.00", "tax_amount": "0.00"}


def _with_bad_rows(order_rows: pl.DataFrame, line_rows: pl.DataFrame, count: int,
                   world: ShopWorld) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Append ``count`` malformed rows, the k-th to the (k mod months)-th month's file of its entity."""
    if count <= 0:
        return order_rows, line_rows
    months = sorted(set(order_rows["month"].to_list()) | set(line_rows["month"].to_list())) or [
        world.as_of.strftime("%Y-%m")]
    sku = world.variants["sku"][0] if world.variants.height else "UNKNOWN"
    extra: dict[str, list[dict[str, str]]] = {"orders": [], "order_lines": []}
    for k in range(count):
        entity, broken = BAD_ROWS[k % len(BAD_ROWS)]
        row = _valid_row(entity, f"WH-BAD-{k + 1}", world.spec.currency, sku) | broken
        extra[entity].append({"month": months[k % len(months)], **row})

    def appended(rows: pl.DataFrame, entity: str) -> pl.DataFrame:
        bad = pl.DataFrame(extra[entity], schema=dict.fromkeys(rows.columns, pl.String))
        return pl.concat([rows, bad]) if bad.height else rows

    return appended(order_rows, "orders"), appended(line_rows, "order_lines")


def _write(path: Path, rows: pl.DataFrame) -> Path:
    rows.write_csv(path, line_terminator="\n")
    return path


# The columns of Shopify's admin orders export (Orders → Export → CSV), in its order.
SHOPIFY_EXPORT_COLUMNS = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount", "Shipping Method",
    "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem compare at price",
    "Lineitem sku", "Lineitem requires shipping", "Lineitem taxable", "Lineitem fulfillment status",
    "Billing Name", "Billing Street", "Billing Address1", "Billing Address2", "Billing Company", "Billing City",
    "Billing Zip", "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Notes", "Note Attributes", "Cancelled at",
    "Payment Method", "Payment Reference", "Refunded Amount", "Vendor", "Outstanding Balance", "Employee",
    "Location", "Device ID", "Id", "Tags", "Risk Level", "Source", "Lineitem discount", "Tax 1 Name",
    "Tax 1 Value", "Tax 2 Name", "Tax 2 Value", "Tax 3 Name", "Tax 3 Value", "Tax 4 Name", "Tax 4 Value",
    "Tax 5 Name", "Tax 5 Value", "Phone", "Receipt Number", "Duties", "Billing Province Name",
    "Shipping Province Name", "Payment ID", "Payment Terms Name", "Next Payment Due At", "Payment References",
]
SHOPIFY_LINE_COLUMNS = {"Name", "Email", "Lineitem quantity", "Lineitem name", "Lineitem price",
                        "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping", "Lineitem taxable",
                        "Lineitem fulfillment status", "Vendor", "Lineitem discount"}
SHOPIFY_TIME = "%Y-%m-%d %H:%M:%S %z"  # 2025-01-14 10:22:31 -0500
NOTE = 'Leave it with the neighbour, "Flat 2"\nRing twice'  # a quoted, multi-line field, as merchants type them


def write_shopify_export(shop: ShopWorld, path: Path | str, *, channel: str = "online_store",
                         as_of: datetime | None = None, every_row: bool = False, bom: bool = False,
                         crlf: bool = False, notes_every: int = 7) -> Path:
    """Write the shop's orders of ``channel`` (default the online store) as Shopify's orders export CSV: one
    row per line item, order-level columns on the order's first row only (``every_row``: on every row, as
    newer exports do), local times with their offset, money as decimal text. Every ``notes_every``-th order
    has a multi-line, quoted note. ``bom`` / ``crlf`` write a UTF-8 byte-order mark / CRLF line ends, as
    files re-saved from spreadsheets have."""
    world = shop if as_of is None else shop.visible(as_of)
    tz = world.spec.timezone
    orders = (world.channel(channel).sort("created_at", "order_id")
              .rename({"discount_cents": "order_discount_cents", "tax_cents": "order_tax_cents"})
              .with_row_index("_order_index")
              .join(world.customers.select("customer_id", "email", "first_name", "last_name", "country_code"),
                    on="customer_id", how="left", maintain_order="left"))
    names = world.variants.join(world.products.select("product_id", "vendor", product_title="title"),
                                on="product_id").select(
        "variant_id", "vendor",
        item_name=pl.when(pl.col("title") == "Default Title").then(pl.col("product_title"))
        .otherwise(pl.col("product_title") + " - " + pl.col("title")))
    lines = (world.order_lines.join(orders, on="order_id")
             .join(names, on="variant_id", how="left")
             .sort("_order_index", "line_id")
             .with_columns(_first=pl.col("line_id").rank("ordinal").over("order_id") == 1))
    created = pl.col("created_at").dt.convert_time_zone(tz).dt.strftime(SHOPIFY_TIME)
    refunded = pl.col("refunded_cents")
    status = (pl.when(refunded == 0).then(pl.lit("paid"))
              .when(refunded < pl.col("total_cents")).then(pl.lit("partially_refunded")).otherwise(pl.lit("refunded")))
    billing = pl.concat_str(["first_name", "last_name"], separator=" ")
    lines = lines.with_columns(cents_text(lines[c]).alias(f"_{c}") for c in (
        "subtotal_cents", "shipping_cents", "order_tax_cents", "total_cents", "order_discount_cents",
        "refunded_cents", "unit_price_cents", "discount_cents"))
    money = {c: pl.col(f"_{c}") for c in ("subtotal_cents", "shipping_cents", "order_tax_cents", "total_cents",
                                          "order_discount_cents", "refunded_cents")}
    values = {
        "Name": pl.col("name"), "Email": pl.col("email"), "Financial Status": status, "Paid at": created,
        "Fulfillment Status": pl.lit("fulfilled"), "Fulfilled at": created, "Accepts Marketing": pl.lit("no"),
        "Currency": pl.lit(world.spec.currency), "Subtotal": money["subtotal_cents"],
        "Shipping": money["shipping_cents"], "Taxes": money["order_tax_cents"], "Total": money["total_cents"],
        "Discount Code": pl.col("discount_code"),
        "Shipping Method": pl.lit("Standard"), "Created at": created,
        "Lineitem quantity": pl.col("quantity").cast(pl.String), "Lineitem name": pl.col("item_name"),
        "Lineitem price": pl.col("_unit_price_cents"), "Lineitem sku": pl.col("sku"),
        "Lineitem requires shipping": pl.lit("true"), "Lineitem taxable": pl.lit("true"),
        "Lineitem fulfillment status": pl.lit("fulfilled"), "Billing Name": billing,
        "Billing Country": pl.col("country_code"), "Shipping Name": billing,
        "Shipping Country": pl.col("country_code"),
        "Notes": pl.when(pl.col("_order_index") % notes_every == notes_every - 1).then(pl.lit(NOTE)),
        "Payment Method": pl.lit("Shopify Payments"), "Refunded Amount": money["refunded_cents"],
        "Vendor": pl.col("vendor"), "Outstanding Balance": pl.lit("0.00"),
        "Id": pl.col("order_id").cast(pl.String), "Risk Level": pl.lit("Low"), "Source": pl.lit("web"),
        "Lineitem discount": pl.col("_discount_cents"), "Tax 1 Name": pl.lit("Sales Tax"),
        "Tax 1 Value": money["order_tax_cents"],
    }
    values["Discount Amount"] = money["order_discount_cents"]
    exprs = []
    for column in SHOPIFY_EXPORT_COLUMNS:
        value = values.get(column, pl.lit(None, pl.String))
        if column not in SHOPIFY_LINE_COLUMNS and not every_row:
            value = pl.when(pl.col("_first")).then(value)
        exprs.append(value.cast(pl.String).alias(column))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines.select(exprs).write_csv(path, line_terminator="\r\n" if crlf else "\n", include_bom=bom)
    return path
