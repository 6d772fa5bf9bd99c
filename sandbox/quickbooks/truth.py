"""Ground truth of a shop's QuickBooks company, as exact Decimals, straight from the world frames.

``costs_truth`` is what the landed ``raw_quickbooks__<tenant>`` tables and the staging models must reconcile to.
The stock bought is computed twice: from the books (``world.build_books``) and independently from
``inventory_daily.units_received`` × the purchase cost in force on each receipt day; they must agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl

from sandbox.quickbooks.world import build_books
from sandbox.world.shop import ShopWorld
from sandbox.world.spec import WorldSpec


def _cents(value: int | None) -> Decimal:
    return Decimal(int(value or 0)).scaleb(-2)


def costs_truth(world_spec: WorldSpec, shop_world: ShopWorld, as_of: datetime | None = None) -> dict:
    """The shop's purchasing and expenses as the QBO API shows them at ``as_of`` (default: the world's end).

    Keys: ``currency``; counts ``items``, ``vendors``, ``bills``, ``bill_lines``, ``purchases``,
    ``purchase_lines``; money ``bills_total`` (= ``inventory``: every bill line is stock bought, item-based),
    ``purchases_total`` (= ``operating``), ``inventory``, ``operating``, ``total``; ``operating_by_account``
    {expense account: amount}; ``purchase_cost_by_sku`` {sku: current purchase cost}; ``units_received``.
    """
    clock = shop_world.as_of if as_of is None else min(as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC),
                                                       shop_world.as_of)
    books = build_books(world_spec, shop_world).at_clock(clock)
    inventory = _cents(books.bill_lines["amount_cents"].sum())
    operating = _cents(books.purchase_lines["amount_cents"].sum())
    by_account = books.purchase_lines.group_by("account_name").agg(pl.col("amount_cents").sum()).sort("account_name")
    return {
        "currency": books.currency,
        "items": books.items.height,
        "vendors": books.vendors.height,
        "bills": books.bills.height,
        "bill_lines": books.bill_lines.height,
        "purchases": books.purchases.height,
        "purchase_lines": books.purchase_lines.height,
        "bills_total": _cents(books.bills["total_cents"].sum()),
        "purchases_total": _cents(books.purchases["total_cents"].sum()),
        "inventory": inventory,
        "operating": operating,
        "total": inventory + operating,
        "operating_by_account": {a: _cents(c) for a, c in by_account.iter_rows()},
        "purchase_cost_by_sku": {sku: _cents(c) for sku, c in
                                 books.items.select("sku", "purchase_cost_cents").sort("sku").iter_rows()},
        "units_received": int(books.bill_lines["qty"].sum() or 0),
    }


def stock_bought(world_spec: WorldSpec, shop_world: ShopWorld) -> Decimal:
    """Σ units received × the item's purchase cost in force that day over the whole world, from
    ``inventory_daily`` and the item history alone (no bills): the independent check of
    ``costs_truth(...)["inventory"]``."""
    books = build_books(world_spec, shop_world)
    zone = ZoneInfo(shop_world.spec.timezone)
    received = shop_world.inventory_daily.filter(pl.col("units_received") > 0)
    history: dict[int, list[tuple[datetime, int]]] = {}
    for variant, cost, changed in books.items.sort("item_id", "sync_token").select(
            "variant_id", "purchase_cost_cents", "updated_at").iter_rows():
        history.setdefault(variant, []).append((changed, cost))
    total = 0
    for day, variant, units in received.select("date", "variant_id", "units_received").iter_rows():
        day_end = (datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(days=1)).astimezone(UTC)
        total += units * [cost for changed, cost in history[variant] if changed < day_end][-1]
    return _cents(total)
