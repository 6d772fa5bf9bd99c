"""The demand forecast against a small sandbox world whose true expected demand is known.

One shop, 520 days, 15 products (~40 SKUs) selling a few units a day; the last 60 days are held out. The
forecast must be close to the oracle (the world's expected units), beat seasonal-naive, keep its intervals
near nominal coverage, and be deterministic.
"""

from __future__ import annotations

import pickle
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from models_ml.forecast import model as forecast
from models_ml.forecast.baselines import seasonal_naive
from models_ml.forecast.intervals import covered_fraction, interval_bounds
from models_ml.forecast.panel import build_panel, infer_stockouts
from sandbox.ml_frames import shop_frames
from sandbox.world import ShopSpec, WorldSpec, build_world

HOLDOUT = 60
SPEC = WorldSpec(seed=31, start_date=date(2024, 11, 1), days=520, shops=[ShopSpec(
    handle="fcshop", name="Forecast Shop", currency="USD", timezone="America/New_York",
    access_token="shpat_sandbox_fc", orders_per_day=60, wholesale_orders_per_week=2, n_products=15)])
PARAMS = {"max_rows": 150_000, "num_rounds": 200, "prophet_max_series": 2, "backtest_origins": 2}


@pytest.fixture(scope="module")
def world():
    shop = build_world(SPEC).shop("fcshop")
    frames = shop_frames(shop)
    as_of = frames.sales_daily["date"].max() - timedelta(days=HOLDOUT)
    trained = forecast.train(frames.sales_daily, frames.products, as_of, horizon=HOLDOUT, **PARAMS)
    out = forecast.predict(trained, frames.sales_daily, frames.products, as_of)
    return shop, frames, as_of, trained, out


def _scored(shop, frames, as_of, out) -> pl.DataFrame:
    """Online-store forecasts on the held-out days that were not stockouts, with the truth, the units sold and
    the seasonal-naive forecast."""
    panel = build_panel(frames.sales_daily, as_of)
    naive = seasonal_naive(panel, panel.days - 1, HOLDOUT)
    baseline = pl.DataFrame({"sku": np.repeat(panel.sku, HOLDOUT).astype(str),
                             "channel": np.repeat(panel.channel, HOLDOUT).astype(str),
                             "horizon_day": np.tile(np.arange(1, HOLDOUT + 1), panel.n_series),
                             "naive": naive.ravel()})
    truth = (shop.truth_demand.join(shop.variants.select("variant_id", "sku"), on="variant_id")
             .join(shop.inventory_daily.select("variant_id", "date", "stockout"), on=["variant_id", "date"])
             .filter(~pl.col("stockout")))
    sold = frames.sales_daily.filter(pl.col("channel") == "online_store").select("sku", "date", "units")
    return (out.filter(pl.col("channel") == "online_store")
            .join(truth, on=["sku", "date"])
            .join(sold, on=["sku", "date"], how="left")
            .with_columns(pl.col("units").fill_null(0).cast(pl.Float64))
            .join(baseline, on=["sku", "channel", "horizon_day"]))


def test_output_schema_horizon_and_values(world):
    _, frames, as_of, trained, out = world
    assert out.schema == pl.Schema(forecast.SCHEMA)
    series = frames.sales_daily.filter(pl.col("date") <= as_of).select("sku", "channel").unique()
    assert out.select("sku", "channel").unique().height == series.height
    assert out.height == series.height * HOLDOUT
    assert out["horizon_day"].min() == 1 and out["horizon_day"].max() == HOLDOUT
    assert out["date"].min() == as_of + timedelta(days=1)
    assert out["date"].max() == as_of + timedelta(days=HOLDOUT)
    assert out.select((pl.col("date") - pl.lit(as_of)).dt.total_days() == pl.col("horizon_day"))[:, 0].all()
    for column in ("units_mean", "lower_80", "upper_80", "lower_95", "upper_95"):
        assert out[column].min() >= 0 and out[column].is_finite().all()
    assert (out["lower_95"] <= out["lower_80"] + 1e-9).all() and (out["upper_80"] <= out["upper_95"] + 1e-9).all()
    assert set(out["model"].unique()) <= {"lightgbm", "prophet", "ensemble"}
    assert trained.metrics["backtest_horizon_days"] >= 28 and trained.metrics["backtest_origins"] == 2
    for name in ("mase", "baseline_mase", "mae", "baseline_mae", "coverage_80", "coverage_95"):
        assert np.isfinite(trained.metrics[name])


def test_close_to_the_oracle_and_better_than_seasonal_naive(world):
    shop, frames, as_of, _, out = world
    scored = _scored(shop, frames, as_of, out)
    assert scored.height > 1500
    y = scored["units"].to_numpy()
    mae = np.abs(scored["units_mean"].to_numpy() - y).mean()
    oracle = np.abs(scored["expected_units"].to_numpy() - y).mean()
    naive = np.abs(scored["naive"].to_numpy() - y).mean()
    assert mae <= 1.15 * oracle, (mae, oracle)
    assert mae < naive, (mae, naive)
    total = scored["units_mean"].sum() / scored["expected_units"].sum()
    assert 0.85 < total < 1.15


def test_backtest_beats_seasonal_naive(world):
    _, _, _, trained, _ = world
    metrics = trained.metrics
    assert metrics["mase"] < 1.0 and metrics["mase"] < metrics["baseline_mase"]
    assert metrics["mae"] < metrics["baseline_mae"]


def test_intervals_cover_near_nominal(world):
    shop, frames, as_of, trained, out = world
    scored = _scored(shop, frames, as_of, out)
    y = scored["units"].to_numpy()
    for level in (80, 95):
        covered = covered_fraction(y, scored[f"lower_{level}"].to_numpy(), scored[f"upper_{level}"].to_numpy())
        assert abs(covered.mean() - level / 100) < 0.07, (level, covered.mean())
        assert abs(trained.metrics[f"coverage_{level}"] - level / 100) < 0.07


def test_deterministic_and_picklable(world):
    _, frames, as_of, trained, out = world
    again = forecast.train(frames.sales_daily, frames.products, as_of, horizon=HOLDOUT, **PARAMS)
    assert again.metrics == trained.metrics
    assert forecast.predict(again, frames.sales_daily, frames.products, as_of).equals(out)
    restored = pickle.loads(pickle.dumps(trained))
    assert forecast.predict(restored, frames.sales_daily, frames.products, as_of).equals(out)


def test_negative_binomial_mid_quantiles_hit_nominal_coverage():
    rng = np.random.default_rng(3)
    phi, alpha = 1.6, 0.1
    for mean in (0.2, 1.5, 12.0):
        size = mean / ((phi - 1) + alpha * mean)
        y = rng.negative_binomial(size, size / (size + mean), 200_000).astype(np.float64)
        bounds = interval_bounds(np.full(len(y), mean), phi, alpha)
        for level in (80, 95):
            share = covered_fraction(y, bounds[f"lower_{level}"], bounds[f"upper_{level}"]).mean()
            assert abs(share - level / 100) < 0.01, (mean, level, share)


def test_long_silence_of_a_selling_series_is_a_stockout():
    rng = np.random.default_rng(0)
    units = rng.poisson(3.0, (2, 200)).astype(np.float64)
    units[0, 80:110] = 0  # a month without a sale at three a day: out of stock
    units[1, :] = rng.poisson(0.05, 200)  # a slow seller's silences are ordinary
    censored = infer_stockouts(units, np.ones_like(units, dtype=bool))
    assert censored[0, 80:110].all()
    assert censored[0, :80].sum() + censored[0, 110:].sum() == 0
    assert not censored[1].any()
