"""Who the online customers are: their records (names, e-mail, country, sign-up time, acquisition channel)
and the ground truth of their purchase process (rate, churn)."""

from __future__ import annotations

import numpy as np
import polars as pl

from sandbox.world.calendar import Calendar
from sandbox.world.currencies import country_weights, currency
from sandbox.world.customers import CHANNEL_NAMES, Population
from sandbox.world.spec import ShopSpec

FIRST_NAMES = ("Ava", "Ben", "Chloe", "Dev", "Elena", "Finn", "Grace", "Hugo", "Isla", "Jonas", "Kai", "Lena", "Mila",
               "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Theo", "Uma", "Vera", "Wes", "Yara", "Zoe", "Leo")
LAST_NAMES = ("Adler", "Brooks", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
              "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi", "Schmidt", "Tanaka", "Weber")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
SIGN_UP_MINUTES = (2, 20)  # a new customer's account is created this long before their first order


def customer_records(shop: ShopSpec, calendar: Calendar, population: Population, ids: np.ndarray,
                     first_order: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Online customers (without ``updated_at``). One acquired in the world signed up just before their first
    order (``first_order``: customer_id, first_order); one acquired earlier, when they were acquired. A
    customer's country matches the currency they pay in."""
    n = len(ids)
    first = rng.integers(0, len(FIRST_NAMES), n).tolist()
    last = rng.integers(0, len(LAST_NAMES), n).tolist()
    domain = rng.integers(0, len(EMAIL_DOMAINS), n).tolist()
    country = np.empty(n, dtype=object)
    for i, code in enumerate([shop.currency, *shop.presentment_currencies]):
        theirs = population.currency == i
        country[theirs] = rng.choice(currency(code).countries, size=int(theirs.sum()), p=country_weights(code))
    sign_up = pl.Series(rng.integers(*SIGN_UP_MINUTES, n, endpoint=True) * 60_000_000, dtype=pl.Duration("us"))
    day = np.floor(population.acquired)
    frame = pl.DataFrame({
        "customer_id": ids,
        "email": [f"{FIRST_NAMES[f].lower()}.{LAST_NAMES[s].lower()}{i % 100_000}@{EMAIL_DOMAINS[d]}"
                  for f, s, i, d in zip(first, last, ids.tolist(), domain, strict=True)],
        "first_name": [FIRST_NAMES[f] for f in first],
        "last_name": [LAST_NAMES[s] for s in last],
        "country_code": pl.Series(country.tolist(), dtype=pl.String),
        "acquired_at": calendar.to_utc(day, (population.acquired - day) * 86_400),
        "in_world": population.acquired >= 0,
        "sign_up": sign_up,
        "acquisition_channel": [CHANNEL_NAMES[c] for c in population.channel.tolist()],
    }).join(first_order, on="customer_id", how="left", maintain_order="left")
    signed_up_at_checkout = pl.col("in_world") & pl.col("first_order").is_not_null()
    return frame.select(
        "customer_id", "email", "first_name", "last_name", "country_code",
        created_at=pl.when(signed_up_at_checkout).then(pl.col("first_order") - pl.col("sign_up"))
        .otherwise(pl.col("acquired_at")).dt.truncate("1s"),
        acquisition_channel="acquisition_channel",
    )


def customer_truth(calendar: Calendar, population: Population, ids: np.ndarray) -> pl.DataFrame:
    """Each online customer's true purchase rate and churn time (``active_at_end``: not churned yet)."""
    churn_day = np.floor(population.churn)
    return pl.DataFrame({
        "customer_id": ids,
        "acquisition_channel": [CHANNEL_NAMES[c] for c in population.channel.tolist()],
        "purchase_rate_per_day": population.rate,
        "churned_at": calendar.to_utc(churn_day, (population.churn - churn_day) * 86_400),
        "active_at_end": population.churn >= calendar.days,
    })
