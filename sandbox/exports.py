"""Native order exports written from a shop's world, for the files source to read as merchants drop them.

``write_all_orders_report`` writes Amazon's flat-file All Orders Report
(``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL``): tab-separated, no quoting, CRLF line ends, one
row per order item, times in UTC as ``2025-01-14T15:22:31+00:00``, ``item-price`` the line total (quantity ×
unit price), ``item-promotion-discount`` with a minus sign (the reader takes the size), the order's shipping
on its first item. The orders come from one channel of the world (``channel``, default ``amazon``, for the
marketplace world; any channel of a ShopWorld can stand in). Shopify's orders export is
``sandbox.files_drop.write_shopify_export``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from sandbox.world import ShopWorld
from sandbox.world.money import cents_text

ALL_ORDERS_COLUMNS = [
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
    "fulfillment-channel", "sales-channel", "order-channel", "ship-service-level", "product-name", "sku", "asin",
    "item-status", "quantity", "currency", "item-price", "item-tax", "shipping-price", "shipping-tax",
    "gift-wrap-price", "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
    "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order",
    "purchase-order-number", "price-designation",
]
MARKETPLACES = {"USD": "Amazon.com", "CAD": "Amazon.ca", "GBP": "Amazon.co.uk", "EUR": "Amazon.de",
                "JPY": "Amazon.co.jp", "AUD": "Amazon.com.au"}


def amazon_order_id(order_id: pl.Expr) -> pl.Expr:
    """A displayable Amazon order id (``113-1234567-7654321``) derived one-to-one from the world's order id."""
    middle = (order_id * 7919) % 10_000_000
    last = (order_id * 104_729 + 12_345) % 10_000_000
    return pl.format("11{}-{}-{}", (order_id % 10).cast(pl.String), middle.cast(pl.String).str.zfill(7),
                     last.cast(pl.String).str.zfill(7))


def write_all_orders_report(shop: ShopWorld, path: Path | str, *, channel: str = "amazon",
                            as_of: datetime | None = None) -> Path:
    """Write the shop's orders of ``channel`` as Amazon's All Orders Report (see the module docstring)."""
    world = shop if as_of is None else shop.visible(as_of)
    orders = (world.channel(channel).sort("created_at", "order_id")
              .select("order_id", "created_at", "updated_at", "shipping_cents", "customer_id",
                      _order_index=pl.int_range(pl.len())))
    products = world.variants.join(world.products.select("product_id", product_title="title"), on="product_id")
    lines = (world.order_lines.join(orders, on="order_id")
             .join(products.select("variant_id", "product_title", variant_title="title"), on="variant_id", how="left")
             .join(world.customers.select("customer_id", "country_code"), on="customer_id", how="left")
             .sort("_order_index", "line_id")
             .with_columns(_first=pl.col("line_id").rank("ordinal").over("order_id") == 1))
    lines = lines.with_columns(
        cents_text(lines["quantity"] * lines["unit_price_cents"]).alias("_item_price"),
        cents_text(lines["tax_cents"]).alias("_item_tax"),
        cents_text(lines["shipping_cents"]).alias("_shipping"),
        cents_text(-lines["discount_cents"]).alias("_discount"),
    )
    utc = "%Y-%m-%dT%H:%M:%S+00:00"
    values = {
        "amazon-order-id": amazon_order_id(pl.col("order_id")), "merchant-order-id": pl.lit(None, pl.String),
        "purchase-date": pl.col("created_at").dt.strftime(utc),
        "last-updated-date": pl.col("updated_at").dt.strftime(utc),
        "order-status": pl.lit("Shipped"), "fulfillment-channel": pl.lit("Amazon"),
        "sales-channel": pl.lit(MARKETPLACES.get(world.spec.currency, "Amazon.com")),
        "ship-service-level": pl.lit("Standard"),
        # product names keep the double quotes merchants put in them (12" frame): the report never quotes
        "product-name": pl.when(pl.col("variant_title") == "Default Title").then(pl.col("product_title"))
        .otherwise(pl.col("product_title") + ' 12" - ' + pl.col("variant_title")),
        "sku": pl.col("sku"),
        "asin": pl.format("B0{}", pl.col("variant_id").cast(pl.String).str.slice(-8).str.zfill(8)),
        "item-status": pl.lit("Shipped"), "quantity": pl.col("quantity").cast(pl.String),
        "currency": pl.lit(world.spec.currency), "item-price": pl.col("_item_price"), "item-tax": pl.col("_item_tax"),
        "shipping-price": pl.when(pl.col("_first")).then(pl.col("_shipping")).otherwise(pl.lit("0.00")),
        "shipping-tax": pl.lit("0.00"),
        "item-promotion-discount": pl.when(pl.col("discount_cents") > 0).then(pl.col("_discount"))
        .otherwise(pl.lit("0.00")),
        "ship-promotion-discount": pl.lit("0.00"), "ship-country": pl.col("country_code"),
        "is-business-order": pl.lit("false"),
    }
    frame = lines.select([values.get(c, pl.lit(None, pl.String)).cast(pl.String).alias(c) for c in ALL_ORDERS_COLUMNS])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, separator="\t", quote_style="never", line_terminator="\r\n", null_value="")
    return path
