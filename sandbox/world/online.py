"""The online store: customers who arrive, come back and churn; their orders, lines, money and returns;
and the daily inventory that censors demand (no sale beyond stock on hand).

Ground truth is kept beside the data: each customer's churn time and purchase rate, and the expected demand
per variant and day before censoring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from sandbox.world.calendar import Calendar
from sandbox.world.money import basis_points, per_million, share
from sandbox.world.spec import ShopSpec, WorldSpec

MEAN_REPEAT_RATE = 1 / 75  # orders per active customer-day
MEAN_LIFETIME_DAYS = 270
NEW_CUSTOMER_SHARE = 1 / 3.2  # new customers per (seasonal) order slot
EXTRA_LINES_MEAN, MAX_LINES = 0.7, 8
EXTRA_QTY_MEAN, MAX_QTY = 0.35, 6
CODE_DISCOUNT_SHARE, CODE_DISCOUNT_BP = 0.12, 1000
FREE_SHIPPING_CENTS, SHIPPING_FEE_CENTS = 7500, 695
PRESENTMENT_SHARE = 0.15
TAX_PPM = {"USD": 88_750, "EUR": 190_000, "GBP": 200_000, "CAD": 130_000, "CHF": 81_000}
USD_PER = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "CAD": 0.73, "CHF": 1.13, "AUD": 0.66, "JPY": 0.0067}
COUNTRIES = {"USD": ["US"], "EUR": ["DE", "AT", "FR", "NL"], "GBP": ["GB"], "CAD": ["CA"], "CHF": ["CH"]}
CHANNELS = ["organic", "paid_social", "paid_search", "email", "referral", "marketplace"]
CHANNEL_P = [0.30, 0.24, 0.20, 0.10, 0.10, 0.06]
FIRST_NAMES = ["Ava", "Ben", "Chloe", "Dev", "Elena", "Finn", "Grace", "Hugo", "Isla", "Jonas", "Kai", "Lena",
               "Mila", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Theo", "Uma", "Vera", "Wes", "Yara"]
LAST_NAMES = ["Adler", "Brooks", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
              "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi", "Schmidt", "Tanaka", "Weber"]
HOUR_WEIGHTS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.8, 4, 4.2, 4, 3.8, 3.8, 4, 4.5, 5, 5.5,
                         5.8, 5.2, 3.5, 2])
ORDER_ID_BASE, LINE_ID_BASE, REFUND_ID_BASE = 5_500_000_000, 13_000_000_000, 900_000_000
CUSTOMER_ID_BASE = 7_100_000_000


@dataclass
class OnlineStore:
    customers: pl.DataFrame
    orders: pl.DataFrame
    order_lines: pl.DataFrame
    refunds: pl.DataFrame
    refund_lines: pl.DataFrame
    inventory_daily: pl.DataFrame
    truth_demand: pl.DataFrame
    truth_customers: pl.DataFrame


def utc_offsets(spec: WorldSpec, tz: str) -> np.ndarray:
    """Seconds the shop's local clock is ahead of UTC on each day (at local noon)."""
    zone = ZoneInfo(tz)
    return np.array([
        int(datetime(d.year, d.month, d.day, 12, tzinfo=zone).utcoffset().total_seconds())
        for d in (spec.start_date + timedelta(days=i) for i in range(spec.days))
    ])


def to_utc(spec: WorldSpec, day: np.ndarray, local_seconds: np.ndarray, offsets: np.ndarray) -> pl.Series:
    """Local (day, second of day) → UTC timestamps, whole seconds as Shopify reports them."""
    epoch = int(spec.start.timestamp())
    seconds = epoch + day.astype(np.int64) * 86_400 + local_seconds.astype(np.int64) - offsets[day]
    return pl.Series(seconds * 1_000_000).cast(pl.Datetime("us", "UTC"))


def simulate_online(spec: WorldSpec, shop: ShopSpec, cal: Calendar, variants: pl.DataFrame,
                    pop: np.ndarray, rng: np.random.Generator) -> OnlineStore:
    days = spec.days
    new_rate = shop.orders_per_day * NEW_CUSTOMER_SHARE

    # -- customers: some already active when the world starts, the rest arrive with the season
    n_prior = rng.poisson(new_rate * 180)
    arrivals = rng.poisson(new_rate * cal.season)
    acquired = np.concatenate([rng.uniform(-365, 0, n_prior),
                               np.repeat(np.arange(days), arrivals) + rng.uniform(0, 1, arrivals.sum())])
    rate = rng.gamma(2.0, MEAN_REPEAT_RATE / 2.0, size=len(acquired))
    churn = acquired + rng.exponential(MEAN_LIFETIME_DAYS, size=len(acquired))
    keep = churn > 0
    acquired, rate, churn = acquired[keep], rate[keep], churn[keep]
    n_customers = len(acquired)

    # -- orders: each customer's first order (if acquired in-world) and repeat orders, by thinning
    s_max = cal.season.max()
    start = np.maximum(acquired, 0)
    window = np.clip(np.minimum(churn, days) - start, 0, None)
    n_candidates = rng.poisson(rate * s_max * window)
    cand_customer = np.repeat(np.arange(n_customers), n_candidates)
    cand_t = start[cand_customer] + rng.uniform(0, 1, n_candidates.sum()) * window[cand_customer]
    accept = rng.uniform(0, 1, len(cand_t)) < cal.season[np.minimum(cand_t.astype(int), days - 1)] / s_max
    first = acquired >= 0
    order_customer = np.concatenate([np.flatnonzero(first), cand_customer[accept]])
    order_t = np.concatenate([acquired[first], cand_t[accept]])
    order_day = np.minimum(order_t.astype(int), days - 1)

    # true order intensity per day: new arrivals + Σ rates of active customers, times the season
    active_rate = np.zeros(days + 1)
    lo = np.clip(np.ceil(acquired).astype(int), 0, days)
    hi = np.clip(np.ceil(churn).astype(int), 0, days)
    np.add.at(active_rate, lo, rate)
    np.add.at(active_rate, hi, -rate)
    intensity = (new_rate + np.cumsum(active_rate)[:days]) * cal.season

    # time of day (local), then chronological order
    hours = rng.choice(24, size=len(order_t), p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    local_seconds = hours * 3600 + rng.integers(0, 3600, size=len(order_t))
    chrono = np.lexsort((local_seconds, order_day))
    order_customer, order_day, local_seconds = order_customer[chrono], order_day[chrono], local_seconds[chrono]
    n_orders = len(order_day)

    # -- lines: variants by popularity, unique per order
    n_lines = 1 + np.minimum(rng.poisson(EXTRA_LINES_MEAN, n_orders), MAX_LINES - 1)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    line_variant = rng.choice(len(pop), size=len(line_order), p=pop)
    line_qty = 1 + np.minimum(rng.poisson(EXTRA_QTY_MEAN, len(line_order)), MAX_QTY - 1)
    merged = (pl.DataFrame({"o": line_order, "v": line_variant, "q": line_qty, "i": np.arange(len(line_order))})
              .group_by("o", "v").agg(pl.col("q").sum(), pl.col("i").min()).sort("i"))
    line_order, line_variant, line_qty = (merged["o"].to_numpy(), merged["v"].to_numpy(),
                                          np.minimum(merged["q"].to_numpy(), MAX_QTY))

    # -- inventory: replenishment with lead times; sales never exceed stock on hand
    mean_units = shop.orders_per_day * (1 + EXTRA_LINES_MEAN) * (1 + EXTRA_QTY_MEAN) * pop
    kept, on_hand_days, stockout_days = _censor(rng, days, order_day[line_order], line_variant, line_qty,
                                                mean_units)
    line_order, line_variant, line_qty = line_order[kept], line_variant[kept], line_qty[kept]

    # orders that lost every line to a stockout never happened
    has_line = np.zeros(n_orders, dtype=bool)
    has_line[line_order] = True
    new_index = np.cumsum(has_line) - 1
    order_customer, order_day, local_seconds = (order_customer[has_line], order_day[has_line],
                                                local_seconds[has_line])
    line_order = new_index[line_order]
    n_orders = int(has_line.sum())

    offsets = utc_offsets(spec, shop.timezone)
    created_at = to_utc(spec, order_day, local_seconds, offsets)
    order_ids = ORDER_ID_BASE + np.arange(1, n_orders + 1)

    # -- money (integer cents in the shop currency)
    price = variants["price_cents"].to_numpy()[line_variant]
    gross = price * line_qty
    code = rng.uniform(0, 1, n_orders) < CODE_DISCOUNT_SHARE
    order_bp = np.where(cal.discount_bp[order_day] > 0, cal.discount_bp[order_day],
                        np.where(code, CODE_DISCOUNT_BP, 0))
    line_discount = basis_points(gross, order_bp[line_order])
    line_net = gross - line_discount
    line_tax = per_million(line_net, TAX_PPM.get(shop.currency, 100_000))
    subtotal = np.bincount(line_order, line_net, minlength=n_orders).astype(np.int64)
    discount = np.bincount(line_order, line_discount, minlength=n_orders).astype(np.int64)
    tax = np.bincount(line_order, line_tax, minlength=n_orders).astype(np.int64)
    shipping = np.where(subtotal < FREE_SHIPPING_CENTS, SHIPPING_FEE_CENTS, 0).astype(np.int64)

    presentment, fx_micro = _presentment(shop, order_day, rng)

    # -- returns: category return rates; one refund per order, 3–40 days later, if it has happened yet
    returned = rng.uniform(0, 1, len(line_order)) < variants["return_rate"].to_numpy()[line_variant]
    returned_qty = np.where(line_qty > 1, rng.integers(1, line_qty + 1), 1)
    refund_delay = rng.uniform(3, 40, n_orders)
    refund_day_f = order_day + local_seconds / 86_400 + refund_delay
    happened = refund_day_f < days
    returned &= happened[line_order]
    refunded_orders = np.unique(line_order[returned])
    refund_ids = REFUND_ID_BASE + np.arange(1, len(refunded_orders) + 1)
    refund_of_order = np.full(n_orders, -1)
    refund_of_order[refunded_orders] = np.arange(len(refunded_orders))
    r_day = refund_day_f[refunded_orders].astype(int)
    r_seconds = ((refund_day_f[refunded_orders] % 1) * 86_400).astype(np.int64)
    refund_created = to_utc(spec, r_day, r_seconds, offsets)
    rl_idx = np.flatnonzero(returned)
    rl_sub = share(line_net[rl_idx], returned_qty[rl_idx], line_qty[rl_idx])
    rl_tax = share(line_tax[rl_idx], returned_qty[rl_idx], line_qty[rl_idx])
    refunded = np.zeros(n_orders, dtype=np.int64)
    np.add.at(refunded, line_order[rl_idx], rl_sub + rl_tax)

    line_ids = LINE_ID_BASE + np.arange(1, len(line_order) + 1)
    refund_created_by_order = pl.Series([None] * n_orders, dtype=pl.Datetime("us", "UTC"))
    if len(refunded_orders):
        refund_created_by_order = refund_created_by_order.scatter(refunded_orders, refund_created)
    customer_ids = CUSTOMER_ID_BASE + np.arange(1, n_customers + 1)

    orders = pl.DataFrame({
        "order_id": order_ids,
        "name": [f"#{1000 + i}" for i in range(1, n_orders + 1)],
        "channel": "online_store",
        "customer_id": customer_ids[order_customer],
        "created_at": created_at,
        "refund_created_at": refund_created_by_order,
        "presentment_currency": presentment,
        "fx_rate_micro": fx_micro,
        "subtotal_cents": subtotal,
        "discount_cents": discount,
        "shipping_cents": shipping,
        "tax_cents": tax,
        "total_cents": subtotal + shipping + tax,
        "refunded_cents": refunded,
    }).with_columns(updated_at=pl.max_horizontal("created_at", "refund_created_at")).drop("refund_created_at")
    variant_ids = variants["variant_id"].to_numpy()
    order_lines = pl.DataFrame({
        "line_id": line_ids,
        "order_id": order_ids[line_order],
        "variant_id": variant_ids[line_variant],
        "product_id": variants["product_id"].to_numpy()[line_variant],
        "sku": variants["sku"].to_numpy()[line_variant],
        "quantity": line_qty.astype(np.int64),
        "unit_price_cents": price.astype(np.int64),
        "discount_cents": line_discount.astype(np.int64),
        "tax_cents": line_tax.astype(np.int64),
    })
    refunds = pl.DataFrame({"refund_id": refund_ids, "order_id": order_ids[refunded_orders],
                            "created_at": refund_created})
    refund_lines = pl.DataFrame({
        "refund_line_id": LINE_ID_BASE // 2 + np.arange(1, len(rl_idx) + 1),
        "refund_id": refund_ids[refund_of_order[line_order[rl_idx]]],
        "line_id": line_ids[rl_idx],
        "quantity": returned_qty[rl_idx].astype(np.int64),
        "subtotal_cents": rl_sub.astype(np.int64),
        "tax_cents": rl_tax.astype(np.int64),
    })

    customers, truth_customers = _customers(spec, shop, rng, customer_ids, acquired, churn, rate, orders)
    dates = pl.Series(cal.dates, dtype=pl.Date)
    n_var = len(variant_ids)
    inventory = pl.DataFrame({
        "date": np.repeat(dates.to_numpy(), n_var),
        "variant_id": np.tile(variant_ids, days),
        "on_hand": on_hand_days.reshape(-1),
        "stockout": stockout_days.reshape(-1),
    })
    units_per_order = (1 + EXTRA_LINES_MEAN) * (1 + EXTRA_QTY_MEAN)
    truth_demand = pl.DataFrame({
        "date": np.repeat(dates.to_numpy(), n_var),
        "variant_id": np.tile(variant_ids, days),
        "expected_units": (intensity[:, None] * units_per_order * pop[None, :]).reshape(-1),
    })
    return OnlineStore(customers, orders, order_lines, refunds, refund_lines, inventory, truth_demand,
                       truth_customers)


def _censor(rng: np.random.Generator, days: int, line_day: np.ndarray, variant: np.ndarray, qty: np.ndarray,
            mean_units: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk the days: receive stock, sell line by line while stock lasts, reorder below the reorder point.

    Returns which lines were fulfilled and the end-of-day on-hand and stockout flag per (day, variant).
    """
    n_var = len(mean_units)
    on_hand = np.ceil(mean_units * 35).astype(np.int64) + 3
    reorder_point = np.ceil(mean_units * 14).astype(np.int64) + 1
    order_qty = np.ceil(mean_units * 45).astype(np.int64) + 2
    arrival_day = np.full(n_var, -1)
    kept = np.zeros(len(qty), dtype=bool)
    on_hand_days = np.zeros((days, n_var), dtype=np.int64)
    stockout_days = np.zeros((days, n_var), dtype=bool)
    bounds = np.searchsorted(line_day, np.arange(days + 1))  # lines are in chronological order
    for day in range(days):
        arriving = arrival_day == day
        on_hand[arriving] += order_qty[arriving]
        arrival_day[arriving] = -1
        lo, hi = bounds[day], bounds[day + 1]
        if hi > lo:
            v, q = variant[lo:hi], qty[lo:hi]
            by_variant = np.lexsort((np.arange(hi - lo), v))
            vs, qs = v[by_variant], q[by_variant]
            group_start = np.r_[0, np.flatnonzero(np.diff(vs)) + 1]
            cum = np.cumsum(qs)
            cum -= np.repeat(cum[group_start] - qs[group_start], np.diff(np.r_[group_start, len(qs)]))
            ok = cum <= on_hand[vs]
            kept[lo + by_variant[ok]] = True
            sold = np.bincount(vs[ok], qs[ok], minlength=n_var).astype(np.int64)
            lost = np.bincount(vs[~ok], minlength=n_var) > 0
            on_hand -= sold
            stockout_days[day] = lost
        stockout_days[day] |= on_hand == 0
        on_hand_days[day] = on_hand
        reorder = (on_hand <= reorder_point) & (arrival_day < 0)
        if reorder.any():
            delayed = rng.uniform(0, 1, reorder.sum()) < 0.15  # a supplier runs late now and then
            lead = np.where(delayed, rng.integers(30, 60, reorder.sum()), rng.integers(7, 21, reorder.sum()))
            arrival_day[reorder] = day + lead
    return kept, on_hand_days, stockout_days


def _presentment(shop: ShopSpec, order_day: np.ndarray, rng: np.random.Generator) -> tuple[list, np.ndarray]:
    """Some orders are paid in another currency at that day's rate (rate × 1e6 as an integer)."""
    n = len(order_day)
    currencies = np.array([shop.currency] * n, dtype=object)
    fx = np.full(n, 1_000_000, dtype=np.int64)
    if shop.presentment_currencies:
        foreign = rng.uniform(0, 1, n) < PRESENTMENT_SHARE
        pick = rng.integers(0, len(shop.presentment_currencies), n)
        for i, code in enumerate(shop.presentment_currencies):
            mask = foreign & (pick == i)
            base = USD_PER[shop.currency] / USD_PER[code]
            drift = 1 + 0.03 * np.sin(2 * math.pi * order_day[mask] / 90)
            currencies[mask] = code
            fx[mask] = np.round(base * drift * 1_000_000).astype(np.int64)
    return currencies.tolist(), fx


def _customers(spec: WorldSpec, shop: ShopSpec, rng: np.random.Generator, ids: np.ndarray, acquired: np.ndarray,
               churn: np.ndarray, rate: np.ndarray, orders: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = len(ids)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    countries = COUNTRIES.get(shop.currency, ["US"])
    created = spec.start + pl.Series(np.round((acquired - 0.01) * 86_400).astype(np.int64) * 1_000_000) \
        .cast(pl.Duration("us"))
    customers = pl.DataFrame({
        "customer_id": ids,
        "email": [f"{FIRST_NAMES[f].lower()}.{LAST_NAMES[s].lower()}.{i}@example.com"
                  for f, s, i in zip(first, last, ids % 1_000_000, strict=True)],
        "first_name": [FIRST_NAMES[f] for f in first],
        "last_name": [LAST_NAMES[s] for s in last],
        "country_code": [countries[int(c)] for c in rng.integers(0, len(countries), n)],
        "created_at": created.dt.truncate("1s"),
        "acquisition_channel": [CHANNELS[int(c)] for c in rng.choice(len(CHANNELS), size=n, p=CHANNEL_P)],
    })
    last_order = orders.group_by("customer_id").agg(pl.col("created_at").max().alias("last_order_at"))
    customers = (customers.join(last_order, on="customer_id", how="left")
                 .with_columns(updated_at=pl.max_horizontal("created_at", "last_order_at"))
                 .drop("last_order_at"))
    churned_at = spec.start + pl.Series(np.round(churn * 86_400).astype(np.int64) * 1_000_000).cast(
        pl.Duration("us"))
    truth = pl.DataFrame({
        "customer_id": ids,
        "acquisition_channel": customers["acquisition_channel"],
        "purchase_rate_per_day": rate,
        "churned_at": churned_at,
        "active_at_end": churn >= spec.days,
    })
    return customers, truth

