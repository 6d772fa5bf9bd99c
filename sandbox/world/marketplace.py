"""A marketplace channel of a shop (Amazon, Walmart, …): the brand's listings, marketplace orders, the fees the
marketplace charges, refunds and the marketplace-held stock, all deterministic and in integer cents.

Demand follows the shop's own expected demand (``truth_demand``: the same seasonality, launches and product
mix), scaled to the channel's ``orders_per_day`` and restricted to the listed SKUs. Marketplace buyers are
channel-scoped (an anonymised buyer id and relay e-mail, never the shop's customers). The stock is the
marketplace's own (FBA / WFS): it never censors online-store sales, and it does not censor marketplace demand
either (the brand keeps it replenished), so ``orders`` is exactly what the truth counts.

Per order line: ``gross = quantity × unit price``, a deal discount on some lines (``promo``), tax on the
discounted amount, and fees posted when the order ships: a referral fee (basis points of the discounted line)
and, for marketplace-fulfilled lines, a per-unit fulfilment fee. A refund gives back the returned share of the
discounted line and of its tax, and the marketplace refunds the referral fee on it minus its refund
administration fee (20 % of it, at most 5.00). Nothing is ever cancelled or edited after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from sandbox.world.calendar import Calendar
from sandbox.world.currencies import currency
from sandbox.world.money import basis_points, per_million, share
from sandbox.world.shop import ShopWorld
from sandbox.world.spec import WorldSpec, shop_rng

ID_BASES = {"amazon": 30_000_000_000, "walmart": 40_000_000_000}
DEFAULT_ID_BASE = 50_000_000_000
REFUND_ADMIN_BP, REFUND_ADMIN_CAP_CENTS = 2000, 500


class MarketplaceOptions(BaseModel):
    """A shop's terms on one marketplace (``channels: {amazon: {...}}`` in the world spec)."""

    model_config = ConfigDict(extra="allow", frozen=True)  # twins keep their own options (ids, tokens) here too

    orders_per_day: float = Field(default=5.0, gt=0)
    listed_share: float = Field(default=0.8, gt=0, le=1)  # of the variants listed on the marketplace
    price_markup_bp: int = Field(default=500, ge=-5000, le=10000)  # marketplace price vs the online price
    referral_fee_bp: int = Field(default=1500, ge=0, le=5000)
    fulfilled_share: float = Field(default=0.8, ge=0, le=1)  # lines the marketplace fulfils (FBA / WFS)
    fulfillment_fee_cents: int = Field(default=350, ge=0)  # per unit it fulfils
    deal_share: float = Field(default=0.08, ge=0, le=1)  # lines sold with a deal discount
    deal_bp: tuple[int, int] = (1000, 2500)
    return_rate: float = Field(default=0.07, ge=0, le=1)  # of lines that come back (wholly or partly)
    shipping_share: float = Field(default=0.15, ge=0, le=1)  # of orders paying shipping (non-Prime)


@dataclass(frozen=True)
class Marketplace:
    """One shop's marketplace channel. Money in integer cents of the shop currency; timestamps UTC.

    - ``listings``: sku, variant_id, product_id, title, external_id (ASIN / item id), price_cents, listed_from
    - ``orders``: order_id, channel, buyer_id, buyer_email, created_at, shipped_at, updated_at, currency,
      ship_country, subtotal_cents (after deals), promo_cents, shipping_cents, tax_cents, total_cents
    - ``lines``: line_id, order_id, sku, variant_id, quantity, unit_price_cents, promo_cents, tax_cents,
      fulfilled_by_marketplace
    - ``fees``: fee_id, order_id, line_id, fee_type (referral | fulfillment), amount_cents (> 0: charged to the
      brand), posted_at (= the order's shipment)
    - ``refunds``: refund_id, order_id, line_id, quantity, amount_cents (merchandise), tax_cents,
      fee_refund_cents (referral fee given back, net of the admin fee), created_at
    - ``inventory_daily``: date, sku, fulfillable, inbound, reserved (the marketplace's stock, end of day)
    """

    channel: str
    handle: str
    currency: str
    as_of: datetime
    listings: pl.DataFrame
    orders: pl.DataFrame
    lines: pl.DataFrame
    fees: pl.DataFrame
    refunds: pl.DataFrame
    inventory_daily: pl.DataFrame

    def visible(self, as_of: datetime) -> Marketplace:
        """What the marketplace's API shows at ``as_of``: orders placed by then, fees posted and refunds made by
        then, ``updated_at`` the latest of those events, stock up to that date."""
        as_of = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
        if as_of >= self.as_of:
            return self
        orders = self.orders.filter(pl.col("created_at") <= as_of)
        ids = orders["order_id"].implode()
        refunds = self.refunds.filter(pl.col("created_at") <= as_of)
        fees = self.fees.filter(pl.col("posted_at") <= as_of)
        return replace(
            self,
            as_of=as_of,
            listings=self.listings.filter(pl.col("listed_from") <= as_of.date()),
            orders=_with_updated_at(orders.with_columns(
                shipped_at=pl.when(pl.col("shipped_at") <= as_of).then(pl.col("shipped_at"))), refunds),
            lines=self.lines.filter(pl.col("order_id").is_in(ids)),
            fees=fees,
            refunds=refunds,
            inventory_daily=self.inventory_daily.filter(pl.col("date") <= as_of.date()),
        )


def simulate_marketplace(spec: WorldSpec, shop: ShopWorld, channel: str,
                         options: MarketplaceOptions | dict | None = None) -> Marketplace:
    """The shop's ``channel`` marketplace, from its own random stream (other channels are untouched)."""
    opts = options if isinstance(options, MarketplaceOptions) else MarketplaceOptions(**(options or {}))
    rng = shop_rng(spec.seed, shop.handle, f"marketplace/{channel}")
    money = currency(shop.spec.currency)
    calendar = Calendar.build(spec, shop.spec)
    days, variants = calendar.days, shop.variants
    n_var = variants.height
    id_base = ID_BASES.get(channel, DEFAULT_ID_BASE)

    listed = rng.uniform(size=n_var) < opts.listed_share
    listed[0] = True
    expected = (shop.truth_demand.sort("date", "variant_id")["expected_units"].to_numpy()
                .reshape(days, n_var) * listed[None, :])
    daily = expected.sum(axis=1)
    per_day = rng.poisson(opts.orders_per_day * daily / max(daily.mean(), 1e-9))
    order_day = np.repeat(np.arange(days), per_day)
    n_orders = len(order_day)

    # lines: one, sometimes two, each a listed variant drawn by that day's demand shares
    n_lines = 1 + (rng.uniform(size=n_orders) < 0.2).astype(np.int64)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    line_day = order_day[line_order]
    cumulative = np.cumsum(expected / np.where(daily > 0, daily, 1)[:, None], axis=1)
    cumulative[:, -1] = 1.0
    flat = (cumulative + np.arange(days)[:, None]).ravel()
    variant = np.searchsorted(flat, line_day + rng.uniform(size=len(line_order)) * 0.999999, side="right") \
        - line_day * n_var
    variant = np.clip(variant, 0, n_var - 1)
    quantity = np.minimum(1 + rng.poisson(0.25, size=len(line_order)), 4).astype(np.int64)

    online_price = variants["price_cents"].to_numpy()
    listing_price = share(online_price, 10_000 + opts.price_markup_bp, 10_000)
    unit_price = listing_price[variant]
    gross = unit_price * quantity
    deal = rng.uniform(size=len(line_order)) < opts.deal_share
    promo = np.where(deal, basis_points(gross, rng.integers(*opts.deal_bp, size=len(line_order), endpoint=True)), 0)
    net = gross - promo
    tax = per_million(net, money.tax_ppm)
    by_mp = rng.uniform(size=len(line_order)) < opts.fulfilled_share

    seconds = rng.integers(0, 86_400, size=n_orders)
    created = calendar.to_utc(order_day, seconds)
    shipped = calendar.to_utc(order_day + rng.integers(1, 3, size=n_orders, endpoint=True),
                              rng.integers(8 * 3600, 20 * 3600, size=n_orders))
    pays_shipping = rng.uniform(size=n_orders) < opts.shipping_share
    shipping = np.where(pays_shipping, money.shipping_cents, 0).astype(np.int64)

    order_ids = id_base + 1 + np.arange(n_orders)
    line_ids = id_base + 5_000_000_000 + 1 + np.arange(len(line_order))
    n_buyers = max(10, int(n_orders / 1.35))
    buyer = rng.integers(0, n_buyers, size=n_orders)
    buyer_ids = id_base + 9_000_000_000 + 1 + buyer
    subtotal = np.bincount(line_order, weights=net, minlength=n_orders).astype(np.int64)
    order_tax = np.bincount(line_order, weights=tax, minlength=n_orders).astype(np.int64)
    order_promo = np.bincount(line_order, weights=promo, minlength=n_orders).astype(np.int64)
    orders = pl.DataFrame({
        "order_id": order_ids,
        "channel": channel,
        "buyer_id": buyer_ids,
        "buyer_email": [f"{b:x}@marketplace.{channel}.example" for b in buyer_ids.tolist()],
        "created_at": created,
        "shipped_at": shipped,
        "currency": money.code,
        "ship_country": money.countries[0],
        "subtotal_cents": subtotal,
        "promo_cents": order_promo,
        "shipping_cents": shipping,
        "tax_cents": order_tax,
        "total_cents": subtotal + order_tax + shipping,
    })
    lines = pl.DataFrame({
        "line_id": line_ids,
        "order_id": order_ids[line_order],
        "sku": variants["sku"].gather(variant),
        "variant_id": variants["variant_id"].to_numpy()[variant],
        "quantity": quantity,
        "unit_price_cents": unit_price.astype(np.int64),
        "promo_cents": promo.astype(np.int64),
        "tax_cents": tax.astype(np.int64),
        "fulfilled_by_marketplace": by_mp,
    })

    referral = basis_points(net, opts.referral_fee_bp)
    fulfilment = np.where(by_mp, opts.fulfillment_fee_cents * quantity, 0)
    line_shipped = shipped.gather(line_order)
    fee_rows = [
        pl.DataFrame({"order_id": order_ids[line_order], "line_id": line_ids, "fee_type": "referral",
                      "amount_cents": referral.astype(np.int64), "posted_at": line_shipped}),
        pl.DataFrame({"order_id": order_ids[line_order], "line_id": line_ids, "fee_type": "fulfillment",
                      "amount_cents": fulfilment.astype(np.int64), "posted_at": line_shipped}).filter(
            pl.col("amount_cents") > 0),
    ]
    fees = pl.concat(fee_rows).sort("posted_at", "line_id", "fee_type")
    fees = fees.with_columns(fee_id=pl.Series(id_base + 7_000_000_000 + 1 + np.arange(fees.height))).select(
        "fee_id", "order_id", "line_id", "fee_type", "amount_cents", "posted_at")

    returned = rng.uniform(size=len(line_order)) < opts.return_rate
    partial = rng.integers(1, np.maximum(quantity, 1), endpoint=True)
    back = np.where(returned, np.minimum(partial, quantity), 0)
    r = np.flatnonzero(back > 0)
    refund_amount = share(net[r], back[r], quantity[r])
    refunded_referral = share(referral[r], back[r], quantity[r])
    admin = np.minimum(basis_points(refunded_referral, REFUND_ADMIN_BP), REFUND_ADMIN_CAP_CENTS)
    refund_day = line_day[r] + rng.integers(5, 35, size=len(r), endpoint=True)
    refunded_at = calendar.to_utc(refund_day, rng.integers(6 * 3600, 22 * 3600, size=len(r)))
    refunds = pl.DataFrame({
        "refund_id": id_base + 8_000_000_000 + 1 + np.arange(len(r)),
        "order_id": order_ids[line_order[r]],
        "line_id": line_ids[r],
        "quantity": back[r].astype(np.int64),
        "amount_cents": refund_amount.astype(np.int64),
        "tax_cents": share(tax[r], back[r], quantity[r]).astype(np.int64),
        "fee_refund_cents": (refunded_referral - admin).astype(np.int64),
        "created_at": refunded_at,
    })
    horizon = spec.end
    refunds = refunds.filter(pl.col("created_at") < horizon).sort("created_at", "refund_id")
    fees = fees.filter(pl.col("posted_at") < horizon)
    orders = _with_updated_at(orders.with_columns(
        shipped_at=pl.when(pl.col("shipped_at") < horizon).then(pl.col("shipped_at"))), refunds)

    products = shop.products.select("product_id", "title")
    listings = (variants.with_columns(price_cents=pl.Series(listing_price.astype(np.int64)))
                .filter(pl.Series(listed))
                .join(products, on="product_id", how="left")
                .with_columns(external_id=_external_ids(channel, pl.col("variant_id")),
                              listed_from=pl.lit(spec.start_date))
                .select("sku", "variant_id", "product_id", "title", "external_id", "price_cents", "listed_from"))
    return Marketplace(channel=channel, handle=shop.handle, currency=money.code, as_of=horizon, listings=listings,
                       orders=orders, lines=lines, fees=fees, refunds=refunds,
                       inventory_daily=_stock(calendar, variants["sku"].to_list(), listed, line_day, variant,
                                              quantity, by_mp, expected, rng))


def marketplace_truth(market: Marketplace, as_of: datetime | None = None) -> dict[str, Decimal | int]:
    """The channel's figures as exact Decimals, as seen at ``as_of`` (default everything): ``orders``, ``units``,
    ``gross`` (Σ quantity × unit price), ``discounts`` (deals), ``refunds`` (merchandise), ``net`` = gross −
    discounts − refunds, ``tax``, ``shipping``, ``fees`` (posted), ``fee_refunds`` and ``net_fees``."""
    m = market if as_of is None else market.visible(as_of)
    gross = _cents((m.lines["quantity"] * m.lines["unit_price_cents"]).sum())
    discounts = _cents(m.lines["promo_cents"].sum())
    refunds = _cents(m.refunds["amount_cents"].sum())
    fees = _cents(m.fees["amount_cents"].sum())
    fee_refunds = _cents(m.refunds["fee_refund_cents"].sum())
    return {
        "orders": m.orders.height,
        "units": int(m.lines["quantity"].sum() or 0),
        "gross": gross,
        "discounts": discounts,
        "refunds": refunds,
        "net": gross - discounts - refunds,
        "tax": _cents(m.lines["tax_cents"].sum()),
        "shipping": _cents(m.orders["shipping_cents"].sum()),
        "fees": fees,
        "fee_refunds": fee_refunds,
        "net_fees": fees - fee_refunds,
    }


def _with_updated_at(orders: pl.DataFrame, refunds: pl.DataFrame) -> pl.DataFrame:
    last_refund = refunds.group_by("order_id").agg(pl.col("created_at").max().alias("_last_refund"))
    return (orders.drop("updated_at", strict=False)
            .join(last_refund, on="order_id", how="left", maintain_order="left")
            .with_columns(updated_at=pl.max_horizontal("created_at", "shipped_at", "_last_refund"))
            .drop("_last_refund"))


def _external_ids(channel: str, variant_id: pl.Expr) -> pl.Expr:
    """The marketplace's own id of a listing: an ASIN-like ``B0…`` on Amazon, a numeric item id elsewhere."""
    if channel == "amazon":
        return pl.lit("B0") + (variant_id % 100_000_000).cast(pl.String).str.zfill(8)
    return (variant_id % 1_000_000_000 + 1_000_000_000).cast(pl.String)


def _stock(calendar: Calendar, skus: list[str], listed: np.ndarray, line_day: np.ndarray, variant: np.ndarray,
           quantity: np.ndarray, by_marketplace: np.ndarray, expected: np.ndarray,
           rng: np.random.Generator) -> pl.DataFrame:
    """The marketplace-held stock of each listed SKU at the end of each day: it ships what the marketplace
    fulfils, and the brand sends a shipment (inbound for 5–12 days) whenever cover drops below 21 days."""
    days, n_var = expected.shape
    sold = np.zeros((days, n_var), dtype=np.int64)
    mp = by_marketplace
    np.add.at(sold, (line_day[mp], variant[mp]), quantity[mp])
    rate = np.maximum(expected.mean(axis=0) * 0.3, 0.05)  # marketplace share of expected units, roughly
    on_hand = np.ceil(rate * 45).astype(np.int64) * listed
    inbound = np.zeros(n_var, dtype=np.int64)
    arrivals = np.zeros((days + 40, n_var), dtype=np.int64)
    fulfillable = np.zeros((days, n_var), dtype=np.int64)
    inbound_daily = np.zeros((days, n_var), dtype=np.int64)
    lead = rng.integers(5, 12, size=(days, n_var), endpoint=True)
    for day in range(days):
        on_hand += arrivals[day]
        inbound -= arrivals[day]
        on_hand = np.maximum(on_hand - sold[day], 0)  # the brand never lets a marketplace order go unserved
        reorder = listed & (on_hand + inbound < rate * 21)
        amount = np.where(reorder, np.ceil(rate * 45).astype(np.int64), 0)
        inbound += amount
        np.add.at(arrivals, (day + lead[day][reorder], np.flatnonzero(reorder)), amount[reorder])
        fulfillable[day], inbound_daily[day] = on_hand, inbound
    keep = np.flatnonzero(listed)
    dates = pl.Series(calendar.dates, dtype=pl.Date)
    return pl.DataFrame({
        "date": dates.gather(np.repeat(np.arange(days), len(keep))),
        "sku": pl.Series(skus).gather(np.tile(keep, days)),
        "fulfillable": fulfillable[:, keep].reshape(-1),
        "inbound": inbound_daily[:, keep].reshape(-1),
        "reserved": np.zeros(days * len(keep), dtype=np.int64),
    })


def _cents(total: int | float | None) -> Decimal:
    return Decimal(int(total or 0)).scaleb(-2)
