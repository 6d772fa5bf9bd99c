"""Customer features and churn labels as of a cutoff day, from one tenant's frames.

Everything a feature uses is known at the end of the cutoff day: orders placed on or before it, refunds made
on or before it. The label looks only at the orders after it: churned = no non-cancelled order in
(cutoff, cutoff + horizon].
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

# the customers a churn score means something for: identified people and marketplace buyers (not wholesale
# trade accounts, which order on terms and are managed by hand)
IDENTITY_TYPES = ("email", "channel")
EXCLUDED_CHANNELS = ("wholesale",)
CATEGORICAL = ("identity_type", "acquisition_channel", "main_channel")
NUMERIC = (
    "recency_days", "tenure_days", "orders", "orders_30d", "orders_90d", "orders_180d", "orders_365d",
    "mean_gap_days", "recency_over_gap", "last_gap_days", "orders_per_tenure_day", "net_revenue",
    "mean_order_value", "last_order_value", "mean_units", "discount_share", "first_order_discounted",
    "return_line_share", "distinct_categories", "online_share",
)
FEATURES = (*NUMERIC, *CATEGORICAL)


def valid_orders(orders: pl.DataFrame) -> pl.DataFrame:
    """Non-cancelled orders of identified customers outside the excluded channels."""
    return orders.filter(~pl.col("is_cancelled").fill_null(False), pl.col("customer_key").is_not_null(),
                         ~pl.col("channel").is_in(EXCLUDED_CHANNELS))


def population(orders: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    """customer_key, identity_type, acquisition_channel of the customers churn is scored for."""
    known = customers.filter(pl.col("identity_type").is_in(IDENTITY_TYPES)).select(
        "customer_key", "identity_type", "acquisition_channel")
    buyers = valid_orders(orders).select("customer_key").unique()
    return known.join(buyers, on="customer_key", how="inner")


def customer_features(orders: pl.DataFrame, customers: pl.DataFrame, order_lines: pl.DataFrame,
                      cutoff: date) -> pl.DataFrame:
    """One row per customer of the population with ≥ 1 order on or before ``cutoff``: customer_key + FEATURES.
    Categorical features are Utf8 (``encode`` turns them into LightGBM categories)."""
    cut = pl.lit(cutoff, dtype=pl.Date)
    people = population(orders, customers)
    past = (valid_orders(orders).filter(pl.col("order_date") <= cut)
            .join(people.select("customer_key"), on="customer_key", how="semi")
            .sort("customer_key", "ordered_at", "order_key"))
    days_ago = (cut - pl.col("order_date")).dt.total_days()
    gaps = (pl.col("order_date").diff().dt.total_days()).over("customer_key")
    # order value from its lines (an order's net_revenue may already be net of refunds made after the cutoff)
    value = (order_lines.filter(~pl.col("is_cancelled").fill_null(False), pl.col("order_date") <= cut)
             .group_by("order_key").agg(value=pl.col("net_line_amount").sum()))
    past = past.join(value, on="order_key", how="left").with_columns(
        value=pl.col("value").fill_null(0.0), days_ago=days_ago, gap=gaps,
                             online=(pl.col("channel") == "online_store").cast(pl.Float64))
    per_customer = past.group_by("customer_key").agg(
        recency_days=pl.col("days_ago").min().cast(pl.Float64),
        tenure_days=pl.col("days_ago").max().cast(pl.Float64),
        orders=pl.len().cast(pl.Float64),
        orders_30d=(pl.col("days_ago") < 30).sum().cast(pl.Float64),
        orders_90d=(pl.col("days_ago") < 90).sum().cast(pl.Float64),
        orders_180d=(pl.col("days_ago") < 180).sum().cast(pl.Float64),
        orders_365d=(pl.col("days_ago") < 365).sum().cast(pl.Float64),
        mean_gap_days=pl.col("gap").mean().cast(pl.Float64),
        last_gap_days=pl.col("gap").last().cast(pl.Float64),
        net_revenue=pl.col("value").sum(),
        mean_order_value=pl.col("value").mean(),
        last_order_value=pl.col("value").last(),
        mean_units=pl.col("units").mean().cast(pl.Float64),
        discount_share=pl.col("discount_amount").sum() / (pl.col("value").sum() + pl.col("discount_amount").sum()),
        first_order_discounted=(pl.col("discount_amount").first() > 0).cast(pl.Float64),
        online_share=pl.col("online").mean(),
        main_channel=pl.col("channel").mode().sort().first(),
    )
    lines = (order_lines.filter(~pl.col("is_cancelled").fill_null(False), pl.col("order_date") <= cut)
             .join(per_customer.select("customer_key"), on="customer_key", how="semi")
             .group_by("customer_key").agg(
                 # a refund counts only once it has happened (on or before the cutoff)
                 return_line_share=((pl.col("refunded_quantity") > 0)
                                    & (pl.col("first_refund_date") <= cut)).mean().cast(pl.Float64),
                 distinct_categories=pl.col("category").n_unique().cast(pl.Float64)))
    return (per_customer.join(lines, on="customer_key", how="left")
            .join(people, on="customer_key", how="left")
            .with_columns(
                recency_over_gap=pl.col("recency_days") / pl.col("mean_gap_days"),
                orders_per_tenure_day=pl.col("orders") / (pl.col("tenure_days") + 30.0),
                discount_share=pl.col("discount_share").fill_nan(None),
            )
            .select("customer_key", *FEATURES)
            .sort("customer_key"))


def churn_labels(orders: pl.DataFrame, customer_keys: pl.Series, cutoff: date, horizon_days: int) -> pl.DataFrame:
    """customer_key, churned (Int8: 1 = no valid order in (cutoff, cutoff + horizon_days]) for the customers
    given. Only meaningful when the data reach cutoff + horizon_days."""
    end = cutoff + timedelta(days=horizon_days)
    bought = (valid_orders(orders).filter(pl.col("order_date") > cutoff, pl.col("order_date") <= end)
              .select("customer_key").unique().with_columns(bought=pl.lit(True)))
    return (pl.DataFrame({"customer_key": customer_keys}).join(bought, on="customer_key", how="left")
            .select("customer_key", churned=(~pl.col("bought").fill_null(False)).cast(pl.Int8)))


def encode(features: pl.DataFrame, categories: dict[str, list[str]]) -> pl.DataFrame:
    """FEATURES as floats, categorical columns as their index in ``categories`` (unknown/null: NaN), ready for
    LightGBM with ``categorical_feature``."""
    out = {}
    for name in FEATURES:
        if name in CATEGORICAL:
            lookup = {value: float(i) for i, value in enumerate(categories[name])}
            out[name] = features[name].replace_strict(lookup, default=None, return_dtype=pl.Float64)
        else:
            out[name] = features[name].cast(pl.Float64)
    return pl.DataFrame(out).fill_null(float("nan"))


def category_levels(features: pl.DataFrame) -> dict[str, list[str]]:
    """The levels of each categorical feature, sorted (a fixed encoding for train and predict)."""
    return {name: sorted(features[name].drop_nulls().unique().to_list()) for name in CATEGORICAL}
