"""The wholesale channel: a few business accounts ordering case packs on weekdays at their trade discount.

Wholesale orders never reach the Shopify API: they arrive as the tenant's CSV file drop. They carry no tax
(goods for resale), a flat freight charge, no returns, are priced in the shop currency, and ship from a
separate trade stock (they never censor online sales).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from sandbox.world.calendar import Calendar
from sandbox.world.catalog import Catalog
from sandbox.world.currencies import Currency
from sandbox.world.money import basis_points
from sandbox.world.orders import per_order

TRADE_DISCOUNT_BP = (2500, 4000)  # each account's discount off list price
LINES_PER_ORDER = (2, 6)
CASES_PER_LINE = (1, 4)
CASE_SIZES = ((2_000, 12), (10_000, 6))  # (USD-equivalent cents the price is below, units per case); else 2
OPENING_HOURS = (8 * 3600, 17 * 3600)
ORDER_ID_BASE, LINE_ID_BASE, ACCOUNT_ID_BASE = 9_100_000_000, 19_000_000_000, 9_900_000
FIRST_ORDER_NUMBER = 10_001
BUSINESSES = ("Trailhead Outfitters", "Cornerstone Goods", "Maple & Main", "Bluewater Supply", "The Goods Room",
              "Ridgeline Co-op", "Harvest Market", "Lantern Gifts", "Summit General", "Oak Street Store",
              "Northside Provisions", "Crescent Trading")


def case_size(price_usd_cents: np.ndarray) -> np.ndarray:
    """Units per case: a dozen of the cheap things, half a dozen of most, two of the big-ticket items."""
    size = np.full(len(price_usd_cents), 2, dtype=np.int64)
    for below, units in reversed(CASE_SIZES):
        size[price_usd_cents < below] = units
    return size


def simulate_wholesale(weekly_orders: float, money: Currency, calendar: Calendar, catalog: Catalog,
                       shares: np.ndarray, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(accounts, orders, order_lines); accounts have the customers' columns but ``updated_at``."""
    n_accounts = int(rng.integers(5, len(BUSINESSES) + 1))
    account_ids = ACCOUNT_ID_BASE + np.arange(1, n_accounts + 1)
    account_discount = rng.integers(*TRADE_DISCOUNT_BP, size=n_accounts, endpoint=True)
    opened = calendar.to_utc(np.zeros(n_accounts, dtype=np.int64),
                             -rng.integers(60, 700, n_accounts) * 86_400 + rng.integers(*OPENING_HOURS, n_accounts))
    accounts = pl.DataFrame({
        "customer_id": account_ids,
        "email": [f"orders@{name.lower().replace(' & ', '-').replace(' ', '-')}.example.com"
                  for name in BUSINESSES[:n_accounts]],
        "first_name": "Purchasing",
        "last_name": list(BUSINESSES[:n_accounts]),
        "country_code": money.countries[0],
        "created_at": opened,
        "acquisition_channel": "wholesale",
    })

    weekday = calendar.weekday < 5
    per_day = rng.poisson(np.where(weekday, weekly_orders / 5, 0.0))
    order_day = np.repeat(np.arange(calendar.days), per_day)
    n_orders = len(order_day)
    account = rng.integers(0, n_accounts, n_orders)
    created_at = calendar.to_utc(order_day, rng.integers(*OPENING_HOURS, n_orders))

    picks = []
    for day in order_day.tolist():
        available = int(np.count_nonzero(shares[day]))
        k = min(int(rng.integers(LINES_PER_ORDER[0], LINES_PER_ORDER[1] + 1)), available)
        picks.append(rng.choice(shares.shape[1], size=k, replace=False, p=shares[day]))
    line_variant = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    line_order = np.repeat(np.arange(n_orders), [len(p) for p in picks]).astype(np.int64)
    price = catalog.variants["price_cents"].to_numpy()[line_variant]
    quantity = case_size(price * money.usd) * rng.integers(CASES_PER_LINE[0], CASES_PER_LINE[1] + 1, len(price))
    discount = basis_points(price * quantity, account_discount[account][line_order])
    subtotal = per_order(line_order, price * quantity - discount, n_orders)
    freight = np.full(n_orders, money.freight_cents, dtype=np.int64)
    order_ids = ORDER_ID_BASE + np.arange(1, n_orders + 1)
    orders = pl.DataFrame({
        "order_id": order_ids,
        "name": pl.Series([f"WH-{FIRST_ORDER_NUMBER + i}" for i in range(n_orders)], dtype=pl.String),
        "channel": "wholesale",
        "customer_id": account_ids[account],
        "created_at": created_at,
        "discount_code": pl.Series([None] * n_orders, dtype=pl.String),
        "presentment_currency": money.code,
        "fx_rate_micro": np.full(n_orders, 1_000_000, dtype=np.int64),
        "subtotal_cents": subtotal,
        "discount_cents": per_order(line_order, discount, n_orders),
        "shipping_cents": freight,
        "tax_cents": np.zeros(n_orders, dtype=np.int64),
        "total_cents": subtotal + freight,
    })
    lines = pl.DataFrame({
        "line_id": LINE_ID_BASE + 1 + np.arange(len(line_order)),
        "order_id": order_ids[line_order],
        "variant_index": line_variant,
        "quantity": quantity.astype(np.int64),
        "unit_price_cents": price,
        "discount_cents": discount,
        "tax_cents": np.zeros(len(line_order), dtype=np.int64),
    })
    return accounts, orders, lines
