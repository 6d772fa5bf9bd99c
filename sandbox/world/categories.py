"""Product categories: what they cost, how often they come back, when in the year they sell, and the
variants (sizes, colours, weights) a product of the category comes in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    return_rate: float  # share of sold lines that come back
    price_usd_cents: int  # typical price
    peak_day: int  # day of the year its demand peaks …
    amplitude: float  # … and by how much
    nouns: tuple[str, ...]
    options: tuple[str, ...]  # variant titles, in catalogue order
    price_steps: tuple[float, ...]  # price factor of each option
    option_weights: tuple[float, ...]  # how a product's demand spreads over its options


CATEGORIES: dict[str, Category] = {
    "Apparel": Category(0.14, 4500, 320, 0.15, ("Tee", "Hoodie", "Overshirt", "Fleece", "Chinos", "Rain Shell"),
                        ("S", "M", "L", "XL"), (1, 1, 1, 1.05), (0.2, 0.35, 0.3, 0.15)),
    "Footwear": Category(0.18, 9000, 100, 0.10, ("Runner", "Boot", "Sneaker", "Slide"),
                         ("EU 38", "EU 40", "EU 42", "EU 44"), (1, 1, 1, 1), (0.2, 0.3, 0.3, 0.2)),
    "Accessories": Category(0.06, 2500, 350, 0.20, ("Cap", "Tote", "Beanie", "Wallet", "Scarf"),
                            ("Black", "Sand", "Olive", "Navy"), (1, 1, 1, 1), (0.4, 0.25, 0.2, 0.15)),
    "Outdoor": Category(0.07, 12000, 170, 0.35, ("Tent", "Pack", "Stove", "Hammock", "Sleeping Bag"),
                        ("Standard", "Plus", "Pro", "Expedition"), (1, 1.25, 1.6, 2.1), (0.4, 0.3, 0.2, 0.1)),
    "Home": Category(0.05, 5500, 345, 0.20, ("Throw", "Cushion", "Candle", "Lamp", "Vase"),
                     ("Small", "Medium", "Large", "Extra Large"), (1, 1.3, 1.7, 2.2), (0.3, 0.35, 0.25, 0.1)),
    "Kitchen": Category(0.04, 3500, 350, 0.20, ("Mug", "Kettle", "Board", "Tumbler", "Bowl"),
                        ("White", "Charcoal", "Sage", "Clay"), (1, 1, 1, 1), (0.35, 0.3, 0.2, 0.15)),
    "Wellness": Category(0.03, 2200, 15, 0.25, ("Balm", "Soap", "Body Oil", "Bath Salts"),
                         ("30 ml", "100 ml", "250 ml", "500 ml"), (1, 1.8, 3.2, 5.5), (0.3, 0.4, 0.2, 0.1)),
    "Tea": Category(0.01, 1400, 20, 0.30, ("Sencha", "Earl Grey", "Rooibos", "Chai", "Oolong", "Mint Blend"),
                    ("50 g", "100 g", "250 g", "500 g"), (1, 1.8, 4, 7.5), (0.3, 0.35, 0.25, 0.1)),
    "Teaware": Category(0.05, 3800, 350, 0.25, ("Teapot", "Infuser", "Cup Set", "Caddy", "Tea Kettle"),
                        ("White", "Black", "Celadon", "Rust"), (1, 1, 1, 1.1), (0.35, 0.3, 0.2, 0.15)),
}
