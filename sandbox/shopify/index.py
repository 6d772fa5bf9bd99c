"""What the twin serves of a shop at a clock, and how a connection pages through it.

``ShopWorld.visible(clock)`` decides what exists — the same semantics the world's tests check. A
``ShopView`` turns it into one ``Rows`` per connection: the visible rows with their sort and search columns
(``id``, ``created_at``, ``updated_at``) and their nodes, the clock-independent part from ``ShopNodes`` and
the clock-dependent fields added here. Views are cached for the last few clocks; sort orders per view.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from sandbox.shopify.connections import PageRequest, connection, encode_cursor, listing, window
from sandbox.shopify.nodes import Node, ShopNodes, iso_texts, money
from sandbox.shopify.search import Term, matches
from sandbox.world import ShopWorld
from sandbox.world.money import cents_text

SORT_COLUMNS = {"ID": "id", "CREATED_AT": "created_at", "PROCESSED_AT": "created_at", "UPDATED_AT": "updated_at"}
ORDER_SEARCH = frozenset({"created_at", "updated_at", "processed_at", "id"})
SEARCH = frozenset({"created_at", "updated_at", "id"})
VIEWS_KEPT = 4


def epoch_seconds(timestamps: pl.Series) -> np.ndarray:
    return timestamps.dt.epoch("s").to_numpy()


@dataclass
class Rows:
    """One top-level connection at one clock: the visible rows, their sort/search columns, their nodes."""

    columns: dict[str, np.ndarray]  # id, created_at, updated_at (epoch seconds) of each visible row
    node: Callable[[int], Node]  # visible row → node
    search_fields: frozenset[str]
    _sorted: dict[str, np.ndarray] = field(default_factory=dict)

    def page(self, request: PageRequest, sort_key: str, terms: list[Term]) -> dict[str, Any]:
        """The connection page: rows matching ``terms`` in (sort column, id) order, windowed by ``request``."""
        column = SORT_COLUMNS[sort_key]
        order = self._order_by(column)
        if request.reverse:
            order = order[::-1]
        mask = matches(terms, self.columns)
        if mask is not None:
            order = order[mask[order]]
        sign = -1 if request.reverse else 1
        values, ids = self.columns[column][order], self.columns["id"][order]
        start, stop = window(sign * values, sign * ids, request)
        cursors = [encode_cursor({"last_id": i, "last_value": v})
                   for i, v in zip(ids[start:stop].tolist(), values[start:stop].tolist(), strict=True)]
        return connection([self.node(row) for row in order[start:stop].tolist()], cursors,
                          has_next=stop < len(order), has_previous=start > 0)

    def _order_by(self, column: str) -> np.ndarray:
        if column not in self._sorted:  # a benign race: two threads may compute the same order
            self._sorted[column] = np.lexsort((self.columns["id"], self.columns[column]))
        return self._sorted[column]


@dataclass(frozen=True)
class ShopView:
    shop: Node
    orders: Rows
    customers: Rows
    products: Rows


class ShopIndex:
    """Everything the twin serves for one shop, prepared once; ``at(clock)`` gives the view at a clock."""

    def __init__(self, world: ShopWorld) -> None:
        self.world = world
        spec = world.spec
        self.nodes = ShopNodes(world)
        self.shop_node: Node = {"name": spec.name, "myshopifyDomain": f"{spec.handle}.myshopify.com",
                                "currencyCode": spec.currency, "ianaTimezone": spec.timezone}
        self._views: OrderedDict[datetime, ShopView] = OrderedDict()
        self._lock = threading.Lock()

    def at(self, clock: datetime) -> ShopView:
        """The shop as the API sees it at ``clock`` (computed once per clock, the last few kept)."""
        with self._lock:
            if clock in self._views:
                self._views.move_to_end(clock)
                return self._views[clock]
        view = self._view(self.world.visible(clock))
        with self._lock:
            self._views[clock] = view
            while len(self._views) > VIEWS_KEPT:
                self._views.popitem(last=False)
        return view

    def _view(self, seen: ShopWorld) -> ShopView:
        nodes = self.nodes
        orders = seen.channel("online_store").sort("order_id")
        order_rows = np.searchsorted(nodes.order_ids, orders["order_id"].to_numpy())
        updated_text = iso_texts(orders["updated_at"])
        refunded = nodes.amounts(orders["refunded_cents"], nodes.order_rate[order_rows])
        refund_seen = np.zeros(len(nodes.refund_ids), dtype=bool)
        refund_seen[np.searchsorted(nodes.refund_ids, seen.refunds["refund_id"].to_numpy())] = True

        def order_node(row: int) -> Node:
            i = int(order_rows[row])
            refunds = [nodes.refund(r) for r in nodes.refunds_of_order.get(i, ()) if refund_seen[r]]
            return {**nodes.order(i), "updatedAt": updated_text[row], "refunds": listing(refunds),
                    "totalRefundedSet": nodes.bag(refunded, row, i)}

        spent = orders.group_by("customer_id").agg(
            pl.len().alias("orders"), (pl.col("total_cents") - pl.col("refunded_cents")).sum().alias("spent"))
        customers = (seen.customers.filter(pl.col("acquisition_channel") != "wholesale").sort("customer_id")
                     .join(spent, on="customer_id", how="left", maintain_order="left"))
        customer_rows = np.searchsorted(nodes.customer_ids, customers["customer_id"].to_numpy())
        customer_fields = list(zip(iso_texts(customers["updated_at"]),
                                   customers["orders"].fill_null(0).cast(pl.String),
                                   cents_text(customers["spent"].fill_null(0)), strict=True))

        def customer_node(row: int) -> Node:
            updated_at, n_orders, amount = customer_fields[row]
            return {**nodes.customer(int(customer_rows[row])), "updatedAt": updated_at,
                    "numberOfOrders": n_orders, "amountSpent": money(amount, nodes.currency)}

        products = seen.products.sort("product_id")
        product_rows = np.searchsorted(nodes.product_ids, products["product_id"].to_numpy())
        return ShopView(
            shop=self.shop_node,
            orders=Rows(_columns(orders, "order_id"), order_node, ORDER_SEARCH),
            customers=Rows(_columns(customers, "customer_id"), customer_node, SEARCH),
            products=Rows(_columns(products, "product_id"), lambda row: nodes.product(int(product_rows[row])),
                          SEARCH),
        )


def _columns(frame: pl.DataFrame, key: str) -> dict[str, np.ndarray]:
    return {"id": frame[key].to_numpy(), "created_at": epoch_seconds(frame["created_at"]),
            "updated_at": epoch_seconds(frame["updated_at"])}
