"""Return likelihood (models_ml/returns): labels and time-respecting encodings that never look ahead, a model
that matches or beats the SKU-rate baseline and nears the oracle, what it can learn from the sandbox, the
return_scores schema and determinism.

What is learnable here: the sandbox returns an online line with its category's rate (Footwear 18 %, Apparel
14 %, Outdoor 7 %, Accessories 6 %), never a wholesale line, whatever its price, discount, basket or customer.
The oracle scores each line with that true rate, so no model can rank lines better than it (up to noise)."""

from __future__ import annotations

import pickle
from datetime import date, timedelta

import cloudpickle
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from models_ml import returns
from models_ml.returns.features import line_features, return_label
from sandbox.ml_frames import shop_frames
from sandbox.world.categories import CATEGORIES

WINDOW = 60


@pytest.fixture(scope="module")
def trained(frames):
    return returns.train(frames.order_lines, frames.as_of)


def true_rate(lines: pl.DataFrame) -> np.ndarray:
    """The sandbox's own return probability of each line: its category's rate online, none wholesale."""
    rate = lines["category"].replace_strict({k: v.return_rate for k, v in CATEGORIES.items()},
                                            return_dtype=pl.Float64).to_numpy()
    return np.where(lines["channel"].to_numpy() == "online_store", rate, 0.0)


def backtest_slice(frames, trained) -> pl.DataFrame:
    features = line_features(frames.order_lines, WINDOW)
    start = frames.as_of - timedelta(days=WINDOW + trained.params["test_days"])
    return features.filter(pl.col("order_date") > start,
                           pl.col("order_date") <= frames.as_of - timedelta(days=WINDOW))


# -- labels and encodings ------------------------------------------------------------------------------------

def test_label_counts_refunds_within_the_window_only():
    lines = pl.DataFrame({
        "order_date": [date(2025, 1, 1)] * 4,
        "refunded_quantity": [1, 2, 0, 1],
        "first_refund_date": [date(2025, 1, 20), date(2025, 3, 2), None, date(2025, 3, 3)],
    })
    assert lines.select(return_label(60))["refunded_quantity"].to_list() == [1, 1, 0, 0]  # day 60 in, 61 out


def test_encodings_use_only_labels_known_before_the_order(frames):
    """Features of lines ordered up to a day are the same when nothing after that day exists."""
    day = frames.as_of - timedelta(days=150)
    known = pl.col("first_refund_date") <= day
    truncated = frames.order_lines.filter(pl.col("order_date") <= day).with_columns(
        refunded_quantity=pl.when(known).then("refunded_quantity").otherwise(0),
        first_refund_date=pl.when(known).then("first_refund_date"))
    full = line_features(frames.order_lines, WINDOW).filter(pl.col("order_date") <= day).drop("label")
    assert full.equals(line_features(truncated, WINDOW).drop("label"))


def test_sku_rate_is_the_smoothed_share_of_matured_lines(frames):
    features = line_features(frames.order_lines, WINDOW)
    line = features.filter(pl.col("order_date") == frames.as_of - timedelta(days=100)).row(0, named=True)
    sku = frames.order_lines.filter(pl.col("order_line_key") == line["order_line_key"])["sku"].item()
    matured = (frames.order_lines.filter(pl.col("sku") == sku,
                                         pl.col("order_date") + timedelta(days=WINDOW) <= line["order_date"]
                                         - timedelta(days=1))
               .with_columns(label=return_label(WINDOW)))
    expected = (matured["label"].sum() + 30.0 * line["category_rate"]) / (matured.height + 30.0)
    assert line["sku_known_lines"] == matured.height > 0
    assert line["sku_rate"] == pytest.approx(expected)


# -- the model -----------------------------------------------------------------------------------------------

def test_model_matches_or_beats_the_sku_baseline_and_nears_the_oracle(trained, frames):
    m = trained.metrics
    test = backtest_slice(frames, trained)
    assert m["n_test"] == test.height and m["return_rate"] == pytest.approx(test["label"].mean())
    oracle_auc = roc_auc_score(test["label"], true_rate(test))
    assert m["baseline_auc"] == pytest.approx(roc_auc_score(test["label"], test["sku_rate"]))
    assert m["auc"] >= m["baseline_auc"] - 0.01, m
    assert m["auc"] >= 0.95 * oracle_auc, (m, oracle_auc)
    assert m["brier"] <= m["baseline_brier"] + 0.001
    assert m["ece"] < 0.03


def test_what_the_model_learns_is_the_worlds_return_process(trained, frames):
    scores = returns.predict(trained, frames.order_lines, frames.as_of)
    scored = scores.join(frames.order_lines.select("order_line_key", "channel", "category"), on="order_line_key")
    wholesale = scored.filter(pl.col("channel") == "wholesale")["return_probability"].mean()
    online = scored.filter(pl.col("channel") == "online_store")
    assert wholesale < 0.3 * online["return_probability"].mean()
    by_category = dict(online.group_by("category").agg(pl.col("return_probability").mean()).iter_rows())
    assert min(by_category["Footwear"], by_category["Apparel"]) > max(by_category["Outdoor"],
                                                                      by_category["Accessories"])
    assert by_category["Footwear"] == pytest.approx(0.18, abs=0.05)
    assert by_category["Accessories"] == pytest.approx(0.06, abs=0.04)


def test_training_ignores_everything_after_as_of(shop, frames):
    as_of = frames.as_of - timedelta(days=90)
    then = shop_frames(shop, as_of=as_of)
    a, b = returns.train(then.order_lines, as_of), returns.train(frames.order_lines, as_of)
    assert a.model_text == b.model_text and a.metrics == b.metrics


# -- interface -----------------------------------------------------------------------------------------------

def test_return_scores_cover_the_open_lines_with_probabilities(trained, frames):
    scores = returns.predict(trained, frames.order_lines, frames.as_of)
    assert scores.schema == pl.Schema({"order_line_key": pl.Utf8, "return_probability": pl.Float64})
    open_lines = frames.order_lines.filter(pl.col("order_date") > frames.as_of - timedelta(days=WINDOW),
                                           ~pl.col("is_cancelled"))
    assert sorted(scores["order_line_key"]) == sorted(open_lines["order_line_key"])
    assert scores["return_probability"].min() >= 0.0 and scores["return_probability"].max() <= 1.0
    assert returns.PRIMARY_METRIC == "auc" and returns.HIGHER_IS_BETTER is True
    assert {"auc", "baseline_auc", "brier"} <= set(trained.metrics)


def test_training_twice_gives_identical_models_and_scores(trained, frames):
    again = returns.train(frames.order_lines, frames.as_of)
    assert again.model_text == trained.model_text and again.metrics == trained.metrics
    first = returns.predict(trained, frames.order_lines, frames.as_of)
    assert returns.predict(again, frames.order_lines, frames.as_of).equals(first)
    unpickled = pickle.loads(cloudpickle.dumps(trained))  # what the MLflow registry stores
    assert returns.predict(unpickled, frames.order_lines, frames.as_of).equals(first)
    assert returns.predict(trained, frames.order_lines, date(2020, 1, 1)).height == 0
