"""A deterministic simulated commerce world: same spec, same frames, byte for byte.

``build_world(spec)`` → ``World``; ``world.shop(handle)`` → ``ShopWorld``, whose polars frames hold every
record with money as integer cents in the shop currency and UTC timestamps, plus the ground truth the
platform's numbers and models are checked against (``truth_demand``, ``truth_customers``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

import polars as pl

from sandbox.world.calendar import Calendar
from sandbox.world.catalog import build_catalog, popularity
from sandbox.world.online import simulate_online
from sandbox.world.spec import ShopSpec, WorldSpec, shop_rng
from sandbox.world.wholesale import simulate_wholesale

__all__ = ["ShopSpec", "ShopWorld", "World", "WorldSpec", "build_world"]


@dataclass(frozen=True)
class ShopWorld:
    spec: ShopSpec
    as_of: datetime
    products: pl.DataFrame
    variants: pl.DataFrame
    customers: pl.DataFrame
    orders: pl.DataFrame
    order_lines: pl.DataFrame
    refunds: pl.DataFrame
    refund_lines: pl.DataFrame
    inventory_daily: pl.DataFrame
    truth_demand: pl.DataFrame
    truth_customers: pl.DataFrame

    @property
    def handle(self) -> str:
        return self.spec.handle

    def channel(self, channel: str) -> pl.DataFrame:
        """The orders of one channel (``online_store`` or ``wholesale``)."""
        return self.orders.filter(pl.col("channel") == channel)

    def visible(self, as_of: datetime) -> ShopWorld:
        """The world as an API sees it at ``as_of``: nothing created later, refunds included only once made,
        ``updated_at`` of orders and customers recomputed accordingly."""
        if as_of >= self.as_of:
            return self
        orders = self.orders.filter(pl.col("created_at") <= as_of)
        refunds = self.refunds.filter(pl.col("created_at") <= as_of)
        refund_lines = self.refund_lines.filter(pl.col("refund_id").is_in(refunds["refund_id"].implode()))
        refunded = (refund_lines.join(refunds.select("refund_id", "order_id"), on="refund_id")
                    .group_by("order_id")
                    .agg((pl.col("subtotal_cents") + pl.col("tax_cents")).sum().alias("refunded_now"),
                         ))
        last_refund = refunds.group_by("order_id").agg(pl.col("created_at").max().alias("refund_at"))
        orders = (orders.join(refunded, on="order_id", how="left").join(last_refund, on="order_id", how="left")
                  .with_columns(refunded_cents=pl.col("refunded_now").fill_null(0),
                                updated_at=pl.max_horizontal("created_at", "refund_at"))
                  .drop("refunded_now", "refund_at"))
        customers = self.customers.filter(pl.col("created_at") <= as_of)
        last_order = orders.group_by("customer_id").agg(pl.col("created_at").max().alias("last_order_at"))
        customers = (customers.drop("updated_at").join(last_order, on="customer_id", how="left")
                     .with_columns(updated_at=pl.max_horizontal("created_at", "last_order_at"))
                     .drop("last_order_at"))
        day = as_of.date()
        return replace(
            self,
            as_of=as_of,
            products=self.products.filter(pl.col("created_at") <= as_of),
            customers=customers,
            orders=orders,
            order_lines=self.order_lines.filter(pl.col("order_id").is_in(orders["order_id"].implode())),
            refunds=refunds,
            refund_lines=refund_lines,
            inventory_daily=self.inventory_daily.filter(pl.col("date") <= day),
        )


@dataclass(frozen=True)
class World:
    spec: WorldSpec

    def shop(self, handle: str) -> ShopWorld:
        return self._shops[handle]

    @property
    def handles(self) -> list[str]:
        return [s.handle for s in self.spec.shops]

    @cached_property
    def _shops(self) -> dict[str, ShopWorld]:
        return {shop.handle: build_shop(self.spec, shop) for shop in self.spec.shops}


def build_shop(spec: WorldSpec, shop: ShopSpec) -> ShopWorld:
    calendar = Calendar.build(spec.start_date, spec.days)
    products, variants = build_catalog(spec, shop, shop_rng(spec.seed, shop.handle, "catalog"))
    pop = popularity(variants.height, shop_rng(spec.seed, shop.handle, "popularity"))
    online = simulate_online(spec, shop, calendar, variants, pop, shop_rng(spec.seed, shop.handle, "online"))
    accounts, wh_orders, wh_lines = simulate_wholesale(spec, shop, calendar, variants,
                                                       shop_rng(spec.seed, shop.handle, "wholesale"))
    accounts = accounts.with_columns(updated_at=pl.col("created_at"))
    columns = online.customers.columns
    return ShopWorld(
        spec=shop,
        as_of=spec.end,
        products=products,
        variants=variants.drop("return_rate"),
        customers=pl.concat([online.customers, accounts.select(columns)]),
        orders=pl.concat([online.orders, wh_orders.select(online.orders.columns).cast(online.orders.schema)])
        .sort("created_at", "order_id"),
        order_lines=pl.concat([online.order_lines, wh_lines.cast(online.order_lines.schema)]),
        refunds=online.refunds,
        refund_lines=online.refund_lines,
        inventory_daily=online.inventory_daily,
        truth_demand=online.truth_demand,
        truth_customers=online.truth_customers,
    )


def build_world(spec: WorldSpec) -> World:
    """The world for ``spec``; each shop is generated on first use and then kept."""
    return World(spec)
