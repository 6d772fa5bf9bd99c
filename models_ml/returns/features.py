"""Order-line features known when the order is placed, and the return label.

Label: the line is (partly) refunded — refunded_quantity > 0 with its first refund within ``window_days`` of
the order day. A line's label is *known* once its window has closed (order_date + window ≤ the day one
looks from). Historical return rates (of the SKU, the category, the channel, the customer) are
time-respecting target encodings: a line ordered on day t sees only the labels of lines whose window closed
by t − 1, smoothed toward the next coarser rate (SKU → category → shop), so no feature peeks at a refund
that had not happened when the order was placed.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

CATEGORICAL = ("channel", "category")
NUMERIC = (
    "log_unit_price", "quantity", "discount_share", "basket_lines", "basket_units", "log_basket_value",
    "line_value_share", "customer_order_number", "identified",
    "shop_rate", "category_rate", "sku_rate", "channel_rate", "channel_category_rate", "sku_known_lines",
    "customer_known_lines", "customer_known_returns", "customer_rate",
)
FEATURES = (*NUMERIC, *CATEGORICAL)
SMOOTHING = {"category": 50.0, "sku": 30.0, "channel": 50.0, "channel_category": 50.0, "customer": 3.0}


def return_label(window_days: int) -> pl.Expr:
    """1 if the line was refunded (at least in part) within ``window_days`` of its order day, else 0."""
    within = (pl.col("first_refund_date") - pl.col("order_date")).dt.total_days() <= window_days
    return ((pl.col("refunded_quantity").fill_null(0) > 0) & within.fill_null(False)).cast(pl.Int8)


def known_rate(lines: pl.DataFrame, keys: list[str], window_days: int, prefix: str) -> pl.DataFrame:
    """For each line (order_line_key), the number of earlier lines with the same ``keys`` whose label was known
    the day before it was ordered, and how many of those were returned: ``{prefix}_n``, ``{prefix}_k``."""
    ready = (lines.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
             .with_columns(known_on=pl.col("order_date") + timedelta(days=window_days))
             .group_by(*keys, "known_on").agg(n=pl.len().cast(pl.Float64), k=pl.col("label").sum().cast(pl.Float64))
             .sort("known_on")
             .with_columns(n=pl.col("n").cum_sum().over(keys), k=pl.col("k").cum_sum().over(keys)))
    lookup = (lines.select("order_line_key", *keys, look=pl.col("order_date") - timedelta(days=1))
              .sort("look"))
    joined = lookup.join_asof(ready.rename({"known_on": "look"}), on="look", by=keys, strategy="backward",
                              check_sortedness=False)
    return joined.select("order_line_key", pl.col("n").fill_null(0.0).alias(f"{prefix}_n"),
                         pl.col("k").fill_null(0.0).alias(f"{prefix}_k"))


def line_features(order_lines: pl.DataFrame, window_days: int) -> pl.DataFrame:
    """One row per non-cancelled line with quantity > 0: order_line_key, order_date, label (meaningful only
    where the window has closed) and FEATURES (categoricals as Utf8), ordered by ordered_at and key."""
    lines = (order_lines.filter(~pl.col("is_cancelled").fill_null(False), pl.col("quantity") > 0)
             .with_columns(label=return_label(window_days),
                           channel_category=pl.concat_str("channel", pl.lit("|"), pl.col("category").fill_null("?")),
                           shop=pl.lit("shop")))
    basket = lines.group_by("order_key").agg(basket_lines=pl.len().cast(pl.Float64),
                                             basket_units=pl.col("quantity").sum().cast(pl.Float64),
                                             basket_value=pl.col("net_line_amount").sum())
    frame = lines.join(basket, on="order_key", how="left")
    for keys, prefix in ((["shop"], "shop"), (["category"], "category"), (["sku"], "sku"), (["channel"], "channel"),
                         (["channel_category"], "channel_category"), (["customer_key"], "customer")):
        frame = frame.join(known_rate(lines, keys, window_days, prefix), on="order_line_key", how="left")

    def smoothed(prefix: str, toward: pl.Expr) -> pl.Expr:
        strength = SMOOTHING[prefix]
        return ((pl.col(f"{prefix}_k").fill_null(0.0) + strength * toward)
                / (pl.col(f"{prefix}_n").fill_null(0.0) + strength))

    shop_rate = (pl.col("shop_k") + 1.0) / (pl.col("shop_n") + 20.0)  # a weak prior of 5 % before any history
    return (frame.with_columns(shop_rate=shop_rate)
            .with_columns(category_rate=smoothed("category", pl.col("shop_rate")),
                          channel_rate=smoothed("channel", pl.col("shop_rate")))
            .with_columns(sku_rate=smoothed("sku", pl.col("category_rate")),
                          channel_category_rate=smoothed("channel_category", pl.col("category_rate")),
                          customer_rate=smoothed("customer", pl.col("shop_rate")))
            .with_columns(
                log_unit_price=pl.col("unit_price").clip(0.01).log(),
                quantity=pl.col("quantity").cast(pl.Float64),
                discount_share=pl.when(pl.col("gross_amount") > 0)
                .then(pl.col("discount_amount") / pl.col("gross_amount")).otherwise(0.0),
                log_basket_value=pl.col("basket_value").clip(0.01).log(),
                line_value_share=pl.when(pl.col("basket_value") > 0)
                .then(pl.col("net_line_amount") / pl.col("basket_value")).otherwise(0.0),
                customer_order_number=pl.col("customer_order_number").cast(pl.Float64),
                identified=pl.col("customer_key").is_not_null().cast(pl.Float64),
                sku_known_lines=pl.col("sku_n"),
                customer_known_lines=pl.col("customer_n").fill_null(0.0),
                customer_known_returns=pl.col("customer_k").fill_null(0.0),
            )
            .select("order_line_key", "ordered_at", "order_date", "label", *FEATURES)
            .sort("ordered_at", "order_line_key"))
