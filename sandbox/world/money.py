"""Integer-cent arithmetic with the platform's one rounding rule (half away from zero), vectorised and exact.

No float ever touches an amount: a share of an amount is integer division on int64 arrays.
"""

from __future__ import annotations

import numpy as np
import polars as pl

MICRO = 1_000_000  # exchange rates are kept as integers scaled by 10⁶


def share(amount: np.ndarray, numerator: np.ndarray | int, denominator: np.ndarray | int) -> np.ndarray:
    """round(amount × numerator / denominator), half away from zero, for integer arrays (denominator > 0)."""
    scaled = np.asarray(amount, dtype=np.int64) * np.asarray(numerator, dtype=np.int64)
    den = np.asarray(denominator, dtype=np.int64)
    magnitude = (2 * np.abs(scaled) + den) // (2 * den)
    return np.sign(scaled) * magnitude


def basis_points(amount: np.ndarray, bp: np.ndarray | int) -> np.ndarray:
    """A percentage of each amount, in basis points (1500 = 15 %), rounded to the cent."""
    return share(amount, bp, 10_000)


def per_million(amount: np.ndarray, ppm: np.ndarray | int) -> np.ndarray:
    """A rate in parts per million of each amount (a tax rate), rounded to the cent."""
    return share(amount, ppm, 1_000_000)


def convert(cents: np.ndarray, rate_micro: np.ndarray | int) -> np.ndarray:
    """Shop-currency cents → presentment cents at a rate scaled by 10⁶: round(cents × rate)."""
    return share(cents, rate_micro, MICRO)


def cents_text(cents: np.ndarray | pl.Series) -> pl.Series:
    """Cents → decimal text with two places ("12.30", "-0.05"): money as APIs and CSV files carry it."""
    value = pl.Series("cents", cents, dtype=pl.Int64)
    magnitude = value.abs()
    text = (magnitude // 100).cast(pl.String) + "." + (magnitude % 100).cast(pl.String).str.zfill(2)
    return pl.select(pl.when(value < 0).then("-" + text).otherwise(text)).to_series().alias("text")


def rate_decimal(rate_micro: np.ndarray) -> pl.Series:
    """Rates scaled by 10⁶ → an exact ``Decimal(12, 6)`` series."""
    value = pl.Series("rate", rate_micro, dtype=pl.Int64)
    text = (value // MICRO).cast(pl.String) + "." + (value % MICRO).cast(pl.String).str.zfill(6)
    return text.cast(pl.Decimal(12, 6))
