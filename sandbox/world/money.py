"""Integer-cent arithmetic with the platform's rounding rule (half away from zero), vectorised."""

from __future__ import annotations

import numpy as np


def share(amount: np.ndarray, numerator: np.ndarray | int, denominator: np.ndarray | int) -> np.ndarray:
    """round_half_up(amount × numerator / denominator) for non-negative integer arrays, exactly."""
    amount = np.asarray(amount, dtype=np.int64)
    scaled = amount * np.asarray(numerator, dtype=np.int64)
    den = np.asarray(denominator, dtype=np.int64)
    return (2 * scaled + den) // (2 * den)


def basis_points(amount: np.ndarray, bp: np.ndarray | int) -> np.ndarray:
    return share(amount, bp, 10_000)


def per_million(amount: np.ndarray, ppm: np.ndarray | int) -> np.ndarray:
    return share(amount, ppm, 1_000_000)
