"""One shop's world: its frames and ground truth, and the world as an API sees it at a given clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import polars as pl

from sandbox.world.spec import ShopSpec

ORDER_COLUMNS = ["order_id", "name", "channel", "customer_id", "created_at", "updated_at", "discount_code",
                 "presentment_currency", "fx_rate", "subtotal_cents", "discount_cents", "shipping_cents",
                 "tax_cents", "total_cents", "refunded_cents", "total_presentment_cents"]
LINE_COLUMNS = ["line_id", "order_id", "variant_id", "product_id", "sku", "quantity", "unit_price_cents",
                "discount_cents", "tax_cents", "unit_price_presentment_cents"]
CUSTOMER_COLUMNS = ["customer_id", "email", "first_name", "last_name", "country_code", "created_at", "updated_at",
                    "acquisition_channel"]


@dataclass(frozen=True)
class ShopWorld:
    """Every record of one shop (polars frames; money in integer cents of the shop currency unless named
    ``*_presentment_cents``; timestamps UTC) and the ground truth behind them. See sandbox/README.md."""

    spec: ShopSpec
    as_of: datetime  # the clock this view is taken at (the shop's horizon for the full world)
    products: pl.DataFrame
    variants: pl.DataFrame
    customers: pl.DataFrame
    orders: pl.DataFrame
    order_lines: pl.DataFrame
    refunds: pl.DataFrame
    refund_lines: pl.DataFrame
    inventory_daily: pl.DataFrame
    truth_demand: pl.DataFrame
    truth_customers: pl.DataFrame

    @property
    def handle(self) -> str:
        return self.spec.handle

    def channel(self, channel: str) -> pl.DataFrame:
        """The orders of one channel: ``online_store`` (served by the Shopify twin) or ``wholesale`` (CSV)."""
        return self.orders.filter(pl.col("channel") == channel)

    def visible(self, as_of: datetime) -> ShopWorld:
        """The world as an API sees it at ``as_of`` (naive means UTC): records created at or before it,
        refunds made by then, orders' ``refunded_cents`` and ``updated_at`` and customers' ``updated_at``
        recomputed accordingly, inventory up to that local date. The truth frames stay whole."""
        as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        if as_of >= self.as_of:
            return self
        orders = self.orders.filter(pl.col("created_at") <= as_of)
        refunds = self.refunds.filter(pl.col("created_at") <= as_of)
        refund_lines = self.refund_lines.filter(pl.col("refund_id").is_in(refunds["refund_id"].implode()))
        orders = with_refunds(orders, refunds, refund_lines)
        customers = with_activity(self.customers.filter(pl.col("created_at") <= as_of), orders, refunds)
        products = self.products.filter(pl.col("created_at") <= as_of)
        local_date = as_of.astimezone(ZoneInfo(self.spec.timezone)).date()
        return replace(
            self,
            as_of=as_of,
            products=products,
            variants=self.variants.filter(pl.col("product_id").is_in(products["product_id"].implode())),
            customers=customers,
            orders=orders,
            order_lines=self.order_lines.filter(pl.col("order_id").is_in(orders["order_id"].implode())),
            refunds=refunds,
            refund_lines=refund_lines,
            inventory_daily=self.inventory_daily.filter(pl.col("date") <= local_date),
        )


def with_refunds(orders: pl.DataFrame, refunds: pl.DataFrame, refund_lines: pl.DataFrame) -> pl.DataFrame:
    """Orders with ``refunded_cents`` (Σ refunded merchandise and tax) and ``updated_at`` (the latest of the
    order and its refunds) derived from the refunds given."""
    per_refund = refund_lines.group_by("refund_id").agg((pl.col("subtotal_cents") + pl.col("tax_cents")).sum()
                                                        .alias("amount"))
    per_order = (refunds.join(per_refund, on="refund_id", how="left")
                 .group_by("order_id")
                 .agg(pl.col("amount").sum().alias("refunded"), pl.col("created_at").max().alias("last_refund")))
    return (orders.drop("refunded_cents", "updated_at", strict=False)
            .join(per_order, on="order_id", how="left", maintain_order="left")
            .with_columns(refunded_cents=pl.col("refunded").fill_null(0).cast(pl.Int64),
                          updated_at=pl.max_horizontal("created_at", "last_refund"))
            .select(ORDER_COLUMNS))


def with_activity(customers: pl.DataFrame, orders: pl.DataFrame, refunds: pl.DataFrame) -> pl.DataFrame:
    """Customers with ``updated_at`` = the latest of their creation, their orders and their refunds."""
    refunded = refunds.join(orders.select("order_id", "customer_id"), on="order_id").select("customer_id",
                                                                                           "created_at")
    latest = (pl.concat([orders.select("customer_id", "created_at"), refunded])
              .group_by("customer_id").agg(pl.col("created_at").max().alias("latest")))
    return (customers.drop("updated_at", strict=False)
            .join(latest, on="customer_id", how="left", maintain_order="left")
            .with_columns(updated_at=pl.max_horizontal("created_at", "latest"))
            .select(CUSTOMER_COLUMNS))
