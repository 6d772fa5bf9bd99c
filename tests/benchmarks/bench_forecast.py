"""The demand forecast judged against the sandbox's ground truth, and at scale, printed as tables.

(a) quality: every shop of the demo world (sandbox/worlds/demo.yaml), online store, the last 180 days held out
    and the model trained on the days before; scored on the days that were not stockouts against the units
    sold, beside the oracle (the world's true expected units) and seasonal-naive (the last observed week
    repeated). MASE divides by each SKU's in-sample seasonal-naive MAE (training days): pooled (Σ errors ÷
    Σ scale × days, the model's metric) and as the plain mean of the SKUs' MASEs.
    Coverage is the mid-quantile coverage of integer counts (intervals.covered_fraction); "strict" counts
    lower ≤ units ≤ upper.
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

from models_ml.forecast import model as forecast
from models_ml.forecast.baselines import mase_scale, seasonal_naive
from models_ml.forecast.intervals import covered_fraction, strict_coverage
from models_ml.forecast.panel import build_panel
from sandbox.ml_frames import shop_frames
from sandbox.world import ShopSpec, WorldSpec, build_world

REPO = Path(__file__).resolve().parents[2]
HOLDOUT = 180
BUDGET_S = 120.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def truth_frame(shop, after: date) -> pl.DataFrame:
    """(sku, date, expected_units) of the online store on the days after ``after`` that were not stockouts."""
    return (shop.truth_demand.join(shop.variants.select("variant_id", "sku"), on="variant_id")
            .join(shop.inventory_daily.select("variant_id", "date", "stockout"), on=["variant_id", "date"])
            .filter((pl.col("date") > after) & ~pl.col("stockout"))
            .select("sku", "date", "expected_units"))


def holdout_scores(shop) -> dict[str, float]:
    frames = shop_frames(shop)
    end = frames.sales_daily["date"].max()
    as_of = end - timedelta(days=HOLDOUT)
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
              .join(truth_frame(shop, as_of), on=["sku", "date"])
              .join(sold, on=["sku", "date"], how="left").with_columns(pl.col("units").fill_null(0.0))
              .join(extra, on=["sku", "horizon_day"]))
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


def quality() -> None:
    world = build_world(WorldSpec.load("sandbox/worlds/demo.yaml"))
    handles = [s.handle for s in world.spec.shops]
    results = {h: holdout_scores(world.shop(h)) for h in handles}
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
