"""Churn and return-likelihood models on the demo world (sandbox/worlds/demo.yaml), per shop, printed as tables.

Churn, on the validation cutoff (as_of − 90) that ``train`` backtests on: AUC of the model; of "best", the Bayes
probability from each customer's order history and the world's true parameters (sandbox/churn_truth.py: about
the best any model of the data can do); of the oracle (each customer's true state at the cutoff); of recency
alone. Brier score and expected calibration error before → after calibration (cross-fitted). Then the forward
check ("fwd"): a model trained on the world as known 90 days before its end, scored then and judged on what the
customers did next (that day is the full model's validation cutoff, so best and oracle are the same; but this
model never saw those labels, not even for calibration). Returns: AUC of the model, the SKU-rate and category
baselines and the oracle (the category's true rate online, 0 wholesale) on the backtest slice.
Timings are train + score wall seconds; peak RSS is the whole process's high-water mark after each shop.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_churn_returns.py [--world sandbox/worlds/demo.yaml]
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from models_ml import churn, returns
from models_ml.churn.calibration import expected_calibration_error
from models_ml.churn.features import churn_labels
from models_ml.churn.model import labelled
from models_ml.returns.features import line_features
from sandbox.churn_truth import best_from_history, oracle_churn
from sandbox.ml_frames import shop_frames
from sandbox.world import WorldSpec, build_world
from sandbox.world.categories import CATEGORIES

REPO = Path(__file__).resolve().parents[2]
HORIZON = 90


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def churn_row(spec: WorldSpec, shop) -> dict:
    frames = shop_frames(shop)
    started = time.perf_counter()
    model = churn.train(frames.orders, frames.customers, frames.order_lines, frames.as_of, horizon_days=HORIZON)
    scores = churn.predict(model, frames.orders, frames.customers, frames.order_lines, frames.as_of)
    seconds = time.perf_counter() - started
    valid = labelled(frames.orders, frames.customers, frames.order_lines, model.validation_cutoff, HORIZON)
    joined = valid.join(oracle_churn(spec, shop, model.validation_cutoff, HORIZON), on="customer_key")
    oracle_auc = roc_auc_score(joined["churned"], joined["oracle_probability"])
    best = valid.join(best_from_history(spec, shop, frames.orders, model.validation_cutoff, HORIZON), on="customer_key")
    best_auc = roc_auc_score(best["churned"], best["best_probability"])

    as_of = frames.as_of - timedelta(days=HORIZON)  # forward: train and score then, judge on the next 90 days
    then = shop_frames(shop, as_of=as_of)
    earlier = churn.train(then.orders, then.customers, then.order_lines, as_of, horizon_days=HORIZON)
    ahead = churn.predict(earlier, then.orders, then.customers, then.order_lines, as_of)
    judged = ahead.join(churn_labels(frames.orders, ahead["customer_key"], as_of, HORIZON), on="customer_key")
    label, probability = judged["churned"].to_numpy(), judged["churn_probability"].to_numpy()
    m = model.metrics
    return {"shop": shop.handle, "customers": int(m["n_validation"]), "churn %": 100 * m["churn_rate"],
            "AUC model": m["auc"], "AUC best": best_auc, "AUC oracle": oracle_auc,
            "AUC recency": m["baseline_auc"], "model/best": m["auc"] / best_auc, "model/oracle": m["auc"] / oracle_auc,
            "Brier raw": m["brier_raw"], "Brier cal": m["brier"],
            "ECE raw": m["ece_raw"], "ECE cal": m["ece"],
            "fwd AUC": roc_auc_score(label, probability),
            "fwd ECE": expected_calibration_error(probability, label),
            "fwd p̄−rate": float(probability.mean() - label.mean()),
            "scored": scores.height, "train+score s": f"{seconds:.2f}", "peak RSS MB": peak_rss_mb()}


def returns_row(shop) -> dict:
    frames = shop_frames(shop)
    started = time.perf_counter()
    model = returns.train(frames.order_lines, frames.as_of)
    scores = returns.predict(model, frames.order_lines, frames.as_of)
    seconds = time.perf_counter() - started
    window = timedelta(days=model.params["window_days"])
    start = frames.as_of - window - timedelta(days=model.params["test_days"])
    test = line_features(frames.order_lines, model.params["window_days"]).filter(
        pl.col("order_date") > start, pl.col("order_date") + window <= frames.as_of)
    rate = test["category"].replace_strict({k: v.return_rate for k, v in CATEGORIES.items()},
                                           return_dtype=pl.Float64).to_numpy()
    oracle = np.where(test["channel"].to_numpy() == "online_store", rate, 0.0)
    m = model.metrics
    return {"shop": shop.handle, "test lines": int(m["n_test"]), "returned": int(round(m["return_rate"] * m["n_test"])),
            "AUC model": m["auc"], "AUC SKU rate": m["baseline_auc"], "AUC category": m["category_baseline_auc"],
            "AUC oracle": roc_auc_score(test["label"], oracle), "Brier model": m["brier"],
            "Brier SKU rate": m["baseline_brier"], "ECE": m["ece"], "scored": scores.height,
            "train+score s": f"{seconds:.2f}", "peak RSS MB": peak_rss_mb()}


def table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    names = list(rows[0])
    width = {n: max(len(n), 8) for n in names}
    print("  ".join(f"{n:>{width[n]}}" for n in names))
    for row in rows:
        print("  ".join(f"{_fmt(row[n]):>{width[n]}}" for n in names))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4f}" if abs(value) < 1.5 else f"{value:.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", default=str(REPO / "sandbox" / "worlds" / "demo.yaml"))
    args = parser.parse_args()
    spec = WorldSpec.load(args.world)
    started = time.perf_counter()
    world = build_world(spec)
    print(f"world built in {time.perf_counter() - started:.1f} s ({', '.join(world.handles)})")
    table(f"Churn in the next {HORIZON} days (validation cutoff as_of − {HORIZON}; fwd = trained {HORIZON} days "
          "earlier, judged on what happened next)", [churn_row(spec, world.shop(h)) for h in world.handles])
    table("Return likelihood (line refunded within 60 days; backtest slice of 120 days of orders)",
          [returns_row(world.shop(h)) for h in world.handles])


if __name__ == "__main__":
    main()
