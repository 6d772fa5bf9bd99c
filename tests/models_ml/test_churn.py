"""Churn (models_ml/churn): features strictly as of a cutoff, a model that gets within 10 % of the oracle's AUC
(sandbox/churn_truth.py, which knows each customer's true state), calibration that holds on unseen data,
determinism and the churn_scores schema. One small simulated shop, built once."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta

import cloudpickle
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from models_ml import churn
from models_ml.churn.calibration import brier, expected_calibration_error, fit_calibrator
from models_ml.churn.features import churn_labels, customer_features
from models_ml.churn.model import labelled, season_ratio
from sandbox.churn_truth import best_from_history, no_purchase_probability, oracle_churn
from sandbox.ml_frames import shop_frames
from tests.models_ml.conftest import RETAIL_SPEC

HORIZON = 90


@pytest.fixture(scope="module")
def trained(frames):
    return churn.train(frames.orders, frames.customers, frames.order_lines, frames.as_of, horizon_days=HORIZON)


def auc(label, score) -> float:
    return float(roc_auc_score(np.asarray(label), np.asarray(score)))


# -- the oracle ----------------------------------------------------------------------------------------------

def test_oracle_formula_matches_the_closed_form_for_a_flat_season():
    rate, lifetime, days = np.array([0.02, 0.0, 0.01]), np.array([100.0, 50.0, 1e12]), 90
    got = no_purchase_probability(rate, lifetime, np.ones(days))
    total = rate + 1 / lifetime
    expected = (1 / lifetime) / total * (1 - np.exp(-total * days)) + np.exp(-total * days)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[1] == pytest.approx(1.0)  # never buys: certainly no purchase
    assert got[2] == pytest.approx(np.exp(-0.01 * days), rel=1e-6)  # never churns: Poisson with no event


def test_oracle_probabilities_match_what_active_customers_then_did(trained, frames, shop):
    cutoff = trained.validation_cutoff
    valid = labelled(frames.orders, frames.customers, frames.order_lines, cutoff, HORIZON)
    joined = valid.join(oracle_churn(RETAIL_SPEC, shop, cutoff, HORIZON), on="customer_key", how="inner")
    assert joined.height == valid.height  # every scored customer is an online customer of the world
    churned = joined.filter(~pl.col("active_at_cutoff"))
    assert churned["churned"].min() == 1  # a churned customer never buys again
    active = joined.filter(pl.col("active_at_cutoff"))
    assert active.height > 300
    assert abs(active["oracle_probability"].mean() - active["churned"].mean()) < 0.04


def test_model_is_close_to_the_best_possible_from_the_data(trained, frames, shop):
    """The Bayes probability from each customer's order history and the world's true parameters bounds what a
    model of the data can do (up to noise); the oracle, which knows who has churned, sits above both."""
    cutoff = trained.validation_cutoff
    valid = labelled(frames.orders, frames.customers, frames.order_lines, cutoff, HORIZON)
    joined = (valid.join(best_from_history(RETAIL_SPEC, shop, frames.orders, cutoff, HORIZON), on="customer_key")
              .join(oracle_churn(RETAIL_SPEC, shop, cutoff, HORIZON), on="customer_key"))
    assert joined.height == valid.height
    best_auc = auc(joined["churned"], joined["best_probability"])
    assert trained.metrics["auc"] >= best_auc - 0.02
    assert best_auc < auc(joined["churned"], joined["oracle_probability"]) - 0.03
    assert abs(joined["best_probability"].mean() - joined["churned"].mean()) < 0.02


# -- the model against the oracle ---------------------------------------------------------------------------

def test_model_auc_is_within_a_tenth_of_the_oracle_on_the_validation_cutoff(trained, frames, shop):
    cutoff = trained.validation_cutoff
    assert cutoff == frames.as_of - timedelta(days=HORIZON)
    assert max(trained.train_cutoffs) <= cutoff - timedelta(days=HORIZON)  # no training label after it
    valid = labelled(frames.orders, frames.customers, frames.order_lines, cutoff, HORIZON)
    joined = valid.join(oracle_churn(RETAIL_SPEC, shop, cutoff, HORIZON), on="customer_key")
    oracle_auc = auc(joined["churned"], joined["oracle_probability"])
    assert 0.85 < oracle_auc < 1.0
    assert trained.metrics["auc"] >= 0.9 * oracle_auc, (trained.metrics, oracle_auc)
    assert trained.metrics["auc"] >= trained.metrics["baseline_auc"] - 0.01
    assert trained.metrics["baseline_auc"] == pytest.approx(auc(valid["churned"], valid["recency_days"]))


def test_scores_at_an_earlier_as_of_rank_and_calibrate_the_next_90_days(shop, frames):
    """Train on the world as it was known 90 days before its end, score then, judge on what happened next."""
    as_of = frames.as_of - timedelta(days=HORIZON)
    then = shop_frames(shop, as_of=as_of)
    model = churn.train(then.orders, then.customers, then.order_lines, as_of)
    scores = churn.predict(model, then.orders, then.customers, then.order_lines, as_of)
    outcome = churn_labels(frames.orders, scores["customer_key"], as_of, HORIZON)
    judged = (scores.join(outcome, on="customer_key")
              .join(oracle_churn(RETAIL_SPEC, shop, as_of, HORIZON), on="customer_key"))
    assert judged.height == scores.height
    label, probability = judged["churned"].to_numpy(), judged["churn_probability"].to_numpy()
    assert auc(label, probability) >= 0.9 * auc(label, judged["oracle_probability"])
    assert abs(probability.mean() - label.mean()) < 0.03
    assert expected_calibration_error(probability, label) < 0.04
    # the same training from the full frames: nothing after as_of is used
    full = churn.train(frames.orders, frames.customers, frames.order_lines, as_of)
    assert full.model_text == model.model_text and full.metrics == model.metrics


# -- calibration ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_repairs_a_distorted_score_on_fresh_data(method):
    rng = np.random.default_rng(3)
    truth_fit, truth_new = rng.uniform(size=20_000), rng.uniform(size=20_000)
    label_fit, label_new = rng.uniform(size=20_000) < truth_fit, rng.uniform(size=20_000) < truth_new
    raw_fit, raw_new = truth_fit ** 3, truth_new ** 3  # right order, wrong probabilities
    calibrator = fit_calibrator(raw_fit, label_fit, method)
    before = expected_calibration_error(raw_new, label_new)
    after = expected_calibration_error(calibrator(raw_new), label_new)
    assert before > 0.15 and after < 0.05
    assert brier(calibrator(raw_new), label_new) < brier(raw_new, label_new) - 0.03


def test_validation_calibration_is_good_and_no_worse_than_raw(trained):
    m = trained.metrics
    assert m["ece"] < 0.03
    assert m["ece"] <= max(m["ece_raw"], 0.02)
    assert m["brier"] <= m["baseline_brier"] + 0.005
    assert 0.5 < m["churn_rate"] < 1.0


# -- features and labels -------------------------------------------------------------------------------------

def _day(d: int) -> date:
    return date(2025, 1, 1) + timedelta(days=d)


def test_features_and_labels_by_hand():
    orders = pl.DataFrame({
        "order_key": ["o1", "o2", "o3", "o4", "o5", "o6", "o7"],
        "customer_key": ["a", "a", "a", "b", "b", "w", "a"],
        "channel": ["online_store"] * 5 + ["wholesale", "online_store"],
        "order_date": [_day(0), _day(10), _day(40), _day(5), _day(100), _day(1), _day(50)],
        "units": [1, 2, 3, 1, 1, 10, 1],
        "net_revenue": [10.0, 20.0, 30.0, 5.0, 5.0, 100.0, 1.0],
        "discount_amount": [0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 0.0],
        "refund_amount": [0.0] * 7,
        "is_cancelled": [False] * 6 + [True],
        "customer_order_number": [1, 2, 3, 1, 2, 1, None],
    }).with_columns(ordered_at=pl.col("order_date").cast(pl.Datetime("us", "UTC")))
    lines = orders.select("order_key", "customer_key", "channel", "order_date", "is_cancelled",
                          net_line_amount="net_revenue", sku=pl.lit("S"), category=pl.lit("C"),
                          refunded_quantity=pl.lit(0, pl.Int64), first_refund_date=pl.lit(None, pl.Date))
    customers = pl.DataFrame({"customer_key": ["a", "b", "w"], "identity_type": ["email", "channel", "email"],
                              "acquisition_channel": ["organic", None, None]})
    feats = customer_features(orders, customers, lines, _day(60))
    assert feats["customer_key"].to_list() == ["a", "b"]  # b's only order is later; w is wholesale-only
    a = feats.row(0, named=True)
    assert (a["recency_days"], a["tenure_days"], a["orders"], a["orders_30d"]) == (20, 60, 3, 1)
    assert a["mean_gap_days"] == 20 and a["last_gap_days"] == 30  # the cancelled order o7 is ignored
    assert a["net_revenue"] == 60 and a["discount_share"] == pytest.approx(10 / 70)
    assert feats.row(1, named=True)["recency_days"] == 55  # b as of day 60: only the day-5 order
    labels = churn_labels(orders, feats["customer_key"], _day(60), 45)
    assert labels["churned"].to_list() == [1, 0]  # a's day-50 order is cancelled; b buys on day 100
    assert churn_labels(orders, feats["customer_key"], _day(60), 39)["churned"].to_list() == [1, 1]


def test_season_ratio_compares_the_two_windows_a_year_earlier():
    def orders_on(days: list[int]) -> pl.DataFrame:
        return pl.DataFrame({"order_key": [str(i) for i in range(len(days))], "customer_key": "a",
                             "channel": "online_store", "order_date": [_day(d) for d in days],
                             "is_cancelled": False})

    # one order a day on days 0–89, a second one on days 60–74: the window (59, 89] has 45, (29, 59] has 30
    orders = orders_on(list(range(90)) + list(range(60, 75)))
    calibrated_on, scored_on = _day(365 + 29), _day(365 + 59)
    assert season_ratio(orders, calibrated_on, scored_on, 30) == pytest.approx(1.5)
    assert season_ratio(orders, scored_on, calibrated_on, 30) == pytest.approx(2 / 3)
    assert season_ratio(orders, calibrated_on, calibrated_on, 30) == 1.0
    assert season_ratio(orders, _day(300), _day(330), 30) == 1.0  # no year of history before the first
    assert season_ratio(orders_on(list(range(90)) + list(range(60, 90)) * 3), calibrated_on, scored_on, 30) == 2.0


def test_features_at_a_cutoff_ignore_everything_after_it(frames):
    cutoff = frames.as_of - timedelta(days=200)
    later = customer_features(frames.orders, frames.customers, frames.order_lines, cutoff)
    past_lines = frames.order_lines.filter(pl.col("order_date") <= cutoff).with_columns(
        refunded_quantity=pl.when(pl.col("first_refund_date") <= cutoff).then("refunded_quantity").otherwise(0),
        first_refund_date=pl.when(pl.col("first_refund_date") <= cutoff).then("first_refund_date"))
    only_past = customer_features(frames.orders.filter(pl.col("order_date") <= cutoff), frames.customers,
                                  past_lines, cutoff)
    assert later.equals(only_past)


# -- interface -----------------------------------------------------------------------------------------------

def test_churn_scores_schema_and_population(trained, frames):
    scores = churn.predict(trained, frames.orders, frames.customers, frames.order_lines, frames.as_of)
    assert scores.schema == pl.Schema({"customer_key": pl.Utf8, "horizon_days": pl.Int64,
                                       "churn_probability": pl.Float64, "risk_band": pl.Utf8})
    buyers = (frames.orders.filter(pl.col("channel") != "wholesale", ~pl.col("is_cancelled"))
              ["customer_key"].unique().sort())
    assert scores["customer_key"].sort().to_list() == buyers.to_list()
    assert scores["horizon_days"].unique().to_list() == [HORIZON]
    p = scores["churn_probability"]
    assert p.min() >= 0.0 and p.max() <= 1.0
    low, high = trained.params["risk_bands"]
    expected = np.where(p < low, "low", np.where(p < high, "medium", "high"))
    assert scores["risk_band"].to_list() == expected.tolist()
    assert {"medium", "high"} <= set(scores["risk_band"])
    assert churn.PRIMARY_METRIC == "auc" and churn.HIGHER_IS_BETTER is True
    assert {"auc", "baseline_auc", "brier", "ece"} <= set(trained.metrics)


def test_training_twice_gives_identical_models_and_scores(trained, frames):
    again = churn.train(frames.orders, frames.customers, frames.order_lines, frames.as_of, horizon_days=HORIZON)
    assert again.model_text == trained.model_text and again.metrics == trained.metrics
    first = churn.predict(trained, frames.orders, frames.customers, frames.order_lines, frames.as_of)
    second = churn.predict(again, frames.orders, frames.customers, frames.order_lines, frames.as_of)
    assert first.equals(second)
    unpickled = pickle.loads(cloudpickle.dumps(trained))  # what the MLflow registry stores
    assert churn.predict(unpickled, frames.orders, frames.customers, frames.order_lines, frames.as_of).equals(first)


def test_scoring_before_any_order_gives_an_empty_frame_of_the_schema(trained, frames):
    empty = churn.predict(trained, frames.orders, frames.customers, frames.order_lines, date(2020, 1, 1))
    assert empty.height == 0 and empty.columns == ["customer_key", "horizon_days", "churn_probability", "risk_band"]


def test_the_world_clock_is_what_we_think(shop, frames):
    assert frames.as_of == RETAIL_SPEC.start_date + timedelta(days=RETAIL_SPEC.days - 1)
    assert shop.as_of > datetime.combine(frames.as_of, datetime.min.time(), tzinfo=UTC)
