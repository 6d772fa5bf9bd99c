"""The demand forecast model: ``train`` (with its own rolling-origin backtest) and ``predict``, the interface
every models_ml model shares (see models_ml/README.md and models_ml/forecast/README.md).

``predict`` returns the demand_forecast frame: sku, channel, date, horizon_day (1…H), units_mean, lower_80,
upper_80, lower_95, upper_95 (Float64 ≥ 0), model ('lightgbm' | 'prophet' | 'ensemble').
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from models_ml.forecast import lightgbm_model, prophet_model
from models_ml.forecast.backtest import score
from models_ml.forecast.baselines import mase_scale, seasonal_naive
from models_ml.forecast.ensemble import choose, combine
from models_ml.forecast.features import FeatureContext
from models_ml.forecast.intervals import covered_fraction, fit_dispersion, interval_bounds
from models_ml.forecast.panel import Panel, build_panel

PRIMARY_METRIC = "mase"
HIGHER_IS_BETTER = False
MODEL_NAME = "demand_forecast"

DEFAULTS = {
    "horizon": 180,
    "max_rows": 400_000,  # sampled training rows of the global model
    "num_rounds": 250,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 200,
    "origin_step": 7,  # days between training origins
    "backtest_origins": 1,  # rolling origins of the backtest, 28 days apart (each refits the model)
    "prophet_max_series": prophet_model.MAX_SERIES,
    "prophet_min_mean": prophet_model.MIN_MEAN_UNITS,
    "seed": 7,
    "num_threads": 2,
}
BACKTEST_STEP_DAYS = 28
MIN_TRAIN_DAYS = 56
MIN_BACKTEST_DAYS = 28
SCHEMA = {"sku": pl.Utf8, "channel": pl.Utf8, "date": pl.Date, "horizon_day": pl.Int64, "units_mean": pl.Float64,
          "lower_80": pl.Float64, "upper_80": pl.Float64, "lower_95": pl.Float64, "upper_95": pl.Float64,
          "model": pl.Utf8}


@dataclass(frozen=True)
class TrainedForecast:
    params: dict
    metrics: dict[str, float]
    as_of: date
    horizon: int
    channels: tuple[str, ...]
    categories: tuple[str, ...]
    lightgbm: lightgbm_model.LightGBMForecaster
    dispersion: dict[str, tuple[float, float]]  # channel → (φ, α) of the negative binomial
    choices: dict[tuple[str, str], str] = field(default_factory=dict)  # (sku, channel) → 'prophet' | 'ensemble'
    prophet_means: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # fitted at ``as_of``


def backtest_horizon(last: int, horizon: int) -> int:
    """Days the backtest scores: the full horizon where history allows, but never so long that the backtest
    model would lack last year's season when the final model has it (it would judge a different model)."""
    h = int(min(horizon, max(7, (last + 1 - MIN_TRAIN_DAYS) // 2)))
    if lightgbm_model.knows_last_year(last) and not lightgbm_model.knows_last_year(last - h):
        h = max(MIN_BACKTEST_DAYS, last - lightgbm_model.LAST_YEAR_ORIGIN - lightgbm_model.MIN_LAST_YEAR_ORIGINS_DAYS)
    return int(min(h, horizon))


def _context(panel: Panel, products: pl.DataFrame, channels: tuple[str, ...],
             categories: tuple[str, ...]) -> FeatureContext:
    return FeatureContext.build(panel, products, list(channels), list(categories))


def _lgbm_kwargs(p: dict) -> dict:
    return {"max_rows": p["max_rows"], "num_rounds": p["num_rounds"], "origin_step": p["origin_step"],
            "seed": p["seed"], "learning_rate": p["learning_rate"], "num_leaves": p["num_leaves"],
            "min_data_in_leaf": p["min_data_in_leaf"], "num_threads": p["num_threads"]}


def train(sales_daily: pl.DataFrame, products: pl.DataFrame, as_of: date, horizon: int = 180,
          **params) -> TrainedForecast:
    """Backtest at rolling origins before ``as_of`` (fit on the data before each, score the days after it
    against seasonal-naive), choose Prophet per high-volume series, fit the intervals' dispersion on the
    backtest residuals, then refit the global model on everything up to ``as_of``."""
    p = {**DEFAULTS, **params, "horizon": horizon}
    sales = sales_daily.filter(pl.col("date") <= as_of)
    channels = tuple(sorted(sales["channel"].unique().to_list()))
    categories = tuple(sorted(c for c in products["category"].unique().to_list() if c is not None))
    full = build_panel(sales, as_of)
    key_row = {(s, c): i for i, (s, c) in enumerate(zip(full.sku.tolist(), full.channel.tolist(), strict=True))}
    bt_h = backtest_horizon(full.days - 1, horizon)

    runs: list[dict[str, float]] = []
    residuals: dict[str, tuple[list, list]] = {c: ([], []) for c in channels}
    choices: dict[tuple[str, str], str] = {}
    for k in range(int(p["backtest_origins"])):
        cut_date = as_of - timedelta(days=bt_h + k * BACKTEST_STEP_DAYS)
        if (cut_date - full.start).days + 1 < MIN_TRAIN_DAYS:
            break
        past = build_panel(sales, cut_date, start=full.start)
        ctx = _context(past, products, channels, categories)
        cut = past.days - 1
        model = lightgbm_model.fit(ctx, cut, bt_h, **_lgbm_kwargs(p))
        mean = lightgbm_model.predict(model, ctx, cut, bt_h)
        rows = np.array([key_row[(s, c)] for s, c in zip(past.sku.tolist(), past.channel.tolist(), strict=True)])
        actual = full.units[rows, cut + 1:cut + 1 + bt_h]
        observed = full.observed[rows, cut + 1:cut + 1 + bt_h]
        if k == 0:
            for i in prophet_model.candidates(past, cut, int(p["prophet_max_series"]), float(p["prophet_min_mean"])):
                alt = prophet_model.fit_forecast(past, int(i), cut, bt_h)
                choice = choose(actual[i], observed[i], mean[i], alt)
                if choice != "lightgbm":
                    choices[(str(past.sku[i]), str(past.channel[i]))] = choice
                    mean[i] = combine(mean[i], alt, choice)
        baseline = seasonal_naive(past, cut, bt_h)
        scale = mase_scale(past, cut)
        ours, theirs = score(actual, observed, mean, scale), score(actual, observed, baseline, scale)
        runs.append({**ours, **{f"baseline_{m}": v for m, v in theirs.items() if m != "n_days"}})
        for c in channels:
            in_channel = past.channel == c
            residuals[c][0].append(actual[in_channel][observed[in_channel]])
            residuals[c][1].append(mean[in_channel][observed[in_channel]])
    if not runs:
        raise ValueError(f"not enough history before {as_of} to backtest a {horizon}-day forecast")

    metrics = {m: float(np.mean([r[m] for r in runs])) for m in runs[0]}
    pairs = {c: (np.concatenate(y), np.concatenate(mu)) for c, (y, mu) in residuals.items()
             if y and sum(len(a) for a in y)}
    dispersion = {c: fitted_dispersion(y, mu, int(p["seed"])) for c, (y, mu) in pairs.items()}
    metrics.update(cross_fitted_coverage(pairs, int(p["seed"])))
    metrics["backtest_horizon_days"] = float(bt_h)
    metrics["backtest_origins"] = float(len(runs))
    metrics["prophet_series"] = float(len(choices))

    ctx = _context(full, products, channels, categories)
    final = lightgbm_model.fit(ctx, full.days - 1, horizon, **_lgbm_kwargs(p))
    prophet_means = {}
    for key in sorted(choices):
        prophet_means[key] = prophet_model.fit_forecast(full, key_row[key], full.days - 1, horizon)
    return TrainedForecast(params={**p, "lightgbm": final.params}, metrics=metrics, as_of=as_of, horizon=horizon,
                           channels=channels, categories=categories, lightgbm=final, dispersion=dispersion,
                           choices=choices, prophet_means=prophet_means)


def fitted_dispersion(y: np.ndarray, mu: np.ndarray, seed: int) -> tuple[float, float]:
    """(φ, α) of a channel: maximum likelihood on the backtest's (units, forecast) pairs. (Re-scaling them to
    hit nominal coverage on the backtest was tried: it overfits the backtest's regime and did worse on the
    demo world's holdout.)"""
    return fit_dispersion(y, mu, seed=seed)


def cross_fitted_coverage(pairs: dict[str, tuple[np.ndarray, np.ndarray]], seed: int) -> dict[str, float]:
    """Backtest coverage of the intervals without judging them on their own fit: the dispersion is fitted on
    every other backtest day and scored on the rest, and the other way round."""
    hits: dict[str, list[np.ndarray]] = {"80": [], "95": []}
    for y, mu in pairs.values():
        fold = np.arange(len(y)) % 2 == 0
        for train_fold in (fold, ~fold):
            if not train_fold.any() or train_fold.all():
                continue
            bounds = interval_bounds(mu[~train_fold], *fitted_dispersion(y[train_fold], mu[train_fold], seed))
            for level in hits:
                hits[level].append(covered_fraction(y[~train_fold], bounds[f"lower_{level}"],
                                                    bounds[f"upper_{level}"]))
    return {f"coverage_{lv}": float(np.concatenate(v).mean()) for lv, v in hits.items() if v}


def predict(trained: TrainedForecast, sales_daily: pl.DataFrame, products: pl.DataFrame,
            as_of: date) -> pl.DataFrame:
    """The demand_forecast frame: every series sold up to ``as_of``, days as_of+1 … as_of+horizon."""
    h = trained.horizon
    panel = build_panel(sales_daily.filter(pl.col("date") <= as_of), as_of)
    ctx = _context(panel, products, trained.channels, trained.categories)
    mean = lightgbm_model.predict(trained.lightgbm, ctx, panel.days - 1, h)
    model = np.full(panel.n_series, "lightgbm", dtype=object)
    for i, key in enumerate(zip(panel.sku.tolist(), panel.channel.tolist(), strict=True)):
        choice = trained.choices.get(key)
        if choice is None:
            continue
        alt = (trained.prophet_means[key] if as_of == trained.as_of and key in trained.prophet_means
               else prophet_model.fit_forecast(panel, i, panel.days - 1, h))
        mean[i] = combine(mean[i], alt, choice)
        model[i] = choice
    mean = np.maximum(mean, 0.0)
    bounds = {name: np.zeros_like(mean) for name in ("lower_80", "upper_80", "lower_95", "upper_95")}
    fallback = max(trained.dispersion.values(), default=(1.5, 0.1))
    for c in np.unique(panel.channel):
        rows = panel.channel == c
        phi, alpha = trained.dispersion.get(str(c), fallback)
        got = interval_bounds(mean[rows].ravel(), phi, alpha)
        for name, values in got.items():
            bounds[name][rows] = values.reshape(-1, h)
    n = panel.n_series
    dates = pl.date_range(as_of + timedelta(days=1), as_of + timedelta(days=h), eager=True)
    return pl.DataFrame({
        "sku": pl.Series(np.repeat(panel.sku, h).astype(str), dtype=pl.Utf8),
        "channel": pl.Series(np.repeat(panel.channel, h).astype(str), dtype=pl.Utf8),
        "date": pl.concat([dates] * n) if n else dates.clear(),
        "horizon_day": np.tile(np.arange(1, h + 1, dtype=np.int64), n),
        "units_mean": mean.ravel(),
        **{name: np.maximum(values, 0.0).ravel() for name, values in bounds.items()},
        "model": pl.Series(np.repeat(model, h).astype(str), dtype=pl.Utf8),
    }, schema=SCHEMA)
