"""A shop's world as the ML models read it: the frames of models_ml/frames.py (the marts' shape), built straight
from a ``ShopWorld`` so that a model can be judged against the world's ground truth without a warehouse.

The online store and wholesale channels are the shop's own; marketplace channels live in their own simulations
(``sandbox/world/marketplace.py``) and are left out here. Customer, order and line keys are the world's ids as
text; money is the world's cents / 100. See models_ml/README.md for the contract of each frame.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from models_ml.frames import MlFrames
from sandbox.world import ShopWorld

CENTS = 100.0


def shop_frames(shop: ShopWorld, as_of: date | None = None) -> MlFrames:
    """The ML frames of one shop, optionally as the world looked at the end of the local day ``as_of``."""
    zone = shop.spec.timezone
    orders = shop.orders.with_columns(order_date=pl.col("created_at").dt.convert_time_zone(zone).dt.date())
    refunds = (shop.refund_lines.join(shop.refunds, on="refund_id")
               .with_columns(refund_date=pl.col("created_at").dt.convert_time_zone(zone).dt.date()))
    if as_of is not None:
        orders = orders.filter(pl.col("order_date") <= as_of)
        refunds = refunds.filter(pl.col("refund_date") <= as_of)
    per_line = refunds.group_by("line_id").agg(refunded_quantity=pl.col("quantity").sum(),
                                               first_refund_date=pl.col("refund_date").min())
    categories = shop.products.select("product_id", category=pl.col("product_type"))
    sequence = (orders.filter(pl.col("customer_id").is_not_null())
                .sort("created_at", "order_id")
                .with_columns(customer_order_number=pl.col("order_id").cum_count().over("customer_id").cast(pl.Int64))
                .select("order_id", "customer_order_number"))
    orders = orders.join(sequence, on="order_id", how="left")

    lines = (shop.order_lines
             .join(orders.select("order_id", "channel", "customer_id", "created_at", "order_date",
                                 "customer_order_number"), on="order_id")
             .join(categories, on="product_id", how="left")
             .join(shop.variants.select("variant_id", "unit_cost_cents"), on="variant_id", how="left")
             .join(per_line, on="line_id", how="left"))
    order_lines = lines.select(
        order_line_key=pl.col("line_id").cast(pl.Utf8),
        order_key=pl.col("order_id").cast(pl.Utf8),
        customer_key=pl.col("customer_id").cast(pl.Utf8),
        channel="channel",
        sku="sku",
        category="category",
        ordered_at="created_at",
        order_date="order_date",
        quantity="quantity",
        unit_price=pl.col("unit_price_cents") / CENTS,
        gross_amount=pl.col("unit_price_cents") * pl.col("quantity") / CENTS,
        discount_amount=pl.col("discount_cents") / CENTS,
        net_line_amount=(pl.col("unit_price_cents") * pl.col("quantity") - pl.col("discount_cents")) / CENTS,
        unit_cost=pl.col("unit_cost_cents") / CENTS,
        refunded_quantity=pl.col("refunded_quantity").fill_null(0).cast(pl.Int64),
        first_refund_date="first_refund_date",
        customer_order_number="customer_order_number",
        is_cancelled=pl.lit(False),
    ).sort("ordered_at", "order_line_key")

    units = order_lines.group_by("order_key").agg(units=pl.col("quantity").sum())
    refunded = (refunds.join(shop.order_lines.select("line_id", "order_id"), on="line_id")
                .group_by("order_id").agg(refund=(pl.col("subtotal_cents") + pl.col("tax_cents")).sum()))
    order_frame = (orders.join(refunded, on="order_id", how="left")
                   .with_columns(order_key=pl.col("order_id").cast(pl.Utf8))
                   .join(units, on="order_key", how="left")
                   .select(order_key="order_key",
                           customer_key=pl.col("customer_id").cast(pl.Utf8),
                           channel="channel",
                           ordered_at="created_at",
                           order_date="order_date",
                           units=pl.col("units").fill_null(0).cast(pl.Int64),
                           net_revenue=(pl.col("subtotal_cents") - pl.col("refund").fill_null(0)) / CENTS,
                           discount_amount=pl.col("discount_cents") / CENTS,
                           refund_amount=pl.col("refund").fill_null(0) / CENTS,
                           is_cancelled=pl.lit(False),
                           customer_order_number="customer_order_number")
                   .sort("ordered_at", "order_key"))

    sales_daily = (order_lines.group_by("sku", "channel", "order_date")
                   .agg(units=pl.col("quantity").sum(), gross_amount=pl.col("gross_amount").sum(),
                        discount_amount=pl.col("discount_amount").sum(),
                        net_amount=pl.col("net_line_amount").sum())
                   .rename({"order_date": "date"})
                   .sort("sku", "channel", "date"))

    first_sold = sales_daily.group_by("sku").agg(first_sold_on=pl.col("date").min())
    products = (shop.variants.join(categories, on="product_id", how="left")
                .join(shop.products.select("product_id", product_title="title"), on="product_id", how="left")
                .join(first_sold, on="sku", how="left")
                .select(sku="sku", category="category",
                        title=pl.concat_str("product_title", pl.lit(" — "), "title"),
                        list_price=pl.col("price_cents") / CENTS,
                        unit_cost=pl.col("unit_cost_cents") / CENTS,
                        first_sold_on="first_sold_on")
                .sort("sku"))

    firsts = order_frame.group_by("customer_key").agg(first_order_date=pl.col("order_date").min())
    people = shop.customers
    if as_of is not None:
        people = people.filter(pl.col("created_at").dt.convert_time_zone(zone).dt.date() <= as_of)
    customers = (people.with_columns(customer_key=pl.col("customer_id").cast(pl.Utf8))
                 .join(firsts, on="customer_key", how="left")
                 .select(customer_key="customer_key", identity_type=pl.lit("email"),
                         acquisition_channel="acquisition_channel", first_order_date="first_order_date",
                         country_code="country_code")
                 .sort("customer_key"))
    return MlFrames(sales_daily=sales_daily, products=products, order_lines=order_lines, orders=order_frame,
                    customers=customers)
