"""The simulated world: deterministic, internally consistent money, seasonality, stockouts, a movable clock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import polars as pl

from sandbox.truth import revenue_truth
from sandbox.world import build_world

SHOP = "testshop"


def test_same_seed_same_world_different_seed_different_world(small_world_spec, small_world):
    again = build_world(small_world_spec).shop(SHOP)
    shop = small_world.shop(SHOP)
    for name in ("products", "variants", "customers", "orders", "order_lines", "refunds", "refund_lines",
                 "inventory_daily", "truth_demand"):
        assert getattr(shop, name).equals(getattr(again, name)), name
    other = build_world(small_world_spec.model_copy(update={"seed": 8})).shop(SHOP)
    assert not other.orders.equals(shop.orders)


def test_order_money_adds_up_from_its_lines(small_world):
    shop = small_world.shop(SHOP)
    per_order = shop.order_lines.group_by("order_id").agg(
        (pl.col("quantity") * pl.col("unit_price_cents") - pl.col("discount_cents")).sum().alias("net"),
        pl.col("discount_cents").sum().alias("discount"), pl.col("tax_cents").sum().alias("tax"))
    joined = shop.orders.join(per_order, on="order_id")
    assert joined.height == shop.orders.height  # every order has lines
    assert (joined["subtotal_cents"] == joined["net"]).all()
    assert (joined["discount_cents"] == joined["discount"]).all()
    assert (joined["tax_cents"] == joined["tax"]).all()
    assert (joined["total_cents"] == joined["subtotal_cents"] + joined["shipping_cents"] + joined["tax_cents"]).all()


def test_refunds_never_exceed_what_was_bought(small_world):
    shop = small_world.shop(SHOP)
    refunded = shop.refund_lines.join(shop.order_lines, on="line_id", suffix="_line")
    assert refunded.height == shop.refund_lines.height > 0
    assert (refunded["quantity"] <= refunded["quantity_line"]).all()
    line_net = refunded["quantity_line"] * refunded["unit_price_cents"] - refunded["discount_cents"]
    assert (refunded["subtotal_cents"] <= line_net).all()
    assert (shop.refunds.join(shop.orders, on="order_id")["created_at"]
            > shop.refunds.join(shop.orders, on="order_id")["created_at_right"]).all()


def test_demand_is_seasonal_and_stock_runs_out(small_world):
    shop = small_world.shop(SHOP)
    online = shop.channel("online_store").with_columns(weekday=pl.col("created_at").dt.weekday())
    per_weekday = online.group_by("weekday").len().sort("weekday")["len"].to_list()
    assert min(per_weekday[5:]) > max(per_weekday[:3])  # Saturday and Sunday beat Monday to Wednesday
    assert shop.inventory_daily["stockout"].any()
    assert (shop.inventory_daily["on_hand"] >= 0).all()
    assert shop.truth_demand["expected_units"].min() > 0


def test_visible_hides_the_future(small_world):
    shop = small_world.shop(SHOP)
    as_of = small_world.spec.start + timedelta(days=60)
    seen = shop.visible(as_of)
    assert 0 < seen.orders.height < shop.orders.height
    assert seen.orders["created_at"].max() <= as_of and seen.orders["updated_at"].max() <= as_of
    assert seen.refunds["created_at"].max() <= as_of
    assert set(seen.order_lines["order_id"].to_list()) == set(seen.orders["order_id"].to_list())


def test_truth_matches_an_independent_recomputation(small_world):
    shop = small_world.shop(SHOP)
    truth = revenue_truth(shop)
    gross = sum(Decimal(q * p) for q, p in zip(shop.order_lines["quantity"], shop.order_lines["unit_price_cents"],
                                                  strict=True)) / 100
    discounts = Decimal(int(shop.order_lines["discount_cents"].sum())) / 100
    refunds = Decimal(int(shop.refund_lines["subtotal_cents"].sum())) / 100
    assert truth["orders"] == shop.orders.height
    assert (truth["gross"], truth["discounts"], truth["refunds"]) == (gross, discounts, refunds)
    assert truth["net"] == gross - discounts - refunds
    by_channel = [revenue_truth(shop, channel=c)["net"] for c in ("online_store", "wholesale")]
    assert sum(by_channel) == truth["net"]


def test_a_shop_without_wholesale_builds(small_world_spec):
    shop = small_world_spec.shops[0].model_copy(update={"wholesale_orders_per_week": 0})
    world = build_world(small_world_spec.model_copy(update={"shops": [shop]})).shop(SHOP)
    assert world.channel("wholesale").height == 0 and world.orders.height > 0
    assert world.order_lines.schema["sku"] == pl.String
