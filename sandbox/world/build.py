"""Assembling a shop's world from its processes: catalogue, customers and their purchases, baskets under
stock, money, returns, the wholesale channel, and the frames and ground truth they leave behind."""

from __future__ import annotations

import numpy as np
import polars as pl

from sandbox.world.calendar import Calendar
from sandbox.world.catalog import Catalog, build_catalog
from sandbox.world.currencies import currency
from sandbox.world.customers import draw_population, purchase_times
from sandbox.world.fx import daily_rates
from sandbox.world.inventory import run_inventory
from sandbox.world.money import MICRO, convert, rate_decimal
from sandbox.world.orders import (
    draw_baskets,
    draw_tastes,
    expected_units_by_variant,
    fulfilled,
    online_drafts,
    price_online,
)
from sandbox.world.people import customer_records, customer_truth
from sandbox.world.returns import draw_returns
from sandbox.world.shop import LINE_COLUMNS, ShopWorld, with_activity, with_refunds
from sandbox.world.spec import ShopSpec, WorldSpec, shop_horizon, shop_rng
from sandbox.world.wholesale import simulate_wholesale

CUSTOMER_ID_BASE = 7_100_000_000


def build_shop(spec: WorldSpec, shop: ShopSpec) -> ShopWorld:
    """Every record of one shop; each process draws from its own stream of the shop's seed."""

    def rng(stream: str) -> np.random.Generator:
        return shop_rng(spec.seed, shop.handle, stream)

    calendar = Calendar.build(spec, shop)
    money = currency(shop.currency)
    catalog = build_catalog(shop, calendar, rng("catalog"))
    shares = catalog.demand_shares(calendar)
    population = draw_population(shop, calendar, rng("customers"))
    tastes = draw_tastes(len(population), shares, catalog.category, len(catalog.categories), rng("tastes"))
    expected_units = expected_units_by_variant(population, tastes, calendar, shares)

    purchases = purchase_times(population, calendar, rng("purchases"))
    baskets = draw_baskets(purchases.day, shares, rng("baskets"), tastes.category[purchases.customer], tastes)
    stock = run_inventory(expected_units, catalog.available_from, purchases.day[baskets.purchase],
                          baskets.variant, baskets.quantity, rng("inventory"))
    purchases, baskets = fulfilled(purchases, baskets, stock.served)
    priced = price_online(money, calendar, catalog.variants["price_cents"].to_numpy(), purchases, baskets,
                          rng("pricing"))
    rates = daily_rates(shop.currency, shop.presentment_currencies, calendar.days, rng("fx"))
    paid_in = population.currency[purchases.customer]
    codes = [shop.currency, *shop.presentment_currencies]
    customer_ids = CUSTOMER_ID_BASE + 1 + np.arange(len(population))
    online, online_lines = online_drafts(purchases, baskets, priced, customer_ids[purchases.customer],
                                         [codes[c] for c in paid_in.tolist()], rates[purchases.day, paid_in],
                                         calendar)
    refunds, refund_lines = draw_returns(calendar, online["order_id"].to_numpy(), purchases.day, purchases.second,
                                         online_lines["line_id"].to_numpy(), baskets.purchase, baskets.quantity,
                                         priced.net, priced.tax, catalog.return_rate[baskets.variant],
                                         rng("returns"))
    accounts, wholesale, wholesale_lines = simulate_wholesale(shop.wholesale_orders_per_week, money, calendar,
                                                              catalog, shares, rng("wholesale"))

    orders = _orders(pl.concat([online, wholesale.cast(online.schema)]), refunds, refund_lines)
    lines = _lines(pl.concat([online_lines, wholesale_lines.cast(online_lines.schema)]), orders, catalog)
    first_order = online.group_by("customer_id").agg(pl.col("created_at").min().alias("first_order"))
    people = customer_records(shop, calendar, population, customer_ids, first_order, rng("people"))
    return ShopWorld(
        spec=shop,
        as_of=shop_horizon(spec, shop),
        products=catalog.products,
        variants=catalog.variants,
        customers=with_activity(pl.concat([people, accounts]), orders, refunds),
        orders=orders,
        order_lines=lines,
        refunds=refunds,
        refund_lines=refund_lines,
        inventory_daily=_daily(calendar, catalog, on_hand=stock.on_hand, stockout=stock.stockout,
                               units_sold=stock.sold, units_received=stock.received, units_lost=stock.lost),
        truth_demand=_daily(calendar, catalog, expected_units=expected_units),
        truth_customers=customer_truth(calendar, population, customer_ids),
    )


def _orders(drafts: pl.DataFrame, refunds: pl.DataFrame, refund_lines: pl.DataFrame) -> pl.DataFrame:
    """Every channel's orders, chronological: the exact ``fx_rate``, the presentment total, refunds."""
    micro = drafts["fx_rate_micro"].to_numpy()
    finished = drafts.with_columns(
        fx_rate=rate_decimal(micro),
        total_presentment_cents=pl.Series(convert(drafts["total_cents"].to_numpy(), micro), dtype=pl.Int64),
    ).sort("created_at", "order_id")
    return with_refunds(finished, refunds, refund_lines)


def _lines(drafts: pl.DataFrame, orders: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Every channel's order lines with their variant's ids and SKU and the presentment unit price."""
    variants = catalog.variants
    index = drafts["variant_index"].to_numpy()
    rate = drafts.join(orders.select("order_id", "fx_rate"), on="order_id", how="left", maintain_order="left")
    micro = (rate["fx_rate"] * MICRO).cast(pl.Int64).to_numpy()
    return drafts.with_columns(
        variant_id=pl.Series(variants["variant_id"].to_numpy()[index]),
        product_id=pl.Series(variants["product_id"].to_numpy()[index]),
        sku=variants["sku"].gather(index),
        unit_price_presentment_cents=pl.Series(convert(drafts["unit_price_cents"].to_numpy(), micro),
                                               dtype=pl.Int64),
    ).select(LINE_COLUMNS)


def _daily(calendar: Calendar, catalog: Catalog, **columns: np.ndarray) -> pl.DataFrame:
    """(date, variant_id, *columns) from days × variants matrices, ordered by date then variant."""
    n_var = catalog.variants.height
    return pl.DataFrame({
        "date": pl.Series(calendar.dates, dtype=pl.Date).gather(np.repeat(np.arange(calendar.days), n_var)),
        "variant_id": np.tile(catalog.variants["variant_id"].to_numpy(), calendar.days),
        **{name: matrix.reshape(-1) for name, matrix in columns.items()},
    })
