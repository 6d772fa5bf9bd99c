"""The returns behind a marketplace channel's refunds: when each refunded line came back, why, and in what state.

Every row of ``Marketplace.refunds`` gets exactly one return record, drawn from its own random stream
(``shop_rng(seed, handle, "marketplace/<channel>/returns")``), so the marketplace's frames and truths are left
byte-identical. Per return:

- ``returned_at``: on Amazon when the fulfilment centre received the unit (the FBA customer returns report's
  ``return-date``): 0–36 hours before the refund; on Walmart when the customer opened the return order
  (``returnOrderDate``): 2–7 days before the refund. Never earlier than 12 hours after the order shipped, never
  after the refund.
- ``reason``: the marketplace's own reason codes (Amazon's FBA return reasons, Walmart's ``returnReason``
  enum), drawn with realistic shares.
- ``disposition``: the condition the unit was graded in (Amazon's ``detailed-disposition`` vocabulary:
  SELLABLE, DEFECTIVE, CUSTOMER_DAMAGED, CARRIER_DAMAGED, DAMAGED), drawn given the reason (a defective
  return is mostly graded DEFECTIVE, a carrier-damaged one CARRIER_DAMAGED, an unwanted one mostly SELLABLE).

The ``quantity`` is the refunded quantity; ``fulfilled_by_marketplace`` is the line's (Amazon's FBA report only
lists those).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from sandbox.world.marketplace import DEFAULT_ID_BASE, ID_BASES, Marketplace
from sandbox.world.spec import WorldSpec, shop_rng

RETURN_ID_OFFSET = 6_000_000_000  # return_id = the channel's id base + this + 1, 2, …

# reason → (share of returns, {disposition: share given that reason})
AMAZON_REASONS: dict[str, tuple[float, dict[str, float]]] = {
    "UNWANTED_ITEM": (0.24, {"SELLABLE": 0.85, "CUSTOMER_DAMAGED": 0.15}),
    "DEFECTIVE": (0.17, {"DEFECTIVE": 0.8, "SELLABLE": 0.1, "CUSTOMER_DAMAGED": 0.1}),
    "NOT_AS_DESCRIBED": (0.12, {"SELLABLE": 0.6, "CUSTOMER_DAMAGED": 0.2, "DEFECTIVE": 0.2}),
    "QUALITY_UNACCEPTABLE": (0.1, {"SELLABLE": 0.5, "DEFECTIVE": 0.3, "CUSTOMER_DAMAGED": 0.2}),
    "ORDERED_WRONG_ITEM": (0.08, {"SELLABLE": 0.9, "CUSTOMER_DAMAGED": 0.1}),
    "DAMAGED_BY_CARRIER": (0.07, {"CARRIER_DAMAGED": 0.9, "SELLABLE": 0.1}),
    "FOUND_BETTER_PRICE": (0.06, {"SELLABLE": 0.95, "CUSTOMER_DAMAGED": 0.05}),
    "MISSED_ESTIMATED_DELIVERY": (0.05, {"SELLABLE": 1.0}),
    "NO_REASON_GIVEN": (0.05, {"SELLABLE": 0.8, "CUSTOMER_DAMAGED": 0.2}),
    "SWITCHEROO": (0.03, {"CUSTOMER_DAMAGED": 1.0}),
    "DAMAGED_BY_FC": (0.03, {"DAMAGED": 1.0}),
}
WALMART_REASONS: dict[str, tuple[float, dict[str, float]]] = {
    "NO_LONGER_WANTED": (0.24, {"SELLABLE": 0.85, "CUSTOMER_DAMAGED": 0.15}),
    "DEFECTIVE": (0.15, {"DEFECTIVE": 0.8, "SELLABLE": 0.1, "CUSTOMER_DAMAGED": 0.1}),
    "NOT_AS_DESCRIBED": (0.12, {"SELLABLE": 0.6, "CUSTOMER_DAMAGED": 0.2, "DEFECTIVE": 0.2}),
    "WRONG_SIZE/POOR_FIT": (0.1, {"SELLABLE": 0.9, "CUSTOMER_DAMAGED": 0.1}),
    "DAMAGED": (0.1, {"CARRIER_DAMAGED": 0.7, "CUSTOMER_DAMAGED": 0.2, "SELLABLE": 0.1}),
    "INCORRECT_ITEM": (0.08, {"SELLABLE": 0.9, "CUSTOMER_DAMAGED": 0.1}),
    "INADEQUATE_QUALITY": (0.08, {"SELLABLE": 0.5, "DEFECTIVE": 0.3, "CUSTOMER_DAMAGED": 0.2}),
    "BOUGHT_SOMEWHERE_ELSE": (0.04, {"SELLABLE": 0.95, "CUSTOMER_DAMAGED": 0.05}),
    "LOWER_PRICE": (0.04, {"SELLABLE": 1.0}),
    "ARRIVED_LATE": (0.03, {"SELLABLE": 1.0}),
    "MISSING_PARTS": (0.02, {"DEFECTIVE": 0.7, "SELLABLE": 0.3}),
}
REASONS = {"amazon": AMAZON_REASONS, "walmart": WALMART_REASONS}
# how long before the refund the return is dated: (min, max) seconds
RETURN_LEAD_S = {"amazon": (0, 36 * 3600), "walmart": (2 * 86_400, 7 * 86_400)}
DEFAULT_LEAD_S = (86_400, 4 * 86_400)
AFTER_SHIPMENT = timedelta(hours=12)

COLUMNS = ("return_id", "refund_id", "order_id", "line_id", "sku", "quantity", "returned_at", "refunded_at",
           "reason", "disposition", "fulfilled_by_marketplace")


def simulate_returns(spec: WorldSpec, market: Marketplace) -> pl.DataFrame:
    """One return per refund of ``market``: return_id, refund_id, order_id, line_id, sku, quantity,
    returned_at, refunded_at (UTC), reason, disposition, fulfilled_by_marketplace; sorted by returned_at."""
    rng = shop_rng(spec.seed, market.handle, f"marketplace/{market.channel}/returns")
    reasons = REASONS.get(market.channel, AMAZON_REASONS)
    refunds = market.refunds.sort("refund_id")
    n = refunds.height
    rows = (refunds.select("refund_id", "order_id", "line_id", "quantity", refunded_at="created_at")
            .join(market.lines.select("line_id", "sku", "fulfilled_by_marketplace"), on="line_id", how="left",
                  maintain_order="left")
            .join(market.orders.select("order_id", "shipped_at"), on="order_id", how="left", maintain_order="left"))

    names = list(reasons)
    shares = np.array([reasons[r][0] for r in names])
    reason_index = rng.choice(len(names), size=n, p=shares / shares.sum())
    pick = rng.uniform(size=n)
    disposition = [_pick(reasons[names[r]][1], u) for r, u in zip(reason_index.tolist(), pick.tolist(), strict=True)]
    low, high = RETURN_LEAD_S.get(market.channel, DEFAULT_LEAD_S)
    lead = rng.integers(low, high, size=n, endpoint=True)

    refunded = rows["refunded_at"].to_list()
    shipped = rows["shipped_at"].to_list()
    returned = []
    for refund_at, shipped_at, seconds in zip(refunded, shipped, lead.tolist(), strict=True):
        at = refund_at - timedelta(seconds=int(seconds))
        if shipped_at is not None:
            at = max(at, shipped_at + AFTER_SHIPMENT)
        returned.append(min(at, refund_at))
    id_base = ID_BASES.get(market.channel, DEFAULT_ID_BASE)
    return (rows.with_columns(
        return_id=pl.Series(id_base + RETURN_ID_OFFSET + 1 + np.arange(n), dtype=pl.Int64),
        returned_at=pl.Series(returned, dtype=rows["refunded_at"].dtype),
        reason=pl.Series([names[r] for r in reason_index.tolist()], dtype=pl.String),
        disposition=pl.Series(disposition, dtype=pl.String),
    ).select(COLUMNS).sort("returned_at", "return_id"))


def visible_returns(returns: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """The returns dated by ``as_of`` (what a marketplace API can show then)."""
    as_of = as_of.astimezone(UTC) if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return returns.filter(pl.col("returned_at") <= as_of)


def returns_truth(returns: pl.DataFrame, as_of: datetime | None = None, *,
                  fba_only: bool = False) -> dict[str, object]:
    """Ground truth of a returns frame: ``returns`` (count), ``units``, ``by_reason`` and ``by_disposition``
    (units per code), optionally only what is dated by ``as_of`` and only marketplace-fulfilled lines."""
    frame = returns if as_of is None else visible_returns(returns, as_of)
    if fba_only:
        frame = frame.filter(pl.col("fulfilled_by_marketplace"))
    return {
        "returns": frame.height,
        "units": int(frame["quantity"].sum() or 0),
        "by_reason": dict(frame.group_by("reason").agg(pl.col("quantity").sum()).sort("reason").iter_rows()),
        "by_disposition": dict(frame.group_by("disposition").agg(pl.col("quantity").sum())
                               .sort("disposition").iter_rows()),
    }


def _pick(shares: dict[str, float], u: float) -> str:
    total, running = sum(shares.values()), 0.0
    for name, share in shares.items():
        running += share / total
        if u < running:
            return name
    return next(reversed(shares))
