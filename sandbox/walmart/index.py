"""One shop's Walmart channel as the API sees it at one instant: purchase orders with their lines and refunds,
and the money events the reconciliation report settles, indexed for the twin's queries.

Built from ``Marketplace.visible(as_of)`` (sandbox/world/marketplace.py), so what the twin serves is exactly
what ``marketplace_truth(market, as_of)`` counts. Times are epoch milliseconds (Walmart's ``orderDate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from sandbox.world.marketplace import Marketplace

CUSTOMER_ORDER_OFFSET = 60_000_000_000_000  # customerOrderId = this + purchase order id (a different number)


@dataclass(frozen=True)
class Refund:
    refund_id: int
    quantity: int
    amount_cents: int  # merchandise given back (positive here; negative on the wire)
    tax_cents: int
    fee_refund_cents: int  # commission Walmart gives back
    at_ms: int


@dataclass(frozen=True)
class Line:
    line_id: int
    number: int  # lineNumber: 1, 2, … within the purchase order
    sku: str
    product_name: str
    quantity: int
    unit_price_cents: int
    promo_cents: int
    tax_cents: int
    wfs: bool  # fulfilled by Walmart Fulfillment Services
    refund: Refund | None

    @property
    def gross_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class Order:
    order_id: int
    buyer_email: str
    created_ms: int
    shipped_ms: int | None
    updated_ms: int
    currency: str
    ship_country: str
    shipping_cents: int
    lines: tuple[Line, ...]

    @property
    def customer_order_id(self) -> int:
        return CUSTOMER_ORDER_OFFSET + self.order_id


@dataclass(frozen=True)
class MoneyEvent:
    """One row of money the reconciliation report settles: a sale's fee, a refund, a fee given back."""

    order_id: int
    line_number: int
    sku: str
    transaction_type: str  # Sale | Refund
    amount_type: str  # Product Price | Commission on Product | WFS Fulfillment fee
    amount_cents: int  # signed as Walmart pays the seller: fees negative, a commission refund positive
    quantity: int
    at_ms: int
    wfs: bool


class Snapshot:
    """The shop's Walmart data at one clock, with the filters the Orders API offers."""

    def __init__(self, market: Marketplace, product_names: dict[str, str]) -> None:
        self.as_of = market.as_of
        self.currency = market.currency
        refunds = {row["line_id"]: Refund(row["refund_id"], row["quantity"], row["amount_cents"], row["tax_cents"],
                                          row["fee_refund_cents"], row["at_ms"])
                   for row in market.refunds.with_columns(at_ms=_ms("created_at")).iter_rows(named=True)}
        lines: dict[int, list[Line]] = {}
        for row in market.lines.sort("order_id", "line_id").iter_rows(named=True):
            siblings = lines.setdefault(row["order_id"], [])
            name = product_names.get(row["sku"], row["sku"])
            siblings.append(Line(row["line_id"], len(siblings) + 1, row["sku"], name, row["quantity"],
                                 row["unit_price_cents"], row["promo_cents"], row["tax_cents"],
                                 bool(row["fulfilled_by_marketplace"]), refunds.get(row["line_id"])))
        frame = (market.orders.with_columns(created_ms=_ms("created_at"), shipped_ms=_ms("shipped_at"),
                                            updated_ms=_ms("updated_at"))
                 .sort(["created_ms", "order_id"], descending=True))  # newest first, as Walmart lists them
        self.orders = [Order(row["order_id"], row["buyer_email"], row["created_ms"], row["shipped_ms"],
                             row["updated_ms"], row["currency"], row["ship_country"], row["shipping_cents"],
                             tuple(lines.get(row["order_id"], ())))
                       for row in frame.iter_rows(named=True)]
        self._created = frame["created_ms"].to_numpy()
        self._updated = frame["updated_ms"].to_numpy()
        self.events = self._money_events(market)

    def select(self, *, created: tuple[int | None, int | None], modified: tuple[int | None, int | None],
               purchase_order_id: int | None = None, sku: str | None = None) -> list[Order]:
        """Orders whose orderDate / last modification lie in the inclusive ranges (None = open)."""
        mask = np.ones(len(self.orders), dtype=bool)
        for values, (low, high) in ((self._created, created), (self._updated, modified)):
            if low is not None:
                mask &= values >= low
            if high is not None:
                mask &= values <= high
        picked = [self.orders[i] for i in np.flatnonzero(mask)]
        if purchase_order_id is not None:
            picked = [o for o in picked if o.order_id == purchase_order_id]
        if sku is not None:
            picked = [o for o in picked if any(line.sku == sku for line in o.lines)]
        return picked

    def _money_events(self, market: Marketplace) -> list[MoneyEvent]:
        lines = {line.line_id: (order, line) for order in self.orders for line in order.lines}
        events = []
        fee_types = {"referral": "Commission on Product", "fulfillment": "WFS Fulfillment fee"}
        for row in market.fees.with_columns(at_ms=_ms("posted_at")).iter_rows(named=True):
            order, line = lines[row["line_id"]]
            if row["fee_type"] == "referral":  # the sale itself settles with its commission
                events.append(MoneyEvent(order.order_id, line.number, line.sku, "Sale", "Product Price",
                                         line.gross_cents - line.promo_cents, line.quantity, row["at_ms"], line.wfs))
            events.append(MoneyEvent(order.order_id, line.number, line.sku, "Sale", fee_types[row["fee_type"]],
                                     -row["amount_cents"], line.quantity, row["at_ms"], line.wfs))
        for order, line in lines.values():
            refund = line.refund
            if refund is None:
                continue
            events.append(MoneyEvent(order.order_id, line.number, line.sku, "Refund", "Product Price",
                                     -refund.amount_cents, refund.quantity, refund.at_ms, line.wfs))
            if refund.fee_refund_cents:
                events.append(MoneyEvent(order.order_id, line.number, line.sku, "Refund", "Commission on Product",
                                         refund.fee_refund_cents, refund.quantity, refund.at_ms, line.wfs))
        events.sort(key=lambda e: (e.at_ms, e.order_id, e.line_number, e.transaction_type, e.amount_type))
        return events


@dataclass(frozen=True)
class SettlementPeriod:
    start: date  # first day (UTC) of the period
    end: date  # last day (inclusive)

    @property
    def report_date(self) -> date:
        """The day the period settles and its report becomes available (the day after it ends)."""
        return self.end + timedelta(days=1)


def settlement_periods(first_day: date, period_days: int, clock: datetime) -> list[SettlementPeriod]:
    """Every period from the world's first day whose report is available at ``clock`` (its day has begun)."""
    periods, start = [], first_day
    today = clock.astimezone(UTC).date()
    while start + timedelta(days=period_days) <= today:
        periods.append(SettlementPeriod(start, start + timedelta(days=period_days - 1)))
        start += timedelta(days=period_days)
    return periods


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _ms(column: str) -> pl.Expr:
    return pl.col(column).dt.epoch("ms")
