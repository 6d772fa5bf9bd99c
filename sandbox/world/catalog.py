"""Products and variants: categories, vendors, prices and unit costs (integer cents), and popularity."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from sandbox.world.spec import ShopSpec, WorldSpec

# category → (return rate, typical price in cents)
CATEGORIES = {
    "Apparel": (0.14, 4500),
    "Footwear": (0.18, 9000),
    "Accessories": (0.06, 2500),
    "Home": (0.05, 5500),
    "Kitchen": (0.04, 3500),
    "Outdoor": (0.07, 12000),
    "Wellness": (0.03, 2200),
}
VENDORS = ["Harbor & Pine", "Lumen Works", "Fieldcraft", "North Loom", "Quill Supply", "Tallow Co."]
ADJECTIVES = ["Classic", "Everyday", "Trail", "Studio", "Coastal", "Alpine", "Urban", "Heritage", "Essential", "Nimbus"]
NOUNS = {
    "Apparel": ["Tee", "Hoodie", "Overshirt", "Fleece", "Chinos"],
    "Footwear": ["Runner", "Boot", "Sneaker", "Slide"],
    "Accessories": ["Cap", "Tote", "Beanie", "Wallet", "Scarf"],
    "Home": ["Throw", "Cushion", "Candle", "Lamp"],
    "Kitchen": ["Mug", "Kettle", "Board", "Tumbler"],
    "Outdoor": ["Tent", "Pack", "Stove", "Hammock"],
    "Wellness": ["Balm", "Tea Blend", "Soap", "Oil"],
}
SIZES = ["S", "M", "L", "XL"]
PRODUCT_ID_BASE = 8_000_000_000
VARIANT_ID_BASE = 44_000_000_000


def build_catalog(spec: WorldSpec, shop: ShopSpec, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = shop.n_products
    categories = list(CATEGORIES)
    product_category = rng.choice(len(categories), size=n)
    created = [spec.start - timedelta(days=int(d)) for d in rng.integers(30, 400, size=n)]
    products = pl.DataFrame({
        "product_id": PRODUCT_ID_BASE + np.arange(1, n + 1),
        "title": [f"{ADJECTIVES[i % len(ADJECTIVES)]} {rng.choice(NOUNS[categories[c]])}"
                  f"{'' if i < len(ADJECTIVES) else ' ' + str(i // len(ADJECTIVES) + 1)}"
                  for i, c in enumerate(product_category)],
        "product_type": [categories[c] for c in product_category],
        "vendor": [VENDORS[int(v)] for v in rng.integers(0, len(VENDORS), size=n)],
        "status": ["ACTIVE"] * n,
        "created_at": created,
        "updated_at": created,
    }, schema_overrides={"created_at": pl.Datetime("us", "UTC"), "updated_at": pl.Datetime("us", "UTC")})

    n_variants = rng.integers(1, 5, size=n)
    product_idx = np.repeat(np.arange(n), n_variants)
    variant_no = np.concatenate([np.arange(k) for k in n_variants])
    typical = np.array([CATEGORIES[categories[c]][1] for c in product_category])[product_idx]
    base_price = np.repeat(np.exp(rng.normal(0.0, 0.35, size=n)), n_variants) * typical
    price = (np.maximum(np.round(base_price / 100), 3) * 100 - 1).astype(np.int64)  # x.99 prices
    cost_share = rng.uniform(0.25, 0.60, size=len(price))
    handle = shop.handle[:3].upper()
    variants = pl.DataFrame({
        "variant_id": VARIANT_ID_BASE + np.arange(1, len(price) + 1),
        "product_id": PRODUCT_ID_BASE + 1 + product_idx,
        "sku": [f"{handle}-{p + 1:04d}-{SIZES[v] if k > 1 else 'OS'}"
                for p, v, k in zip(product_idx, variant_no, n_variants[product_idx], strict=True)],
        "title": [SIZES[v] if k > 1 else "Default Title"
                  for v, k in zip(variant_no, n_variants[product_idx], strict=True)],
        "price_cents": price,
        "unit_cost_cents": np.round(price * cost_share).astype(np.int64),
        "return_rate": [CATEGORIES[categories[product_category[p]]][0] for p in product_idx],
        "updated_at": [created[p] for p in product_idx],
    }, schema_overrides={"updated_at": pl.Datetime("us", "UTC")})
    return products, variants


def popularity(n_variants: int, rng: np.random.Generator) -> np.ndarray:
    """A long-tailed share of demand per variant (sums to 1)."""
    weights = rng.lognormal(0.0, 1.0, size=n_variants)
    return weights / weights.sum()
