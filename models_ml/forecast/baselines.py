"""Seasonal-naive baseline: the last observed week repeated (weekly season), and the MASE scale it defines.

A day of that last week that was an inferred stockout takes the same weekday of the latest earlier week that
was observed (up to ``LOOKBACK_WEEKS``), so a stockout at the origin does not forecast zero demand for half a
year; failing that, 0.
"""

from __future__ import annotations

import numpy as np

from models_ml.forecast.panel import Panel

SEASON = 7
LOOKBACK_WEEKS = 8


def seasonal_naive(panel: Panel, origin: int, horizon: int) -> np.ndarray:
    """(S, horizon): units of the last observed week before ``origin`` (inclusive), repeated."""
    observed = panel.observed
    last_week = np.zeros((panel.n_series, SEASON))
    filled = np.zeros((panel.n_series, SEASON), dtype=bool)
    for back in range(LOOKBACK_WEEKS):
        for k in range(SEASON):
            day = origin - SEASON + 1 + k - back * SEASON
            if day < 0:
                continue
            take = ~filled[:, k] & observed[:, day]
            last_week[take, k] = panel.units[take, day]
            filled[:, k] |= take
    # day origin+1+h repeats day origin+1+h−7·m: column (h mod 7) of the last week
    return last_week[:, np.arange(horizon) % SEASON]


def mase_scale(panel: Panel, cutoff: int) -> np.ndarray:
    """(S,) in-sample MAE of the one-season-back naive forecast over observed pairs up to ``cutoff``
    (NaN for a series with no such pair)."""
    y = panel.units[:, : cutoff + 1]
    ok = panel.observed[:, : cutoff + 1]
    pair = ok[:, SEASON:] & ok[:, :-SEASON]
    diff = np.abs(y[:, SEASON:] - y[:, :-SEASON])
    n = pair.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (diff * pair).sum(axis=1) / n, np.nan)
