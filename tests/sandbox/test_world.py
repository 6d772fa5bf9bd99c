"""The simulated world: deterministic, contract-shaped, money exact to the cent, and realistic where later
features rely on it (seasonality, stockouts, churn, returns, wholesale)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from sandbox.world import ShopSpec, WorldSpec, build_world
from sandbox.world.customers import CHANNEL_NAMES

SHOP = "teashop"
FRAMES = ("products", "variants", "customers", "orders", "order_lines", "refunds", "refund_lines",
          "inventory_daily", "truth_demand", "truth_customers")
CONTRACT = {
    "products": ["product_id", "title", "product_type", "vendor", "status", "created_at", "updated_at"],
    "variants": ["variant_id", "product_id", "sku", "title", "price_cents", "unit_cost_cents", "updated_at"],
    "customers": ["customer_id", "email", "first_name", "last_name", "country_code", "created_at", "updated_at",
                  "acquisition_channel"],
    "orders": ["order_id", "name", "channel", "customer_id", "created_at", "updated_at", "presentment_currency",
               "fx_rate", "subtotal_cents", "discount_cents", "shipping_cents", "tax_cents", "total_cents",
               "refunded_cents"],
    "order_lines": ["line_id", "order_id", "variant_id", "product_id", "sku", "quantity", "unit_price_cents",
                    "discount_cents", "tax_cents"],
    "refunds": ["refund_id", "order_id", "created_at"],
    "refund_lines": ["refund_line_id", "refund_id", "line_id", "quantity", "subtotal_cents", "tax_cents"],
    "inventory_daily": ["date", "variant_id", "on_hand", "stockout"],
    "truth_demand": ["date", "variant_id", "expected_units"],
    "truth_customers": ["customer_id", "churned_at", "active_at_end"],
}
DEMO = Path(__file__).resolve().parents[2] / "sandbox" / "worlds" / "demo.yaml"


def cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def online(shop) -> pl.DataFrame:
    return shop.channel("online_store")


# -- determinism -------------------------------------------------------------------------------------------

def test_same_spec_gives_the_same_frames_byte_for_byte(spec, world):
    again = build_world(spec)
    for handle in world.handles:
        for name in FRAMES:
            ours, theirs = getattr(world.shop(handle), name), getattr(again.shop(handle), name)
            assert ours.write_ipc(None).getvalue() == theirs.write_ipc(None).getvalue(), (handle, name)


def test_another_seed_gives_another_world(spec, shop):
    other = build_world(spec.model_copy(update={"seed": spec.seed + 1})).shop(SHOP)
    assert not other.orders.equals(shop.orders)
    assert not other.variants.equals(shop.variants)


def test_shops_draw_from_their_own_streams(spec, shop):
    alone = build_world(spec.model_copy(update={"shops": [spec.shop(SHOP)]})).shop(SHOP)
    for name in FRAMES:
        assert getattr(alone, name).equals(getattr(shop, name)), name


# -- shape ---------------------------------------------------------------------------------------------------

def test_frames_follow_the_contract(world):
    for handle in world.handles:
        shop = world.shop(handle)
        for name, columns in CONTRACT.items():
            frame = getattr(shop, name)
            assert set(columns) <= set(frame.columns), (name, set(columns) - set(frame.columns))
            for column, dtype in frame.schema.items():
                if column.endswith("_cents") or column.endswith("_id") or column in ("quantity", "on_hand"):
                    assert dtype == pl.Int64, (name, column, dtype)
                if column.endswith("_at"):
                    assert dtype == pl.Datetime("us", "UTC"), (name, column, dtype)
        for name, key in (("products", "product_id"), ("variants", "variant_id"), ("customers", "customer_id"),
                          ("orders", "order_id"), ("order_lines", "line_id"), ("refunds", "refund_id"),
                          ("refund_lines", "refund_line_id")):
            ids = getattr(shop, name)[key]
            assert ids.is_unique().all() and ids.min() > 0, (name, key)
        assert shop.orders["fx_rate"].dtype == pl.Decimal(12, 6)


def test_the_demo_world_is_the_documented_one_and_builds_fast():
    spec = WorldSpec.load(DEMO)
    assert (spec.seed, spec.start_date.isoformat(), spec.days) == (20261124, "2024-11-01", 730)
    assert [(s.handle, s.currency, s.timezone, s.orders_per_day, s.wholesale_orders_per_week, s.n_products,
             s.presentment_currencies) for s in spec.shops] == [
        ("northwind", "USD", "America/New_York", 25, 3, 60, ["CAD", "EUR"]),
        ("alpine", "EUR", "Europe/Berlin", 12, 2, 40, ["CHF", "GBP"]),
        ("kumo", "GBP", "Europe/London", 6, 1, 25, ["EUR"]),
    ]
    started = time.perf_counter()
    world = build_world(spec)
    assert time.perf_counter() - started < 10
    assert [s.access_token for s in spec.shops] == [f"shpat_sandbox_{h}" for h in world.handles]


@pytest.mark.parametrize("change, message", [
    ({"handle": "tea__shop"}, "must not contain '__'"),
    ({"currency": "XYZ"}, "unsupported currency"),
    ({"presentment_currencies": ["EUR"]}, "differ from the shop currency"),
    ({"categories": ["Spaceships"]}, "categories must be"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
])
def test_a_wrong_shop_spec_is_refused_with_a_reason(spec, change, message):
    fields = spec.shop(SHOP).model_dump() | change
    with pytest.raises(ValidationError, match=message):
        ShopSpec(**fields)


def test_shop_handles_are_unique(spec):
    with pytest.raises(ValidationError, match="unique"):
        WorldSpec(seed=1, shops=[spec.shop(SHOP), spec.shop(SHOP)])


# -- money ---------------------------------------------------------------------------------------------------

def test_orders_add_up_from_their_lines(world):
    for handle in world.handles:
        shop = world.shop(handle)
        lines = shop.order_lines.group_by("order_id").agg(
            pl.len().alias("n_lines"),
            (pl.col("quantity") * pl.col("unit_price_cents") - pl.col("discount_cents")).sum().alias("net"),
            pl.col("discount_cents").sum().alias("discount"), pl.col("tax_cents").sum().alias("tax"))
        joined = shop.orders.join(lines, on="order_id", how="left")
        assert joined["n_lines"].null_count() == 0 and joined["n_lines"].max() <= 8
        assert (joined["subtotal_cents"] == joined["net"]).all()
        assert (joined["discount_cents"] == joined["discount"]).all()
        assert (joined["tax_cents"] == joined["tax"]).all()
        assert (joined["total_cents"] == joined["subtotal_cents"] + joined["shipping_cents"]
                + joined["tax_cents"]).all()
        for order in shop.orders.sample(200, seed=1).iter_rows(named=True):
            assert order["total_presentment_cents"] == cents(order["total_cents"] * order["fx_rate"])


def test_discounts_tax_and_shipping_follow_the_shops_rules(shop):
    rates = {"BFCM25": Decimal("0.25"), "SUMMER15": Decimal("0.15"), "SPRING10": Decimal("0.10"),
             "WELCOME10": Decimal("0.10"), None: Decimal(0)}
    orders = online(shop)
    assert set(orders["discount_code"].unique().to_list()) <= set(rates)
    lines = shop.order_lines.join(orders.select("order_id", "discount_code", "subtotal_cents", "shipping_cents"),
                                  on="order_id")
    for line in lines.iter_rows(named=True):
        gross = line["quantity"] * line["unit_price_cents"]
        assert line["discount_cents"] == cents(gross * rates[line["discount_code"]])  # half away from zero
        assert line["tax_cents"] == cents((gross - line["discount_cents"]) * Decimal("0.19"))  # EUR shop: 19 %
    assert ((orders["subtotal_cents"] < 6000) == (orders["shipping_cents"] == 495)).all()
    assert orders.filter(pl.col("subtotal_cents") >= 6000)["shipping_cents"].max() == 0
    foreign = orders.filter(pl.col("presentment_currency") != "EUR")
    assert 0.05 < foreign.height / orders.height < 0.3
    assert set(foreign["presentment_currency"].unique().to_list()) == {"CHF", "GBP"}
    # one fixed rate per currency and local day
    per_day = foreign.with_columns(day=pl.col("created_at").dt.convert_time_zone("Europe/Berlin").dt.date())
    assert (per_day.group_by("presentment_currency", "day").agg(pl.col("fx_rate").n_unique())["fx_rate"] == 1).all()


def test_refunds_never_exceed_what_was_bought(world):
    for handle in world.handles:
        shop = world.shop(handle)
        per_line = shop.refund_lines.group_by("line_id").agg(
            pl.col("quantity").sum().alias("returned"), pl.col("subtotal_cents").sum().alias("refunded"),
            pl.col("tax_cents").sum().alias("tax_back"))
        lines = per_line.join(shop.order_lines, on="line_id")
        assert lines.height == per_line.height
        assert (lines["returned"] <= lines["quantity"]).all()
        assert (lines["refunded"] <= lines["quantity"] * lines["unit_price_cents"] - lines["discount_cents"]).all()
        assert (lines["tax_back"] <= lines["tax_cents"]).all()
        timing = shop.refunds.join(shop.orders, on="order_id", suffix="_order")
        delay = timing["created_at"] - timing["created_at_order"]
        assert delay.min() >= timedelta(days=3) - timedelta(hours=1) and delay.max() <= timedelta(days=61)
        assert (timing["channel"] == "online_store").all()  # wholesale has no returns
        assert timing["created_at"].max() < shop.as_of
        refunded = (shop.refund_lines.join(shop.refunds, on="refund_id").group_by("order_id")
                    .agg((pl.col("subtotal_cents") + pl.col("tax_cents")).sum().alias("back")))
        check = shop.orders.join(refunded, on="order_id", how="left").with_columns(pl.col("back").fill_null(0))
        assert (check["refunded_cents"] == check["back"]).all()
        last = shop.refunds.group_by("order_id").agg(pl.col("created_at").max().alias("last"))
        check = shop.orders.join(last, on="order_id", how="left")
        assert (check["updated_at"] == check.select(pl.max_horizontal("created_at", "last")).to_series()).all()


def test_some_returns_are_partial_and_some_orders_are_refunded_twice(world):
    gear = world.shop("gearshop")  # apparel and footwear come back most often
    lines = gear.refund_lines.join(gear.order_lines, on="line_id", suffix="_bought")
    assert (lines["quantity"] < lines["quantity_bought"]).any()
    assert gear.refunds.group_by("order_id").len()["len"].max() >= 2


# -- realism -------------------------------------------------------------------------------------------------

def test_orders_per_day_average_what_the_spec_asks(world, spec):
    for shop_spec in spec.shops:
        per_day = online(world.shop(shop_spec.handle)).height / spec.days
        assert abs(per_day / shop_spec.orders_per_day - 1) < 0.12, (shop_spec.handle, per_day)


def test_weekends_and_the_fourth_quarter_are_busier(shop):
    local = online(shop).with_columns(day=pl.col("created_at").dt.convert_time_zone("Europe/Berlin").dt.date())
    per_day = local.group_by("day").len().with_columns(weekday=pl.col("day").dt.weekday(),
                                                       quarter=pl.col("day").dt.quarter(),
                                                       year=pl.col("day").dt.year())
    weekday = per_day.group_by("weekday").agg(pl.col("len").mean()).sort("weekday")["len"].to_list()
    assert min(weekday[5:]) > max(weekday[:3])  # Saturday and Sunday beat Monday to Wednesday
    in_2025 = per_day.filter(pl.col("year") == 2025)
    q4 = in_2025.filter(pl.col("quarter") == 4)["len"].mean()
    q2_q3 = in_2025.filter(pl.col("quarter").is_in([2, 3]))["len"].mean()
    assert q4 > 1.15 * q2_q3


def test_stock_is_never_negative_and_sales_never_exceed_it(shop):
    inventory = shop.inventory_daily.sort("variant_id", "date").with_columns(
        before=pl.col("on_hand").shift(1, fill_value=0).over("variant_id"))
    assert (inventory["on_hand"] >= 0).all()
    assert (inventory["on_hand"] == inventory["before"] + inventory["units_received"] - inventory["units_sold"]).all()
    assert (inventory["units_sold"] <= inventory["before"] + inventory["units_received"]).all()
    local_date = pl.col("created_at").dt.convert_time_zone("Europe/Berlin").dt.date()
    sold = (shop.order_lines.join(online(shop).select("order_id", "created_at"), on="order_id")
            .group_by(local_date.alias("date"), "variant_id").agg(pl.col("quantity").sum().alias("from_orders")))
    check = inventory.join(sold, on=["date", "variant_id"], how="left").with_columns(
        pl.col("from_orders").fill_null(0))
    assert (check["units_sold"] == check["from_orders"]).all()
    assert inventory["stockout"].any() and inventory["units_lost"].sum() > 0
    assert inventory["stockout"].mean() < 0.25  # occasional, not the norm


def test_truth_demand_is_the_mean_before_stockouts(shop):
    realised = shop.inventory_daily["units_sold"].sum() + shop.inventory_daily["units_lost"].sum()
    expected = shop.truth_demand["expected_units"].sum()
    assert abs(realised / expected - 1) < 0.05
    launched = shop.variants.join(shop.products.select("product_id", launched="created_at"), on="product_id")
    late = launched.filter(pl.col("launched") > datetime(2025, 1, 2, tzinfo=UTC))
    assert late.height > 0  # some products launch in the world, and nobody buys them before
    before_launch = shop.truth_demand.join(late.select("variant_id", "launched"), on="variant_id").filter(
        pl.col("date") <= pl.col("launched").dt.date())
    assert before_launch["expected_units"].max() == 0


def test_repeat_buyers_come_back_to_their_category_and_the_truth_knows_it(shop):
    lines = (shop.order_lines.join(online(shop).select("order_id", "customer_id", "created_at"), on="order_id")
             .join(shop.products.select("product_id", category="product_type"), on="product_id")
             .with_columns(order_no=pl.col("created_at").rank("dense").over("customer_id")))
    reference = (lines.filter(pl.col("order_no") == 1).sort("line_id").group_by("customer_id")
                 .agg(reference=pl.col("category").first()))
    later = lines.filter(pl.col("order_no") > 1).join(reference, on="customer_id")
    assert later.height > 1000
    same = (later["category"] == later["reference"]).mean()
    # what independent baskets would give: P(reference = c) × P(a later line is in c), summed over c
    line_mix = later["category"].value_counts(normalize=True)
    reference_mix = later.unique("customer_id")["reference"].value_counts(normalize=True)
    independent = (reference_mix.join(line_mix, left_on="reference", right_on="category")
                   .select((pl.col("proportion") * pl.col("proportion_right")).sum()).item())
    assert same > independent + 0.1, (same, independent)
    # the truth follows the tastes: expected units per category match what was asked for (sold + lost)
    category = shop.variants.join(shop.products.select("product_id", category="product_type"), on="product_id")
    per_category = (shop.truth_demand.join(shop.inventory_daily, on=["date", "variant_id"])
                    .join(category.select("variant_id", "category"), on="variant_id")
                    .group_by("category")
                    .agg(expected=pl.col("expected_units").sum(),
                         realised=(pl.col("units_sold") + pl.col("units_lost")).sum()))
    assert per_category.height == 2
    assert ((per_category["realised"] / per_category["expected"] - 1).abs() < 0.05).all(), per_category


def test_customers_arrive_come_back_and_churn(shop):
    orders = online(shop)
    people = shop.customers.filter(pl.col("acquisition_channel") != "wholesale")
    assert set(people["acquisition_channel"].unique().to_list()) == set(CHANNEL_NAMES)
    first = orders.group_by("customer_id").agg(pl.col("created_at").min().alias("first"), pl.len().alias("n"))
    joined = people.join(first, on="customer_id")
    assert (joined["created_at"] <= joined["first"]).all()
    assert joined.filter(pl.col("n") > 1).height > 0.2 * joined.height  # repeat buyers
    truth = shop.truth_customers
    assert truth.height == people.height and truth["purchase_rate_per_day"].std() > 0
    late = orders.join(truth, on="customer_id").filter(pl.col("created_at") > pl.col("churned_at") + timedelta(days=1))
    assert late.height == 0  # nobody buys after churning
    assert 0 < truth["active_at_end"].mean() < 1


def test_wholesale_orders_are_bulk_weekday_untaxed_and_never_returned(shop):
    wholesale = shop.channel("wholesale")
    assert wholesale.height > 50 and wholesale["tax_cents"].sum() == 0
    local = wholesale["created_at"].dt.convert_time_zone("Europe/Berlin")
    assert (local.dt.weekday() <= 5).all()
    lines = shop.order_lines.filter(pl.col("order_id").is_in(wholesale["order_id"].implode()))
    online_lines = shop.order_lines.filter(pl.col("order_id").is_in(online(shop)["order_id"].implode()))
    assert lines["quantity"].median() > 5 * online_lines["quantity"].median()
    assert shop.refunds.filter(pl.col("order_id").is_in(wholesale["order_id"].implode())).height == 0
    accounts = shop.customers.filter(pl.col("customer_id").is_in(wholesale["customer_id"].implode()))
    assert (accounts["acquisition_channel"] == "wholesale").all()


def test_a_shop_without_wholesale_builds(world):
    gear = world.shop("gearshop")
    assert gear.channel("wholesale").height == 0 and gear.orders.height > 0
    assert gear.order_lines.schema == world.shop(SHOP).order_lines.schema


# -- the clock -----------------------------------------------------------------------------------------------

def test_visible_shows_the_world_as_it_was(shop):
    as_of = datetime(2025, 6, 1, 12, tzinfo=UTC)
    seen = shop.visible(as_of)
    assert 0 < seen.orders.height < shop.orders.height
    for frame in (seen.orders, seen.refunds, seen.customers, seen.products):
        assert frame["created_at"].max() <= as_of
    assert seen.orders["updated_at"].max() <= as_of and seen.customers["updated_at"].max() <= as_of
    assert set(seen.order_lines["order_id"]) == set(seen.orders["order_id"])
    assert set(seen.refund_lines["refund_id"]) == set(seen.refunds["refund_id"])
    assert set(seen.variants["product_id"]) == set(seen.products["product_id"])
    assert seen.inventory_daily["date"].max().isoformat() == "2025-06-01"
    # an order refunded later is not refunded yet, and was not updated since
    later = shop.refunds.filter(pl.col("created_at") > as_of).join(
        shop.orders.filter(pl.col("created_at") <= as_of), on="order_id")["order_id"]
    assert later.len() > 0
    before = seen.orders.filter(pl.col("order_id").is_in(later.implode()))
    assert (before["updated_at"] == before["created_at"]).all() and before["refunded_cents"].sum() == 0
    assert seen.truth_demand.equals(shop.truth_demand)
    assert shop.visible(shop.as_of) is shop
    assert shop.visible(as_of.replace(tzinfo=None)).orders.equals(seen.orders)  # naive means UTC
