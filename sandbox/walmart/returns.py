"""Walmart's return orders (``GET /v3/returns``), built from the world's returns of the shop's Walmart channel
(``sandbox/world/marketplace_returns.py``): one return order per returned order line, opened on its
``returned_at`` and refunded (``COMPLETED``) on the world's refund.

A return order walks ``INITIATED`` (the customer opened it) → ``DELIVERED`` (the parcel reached the return
centre, three quarters of the way to the refund) → ``COMPLETED`` (refunded); ``returnTrackingDetail`` lists the
events reached by the clock, and the last of them is the order's last modification. Money is a JSON number, as
on the rest of the Walmart wire (``wire.amount``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from sandbox.walmart import wire
from sandbox.walmart.index import CUSTOMER_ORDER_OFFSET, epoch_ms
from sandbox.world.marketplace import Marketplace

RETURN_ORDER_OFFSET = 100_000_000_000_000_000  # returnOrderId (18 digits, like Walmart's RMA numbers)
STATUSES = ("INITIATED", "DELIVERED", "COMPLETED")
RETURN_WINDOW_MS = 30 * 86_400_000  # returnByDate: 30 days to send the item back
EVENTS = (  # (status, sequenceNo, eventTag, eventDescription)
    ("INITIATED", 1, "INITIATED", "A MARKET_PLACE Return Initiated"),
    ("INITIATED", 2, "RETURN_IN_TRANSIT", "A MARKET_PLACE Return in Transit"),
    ("DELIVERED", 3, "DELIVERED", "A MARKET_PLACE Return Delivered"),
    ("COMPLETED", 4, "REFUND_COMPLETED", "A MARKET_PLACE Return Refunded"),
)


@dataclass(frozen=True)
class ReturnRecord:
    return_order_id: str
    order_id: int
    line_number: int
    sku: str
    product_name: str
    buyer_email: str
    quantity: int
    line_quantity: int
    unit_price_cents: int
    refund_cents: int  # merchandise + tax given back
    reason: str
    event_ms: tuple[int, int, int, int]  # initiated, in transit, delivered, refunded

    @property
    def created_ms(self) -> int:
        return self.event_ms[0]

    def modified_ms(self, as_of_ms: int) -> int:
        return max(ms for ms in self.event_ms if ms <= as_of_ms)

    def status(self, as_of_ms: int) -> str:
        reached = [e for e, ms in zip(EVENTS, self.event_ms, strict=True) if ms <= as_of_ms]
        return reached[-1][0]


class WalmartReturns:
    """Every return order of one shop's Walmart channel, newest first, with the filters of ``GET /v3/returns``."""

    def __init__(self, market: Marketplace, returns: pl.DataFrame, names: dict[str, str]) -> None:
        self.currency = market.currency
        lines = market.lines.sort("order_id", "line_id").with_columns(
            number=pl.col("line_id").rank("ordinal").over("order_id").cast(pl.Int64))
        rows = (returns.join(lines.select("line_id", "number", line_quantity="quantity", unit="unit_price_cents"),
                             on="line_id", how="left")
                .join(market.refunds.select("refund_id", "amount_cents", "tax_cents"), on="refund_id", how="left")
                .join(market.orders.select("order_id", "buyer_email"), on="order_id", how="left")
                .sort(["returned_at", "return_id"], descending=True))
        self.records: list[ReturnRecord] = []
        for r in rows.iter_rows(named=True):
            opened, refunded = r["returned_at"], r["refunded_at"]
            span = refunded - opened
            times = (opened, opened + span / 4, opened + span * 3 / 4, refunded)
            self.records.append(ReturnRecord(
                str(RETURN_ORDER_OFFSET + r["return_id"]), r["order_id"], r["number"], r["sku"],
                names.get(r["sku"], r["sku"]), r["buyer_email"], r["quantity"], r["line_quantity"], r["unit"],
                r["amount_cents"] + r["tax_cents"], r["reason"], tuple(epoch_ms(t) for t in times)))

    def select(self, as_of: datetime, *, created: tuple[int | None, int | None],
               modified: tuple[int | None, int | None], status: str | None = None,
               return_order_id: str | None = None, customer_order_id: str | None = None) -> list[ReturnRecord]:
        """The return orders visible at ``as_of`` matching every filter (date bounds inclusive, epoch ms)."""
        now = epoch_ms(as_of)
        out = []
        for rec in self.records:
            if rec.created_ms > now:
                continue
            if not _within(rec.created_ms, created) or not _within(rec.modified_ms(now), modified):
                continue
            if status is not None and rec.status(now) != status:
                continue
            if return_order_id is not None and rec.return_order_id != return_order_id:
                continue
            if customer_order_id is not None and str(CUSTOMER_ORDER_OFFSET + rec.order_id) != customer_order_id:
                continue
            out.append(rec)
        return out

    def render(self, rec: ReturnRecord, as_of: datetime) -> dict[str, Any]:
        """One element of ``returnOrders`` as Walmart sends it at ``as_of``."""
        now, cur = epoch_ms(as_of), self.currency
        status = rec.status(now)
        tracking = [{"sequenceNo": seq, "eventTag": tag, "eventDescription": text, "eventTime": wire.iso_ms(ms)}
                    for (_, seq, tag, text), ms in zip(EVENTS, rec.event_ms, strict=True) if ms <= now]
        return {
            "returnOrderId": rec.return_order_id,
            "customerEmailId": rec.buyer_email,
            "customerName": {"firstName": "Walmart", "lastName": f"Customer {rec.order_id % 100_000}"},
            "customerOrderId": str(CUSTOMER_ORDER_OFFSET + rec.order_id),
            "refundMode": "POST_DELIVERY",
            "returnOrderDate": wire.iso_ms(rec.created_ms),
            "returnByDate": wire.iso_ms(rec.created_ms + RETURN_WINDOW_MS),
            "totalRefundAmount": {"currencyAmount": wire.amount(rec.refund_cents), "currencyUnit": cur},
            "returnLineGroups": [{"groupNo": 1, "returnLines": [{"returnOrderLineNumber": 1}], "labels": [],
                                  "returnExpectedFlag": True}],
            "returnOrderLines": [{
                "returnOrderLineNumber": 1,
                "salesOrderLineNumber": rec.line_number,
                "sellerOrderId": str(rec.order_id),
                "returnReason": rec.reason,
                "purchaseOrderId": str(rec.order_id),
                "purchaseOrderLineNumber": rec.line_number,
                "isReturnForException": False,
                "item": {"sku": rec.sku, "productName": rec.product_name},
                "unitPrice": {"currencyAmount": wire.amount(rec.unit_price_cents), "currencyUnit": cur},
                "quantity": {"unitOfMeasure": "EACH", "measurementValue": rec.quantity},
                "returnExpectedFlag": True,
                "isFastReplacement": False,
                "isKeepIt": False,
                "lastItem": rec.quantity == rec.line_quantity,
                "refundedQty": rec.quantity if status == "COMPLETED" else 0,
                "rechargeableQty": 0,
                "refundChannel": "WALMART_SETTLED_REFUND",
                "returnTrackingDetail": tracking,
                "status": status,
                "statusTime": tracking[-1]["eventTime"],
                "currentDeliveryStatus": "DELIVERED" if status != "INITIATED" else "IN_TRANSIT",
                "currentRefundStatus": "REFUND_COMPLETED" if status == "COMPLETED" else "REFUND_PENDING",
            }],
            "returnChannel": {"channelName": "ONLINE"},
        }


def _within(ms: int, bounds: tuple[int | None, int | None]) -> bool:
    low, high = bounds
    return (low is None or ms >= low) and (high is None or ms <= high)
