"""Ground truth of a shop's GA4 property, straight from the world frames (exact integers and Decimals).

``conversions`` and ``purchase_revenue`` are the shop's online-store orders and their totals (per day in the
shop's time zone); ``sessions`` and ``users`` are the property's derived traffic (sandbox/ga4/world.py), the
same deterministic derivation the twin serves. With ``as_of`` before the world's end the numbers are those a
report shows at that clock (the last days still processing); without it, or from the world's end on, final.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from sandbox.ga4.world import Ga4Property, ga4_options
from sandbox.world import ShopWorld, WorldSpec

METRICS = ("sessions", "users", "conversions", "purchase_revenue")


def traffic_truth(world_spec: WorldSpec, shop_world: ShopWorld, as_of: datetime | None = None) -> dict[str, Any]:
    """Totals of the property (``rows``, ``sessions``, ``users``, ``conversions`` as ints, ``purchase_revenue``
    as a two-place Decimal in ``currency``), and the same per ``date`` (a dict keyed by ``datetime.date``) and
    per ``channel_group``. ``shop_world`` is the full ShopWorld (``world.shop(handle)``, not a ``visible`` view).
    """
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    prop = Ga4Property(world_spec, shop_world, ga4_options(shop_world.spec))
    rows = prop.rows(None if prop.settled(as_of) else as_of)
    return {
        "currency": prop.currency,
        "timezone": prop.timezone,
        "rows": rows.height,
        **_sums(rows),
        "per_date": _grouped(rows, "date"),
        "per_channel_group": _grouped(rows, "channel_group"),
    }


def online_orders_truth(world_spec: WorldSpec, shop_world: ShopWorld) -> dict[date, tuple[int, Decimal]]:
    """Per local date, (online-store orders, Σ their totals) straight from the orders frame: what the
    final ``conversions`` and ``purchase_revenue`` of each day must equal."""
    tz = shop_world.spec.timezone
    days = (shop_world.channel("online_store")
            .group_by(pl.col("created_at").dt.convert_time_zone(tz).dt.date().alias("date"))
            .agg(pl.len().alias("n"), pl.col("total_cents").sum().alias("cents")))
    return {d: (int(n), Decimal(int(c)).scaleb(-2)) for d, n, c in days.iter_rows()}


def _sums(rows: pl.DataFrame) -> dict[str, Any]:
    return {
        "sessions": int(rows["sessions"].sum()),
        "users": int(rows["users"].sum()),
        "conversions": int(rows["conversions"].sum()),
        "purchase_revenue": Decimal(int(rows["revenue_cents"].sum())).scaleb(-2),
    }


def _grouped(rows: pl.DataFrame, by: str) -> dict[Any, dict[str, Any]]:
    out = {}
    for (value,), part in rows.group_by(by, maintain_order=True):
        out[value] = _sums(part)
    return dict(sorted(out.items()))
