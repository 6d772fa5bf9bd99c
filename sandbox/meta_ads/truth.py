"""Ground truth of a shop's Meta ads, straight from the ad world's frames (integer cents summed exactly).

What the warehouse must reconcile to, to the cent: ``ad_spend_truth(spec, shop, as_of)`` is what the Insights
API reports at the sandbox clock ``as_of`` (default: the world's end, the sandbox's default clock): days whose
local day has ended, with the conversions reported by then. A day is final ``attribution_days`` (7) after it
ended; ``final_through`` says up to which date nothing can change any more, and ``pending_conversions`` how
many attributed conversions of the reported days are still to be reported.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from sandbox.meta_ads.world import ad_world
from sandbox.world import ShopWorld
from sandbox.world.spec import WorldSpec

METRICS = ("spend", "impressions", "clicks", "conversions", "conversion_value", "rows")


def ad_spend_truth(world_spec: WorldSpec, shop_world: ShopWorld, as_of: datetime | None = None) -> dict[str, Any]:
    """Totals and per-date figures of the shop's ad account as the API reports them at ``as_of``.

    Returns ``{"account_id", "currency", "as_of", "spend": Decimal, "impressions": int, "clicks": int,
    "conversions": int, "conversion_value": Decimal, "rows": int (date × ad rows), "final_through": date | None,
    "pending_conversions": int, "by_date": {date: {the same six metrics}}}``. Pass the whole ShopWorld
    (``world.shop(handle)``), not a ``visible()`` view.
    """
    world = ad_world(world_spec, shop_world)
    clock = as_of or world_spec.end
    rows = world.insights(clock)
    per_date = (rows.group_by("date")
                .agg(pl.col("spend_cents").sum(), pl.col("impressions").sum(), pl.col("clicks").sum(),
                     pl.col("conversions").sum(), pl.col("conversion_value_cents").sum(), pl.len().alias("rows"))
                .sort("date"))
    by_date = {r["date"]: _metrics(r) for r in per_date.iter_rows(named=True)}
    reported_days = rows["date"].unique().implode()
    attributed = world.conversions.filter(pl.col("date").is_in(reported_days)).height
    totals = _metrics({
        "spend_cents": int(rows["spend_cents"].sum()), "impressions": int(rows["impressions"].sum()),
        "clicks": int(rows["clicks"].sum()), "conversions": int(rows["conversions"].sum()),
        "conversion_value_cents": int(rows["conversion_value_cents"].sum()), "rows": rows.height})
    return {
        "account_id": world.account_id,
        "currency": world.currency,
        "as_of": clock,
        **totals,
        "final_through": _final_through(world, clock),
        "pending_conversions": attributed - totals["conversions"],
        "by_date": by_date,
    }


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    return {"spend": Decimal(int(row["spend_cents"] or 0)).scaleb(-2), "impressions": int(row["impressions"] or 0),
            "clicks": int(row["clicks"] or 0), "conversions": int(row["conversions"] or 0),
            "conversion_value": Decimal(int(row["conversion_value_cents"] or 0)).scaleb(-2), "rows": int(row["rows"])}


def _final_through(world, clock: datetime) -> date | None:
    """The last date whose figures can no longer change at ``clock`` (ended ≥ attribution_days ago)."""
    ended = world.delivery.filter(pl.col("available_at") + timedelta(days=world.options.attribution_days) <= clock)
    return ended["date"].max() if ended.height else None
