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
