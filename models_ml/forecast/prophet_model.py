"""Prophet for the few high-volume series where it may beat the global model (chosen per series by the
backtest, see ensemble.py). Weekly and yearly seasonality, multiplicative; stockout days are left out of the
fit (Prophet handles gaps). About a second per fit, so the number of candidates is bounded (``max_series``).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import numpy as np

from models_ml.forecast.panel import Panel

MAX_SERIES = 8
MIN_MEAN_UNITS = 2.0  # mean daily units over the last 91 observed days to be a candidate
MIN_HISTORY_DAYS = 120


def _quiet() -> None:
    """Prophet logs through "prophet" (and warns that plotly is missing on import); cmdstanpy through its own
    handler, switched off around each fit (``disable_logging``)."""
    for name in ("prophet", "prophet.plot", "prophet.models", "prophet.forecaster"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL)
        logger.propagate = False


def candidates(panel: Panel, origin: int, max_series: int = MAX_SERIES,
               min_mean: float = MIN_MEAN_UNITS) -> np.ndarray:
    """Series indices (highest recent volume first) worth a Prophet fit at ``origin``."""
    lo = max(0, origin - 90)
    obs = panel.observed[:, lo:origin + 1]
    mean = np.where(obs.sum(1) > 0, (panel.units[:, lo:origin + 1] * obs).sum(1) / np.maximum(obs.sum(1), 1), 0)
    history = origin - panel.first_day + 1
    ok = (mean >= min_mean) & (history >= MIN_HISTORY_DAYS)
    order = np.lexsort((np.arange(panel.n_series), -mean))
    return np.array([i for i in order if ok[i]][:max_series], dtype=np.int64)


def fit_forecast(panel: Panel, series: int, origin: int, horizon: int) -> np.ndarray:
    """(horizon,) Prophet's mean forecast (≥ 0) for days origin+1 … origin+horizon of one series."""
    _quiet()
    import pandas as pd  # Prophet's interface is pandas
    from cmdstanpy.utils.logging import disable_logging
    from prophet import Prophet

    _quiet()  # importing prophet resets its logger's level

    first = int(panel.first_day[series])
    days = np.arange(first, origin + 1)
    keep = panel.observed[series, first:origin + 1]
    ds = pd.to_datetime([panel.start + timedelta(days=int(d)) for d in days[keep]])
    frame = pd.DataFrame({"ds": ds, "y": panel.units[series, first:origin + 1][keep]})
    model = Prophet(weekly_seasonality=True, yearly_seasonality=(origin - first) >= 300, daily_seasonality=False,
                    seasonality_mode="multiplicative", uncertainty_samples=0)
    with disable_logging():
        model.fit(frame, algorithm="LBFGS")
    start: date = panel.start + timedelta(days=origin + 1)
    future = pd.DataFrame({"ds": pd.date_range(start, periods=horizon, freq="D")})
    return np.maximum(model.predict(future)["yhat"].to_numpy(), 0.0)
