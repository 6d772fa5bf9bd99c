"""Per-series choice between the global LightGBM model, Prophet and their mean, made on the backtest.

Only the Prophet candidates (prophet_model.candidates) have a choice; every other series is LightGBM's. A
series switches away from LightGBM only when the alternative's backtest MAE is lower by ``MIN_GAIN``.
"""

from __future__ import annotations

import numpy as np

CHOICES = ("lightgbm", "prophet", "ensemble")
PROPHET_WEIGHT = {"lightgbm": 0.0, "prophet": 1.0, "ensemble": 0.5}
MIN_GAIN = 0.02


def choose(actual: np.ndarray, observed: np.ndarray, lightgbm: np.ndarray, prophet: np.ndarray) -> str:
    """The backtest's best of LightGBM, Prophet and their mean for one series (1-D arrays over days)."""
    def mae(pred: np.ndarray) -> float:
        return float(np.abs(pred - actual)[observed].mean()) if observed.any() else np.inf

    scores = {c: mae((1 - w) * lightgbm + w * prophet) for c, w in PROPHET_WEIGHT.items()}
    best = min(("prophet", "ensemble"), key=lambda c: scores[c])
    return best if scores[best] < (1 - MIN_GAIN) * scores["lightgbm"] else "lightgbm"


def combine(lightgbm: np.ndarray, prophet: np.ndarray, choice: str) -> np.ndarray:
    w = PROPHET_WEIGHT[choice]
    return (1 - w) * lightgbm + w * prophet
