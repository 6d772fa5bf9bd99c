"""Dynamic pricing against the sandbox's truth: promotions are the only price variation, each with a known
demand uplift, so the elasticity they imply is ln(uplift) / ln(1 − discount) (sandbox/world/calendar.py)."""

from __future__ import annotations

import math
from datetime import date, timedelta

import cloudpickle
import numpy as np
import polars as pl
import pytest

from models_ml import pricing
from models_ml.pricing.optimise import recommend_price
from sandbox.ml_frames import shop_frames
from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.calendar import promotions

START, DAYS = date(2024, 11, 1), 730


def implied_elasticity(first: date, last: date) -> tuple[float, list[float]]:
    """The one elasticity that best explains every promotion day in [first, last] (least squares through
    the origin of ln uplift on ln(1 − discount)), and each promotion's own."""
    x, y, each = [], [], []
    for promo in promotions(first, last):
        days = [promo.start + timedelta(days=i) for i in range(promo.days)]
        n = sum(first <= d <= last for d in days)
        if n:
            log_price, log_uplift = math.log(1 - promo.discount_bp / 10_000), math.log(promo.uplift)
            x += [log_price] * n
            y += [log_uplift] * n
            each.append(log_uplift / log_price)
    x, y = np.array(x), np.array(y)
    return float(x @ y / (x @ x)), each


@pytest.fixture(scope="module")
def frames():
    spec = WorldSpec(seed=5, start_date=START, days=DAYS, shops=[
        ShopSpec(handle="pricer", name="Pricer", currency="USD", timezone="America/New_York",
                 access_token="shpat_sandbox_pricer", orders_per_day=20, wholesale_orders_per_week=0,
                 n_products=25, categories=["Outdoor", "Apparel", "Accessories"])])
    return shop_frames(build_world(spec).shop("pricer"))


@pytest.fixture(scope="module")
def trained(frames):
    return pricing.train(frames.sales_daily, frames.products, frames.as_of)


@pytest.fixture(scope="module")
def table(trained, frames):
    return pricing.predict(trained, frames.sales_daily, frames.products, frames.as_of)


def test_the_estimated_elasticity_is_the_promotions_implied_one(trained, frames):
    truth, each = implied_elasticity(frames.sales_daily["date"].min(), frames.as_of)
    assert -2.9 < truth < -2.5 and len(each) == 6  # BFCM25 ≈ −2.9, SUMMER15 and SPRING10 ≈ −2.5, twice each
    m = trained.metrics
    assert abs(m["elasticity_channel"] - truth) < 0.4, (m["elasticity_channel"], truth)
    assert m["elasticity_channel_low"] < truth < m["elasticity_channel_high"]
    assert m["elasticity_channel_high"] < -1.5  # identified, and elastic
    # SKUs are pooled towards their category and the channel: their median sits at the truth too
    assert abs(m["elasticity_sku_median"] - truth) < 0.4
    assert m["n_skus_own_estimate"] > 0.8 * m["n_skus"]


def test_the_price_term_beats_the_no_price_baseline_on_the_holdout(trained):
    m = trained.metrics
    assert m["holdout_discounted_days"] >= 10  # the holdout year holds BFCM, spring and summer sales
    assert m["poisson_deviance"] < m["baseline_poisson_deviance"]
    assert m["discounted_days_mae"] < 0.9 * m["baseline_discounted_days_mae"]


def test_recommendations_stay_inside_the_guardrails(table, frames):
    assert table.columns == list(pricing.model.OUTPUT_SCHEMA)
    assert table.height == frames.products.height and table["sku"].is_unique().all()
    priced = table.filter(pl.col("expected_units_30d_current") > 0)
    assert priced.height > 0.9 * table.height
    change = priced["recommended_price"] / priced["current_price"] - 1
    assert (change.abs() <= 0.10 + 1e-9).all()
    reachable = priced.filter(~pl.col("guardrail").fill_null("").str.contains("min_margin,max_increase"))
    assert reachable.height == priced.height  # every cost here is ≤ 60 % of the price: the floor is reachable
    margin_ok = reachable["recommended_price"] - reachable["unit_cost"] >= 0.30 * reachable["recommended_price"] - 0.01
    assert margin_ok.all()
    for column in ("current_price", "recommended_price", "expected_margin_30d_current",
                   "expected_margin_30d_recommended", "margin_impact_30d", "unit_cost"):
        assert ((priced[column] * 100 - (priced[column] * 100).round()).abs() < 1e-6).all(), column
    # the expected numbers follow the constant-elasticity demand curve and the margin definition
    ratio = (priced["recommended_price"] / priced["current_price"]) ** priced["elasticity"]
    assert np.allclose(priced["expected_units_30d_recommended"], priced["expected_units_30d_current"] * ratio,
                       rtol=1e-3, atol=2e-3)
    impact = priced["expected_margin_30d_recommended"] - priced["expected_margin_30d_current"]
    assert np.allclose(priced["margin_impact_30d"], impact, atol=0.011)
    assert (priced["margin_impact_30d"] >= -0.01).all()  # the optimum never loses margin against staying put
    # where no guardrail binds, the price is the interior optimum cost · β / (1 + β)
    free = priced.filter(pl.col("guardrail").is_null())
    optimum = free["unit_cost"] * free["elasticity"] / (1 + free["elasticity"])
    assert free.height > 0 and np.allclose(free["recommended_price"], optimum, atol=0.011)
    assert (priced["elasticity_low"] < priced["elasticity"]).all()
    assert (priced["elasticity"] < priced["elasticity_high"]).all()


def test_thirty_day_units_follow_the_recent_demand_level(table, frames):
    recent = frames.sales_daily.filter((pl.col("channel") == "online_store")
                                       & (pl.col("date") > frames.as_of - timedelta(days=30)))["units"].sum()
    expected = table["expected_units_30d_current"].sum()
    assert 0.6 < expected / recent < 1.6, (expected, recent)  # November ahead vs October behind, at list price


def test_a_price_that_moves_nothing_is_flagged_and_moves_only_the_bounded_step():
    rng = np.random.default_rng(3)
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(420)]
    discount = np.where(rng.uniform(size=len(days)) < 0.1, 0.2, 0.0)  # sales that sell nothing extra
    units = rng.poisson(6.0, len(days))
    sales = pl.DataFrame({"sku": "X-1", "channel": "online_store", "date": days, "units": units,
                          "gross_amount": units * 20.0, "discount_amount": units * 20.0 * discount,
                          "net_amount": units * 20.0 * (1 - discount)}).filter(pl.col("units") > 0)
    products = pl.DataFrame({"sku": ["X-1"], "category": ["Things"], "title": ["X"], "list_price": [20.0],
                             "unit_cost": [8.0], "first_sold_on": [days[0]]})
    trained = pricing.train(sales, products, days[-1])
    row = pricing.predict(trained, sales, products, days[-1]).row(0, named=True)
    assert row["elasticity_low"] < 0 < row["elasticity_high"] or row["elasticity"] > -1
    assert "max_increase" in row["guardrail"]
    assert "elasticity_not_identified" in row["guardrail"] or "no_interior_optimum" in row["guardrail"]
    assert row["recommended_price"] == 22.0


def test_the_optimiser_takes_each_guardrail():
    elastic = recommend_price(100.0, 40.0, -3.0, -2.0)  # optimum 60: capped at −10 %
    assert (elastic.price, elastic.guardrail) == (90.0, "max_decrease")
    interior = recommend_price(100.0, 66.0, -3.0, -2.0)  # optimum 99 is inside
    assert (interior.price, interior.guardrail) == (99.0, None)
    thin = recommend_price(100.0, 75.0, -3.0, -2.0)  # optimum 112.5 > +10 %
    assert (thin.price, thin.guardrail) == (110.0, "max_increase")
    floor = recommend_price(100.0, 65.0, -8.0, -6.0)  # optimum 74.3 < margin floor 92.86
    assert (floor.price, floor.guardrail) == (92.86, "min_margin")
    ending = recommend_price(100.0, 66.0, -3.0, -2.0, price_ending=0.99)
    assert ending.price in (98.99, 99.99) and ending.guardrail is None
    unknown = recommend_price(100.0, 40.0, -0.4, 0.5)  # no interior optimum, interval crosses 0
    assert unknown.price == 110.0
    assert unknown.guardrail == "elasticity_not_identified,no_interior_optimum,max_increase"


def test_price_endings_when_asked(trained, frames):
    params = {**trained.params, "price_ending": 0.99}
    table = pricing.predict(pricing.TrainedPricing(trained.model, trained.as_of, params, trained.metrics),
                            frames.sales_daily, frames.products, frames.as_of)
    moved = table.filter(pl.col("expected_units_30d_current") > 0)
    cents = (moved["recommended_price"] * 100).round().cast(pl.Int64) % 100
    assert (cents == 99).mean() > 0.9


def test_training_is_deterministic_and_the_model_pickles(frames, table, trained):
    again = pricing.train(frames.sales_daily, frames.products, frames.as_of)
    assert pricing.predict(again, frames.sales_daily, frames.products, frames.as_of).equals(table)
    restored = cloudpickle.loads(cloudpickle.dumps(trained))
    assert pricing.predict(restored, frames.sales_daily, frames.products, frames.as_of).equals(table)
