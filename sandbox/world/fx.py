"""Daily exchange rates from the shop currency to each presentment currency: one fixed rate per day,
wandering around the currencies' anchor values (a mean-reverting random walk of the log rate)."""

from __future__ import annotations

import numpy as np

from sandbox.world.currencies import currency
from sandbox.world.money import MICRO

DAILY_VOLATILITY = 0.004
MEAN_REVERSION = 0.02


def daily_rates(shop_currency: str, presentment: list[str], days: int, rng: np.random.Generator) -> np.ndarray:
    """(days × (1 + len(presentment))) rates scaled by 10⁶; column 0 is the shop currency itself (1.000000)."""
    rates = np.full((days, 1 + len(presentment)), MICRO, dtype=np.int64)
    for column, code in enumerate(presentment, start=1):
        anchor = currency(shop_currency).usd / currency(code).usd
        shocks = rng.normal(0.0, DAILY_VOLATILITY, days)
        drift = np.zeros(days)
        for day in range(1, days):
            drift[day] = (1 - MEAN_REVERSION) * drift[day - 1] + shocks[day]
        rates[:, column] = np.round(anchor * np.exp(drift) * MICRO).astype(np.int64)
    return rates
