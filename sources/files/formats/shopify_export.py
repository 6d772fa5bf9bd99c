"""Shopify's orders export (admin → Orders → Export, "orders_export_1.csv"), read as it comes.

One row per line item. Order-level columns (Financial Status, Created at, Shipping, Taxes, Source, Billing …)
are filled on the order's first row, and on every row in newer exports; Name (``#1001``) and Email are on
every row. Times are written ``2025-01-14 10:22:31 -0500``. The columns read:

- orders (derived, the order's first row): order_id and order_number = ``Name``; customer_id = ``Email``
  lower-cased; ordered_at = ``Created at``; ``Currency``; shipping_amount = ``Shipping``; channel from
  ``Source`` (``SOURCE_CHANNELS``; anything else is the online store).
- order_lines (one per row): line_number = the row's position within its order; sku = ``Lineitem sku``;
  quantity = ``Lineitem quantity``; unit_price = ``Lineitem price``; discount_amount = ``Lineitem discount``;
  tax_amount = the order's ``Taxes`` on its first line, 0 on the others (the export carries tax per order
  only, so order and tenant tax totals stay exact).
- customers (derived, by e-mail): customer_id = e-mail lower-cased; first/last name split from
  ``Billing Name``; country_code = ``Billing Country``.

Not landed: refunds (``Refunded Amount``), fulfilment and payment columns, addresses beyond the country.
"""

from __future__ import annotations

import polars as pl

from sources.files.formats.base import FileFormat, canonical_frame
from sources.files.formats.text import after_first_word, first_word, spaced_offset_to_iso

SOURCE_CHANNELS = {"web": "online_store", "pos": "retail", "shopify_draft_order": "online_store",
                   "iphone": "online_store", "android": "online_store"}
DEFAULT_CHANNEL = "online_store"


class ShopifyExport(FileFormat):
    name = "shopify_export"
    grain = "order_lines"
    derived = ("orders", "customers")
    required_columns = ("Name", "Email", "Currency", "Created at", "Lineitem quantity", "Lineitem name",
                        "Lineitem price", "Lineitem sku")
    origin = {
        "orders": {"order_id": "Name", "order_number": "Name", "customer_id": "Email", "ordered_at": "Created at",
                   "currency": "Currency", "shipping_amount": "Shipping", "channel": "Source"},
        "order_lines": {"order_id": "Name", "sku": "Lineitem sku", "quantity": "Lineitem quantity",
                        "unit_price": "Lineitem price", "discount_amount": "Lineitem discount",
                        "tax_amount": "Taxes"},
        "customers": {"customer_id": "Email", "email": "Email", "first_name": "Billing Name",
                      "last_name": "Billing Name", "country_code": "Billing Country"},
    }
    COLUMNS = list(required_columns) + ["Shipping", "Taxes", "Lineitem discount", "Source", "Billing Name",
                                        "Billing Country"]

    def columns(self) -> list[str]:
        return self.COLUMNS

    def rows(self, entity: str, raw: pl.DataFrame) -> pl.DataFrame:
        name, email = self.col("Name"), self.col("Email").str.to_lowercase()
        if entity == "orders":
            source = self.col("Source").str.to_lowercase()
            return canonical_frame(entity, raw, {
                "order_id": name, "order_number": name, "customer_id": email,
                "ordered_at": spaced_offset_to_iso(self.col("Created at")), "currency": self.col("Currency"),
                "shipping_amount": self.col("Shipping"),
                "channel": source.replace_strict(SOURCE_CHANNELS, default=DEFAULT_CHANNEL),
            })
        if entity == "order_lines":
            raw = raw.with_columns(self.positions.assign(raw.select(name.alias("n"))["n"]))
            return canonical_frame(entity, raw, {
                "order_id": name, "line_number": pl.col("line_number"), "sku": self.col("Lineitem sku"),
                "quantity": self.col("Lineitem quantity"), "unit_price": self.col("Lineitem price"),
                "discount_amount": self.col("Lineitem discount"),
                "tax_amount": pl.when(pl.col("line_number") == 1).then(self.col("Taxes")).otherwise(pl.lit("0.00")),
            })
        billing = self.col("Billing Name")
        return canonical_frame(entity, raw, {
            "customer_id": email, "email": self.col("Email"), "first_name": first_word(billing),
            "last_name": after_first_word(billing), "country_code": self.col("Billing Country"),
        })
