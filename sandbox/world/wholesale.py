"""The wholesale channel: a few business accounts ordering in bulk on weekdays at a trade discount.

Wholesale orders never reach the Shopify API: they arrive as the tenant's CSV file drop. No tax (resale),
a flat freight charge, no returns, and they ship from a separate trade stock (they do not censor online sales).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from sandbox.world.calendar import Calendar
from sandbox.world.money import basis_points
from sandbox.world.online import to_utc, utc_offsets
from sandbox.world.spec import ShopSpec, WorldSpec

TRADE_DISCOUNT_BP = 3000
FREIGHT_CENTS = 2500
ORDER_ID_BASE, LINE_ID_BASE, ACCOUNT_ID_BASE = 9_100_000_000, 19_000_000_000, 9_900_000
BUSINESSES = ["Trailhead Outfitters", "Cornerstone Goods", "Maple & Main", "Bluewater Supply", "The Goods Room",
              "Ridgeline Co-op", "Harvest Market", "Lantern Gifts", "Summit General", "Oak Street Store",
              "Northside Provisions", "Crescent Trading"]


def simulate_wholesale(spec: WorldSpec, shop: ShopSpec, cal: Calendar, variants: pl.DataFrame,
                       rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(accounts, orders, order_lines) of the wholesale channel."""
    n_accounts = int(rng.integers(5, len(BUSINESSES) + 1))
    account_ids = ACCOUNT_ID_BASE + np.arange(1, n_accounts + 1)
    accounts = pl.DataFrame({
        "customer_id": account_ids,
        "email": [f"orders@{BUSINESSES[i].lower().replace(' & ', '-').replace(' ', '-')}.example.com"
                  for i in range(n_accounts)],
        "first_name": ["Purchasing"] * n_accounts,
        "last_name": BUSINESSES[:n_accounts],
        "country_code": ["US" if shop.currency == "USD" else "GB" if shop.currency == "GBP" else "DE"] * n_accounts,
        "created_at": [spec.start - timedelta(days=int(d)) for d in rng.integers(60, 700, n_accounts)],
        "acquisition_channel": ["wholesale"] * n_accounts,
    }, schema_overrides={"created_at": pl.Datetime("us", "UTC")})

    weekday = np.array([d.weekday() < 5 for d in cal.dates])
    per_day = rng.poisson(np.where(weekday, shop.wholesale_orders_per_week / 5, 0))
    order_day = np.repeat(np.arange(spec.days), per_day)
    n_orders = len(order_day)
    local_seconds = rng.integers(9 * 3600, 17 * 3600, n_orders)
    created_at = to_utc(spec, order_day, local_seconds, utc_offsets(spec, shop.timezone))

    n_lines = rng.integers(3, 9, n_orders)
    n_var = variants.height
    line_variant = np.concatenate([rng.choice(n_var, size=min(k, n_var), replace=False) for k in n_lines]) \
        if n_orders else np.array([], dtype=np.int64)
    line_order = np.repeat(np.arange(n_orders), np.minimum(n_lines, n_var))
    qty = rng.integers(2, 13, len(line_order)) * 5  # case packs of 5
    price = variants["price_cents"].to_numpy()[line_variant]
    gross = price * qty
    discount = basis_points(gross, TRADE_DISCOUNT_BP)
    order_ids = ORDER_ID_BASE + np.arange(1, n_orders + 1)
    subtotal = np.bincount(line_order, gross - discount, minlength=n_orders).astype(np.int64)
    orders = pl.DataFrame({
        "order_id": order_ids,
        "name": pl.Series([f"WH-{10000 + i}" for i in range(1, n_orders + 1)], dtype=pl.String),
        "channel": "wholesale",
        "customer_id": account_ids[rng.integers(0, n_accounts, n_orders)].astype(np.int64),
        "created_at": created_at,
        "updated_at": created_at,
        "presentment_currency": shop.currency,
        "fx_rate_micro": np.full(n_orders, 1_000_000, dtype=np.int64),
        "subtotal_cents": subtotal,
        "discount_cents": np.bincount(line_order, discount, minlength=n_orders).astype(np.int64),
        "shipping_cents": np.full(n_orders, FREIGHT_CENTS, dtype=np.int64),
        "tax_cents": np.zeros(n_orders, dtype=np.int64),
        "total_cents": subtotal + FREIGHT_CENTS,
        "refunded_cents": np.zeros(n_orders, dtype=np.int64),
    })
    lines = pl.DataFrame({
        "line_id": LINE_ID_BASE + np.arange(1, len(line_order) + 1),
        "order_id": order_ids[line_order],
        "variant_id": variants["variant_id"].to_numpy()[line_variant],
        "product_id": variants["product_id"].to_numpy()[line_variant],
        "sku": pl.Series(variants["sku"].to_numpy()[line_variant], dtype=pl.String),
        "quantity": qty.astype(np.int64),
        "unit_price_cents": price.astype(np.int64),
        "discount_cents": discount.astype(np.int64),
        "tax_cents": np.zeros(len(line_order), dtype=np.int64),
    })
    return accounts, orders, lines
