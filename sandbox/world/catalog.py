"""The catalogue: products in categories with vendors and 1–4 variants, prices and unit costs in integer
cents of the shop currency, launch dates, and how demand spreads over the variants day by day."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product as pairs

import numpy as np
import polars as pl

from sandbox.world.calendar import Calendar, yearly_wave
from sandbox.world.categories import CATEGORIES
from sandbox.world.currencies import currency
from sandbox.world.money import basis_points
from sandbox.world.spec import ShopSpec

ADJECTIVES = ("Classic", "Everyday", "Trail", "Studio", "Coastal", "Alpine", "Urban", "Heritage", "Essential",
              "Nimbus", "Harbor", "Meadow", "Ember", "Fjord", "Juniper", "Summit")
VENDORS = ("Harbor & Pine", "Lumen Works", "Fieldcraft", "North Loom", "Quill Supply", "Tallow Co.", "Kestrel & Co.",
           "Mossgrove", "Saltmarsh", "Birchline")
HOUSE_BRAND_SHARE = 0.4  # of products carry the shop's own name as vendor
LAUNCH_SHARE = 0.2  # of products launch while the world runs (the rest exist before it starts)
COST_SHARE = (2500, 6000)  # unit cost as basis points of price
PRODUCT_ID_BASE, VARIANT_ID_BASE = 8_000_000_000, 44_000_000_000


@dataclass(frozen=True)
class Catalog:
    products: pl.DataFrame
    variants: pl.DataFrame
    popularity: np.ndarray  # per variant, sums to 1
    return_rate: np.ndarray  # per variant
    category: np.ndarray  # per variant: index into ``categories``
    categories: list[str]
    available_from: np.ndarray  # per variant: the first day it can sell

    def demand_shares(self, calendar: Calendar) -> np.ndarray:
        """(days × variants): how one unit of demand on a day spreads over the variants — popularity ×
        the category's yearly wave, for variants already launched. Each row sums to 1."""
        waves = np.stack([yearly_wave(calendar.day_of_year, CATEGORIES[c].peak_day, CATEGORIES[c].amplitude)
                          for c in self.categories], axis=1)  # days × categories
        launched = np.arange(calendar.days)[:, None] >= self.available_from[None, :]
        weights = waves[:, self.category] * self.popularity[None, :] * launched
        return weights / weights.sum(axis=1, keepdims=True)


def build_catalog(shop: ShopSpec, calendar: Calendar, rng: np.random.Generator) -> Catalog:
    categories = shop.categories
    if categories is None:
        pool = list(CATEGORIES)
        categories = [pool[i] for i in sorted(rng.choice(len(pool), size=int(rng.integers(3, 6)), replace=False))]
    n = shop.n_products
    product_category = rng.choice(len(categories), size=n)
    vendors = [shop.name if rng.uniform() < HOUSE_BRAND_SHARE else VENDORS[int(v)]
               for v in rng.integers(0, len(VENDORS), size=n)]

    launched = np.zeros(n, dtype=bool)  # the first product is always for sale on day one
    launched[1 + rng.choice(n - 1, size=round(LAUNCH_SHARE * n), replace=False)] = True
    launch_day = np.where(launched, rng.integers(1, max(2, calendar.days - 30), size=n), 0)
    created_seconds = np.where(launched, rng.integers(6 * 3600, 10 * 3600, size=n),
                               -rng.integers(30, 400, size=n) * 86_400 + rng.integers(0, 86_400, size=n))
    created = calendar.to_utc(launch_day, created_seconds)
    products = pl.DataFrame({
        "product_id": PRODUCT_ID_BASE + np.arange(1, n + 1),
        "title": _titles([categories[c] for c in product_category], rng),
        "product_type": [categories[c] for c in product_category],
        "vendor": vendors,
        "status": "ACTIVE",
        "created_at": created,
        "updated_at": created,
    })

    n_variants = rng.integers(1, 5, size=n)
    product_idx = np.repeat(np.arange(n), n_variants)
    option = np.concatenate([np.arange(k) for k in n_variants])
    kinds = [CATEGORIES[categories[c]] for c in product_category]
    step = np.array([kinds[p].price_steps[o] for p, o in zip(product_idx, option, strict=True)])
    base = np.array([k.price_usd_cents for k in kinds]) / currency(shop.currency).usd * rng.lognormal(0, 0.35, n)
    price = (np.maximum(np.round(base[product_idx] * step / 100), 3) * 100 - 1).astype(np.int64)  # x.99 prices
    cost_bp = rng.integers(*COST_SHARE, size=n, endpoint=True)[product_idx]
    single = n_variants[product_idx] == 1
    titles = ["Default Title" if one else kinds[p].options[o]
              for p, o, one in zip(product_idx, option, single, strict=True)]
    sku_prefix = shop.handle[:3].upper()
    variants = pl.DataFrame({
        "variant_id": VARIANT_ID_BASE + np.arange(1, len(price) + 1),
        "product_id": PRODUCT_ID_BASE + 1 + product_idx,
        "sku": [f"{sku_prefix}-{p + 1:04d}-{'OS' if t == 'Default Title' else t.replace(' ', '').upper()}"
                for p, t in zip(product_idx, titles, strict=True)],
        "title": titles,
        "price_cents": price,
        "unit_cost_cents": basis_points(price, cost_bp),
        "updated_at": created.gather(product_idx),
    })

    option_weight = np.array([1.0 if one else kinds[p].option_weights[o]
                              for p, o, one in zip(product_idx, option, single, strict=True)])
    per_product = np.bincount(product_idx, option_weight)
    popularity = rng.lognormal(0.0, 1.0, size=n)[product_idx] * option_weight / per_product[product_idx]
    return Catalog(
        products=products,
        variants=variants,
        popularity=popularity / popularity.sum(),
        return_rate=np.array([kinds[p].return_rate for p in product_idx]),
        category=product_category[product_idx],
        categories=categories,
        available_from=(launch_day + launched)[product_idx],  # launched products sell from the next day
    )


def _titles(categories: list[str], rng: np.random.Generator) -> list[str]:
    """Distinct "Adjective Noun" titles per category, numbered once every pairing is taken."""
    pools = {c: [f"{a} {n}" for a, n in pairs(ADJECTIVES, CATEGORIES[c].nouns)] for c in set(categories)}
    for name in sorted(pools):
        pools[name] = [pools[name][i] for i in rng.permutation(len(pools[name]))]
    used: dict[str, int] = {}
    titles = []
    for c in categories:
        k = used.get(c, 0)
        used[c] = k + 1
        pool = pools[c]
        titles.append(pool[k % len(pool)] + ("" if k < len(pool) else f" {k // len(pool) + 1}"))
    return titles
