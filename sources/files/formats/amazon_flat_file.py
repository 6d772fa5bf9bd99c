"""Amazon's flat-file All Orders Report (``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`` /
``…_BY_LAST_UPDATE_GENERAL``), read as Seller Central or the SP-API Reports API hands it over.

Tab-separated, no quoting (a product name may hold a ``"``), CRLF line ends, one row per order item, times in
ISO 8601 with an offset (``2024-11-23T06:43:27+00:00``). The quantity column is ``quantity`` (some
marketplaces write ``quantity-purchased``). ``item-price`` is the **line total** (quantity × unit price), as
Amazon documents it. The columns read:

- orders (derived, by ``amazon-order-id``): order_number = ``amazon-order-id``; ordered_at =
  ``purchase-date``; ``currency``; shipping_amount = Σ over the order's items of ``shipping-price`` −
  ``ship-promotion-discount``; channel ``amazon``. The report has no customer.
- order_lines (one per row): line_number = the row's position within its order; ``sku``; ``quantity``;
  unit_price = ``item-price`` ÷ quantity, exact to 4 places — a total that quantity does not divide to 4
  places is quarantined (rule ``line_total:unit_price``) rather than rounded, so Σ quantity × unit price is
  always the report's own total; discount_amount = ``item-promotion-discount``; tax_amount = ``item-tax``.
  Discounts are read by their size (reports have carried them with either sign).

Items without a price (pending orders) or of quantity 0 (cancelled items) are quarantined by the layout's
rules; a later report with the priced order lands them. Not landed: gift wrap, ship-city/state/postal-code,
promotion-ids, order-status and item-status.
"""

from __future__ import annotations

import polars as pl

from sources.files.formats.base import FORMAT_RULE, FileFormat, canonical_frame
from sources.files.formats.text import magnitude, money_difference, unit_price_of_total
from sources.files.reading import Dialect

CHANNEL = "amazon"


class AmazonFlatFile(FileFormat):
    name = "amazon_flat_file"
    dialect = Dialect(separator="\t", quote_char=None)
    grain = "order_lines"
    derived = ("orders",)
    sums = {"orders": ("shipping_amount",)}
    required_columns = ("amazon-order-id", "purchase-date", "sku", "currency", "item-price")

    def __init__(self, header: list[str]) -> None:
        super().__init__(header)
        self.quantity = "quantity" if "quantity" in header else "quantity-purchased"
        self.origin = {
            "orders": {"order_id": "amazon-order-id", "order_number": "amazon-order-id",
                       "ordered_at": "purchase-date", "currency": "currency",
                       "shipping_amount": "shipping-price − ship-promotion-discount"},
            "order_lines": {"order_id": "amazon-order-id", "sku": "sku", "quantity": self.quantity,
                            "unit_price": f"item-price ÷ {self.quantity}",
                            "discount_amount": "item-promotion-discount", "tax_amount": "item-tax"},
        }

    @classmethod
    def matches(cls, header: list[str], file_name: str) -> bool:
        return super().matches(header, file_name) and bool({"quantity", "quantity-purchased"} & set(header))

    def columns(self) -> list[str]:
        return [*self.required_columns, self.quantity, "item-tax", "shipping-price", "item-promotion-discount",
                "ship-promotion-discount"]

    def rows(self, entity: str, raw: pl.DataFrame) -> pl.DataFrame:
        order = self.col("amazon-order-id")
        if entity == "orders":
            return canonical_frame(entity, raw, {
                "order_id": order, "order_number": order, "ordered_at": self.col("purchase-date"),
                "currency": self.col("currency"),
                "shipping_amount": money_difference(self.col("shipping-price"),
                                                    magnitude(self.col("ship-promotion-discount"))),
                "channel": pl.lit(CHANNEL),
            })
        raw = raw.with_columns(self.positions.assign(raw.select(order.alias("o"))["o"]))
        unit_price, divides = unit_price_of_total(self.col("item-price"), self.col(self.quantity))
        return canonical_frame(entity, raw, {
            "order_id": order, "line_number": pl.col("line_number"), "sku": self.col("sku"),
            "quantity": self.col(self.quantity), "unit_price": unit_price,
            "discount_amount": magnitude(self.col("item-promotion-discount")), "tax_amount": self.col("item-tax"),
        }, extra={FORMAT_RULE: pl.when(~divides).then(pl.lit("line_total:unit_price"))})

    def reason(self, rule: str, row: dict) -> str | None:
        if rule == "line_total:unit_price":
            return (f"item-price {row.get('unit_price')!r} is the line total and {self.quantity} "
                    f"{row.get('quantity')!r} does not divide it to 4 decimal places: not rounded, not landed")
        return None
