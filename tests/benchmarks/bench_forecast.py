"""The demand forecast judged against the sandbox's ground truth, and at scale, printed as tables.

(a) quality: every shop of the demo world (sandbox/worlds/demo.yaml), online store, the last 180 days held out
    and the model trained on the days before; scored on the days that were not stockouts against the units
    sold, beside the oracle (the world's true expected units) and seasonal-naive (the last observed week
    repeated). MASE divides by each SKU's in-sample seasonal-naive MAE (training days): pooled (Σ errors ÷
    Σ scale × days, the model's metric) and as the plain mean of the SKUs' MASEs.
    Coverage is the mid-quantile coverage of integer counts (intervals.covered_fraction); "strict" counts
    lower ≤ units ≤ upper.
    Rolling origins: the same judgement at up to ROLLING_ORIGINS origins ROLLING_STEP days apart (the latest
    is the window above), each trained on the days up to it and scored on its own 180 days inside the world,
    as long as the origin leaves the model its full history (last year's season in the offset, for the final
    model and for its backtest: ``first_rolling_origin``); MAE model / oracle / seasonal-naive, bias and
    coverage 80 / 95 per shop and origin, then pooled over a shop's origins and over all shops (sums of
    |error| over all cells ÷ the oracle's).
(b) scale: a shop with ≥ 10,000 SKUs (4,100 products × ~2.5 variants, two years; built in a child process and
    handed over as Parquet): time to train (with its backtest) and to score 180 days, and the peak RSS of the
    model's process, against the 2-minute budget.

    PYTHONPATH=. .venv/bin/python tests/benchmarks/bench_forecast.py [--skip-scale] [--skip-quality]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from models_ml.forecast import lightgbm_model
from models_ml.forecast import model as forecast
from models_ml.forecast.baselines import mase_scale, seasonal_naive
from models_ml.forecast.intervals import covered_fraction, strict_coverage
from models_ml.forecast.panel import build_panel
from sandbox.ml_frames import shop_frames
from sandbox.world import ShopSpec, WorldSpec, build_world

REPO = Path(__file__).resolve().parents[2]
HOLDOUT = 180
ROLLING_ORIGINS = 3
ROLLING_STEP = 42  # days between rolling origins (six weeks: every origin on the same weekday)
BUDGET_S = 120.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def truth_frame(shop, after: date) -> pl.DataFrame:
    """(sku, date, expected_units) of the online store on the days after ``after`` that were not stockouts."""
    return (shop.truth_demand.join(shop.variants.select("variant_id", "sku"), on="variant_id")
            .join(shop.inventory_daily.select("variant_id", "date", "stockout"), on=["variant_id", "date"])
            .filter((pl.col("date") > after) & ~pl.col("stockout"))
            .select("sku", "date", "expected_units"))


def first_rolling_origin(start: date) -> date:
    """The earliest origin the rolling evaluation may use: the model forecasts with last year's season in its
    offset, and so does its backtest (≥ MIN_BACKTEST_DAYS before the origin) — an earlier origin would judge a
    different model (see model.backtest_horizon)."""
    column = (lightgbm_model.LAST_YEAR_ORIGIN + lightgbm_model.MIN_LAST_YEAR_ORIGINS_DAYS
              + forecast.MIN_BACKTEST_DAYS)
    return start + timedelta(days=column)


def rolling_origins(sales_daily: pl.DataFrame) -> list[date]:
    """Up to ROLLING_ORIGINS origins ROLLING_STEP days apart, latest first: the latest HOLDOUT days before the
    last day (always), the earlier ones only where they leave the history ``first_rolling_origin`` asks for."""
    start, end = sales_daily["date"].min(), sales_daily["date"].max()
    latest = end - timedelta(days=HOLDOUT)
    earlier = [latest - timedelta(days=k * ROLLING_STEP) for k in range(1, ROLLING_ORIGINS)]
    return [latest] + [o for o in earlier if o >= first_rolling_origin(start)]


def scored_window(shop, frames, as_of: date) -> tuple[pl.DataFrame, forecast.TrainedForecast, float]:
    """Train on the days up to ``as_of``, forecast HOLDOUT days and join each online-store cell with the truth
    (days inside the world that were not stockouts), the units sold, seasonal-naive and the MASE scale."""
    started = time.perf_counter()
    trained = forecast.train(frames.sales_daily, frames.products, as_of, horizon=HOLDOUT)
    out = forecast.predict(trained, frames.sales_daily, frames.products, as_of)
    elapsed = time.perf_counter() - started
    panel = build_panel(frames.sales_daily, as_of)
    naive = seasonal_naive(panel, panel.days - 1, HOLDOUT)
    scale = mase_scale(panel, panel.days - 1)
    online = panel.channel == "online_store"
    extra = pl.DataFrame({
        "sku": np.repeat(panel.sku[online], HOLDOUT).astype(str),
        "horizon_day": np.tile(np.arange(1, HOLDOUT + 1), int(online.sum())),
        "naive": naive[online].ravel(), "scale": np.repeat(scale[online], HOLDOUT)})
    sold = (frames.sales_daily.filter(pl.col("channel") == "online_store")
            .select("sku", "date", units=pl.col("units").cast(pl.Float64)))
    scored = (out.filter(pl.col("channel") == "online_store")
              .join(truth_frame(shop, as_of), on=["sku", "date"])  # the truth ends with the world
              .join(sold, on=["sku", "date"], how="left").with_columns(pl.col("units").fill_null(0.0))
              .join(extra, on=["sku", "horizon_day"]))
    return scored, trained, elapsed


def holdout_scores(scored: pl.DataFrame, trained: forecast.TrainedForecast, elapsed: float) -> dict[str, float]:
    y = scored["units"].to_numpy()
    per_sku = (scored.group_by("sku").agg(
        model=(pl.col("units_mean") - pl.col("units")).abs().sum(),
        naive=(pl.col("naive") - pl.col("units")).abs().sum(),
        days=pl.len(), scale=pl.col("scale").first())
        .filter(pl.col("scale").is_finite() & (pl.col("scale") > 0)))
    pooled = (per_sku["scale"] * per_sku["days"]).sum()
    return {
        "skus": float(scored["sku"].n_unique()),
        "days scored": float(scored.height),
        "MAE model": float(np.abs(scored["units_mean"].to_numpy() - y).mean()),
        "MAE oracle": float(np.abs(scored["expected_units"].to_numpy() - y).mean()),
        "MAE seasonal-naive": float(np.abs(scored["naive"].to_numpy() - y).mean()),
        "MASE model (pooled)": float(per_sku["model"].sum() / pooled),
        "MASE seasonal-naive (pooled)": float(per_sku["naive"].sum() / pooled),
        "MASE model (mean of SKUs)": float((per_sku["model"] / per_sku["days"] / per_sku["scale"]).mean()),
        "MASE s-naive (mean of SKUs)": float((per_sku["naive"] / per_sku["days"] / per_sku["scale"]).mean()),
        "bias (Σ forecast / Σ truth)": float(scored["units_mean"].sum() / scored["expected_units"].sum()),
        "coverage 80": float(covered_fraction(y, scored["lower_80"].to_numpy(), scored["upper_80"].to_numpy()).mean()),
        "coverage 95": float(covered_fraction(y, scored["lower_95"].to_numpy(), scored["upper_95"].to_numpy()).mean()),
        "strict coverage 80": float(strict_coverage(y, scored["lower_80"].to_numpy(),
                                                    scored["upper_80"].to_numpy()).mean()),
        "strict coverage 95": float(strict_coverage(y, scored["lower_95"].to_numpy(),
                                                    scored["upper_95"].to_numpy()).mean()),
        "backtest MASE (train)": trained.metrics["mase"],
        "backtest baseline MASE": trained.metrics["baseline_mase"],
        "prophet / ensemble series": float(len(trained.choices)),
        "train + predict (s)": elapsed,
    }


def window_totals(scored: pl.DataFrame) -> dict[str, float]:
    """Sums over one window's cells, so that windows (and shops) pool by adding them up."""
    y = scored["units"].to_numpy()
    return {
        "cells": float(scored.height),
        "err model": float(np.abs(scored["units_mean"].to_numpy() - y).sum()),
        "err oracle": float(np.abs(scored["expected_units"].to_numpy() - y).sum()),
        "err naive": float(np.abs(scored["naive"].to_numpy() - y).sum()),
        "forecast": float(scored["units_mean"].sum()),
        "truth": float(scored["expected_units"].sum()),
        "covered 80": float(covered_fraction(y, scored["lower_80"].to_numpy(), scored["upper_80"].to_numpy()).sum()),
        "covered 95": float(covered_fraction(y, scored["lower_95"].to_numpy(), scored["upper_95"].to_numpy()).sum()),
    }


def pooled(totals: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(t[k] for t in totals) for k in totals[0]}


def rolling_row(label: str, origin: str, t: dict[str, float]) -> str:
    n = t["cells"]
    return (f"{label:<11}{origin:<12}{n:>8,.0f}{t['err model'] / n:>9.3f}{t['err oracle'] / n:>9.3f}"
            f"{t['err naive'] / n:>9.3f}{t['err model'] / t['err oracle']:>9.3f}"
            f"{t['err naive'] / t['err oracle']:>9.3f}{t['forecast'] / t['truth']:>8.3f}"
            f"{t['covered 80'] / n:>8.3f}{t['covered 95'] / n:>8.3f}")


def quality() -> None:
    world = build_world(WorldSpec.load("sandbox/worlds/demo.yaml"))
    handles = [s.handle for s in world.spec.shops]
    results: dict[str, dict[str, float]] = {}
    windows: dict[str, list[tuple[date, dict[str, float]]]] = {}
    started = time.perf_counter()
    for h in handles:
        shop = world.shop(h)
        frames = shop_frames(shop)
        windows[h] = []
        for k, as_of in enumerate(rolling_origins(frames.sales_daily)):
            scored, trained, elapsed = scored_window(shop, frames, as_of)
            if k == 0:  # the latest origin: the single-window table
                results[h] = holdout_scores(scored, trained, elapsed)
            windows[h].append((as_of, window_totals(scored)))
    took = time.perf_counter() - started
    print(f"\nDemand forecast vs the world's truth: online store, last {HOLDOUT} days held out (stockout days "
          "excluded)")
    print(f"{'metric':<32}" + "".join(f"{h:>12}" for h in handles))
    print("-" * (32 + 12 * len(handles)))
    for metric in results[handles[0]]:
        print(f"{metric:<32}" + "".join(f"{results[h][metric]:>12.3f}" for h in handles))
    print(f"{'MAE model / oracle':<32}" + "".join(
        f"{results[h]['MAE model'] / results[h]['MAE oracle']:>12.3f}" for h in handles))
    print(f"{'MAE seasonal-naive / oracle':<32}" + "".join(
        f"{results[h]['MAE seasonal-naive'] / results[h]['MAE oracle']:>12.3f}" for h in handles))

    print(f"\nRolling origins: up to {ROLLING_ORIGINS} origins {ROLLING_STEP} days apart (the latest is the table "
          f"above), each trained on the days up to it and scored on its own {HOLDOUT} days (online store, stockout "
          "days excluded); 'pooled' rows add up the cells of all origins (MAE ratios = Σ|error| ÷ the oracle's "
          "Σ|error|)")
    print(f"{'shop':<11}{'origin':<12}{'cells':>8}{'MAE mod':>9}{'oracle':>9}{'s-naive':>9}{'mod/orc':>9}"
          f"{'snv/orc':>9}{'bias':>8}{'cov 80':>8}{'cov 95':>8}")
    print("-" * 109)
    for h in handles:
        for as_of, t in windows[h]:
            print(rolling_row(h, str(as_of), t))
        print(rolling_row(h, "pooled", pooled([t for _, t in windows[h]])))
    print(rolling_row("all shops", "pooled", pooled([t for h in handles for _, t in windows[h]])))
    print(f"quality half: {took:.0f} s ({sum(len(w) for w in windows.values())} trainings)")


def write_scale_frames(folder: Path, n_products: int, orders_per_day: float) -> None:
    """Build the big shop and write its sales_daily and products as Parquet (run in a child process, so the
    world's own memory does not count in the model's peak RSS)."""
    spec = WorldSpec(seed=5, start_date=date(2024, 11, 1), days=730, shops=[ShopSpec(
        handle="bigshop", name="Big Shop", currency="USD", timezone="America/New_York",
        access_token="shpat_sandbox_big", orders_per_day=orders_per_day, wholesale_orders_per_week=3,
        n_products=n_products)])
    frames = shop_frames(build_world(spec).shop("bigshop"))
    frames.sales_daily.write_parquet(folder / "sales_daily.parquet")
    frames.products.write_parquet(folder / "products.parquet")


def scale(n_products: int, orders_per_day: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--write-scale-frames", str(folder), "--products",
                        str(n_products), "--orders-per-day", str(orders_per_day)], check=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
        built = time.perf_counter() - started
        sales = pl.read_parquet(folder / "sales_daily.parquet")
        products = pl.read_parquet(folder / "products.parquet")
    as_of = sales["date"].max()
    before = peak_rss_mb()
    started = time.perf_counter()
    trained = forecast.train(sales, products, as_of, horizon=HOLDOUT)
    trained_s = time.perf_counter() - started
    started = time.perf_counter()
    out = forecast.predict(trained, sales, products, as_of)
    scored_s = time.perf_counter() - started
    total = trained_s + scored_s
    m = trained.metrics
    print(f"\nDemand forecast at scale: one shop, {products.height:,} SKUs, {sales.height:,} sales_daily rows, "
          f"{HOLDOUT}-day horizon")
    print(f"{'metric':<40}{'value':>16}")
    print("-" * 56)
    rows = [("SKUs in the catalogue", f"{products.height:,}"),
            ("series forecast (SKU × channel)", f"{out.select('sku', 'channel').n_unique():,}"),
            ("forecast rows", f"{out.height:,}"),
            ("world build + frames (child process, s)", f"{built:.1f}"),
            ("train incl. backtest (s)", f"{trained_s:.1f}"),
            ("score 180 days (s)", f"{scored_s:.1f}"),
            ("train + score (s)", f"{total:.1f}"),
            ("budget (s)", f"{BUDGET_S:.0f}"),
            ("within budget", "yes" if total < BUDGET_S else "NO"),
            ("training rows of the global model", f"{trained.lightgbm.params['training_rows']:,}"),
            ("backtest MASE / baseline MASE", f"{m['mase']:.3f} / {m['baseline_mase']:.3f}"),
            ("backtest coverage 80 / 95", f"{m['coverage_80']:.3f} / {m['coverage_95']:.3f}"),
            ("peak RSS (MB)", f"{peak_rss_mb():,.0f}"),
            ("  of which before training (MB)", f"{before:,.0f}")]
    for name, value in rows:
        print(f"{name:<40}{value:>16}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--products", type=int, default=4100, help="products of the scale shop (~2.5 SKUs each)")
    parser.add_argument("--orders-per-day", type=float, default=2500)
    parser.add_argument("--write-scale-frames", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_scale_frames:
        write_scale_frames(args.write_scale_frames, args.products, args.orders_per_day)
        return
    if not args.skip_quality:
        quality()
    if not args.skip_scale:
        scale(args.products, args.orders_per_day)


if __name__ == "__main__":
    main()
