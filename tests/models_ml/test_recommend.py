"""Cross-sell against the sandbox: each customer prefers a category (sandbox/world/orders.py), so their next
basket is predictable beyond popularity; what they just bought is never recommended."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import cloudpickle
import polars as pl
import pytest

from models_ml import recommend
from sandbox.ml_frames import shop_frames
from sandbox.world import ShopSpec, WorldSpec, build_world

TOP_N = 10


@pytest.fixture(scope="module")
def frames():
    spec = WorldSpec(seed=9, start_date=date(2025, 1, 1), days=400, shops=[
        ShopSpec(handle="recshop", name="Rec Shop", currency="EUR", timezone="Europe/Berlin",
                 access_token="shpat_sandbox_recshop", orders_per_day=20, wholesale_orders_per_week=1,
                 n_products=30, categories=["Tea", "Teaware", "Wellness", "Kitchen"])])
    return shop_frames(build_world(spec).shop("recshop"))


@pytest.fixture(scope="module")
def trained(frames):
    return recommend.train(frames.order_lines, frames.products, frames.as_of, top_n=TOP_N)


@pytest.fixture(scope="module")
def table(trained, frames):
    return recommend.predict(trained, frames.order_lines, frames.products, frames.as_of)


def test_the_model_beats_popularity_on_the_hidden_next_orders(trained):
    m = trained.metrics
    assert m["n_eval_customers"] > 200
    assert m["hit_rate"] > m["baseline_hit_rate"] + 0.04, m
    assert m["recall"] > m["baseline_recall"] and m["ndcg"] > m["baseline_ndcg"]
    assert 0 < m["baseline_hit_rate"] < m["hit_rate"] < 1
    assert m["category_smoothing"] <= 5  # fitted on the training lines: the past category mix predicts the next


def test_without_tastes_to_learn_it_falls_back_to_popularity(frames):
    # the same lines with the SKUs shuffled among each day's lines: popularity and season stay, tastes go
    shuffled = frames.order_lines.with_columns(pl.col("sku").shuffle(seed=1).over("order_date"))
    m = recommend.train(shuffled, frames.products, frames.as_of, top_n=TOP_N).metrics
    assert m["category_smoothing"] >= 50  # the history predicts no category: the lift stays near 1
    assert abs(m["hit_rate"] - m["baseline_hit_rate"]) < 0.02, m


def test_every_online_customer_gets_n_ranked_products(table, frames):
    assert table.columns == ["customer_key", "rank", "sku", "score", "reason"]
    online = frames.order_lines.filter(pl.col("channel") == "online_store")["customer_key"].unique()
    assert set(table["customer_key"].unique()) == set(online)  # wholesale accounts are not marketed to
    per_customer = table.group_by("customer_key").agg(n=pl.len(), ranks=pl.col("rank").sort(),
                                                      skus=pl.col("sku").n_unique())
    assert (per_customer["n"] == TOP_N).all() and (per_customer["skus"] == TOP_N).all()
    assert per_customer["ranks"].to_list()[0] == list(range(1, TOP_N + 1))
    ordered = table.sort("customer_key", "rank").group_by("customer_key", maintain_order=True).agg(
        monotone=(pl.col("score").diff().fill_null(0) <= 1e-12).all())
    assert ordered["monotone"].all()
    assert set(table["reason"].unique()) <= {"co_purchase", "similar_items", "popular"}
    assert set(table["sku"]) <= set(frames.products["sku"])


def test_what_the_customer_just_bought_is_never_recommended(table, frames):
    lines = frames.order_lines.filter(pl.col("channel") == "online_store")
    last = (lines.sort("ordered_at", "order_key")
            .with_columns(last=pl.col("order_key").last().over("customer_key"))
            .filter(pl.col("order_key") == pl.col("last")).select("customer_key", "sku"))
    assert last.height > 1000
    assert table.join(last, on=["customer_key", "sku"]).height == 0


def test_a_recent_window_can_be_excluded_too(trained, frames):
    params = {**trained.params, "exclude_days": 60}
    model = recommend.TrainedRecommender(**{**trained.__dict__, "params": params})
    table = recommend.predict(model, frames.order_lines, frames.products, frames.as_of)
    recent = (frames.order_lines.filter((pl.col("channel") == "online_store")
                                        & (pl.col("order_date") > frames.as_of - timedelta(days=60)))
              .select("customer_key", "sku").unique())
    assert recent.height > 500
    assert table.join(recent, on=["customer_key", "sku"]).height == 0


def test_customers_the_history_says_nothing_about_get_the_popular_items(trained, frames):
    stranger = pl.DataFrame({
        "order_line_key": ["x1"], "order_key": ["o1"], "customer_key": ["stranger"], "channel": ["online_store"],
        "sku": ["NOT-IN-CATALOGUE"], "category": [None], "ordered_at": [datetime(2026, 1, 1, tzinfo=UTC)],
        "order_date": [frames.as_of], "quantity": [1], "unit_price": [9.0], "gross_amount": [9.0],
        "discount_amount": [0.0], "net_line_amount": [9.0], "unit_cost": [None], "refunded_quantity": [0],
        "first_refund_date": [None], "customer_order_number": [1], "is_cancelled": [False],
    }).cast(frames.order_lines.schema)
    table = recommend.predict(trained, pl.concat([frames.order_lines, stranger]), frames.products, frames.as_of)
    mine = table.filter(pl.col("customer_key") == "stranger").sort("rank")
    assert mine.height == TOP_N and (mine["reason"] == "popular").all()
    popular = trained.popularity.argsort()[::-1]
    top = [trained.items[i] for i in popular if trained.candidate[i]][:TOP_N]
    assert mine["sku"].to_list() == top


def test_cancelled_lines_do_not_count(frames, trained):
    cancelled = frames.order_lines.with_columns(is_cancelled=pl.lit(True))
    model = recommend.train(pl.concat([frames.order_lines, cancelled.with_columns(
        order_line_key=pl.col("order_line_key") + "c", order_key=pl.col("order_key") + "c")]),
        frames.products, frames.as_of, top_n=TOP_N)
    assert (model.co_purchase == trained.co_purchase).all()
    assert model.metrics == trained.metrics


def test_training_is_deterministic_and_the_model_pickles(frames, table, trained):
    again = recommend.train(frames.order_lines, frames.products, frames.as_of, top_n=TOP_N)
    assert recommend.predict(again, frames.order_lines, frames.products, frames.as_of).equals(table)
    restored = cloudpickle.loads(cloudpickle.dumps(trained))
    assert recommend.predict(restored, frames.order_lines, frames.products, frames.as_of).equals(table)
