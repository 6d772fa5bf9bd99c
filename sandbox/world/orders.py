"""Online orders: what each purchase puts in the basket, and what it costs to the cent.

A basket holds 1–8 distinct variants of 1–6 units each. Every online customer has a preferred category (drawn
in proportion to the categories' demand): each line comes from it with probability ``TASTE_SHARE`` (by the
day's shares within the category), otherwise from the day's demand shares over the whole catalogue, so repeat
buyers come back to their category and items of one category are bought together. Money is
integer cents in the shop currency, every amount rounded half away from zero: a percentage discount
(the running promotion's, or a welcome code on a first purchase) is taken off each line; tax is charged per
line on the discounted amount at the shop's rate; shipping is a flat fee below a free-shipping threshold.
Customers paying in another currency see every amount converted at the day's fixed rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from sandbox.world.calendar import Calendar
from sandbox.world.currencies import Currency
from sandbox.world.customers import Population, Purchases
from sandbox.world.money import basis_points, per_million

ORDER_ID_BASE, LINE_ID_BASE, FIRST_ORDER_NUMBER = 5_500_000_000, 13_000_000_000, 1001
EXTRA_LINES_MEAN, MAX_LINES = 0.7, 8
EXTRA_UNITS_MEAN, MAX_UNITS = 0.35, 6
WELCOME_CODE, WELCOME_BP, WELCOME_SHARE = "WELCOME10", 1000, 0.5  # of first purchases use it
TASTE_SHARE = 0.6  # of a customer's basket lines come from their preferred category


def _capped_poisson_mean(mean: float, cap: int) -> float:
    """E[min(X, cap)] for X ~ Poisson(mean)."""
    pmf = [math.exp(-mean) * mean ** k / math.factorial(k) for k in range(cap)]
    return sum(k * p for k, p in enumerate(pmf)) + cap * (1 - sum(pmf))


def units_per_purchase() -> float:
    """The expected units in one basket (before stockouts): E[lines] × E[units per line]."""
    return (1 + _capped_poisson_mean(EXTRA_LINES_MEAN, MAX_LINES - 1)) * (
        1 + _capped_poisson_mean(EXTRA_UNITS_MEAN, MAX_UNITS - 1))


@dataclass(frozen=True)
class Baskets:
    """Purchase lines, grouped by purchase in chronological order."""

    purchase: np.ndarray  # index of the purchase each line belongs to
    variant: np.ndarray
    quantity: np.ndarray

    def subset(self, keep: np.ndarray) -> Baskets:
        return Baskets(self.purchase[keep], self.variant[keep], self.quantity[keep])


@dataclass(frozen=True)
class Tastes:
    """Each online customer's preferred category and how strongly it steers their basket lines."""

    category: np.ndarray  # per customer: index into the catalogue's categories
    share: np.ndarray  # per category: the probability a customer prefers it (its share of demand)
    follow: np.ndarray  # days × categories: the probability a line follows a taste for that category
    variant_category: np.ndarray  # per variant: index into the catalogue's categories
    rng: np.random.Generator  # the stream that decides which lines follow the taste


def category_shares(shares: np.ndarray, variant_category: np.ndarray, n_categories: int) -> np.ndarray:
    """(days × categories): each category's share of the day's demand."""
    return np.stack([shares[:, variant_category == c].sum(axis=1) for c in range(n_categories)], axis=1)


def draw_tastes(n_customers: int, shares: np.ndarray, variant_category: np.ndarray, n_categories: int,
                rng: np.random.Generator) -> Tastes:
    """A preferred category per customer, drawn in proportion to each category's demand over the world.

    A line follows a taste for category c on day d with probability TASTE_SHARE × q[d, c] / share[c] (q: the
    category's share of the day, capped at 1): a taste pulls harder while its category is in season, which
    keeps the expected demand of every variant and day, over the taste draw, what the day's shares say."""
    of_category = category_shares(shares, variant_category, n_categories)
    share = of_category.mean(axis=0)
    share = share / share.sum()
    follow = np.minimum(1.0, TASTE_SHARE * of_category / np.where(share > 0, share, 1.0))
    return Tastes(category=rng.choice(n_categories, size=n_customers, p=share), share=share, follow=follow,
                  variant_category=np.asarray(variant_category), rng=rng)


def draw_baskets(purchase_day: np.ndarray, shares: np.ndarray, rng: np.random.Generator,
                 purchase_taste: np.ndarray | None = None, tastes: Tastes | None = None) -> Baskets:
    """Lines for every purchase; a variant drawn twice into one basket becomes one line with both quantities.

    With ``tastes`` (and the preferred category of each purchase's customer in ``purchase_taste``), a line
    follows the taste with the probability ``tastes.follow`` gives for its day: the same uniform draw then
    picks a variant of that category by the day's shares within it.
    """
    n_lines = 1 + np.minimum(rng.poisson(EXTRA_LINES_MEAN, len(purchase_day)), MAX_LINES - 1)
    purchase = np.repeat(np.arange(len(purchase_day)), n_lines)
    day = purchase_day[purchase]
    n_var = shares.shape[1]
    # inverse-CDF draw from each line's day row at once: row d of the cumulative shares lives in [d, d + 1]
    cumulative = np.cumsum(shares, axis=1)
    cumulative[:, -1] = 1.0
    stacked = (cumulative + np.arange(shares.shape[0])[:, None]).ravel()
    uniform = rng.uniform(0, 1, len(day))
    position = np.searchsorted(stacked, day + uniform, side="right")
    variant = np.minimum(position - day * n_var, n_var - 1)
    quantity = 1 + np.minimum(rng.poisson(EXTRA_UNITS_MEAN, len(day)), MAX_UNITS - 1)
    if tastes is not None and purchase_taste is not None:
        variant = _towards_taste(variant, day, uniform, purchase_taste[purchase], shares, tastes)

    key = purchase.astype(np.int64) * n_var + variant
    unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    merged_qty = np.bincount(inverse, quantity).astype(np.int64)
    in_order = np.argsort(first, kind="stable")
    return Baskets(purchase=(unique // n_var)[in_order], variant=(unique % n_var)[in_order],
                   quantity=merged_qty[in_order])


def _towards_taste(variant: np.ndarray, day: np.ndarray, uniform: np.ndarray, taste: np.ndarray,
                   shares: np.ndarray, tastes: Tastes) -> np.ndarray:
    """The lines that follow their customer's taste re-drawn (same uniform) within the preferred category."""
    n_days, n_var = shares.shape
    n_categories = len(tastes.share)
    follows = tastes.rng.uniform(0, 1, len(day)) < tastes.follow[day, taste]
    by_category = np.argsort(tastes.variant_category, kind="stable")  # categories in contiguous blocks
    bounds = np.searchsorted(tastes.variant_category[by_category], np.arange(n_categories + 1))
    sorted_cumulative = np.hstack([np.zeros((n_days, 1)), np.cumsum(shares[:, by_category], axis=1)])
    lo, hi = bounds[taste], bounds[taste + 1]
    base, top = sorted_cumulative[day, lo], sorted_cumulative[day, hi]
    follows &= top > base  # the category sells that day
    d, u, lo, hi, base, top = day[follows], uniform[follows], lo[follows], hi[follows], base[follows], top[follows]
    target = base + u * (top - base)
    # the first column j of the day's row whose cumulative share exceeds the target
    stacked = (sorted_cumulative[:, 1:] + 2.0 * np.arange(n_days)[:, None]).ravel()
    column = np.searchsorted(stacked, 2.0 * d + target, side="right") - d * n_var
    chosen = by_category[np.clip(column, lo, hi - 1)]
    out = variant.copy()
    out[follows] = chosen
    return out


def expected_units_by_variant(population: Population, tastes: Tastes, calendar: Calendar,
                              shares: np.ndarray) -> np.ndarray:
    """(days × variants): the true expected units before stockouts, given who holds which taste. Each taste's
    customers place their expected orders (arrivals at the taste's share, repeat purchases of the customers
    who hold it); the ``follow`` share of their lines goes to the preferred category by its shares of the
    day, the rest by the day's shares over everything."""
    n_categories = len(tastes.share)
    by_taste = np.stack([
        Population(acquired=population.acquired[mask], churn=population.churn[mask], rate=population.rate[mask],
                   channel=population.channel[mask], currency=population.currency[mask],
                   new_per_day=population.new_per_day * tastes.share[c]).expected_orders(calendar)
        for c in range(n_categories) for mask in [tastes.category == c]], axis=1)  # days × categories
    of_category = category_shares(shares, tastes.variant_category, n_categories)
    following = by_taste * tastes.follow  # expected orders' lines that follow their taste, per category
    per_share = following / np.where(of_category > 0, of_category, 1.0)
    lines = (by_taste - following).sum(axis=1)[:, None] * shares + per_share[:, tastes.variant_category] * shares
    return lines * units_per_purchase()


def fulfilled(purchases: Purchases, baskets: Baskets, served: np.ndarray) -> tuple[Purchases, Baskets]:
    """The purchases that became orders: lines lost to stockouts dropped, and purchases left with none."""
    baskets = baskets.subset(served)
    placed = np.zeros(len(purchases.day), dtype=bool)
    placed[baskets.purchase] = True
    renumbered = np.cumsum(placed) - 1
    return purchases.subset(placed), Baskets(renumbered[baskets.purchase], baskets.variant, baskets.quantity)


@dataclass(frozen=True)
class Priced:
    """Money of every line and order, integer cents in the shop currency."""

    unit_price: np.ndarray  # per line
    discount: np.ndarray  # per line
    net: np.ndarray  # per line: unit price × quantity − discount
    tax: np.ndarray  # per line
    order_subtotal: np.ndarray  # per order: Σ net
    order_discount: np.ndarray
    order_tax: np.ndarray
    order_shipping: np.ndarray
    discount_code: list[str | None]  # per order

    @property
    def order_total(self) -> np.ndarray:
        return self.order_subtotal + self.order_shipping + self.order_tax


def price_online(money: Currency, calendar: Calendar, variant_price: np.ndarray, purchases: Purchases,
                 baskets: Baskets, rng: np.random.Generator) -> Priced:
    """Every line's and order's money; the discount code is the day's promotion, else WELCOME10 on some
    first purchases."""
    order_day = purchases.day
    n_orders = len(order_day)
    welcome = purchases.first & (rng.uniform(size=n_orders) < WELCOME_SHARE)
    promo_bp = calendar.discount_bp[order_day]
    order_bp = np.where(promo_bp > 0, promo_bp, np.where(welcome, WELCOME_BP, 0))
    codes = [calendar.promo_code[d] if bp > 0 else (WELCOME_CODE if w else None)
             for d, bp, w in zip(order_day.tolist(), promo_bp.tolist(), welcome.tolist(), strict=True)]

    unit_price = variant_price[baskets.variant]
    gross = unit_price * baskets.quantity
    discount = basis_points(gross, order_bp[baskets.purchase])
    net = gross - discount
    tax = per_million(net, money.tax_ppm)
    subtotal = per_order(baskets.purchase, net, n_orders)
    return Priced(
        unit_price=unit_price, discount=discount, net=net, tax=tax,
        order_subtotal=subtotal,
        order_discount=per_order(baskets.purchase, discount, n_orders),
        order_tax=per_order(baskets.purchase, tax, n_orders),
        order_shipping=np.where(subtotal < money.free_shipping_cents, money.shipping_cents, 0).astype(np.int64),
        discount_code=codes,
    )


def per_order(order: np.ndarray, amount: np.ndarray, n_orders: int) -> np.ndarray:
    """Σ of integer amounts per order, in integers."""
    total = np.zeros(n_orders, dtype=np.int64)
    np.add.at(total, order, amount)
    return total


def online_drafts(purchases: Purchases, baskets: Baskets, priced: Priced, customer_ids: np.ndarray,
                  presentment: list[str], rate_micro: np.ndarray,
                  calendar: Calendar) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(orders, order lines) of the online store, before the steps every channel shares (``build.py``):
    orders carry their rate as ``fx_rate_micro``, lines their variant as ``variant_index``."""
    n_orders = len(purchases.day)
    order_ids = ORDER_ID_BASE + 1 + np.arange(n_orders)
    orders = pl.DataFrame({
        "order_id": order_ids,
        "name": pl.Series([f"#{FIRST_ORDER_NUMBER + i}" for i in range(n_orders)], dtype=pl.String),
        "channel": "online_store",
        "customer_id": customer_ids,
        "created_at": calendar.to_utc(purchases.day, purchases.second),
        "discount_code": pl.Series(priced.discount_code, dtype=pl.String),
        "presentment_currency": pl.Series(presentment, dtype=pl.String),
        "fx_rate_micro": rate_micro,
        "subtotal_cents": priced.order_subtotal,
        "discount_cents": priced.order_discount,
        "shipping_cents": priced.order_shipping,
        "tax_cents": priced.order_tax,
        "total_cents": priced.order_total,
    })
    lines = pl.DataFrame({
        "line_id": LINE_ID_BASE + 1 + np.arange(len(baskets.variant)),
        "order_id": order_ids[baskets.purchase],
        "variant_index": baskets.variant,
        "quantity": baskets.quantity,
        "unit_price_cents": priced.unit_price,
        "discount_cents": priced.discount,
        "tax_cents": priced.tax,
    })
    return orders, lines
