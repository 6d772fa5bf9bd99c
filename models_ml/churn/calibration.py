"""Probability calibration and its yardsticks: isotonic or Platt maps fitted on a held-out cutoff, the Brier
score and the expected calibration error (ECE)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

ECE_BINS = 10


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from raw scores to probabilities: 'isotonic' (a step function, stored as its knots)
    or 'platt' (a logistic curve on the raw score's logit)."""

    method: str
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()
    slope: float = 1.0
    intercept: float = 0.0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            return np.clip(np.interp(raw, self.knots_x, self.knots_y), 0.0, 1.0)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.slope * _logit(raw) + self.intercept)))
        return np.clip(raw, 0.0, 1.0)  # 'none'


def fit_calibrator(raw: np.ndarray, label: np.ndarray, method: str = "isotonic") -> Calibrator:
    """The calibrator of ``method`` ('isotonic', 'platt' or 'none') fitted on (raw score, 0/1 label)."""
    raw, label = np.asarray(raw, dtype=float), np.asarray(label, dtype=float)
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, label)
        return Calibrator("isotonic", tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_)))
    if method == "platt":
        fit = LogisticRegression(C=1e6).fit(_logit(raw)[:, None], label.astype(int))
        return Calibrator("platt", slope=float(fit.coef_[0, 0]), intercept=float(fit.intercept_[0]))
    if method == "none":
        return Calibrator("none")
    raise ValueError(f"unknown calibration method {method!r} (isotonic, platt, none)")


def brier(probability: np.ndarray, label: np.ndarray) -> float:
    """Mean squared error of the probabilities against the 0/1 outcomes."""
    return float(np.mean((np.asarray(probability, float) - np.asarray(label, float)) ** 2))


def expected_calibration_error(probability: np.ndarray, label: np.ndarray, bins: int = ECE_BINS) -> float:
    """Σ over equal-width probability bins of (share of rows) × |mean probability − observed rate|."""
    probability, label = np.asarray(probability, float), np.asarray(label, float)
    which = np.minimum((probability * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, probability, bins) - np.bincount(which, label, bins))
    return float(gap.sum() / max(count.sum(), 1))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
