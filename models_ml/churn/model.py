"""Churn: the probability that a customer places no order in the next ``horizon_days``, by LightGBM on RFM
and behaviour features, calibrated on a held-out cutoff.

Backtest layout (no leakage): the validation cutoff is ``as_of − horizon`` (the latest whose label window is
fully observed); training cutoffs are ``as_of − 2·horizon − k·step`` (k = 0 … n−1), so no training label
looks past the validation cutoff. The booster learns on the stacked training cutoffs; the calibrator is
fitted on the validation cutoff (metrics use a two-fold cross-fit there, so the "after" numbers are honest).
Scores at another day are carried to its window's season: the probability of no order is raised to the power
r = (orders in the scored window one year earlier) / (orders in the validation window one year earlier), i.e.
every buying hazard is scaled by the season (``season_adjust``; r = 1 without a year of history).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from models_ml.churn.calibration import Calibrator, brier, expected_calibration_error, fit_calibrator
from models_ml.churn.features import (
    CATEGORICAL,
    FEATURES,
    category_levels,
    churn_labels,
    customer_features,
    encode,
    valid_orders,
)

PRIMARY_METRIC = "auc"
HIGHER_IS_BETTER = True

DEFAULTS: dict = {
    "n_train_cutoffs": 6,  # stacked training cutoffs …
    "cutoff_step_days": 30,  # … this far apart
    "min_history_days": 60,  # a training cutoff needs this much data before it
    "calibration": "platt",  # or "isotonic" / "none"
    "season_adjust": True,  # carry the calibration from the validation window's season to the scored window's
    "risk_bands": (0.4, 0.7),  # churn probability below the first: 'low', below the second: 'medium', else 'high'
    "num_boost_round": 150,
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "seed": 20261201,
}


@dataclass(frozen=True)
class TrainedChurn:
    """What ``predict`` needs (the booster as LightGBM model text, the categorical encoding, the
    calibrator) plus the params and backtest metrics logged to MLflow."""

    model_text: str
    categories: dict[str, list[str]]
    calibrator: Calibrator
    horizon_days: int
    params: dict
    metrics: dict[str, float] = field(default_factory=dict)
    train_cutoffs: tuple[date, ...] = ()
    validation_cutoff: date | None = None

    def booster(self) -> lgb.Booster:
        return lgb.Booster(model_str=self.model_text)


def training_cutoffs(orders: pl.DataFrame, as_of: date, horizon_days: int, params: dict) -> tuple[date, list[date]]:
    """(validation cutoff, training cutoffs newest first) for data up to ``as_of``."""
    first = valid_orders(orders)["order_date"].min()
    if first is None:
        raise ValueError("no orders to learn churn from")
    validation = as_of - timedelta(days=horizon_days)
    newest = validation - timedelta(days=horizon_days)
    cutoffs = [newest - timedelta(days=k * params["cutoff_step_days"]) for k in range(params["n_train_cutoffs"])]
    cutoffs = [c for c in cutoffs if (c - first).days >= params["min_history_days"]]
    if not cutoffs:
        raise ValueError(f"too little history before {as_of} for a {horizon_days}-day churn backtest "
                         f"(orders start {first})")
    return validation, cutoffs


def labelled(orders: pl.DataFrame, customers: pl.DataFrame, order_lines: pl.DataFrame, cutoff: date,
             horizon_days: int) -> pl.DataFrame:
    """Features at ``cutoff`` with the churned label of the following window."""
    features = customer_features(orders, customers, order_lines, cutoff)
    labels = churn_labels(orders, features["customer_key"], cutoff, horizon_days)
    return features.join(labels, on="customer_key", how="left").with_columns(cutoff=pl.lit(cutoff))


def lgb_params(params: dict) -> dict:
    return {"objective": "binary", "learning_rate": params["learning_rate"], "num_leaves": params["num_leaves"],
            "min_data_in_leaf": params["min_data_in_leaf"], "feature_fraction": params["feature_fraction"],
            "lambda_l2": params["lambda_l2"], "seed": params["seed"], "num_threads": 2, "deterministic": True,
            "force_row_wise": True, "verbosity": -1}


def fit_booster(frame: pl.DataFrame, categories: dict[str, list[str]], params: dict) -> lgb.Booster:
    data = lgb.Dataset(encode(frame, categories).to_numpy(), label=frame["churned"].to_numpy(),
                       feature_name=list(FEATURES), categorical_feature=list(CATEGORICAL), free_raw_data=True)
    return lgb.train(lgb_params(params), data, num_boost_round=params["num_boost_round"])


def train(orders: pl.DataFrame, customers: pl.DataFrame, order_lines: pl.DataFrame, as_of: date,
          horizon_days: int = 90, **params) -> TrainedChurn:
    """Train on the stacked training cutoffs, calibrate and backtest on the validation cutoff."""
    params = {**DEFAULTS, **params}
    validation_cutoff, cutoffs = training_cutoffs(orders, as_of, horizon_days, params)
    train_frame = pl.concat([labelled(orders, customers, order_lines, c, horizon_days) for c in cutoffs])
    valid_frame = labelled(orders, customers, order_lines, validation_cutoff, horizon_days)
    categories = category_levels(pl.concat([train_frame, valid_frame]))
    booster = fit_booster(train_frame, categories, params)

    raw = booster.predict(encode(valid_frame, categories).to_numpy())
    label = valid_frame["churned"].to_numpy()
    calibrator = fit_calibrator(raw, label, params["calibration"])
    recency = valid_frame["recency_days"].to_numpy()
    folds = np.array([zlib.crc32(k.encode()) % 2 for k in valid_frame["customer_key"].to_list()])
    calibrated = cross_fit(raw, label, folds, params["calibration"])
    baseline_probability = cross_fit(recency, label, folds, "isotonic")
    metrics = {
        "auc": _auc(label, raw),
        "baseline_auc": _auc(label, recency),
        "calibrated_auc": _auc(label, calibrated),
        "brier_raw": brier(raw, label),
        "brier": brier(calibrated, label),
        "baseline_brier": brier(baseline_probability, label),
        "ece_raw": expected_calibration_error(raw, label),
        "ece": expected_calibration_error(calibrated, label),
        "churn_rate": float(label.mean()),
        "n_validation": float(len(label)),
        "n_train": float(train_frame.height),
        # how much busier the next window (after as_of) looks than the validation window, from a year earlier
        "season_ratio_next": season_ratio(orders, validation_cutoff, as_of, horizon_days),
    }
    return TrainedChurn(model_text=booster.model_to_string(), categories=categories, calibrator=calibrator,
                        horizon_days=horizon_days, params={**params, "horizon_days": horizon_days},
                        metrics=metrics, train_cutoffs=tuple(cutoffs), validation_cutoff=validation_cutoff)


def cross_fit(score: np.ndarray, label: np.ndarray, folds: np.ndarray, method: str) -> np.ndarray:
    """Each fold's probabilities from a calibrator fitted on the other fold."""
    out = np.empty(len(score))
    for fold in (0, 1):
        here = folds == fold
        if not here.any():
            continue
        other = ~here if (~here).any() else here
        out[here] = fit_calibrator(score[other], label[other], method)(score[here])
    return out


def raw_scores(trained: TrainedChurn, features: pl.DataFrame) -> np.ndarray:
    """The booster's uncalibrated churn scores for feature rows."""
    if features.height == 0:
        return np.empty(0)
    return trained.booster().predict(encode(features, trained.categories).to_numpy())


def predict(trained: TrainedChurn, orders: pl.DataFrame, customers: pl.DataFrame, order_lines: pl.DataFrame,
            as_of: date) -> pl.DataFrame:
    """churn_scores for every customer of the population with an order on or before ``as_of``: the
    calibrated probability of no order in (as_of, as_of + horizon] and its risk band."""
    features = customer_features(orders, customers, order_lines, as_of)
    probability = trained.calibrator(raw_scores(trained, features))
    if trained.params.get("season_adjust") and trained.validation_cutoff is not None:
        ratio = season_ratio(orders, trained.validation_cutoff, as_of, trained.horizon_days)
        probability = probability ** ratio  # buying hazards scale with the season: P(no order) = e^{−H} → e^{−rH}
    low, high = trained.params["risk_bands"]
    return pl.DataFrame({
        "customer_key": features["customer_key"],
        "horizon_days": pl.Series([trained.horizon_days] * features.height, dtype=pl.Int64),
        "churn_probability": pl.Series(probability, dtype=pl.Float64),
    }).with_columns(risk_band=pl.when(pl.col("churn_probability") < low).then(pl.lit("low"))
                    .when(pl.col("churn_probability") < high).then(pl.lit("medium"))
                    .otherwise(pl.lit("high")))


def season_ratio(orders: pl.DataFrame, calibrated_on: date, scored_on: date, horizon_days: int) -> float:
    """How much busier the window after ``scored_on`` is than the one after ``calibrated_on`` (where the
    calibration was fitted), judged by the shop's order count in the same two windows one year earlier; 1.0
    when that year is not in the data or the two days are the same."""
    if calibrated_on == scored_on:
        return 1.0
    valid = valid_orders(orders)
    first = valid["order_date"].min()
    year = timedelta(days=365)

    def volume(cutoff: date) -> int:
        start = cutoff - year
        return valid.filter(pl.col("order_date") > start,
                            pl.col("order_date") <= start + timedelta(days=horizon_days)).height

    if first is None or min(calibrated_on, scored_on) - year < first:
        return 1.0
    before, after = volume(calibrated_on), volume(scored_on)
    return float(np.clip(after / before, 0.5, 2.0)) if before and after else 1.0


def _auc(label: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(label, score)) if 0 < label.sum() < len(label) else float("nan")
