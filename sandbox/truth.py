"""Ground-truth revenue straight from a shop's records, as exact Decimals (every channel: ``sales_truth``).

This is what the warehouse must reconcile to, to the cent. It reads the world's own frames (integer cents,
summed exactly), never anything an API or a loader produced.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import polars as pl

from sandbox.walmart.options import walmart_options
from sandbox.world import ShopWorld, WorldSpec
from sandbox.world.marketplace import Marketplace, marketplace_truth, simulate_marketplace

CHANNELS = ("online_store", "wholesale")


def revenue_truth(shop: ShopWorld, as_of: datetime | None = None, channel: str | None = None) -> dict[str, Decimal]:
    """Revenue over all channels (or one) of the shop as seen at ``as_of`` (default: everything).

    ``orders`` counts orders (an int); ``gross`` = Σ quantity × unit price; ``discounts`` = Σ line discounts;
    ``refunds`` = Σ refunded merchandise (after discount, tax excluded); ``net`` = gross − discounts − refunds;
    ``tax`` and ``shipping`` as charged on the orders (refunds do not reduce them).
    """
    world = shop if as_of is None else shop.visible(as_of)
    orders = world.orders if channel is None else world.channel(channel)
    ids = orders["order_id"].implode()
    lines = world.order_lines.filter(pl.col("order_id").is_in(ids))
    refunds = world.refunds.filter(pl.col("order_id").is_in(ids))
    refund_lines = world.refund_lines.filter(pl.col("refund_id").is_in(refunds["refund_id"].implode()))
    gross = _cents((lines["quantity"] * lines["unit_price_cents"]).sum())
    discounts = _cents(lines["discount_cents"].sum())
    refunded = _cents(refund_lines["subtotal_cents"].sum())
    return {
        "orders": orders.height,
        "gross": gross,
        "discounts": discounts,
        "refunds": refunded,
        "net": gross - discounts - refunded,
        "tax": _cents(orders["tax_cents"].sum()),
        "shipping": _cents(orders["shipping_cents"].sum()),
    }


def revenue_truth_by_channel(shop: ShopWorld, as_of: datetime | None = None) -> dict[str, dict[str, Decimal]]:
    """``revenue_truth`` for each channel; the channels add up to the total."""
    return {channel: revenue_truth(shop, as_of, channel) for channel in CHANNELS}


def _cents(total: int | None) -> Decimal:
    return Decimal(int(total or 0)).scaleb(-2)


MARKETPLACES = ("amazon", "walmart")


def marketplace(spec: WorldSpec, shop: ShopWorld, channel: str) -> Marketplace:
    """The shop's ``channel`` marketplace as its twin serves it (deterministic: same spec, same frames), on the
    twin's own terms: Walmart's defaults (WFS share and fee) differ from the generic marketplace's."""
    raw = shop.spec.channels[channel]
    options = walmart_options(raw) if channel == "walmart" else raw
    return simulate_marketplace(spec, shop, channel, options)


def sales_truth(spec: WorldSpec, shop: ShopWorld, as_of: datetime | None = None) -> dict[str, dict[str, Decimal]]:
    """Per channel the shop trades on — the online store, wholesale, and each marketplace in its spec — orders,
    gross, discounts, refunds, net and (channel) fees as exact Decimals: what the warehouse must show per tenant
    and channel, to the cent. Fees are the marketplace's net fees (charged minus given back on refunds)."""
    keys = ("orders", "gross", "discounts", "refunds", "net")
    out: dict[str, dict[str, Decimal]] = {}
    for channel in CHANNELS:
        figures = revenue_truth(shop, as_of, channel)
        if figures["orders"]:
            out[channel] = {**{key: figures[key] for key in keys}, "fees": Decimal("0.00")}
    for channel in MARKETPLACES:
        if channel in shop.spec.channels:
            figures = marketplace_truth(marketplace(spec, shop, channel), as_of)
            out[channel] = {**{key: figures[key] for key in keys}, "fees": figures["net_fees"]}
    return out


def daily_sales_truth(spec: WorldSpec, shop: ShopWorld, as_of: datetime | None = None) -> pl.DataFrame:
    """Per channel and local day (the shop's time zone), event-dated as the warehouse's channel cube is: ``orders``
    and ``net_sales`` (gross − discounts, in cents) on the order's day, ``refunds`` (merchandise) on the refund's
    day, ``fees`` (posted, minus those given back on refunds) on the day they posted (Walmart's report gives that
    day as a UTC date only, and the warehouse keeps Walmart's day). Integer cents, exact; one
    row per (channel, date) with any activity, sorted."""
    tz = shop.spec.timezone

    def day(column: str, zone: str = tz) -> pl.Expr:
        return pl.col(column).dt.convert_time_zone(zone).dt.date().alias("date")

    frames: list[pl.DataFrame] = []
    world = shop if as_of is None else shop.visible(as_of)
    for channel in CHANNELS:
        orders = world.channel(channel)
        if orders.is_empty():
            continue
        lines = world.order_lines.join(orders.select("order_id", "created_at"), on="order_id")
        refunds = world.refunds.filter(pl.col("order_id").is_in(orders["order_id"].implode()))
        refund_lines = world.refund_lines.join(refunds.select("refund_id", "created_at"), on="refund_id")
        frames += [f.with_columns(channel=pl.lit(channel)) for f in (
            orders.group_by(day("created_at")).agg(orders=pl.len()),
            lines.group_by(day("created_at")).agg(
                net_sales=(pl.col("quantity") * pl.col("unit_price_cents") - pl.col("discount_cents")).sum()),
            refund_lines.group_by(day("created_at")).agg(refunds=pl.col("subtotal_cents").sum()),
        )]
    for channel in MARKETPLACES:
        if channel not in shop.spec.channels:
            continue
        m = marketplace(spec, shop, channel)
        m = m if as_of is None else m.visible(as_of)
        lines = m.lines.join(m.orders.select("order_id", "created_at"), on="order_id")
        # Walmart's reconciliation report dates a fee by its (UTC) posting date only: the fee is that day's
        fee_zone = "UTC" if channel == "walmart" else tz
        frames += [f.with_columns(channel=pl.lit(channel)) for f in (
            m.orders.group_by(day("created_at")).agg(orders=pl.len()),
            lines.group_by(day("created_at")).agg(
                net_sales=(pl.col("quantity") * pl.col("unit_price_cents") - pl.col("promo_cents")).sum()),
            m.refunds.group_by(day("created_at")).agg(refunds=pl.col("amount_cents").sum()),
            m.refunds.group_by(day("created_at", fee_zone)).agg(fee_refunds=pl.col("fee_refund_cents").sum()),
            m.fees.group_by(day("posted_at", fee_zone)).agg(fees=pl.col("amount_cents").sum()),
        )]
    measures = ("orders", "net_sales", "refunds", "fees", "fee_refunds")
    long = pl.concat([f.unpivot(index=["channel", "date"], variable_name="measure")
                      .with_columns(pl.col("value").cast(pl.Int64)) for f in frames])
    wide = (long
            .pivot(on="measure", index=["channel", "date"], values="value", aggregate_function="sum"))
    for column in measures:
        if column not in wide.columns:
            wide = wide.with_columns(pl.lit(0, dtype=pl.Int64).alias(column))
    return (wide.with_columns(pl.col(c).fill_null(0) for c in measures)
            .with_columns(fees=pl.col("fees") - pl.col("fee_refunds"))
            .select("channel", "date", "orders", "net_sales", "refunds", "fees").sort("channel", "date"))
