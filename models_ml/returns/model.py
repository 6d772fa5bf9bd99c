"""Return likelihood: the probability that an order line is (partly) refunded within ``window_days``, scored
at purchase time by LightGBM on the line, its basket, its customer and time-respecting historical return
rates.

Backtest (no leakage): pretend to train at ``b = as_of − window − test_days``: the model learns on the lines
whose label was known then (ordered on or before b − window) and is judged on the lines ordered in
(b, as_of − window], whose labels are known now. The baseline scores each line with its SKU's historical
return rate (smoothed toward its category's), the rate a merchant would quote. The delivered model is then
refitted on every line whose label is known at ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from models_ml.churn.calibration import brier, expected_calibration_error
from models_ml.returns.features import CATEGORICAL, FEATURES, line_features

PRIMARY_METRIC = "auc"
HIGHER_IS_BETTER = True

DEFAULTS: dict = {
    "window_days": 60,
    "test_days": 120,  # length of the backtest slice
    "num_boost_round": 150,  # small, heavily regularised trees: return labels are rare and noisy
    "learning_rate": 0.03,
    "num_leaves": 4,
    "min_data_in_leaf": 300,
    "feature_fraction": 0.7,
    "lambda_l2": 10.0,
    "seed": 20261201,
}


@dataclass(frozen=True)
class TrainedReturns:
    """The booster (LightGBM model text) and categorical encoding ``predict`` needs, plus params and the
    backtest metrics of the model and its baseline."""

    model_text: str
    categories: dict[str, list[str]]
    params: dict
    metrics: dict[str, float] = field(default_factory=dict)

    def booster(self) -> lgb.Booster:
        return lgb.Booster(model_str=self.model_text)


def encode(features: pl.DataFrame, categories: dict[str, list[str]]) -> np.ndarray:
    """FEATURES as a float matrix; categoricals as their index in ``categories`` (unknown/null: NaN)."""
    columns = []
    for name in FEATURES:
        if name in CATEGORICAL:
            lookup = {value: float(i) for i, value in enumerate(categories[name])}
            columns.append(features[name].replace_strict(lookup, default=None, return_dtype=pl.Float64))
        else:
            columns.append(features[name].cast(pl.Float64))
    return pl.DataFrame(columns).fill_null(float("nan")).to_numpy()


def fit_booster(frame: pl.DataFrame, categories: dict[str, list[str]], params: dict) -> lgb.Booster:
    data = lgb.Dataset(encode(frame, categories), label=frame["label"].to_numpy(), feature_name=list(FEATURES),
                       categorical_feature=list(CATEGORICAL), free_raw_data=True)
    settings = {"objective": "binary", "learning_rate": params["learning_rate"], "num_leaves": params["num_leaves"],
                "min_data_in_leaf": params["min_data_in_leaf"], "feature_fraction": params["feature_fraction"],
                "lambda_l2": params["lambda_l2"], "seed": params["seed"], "num_threads": 2, "deterministic": True,
                "force_row_wise": True, "verbosity": -1}
    return lgb.train(settings, data, num_boost_round=params["num_boost_round"])


def train(order_lines: pl.DataFrame, as_of: date, **params) -> TrainedReturns:
    """Backtest on the latest labelled slice, then refit on every labelled line."""
    params = {**DEFAULTS, **params}
    window = timedelta(days=params["window_days"])
    features = line_features(order_lines.filter(pl.col("order_date") <= as_of), params["window_days"])
    labelled = features.filter(pl.col("order_date") + window <= as_of)
    backtest_at = as_of - window - timedelta(days=params["test_days"])
    past = labelled.filter(pl.col("order_date") + window <= backtest_at)
    test = labelled.filter(pl.col("order_date") > backtest_at)
    if past.height == 0 or test.height == 0:
        raise ValueError(f"too little labelled history before {as_of} for a return-likelihood backtest")
    categories = {name: sorted(features[name].drop_nulls().unique().to_list()) for name in CATEGORICAL}

    probability = fit_booster(past, categories, params).predict(encode(test, categories))
    label = test["label"].to_numpy()
    sku_rate, category_rate = test["sku_rate"].to_numpy(), test["category_rate"].to_numpy()
    metrics = {
        "auc": _auc(label, probability),
        "baseline_auc": _auc(label, sku_rate),
        "category_baseline_auc": _auc(label, category_rate),
        "brier": brier(probability, label),
        "baseline_brier": brier(sku_rate, label),
        "ece": expected_calibration_error(probability, label),
        "return_rate": float(label.mean()),
        "n_train": float(past.height),
        "n_test": float(test.height),
    }
    final = fit_booster(labelled, categories, params)
    return TrainedReturns(model_text=final.model_to_string(), categories=categories, params=params, metrics=metrics)


def predict(trained: TrainedReturns, order_lines: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """return_scores for the lines ordered in the last ``window_days`` up to ``as_of`` (their return window is
    still open), each from what was known when it was ordered."""
    window_days = trained.params["window_days"]
    features = line_features(order_lines.filter(pl.col("order_date") <= as_of), window_days)
    open_lines = features.filter(pl.col("order_date") > as_of - timedelta(days=window_days))
    probability = (trained.booster().predict(encode(open_lines, trained.categories)) if open_lines.height
                   else np.empty(0))
    return pl.DataFrame({"order_line_key": open_lines["order_line_key"],
                         "return_probability": pl.Series(probability, dtype=pl.Float64)})


def _auc(label: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(label, score)) if 0 < label.sum() < len(label) else float("nan")
