"""The Amazon SP-API client (Login with Amazon, pacing, throttling, pagination) and the page → Arrow converters.

- ``LwaAuth`` exchanges the seller's refresh token for a one-hour access token (``POST /auth/o2/token``), again
  shortly before it expires and whenever an answer says it has expired (mid-run).
- ``RatePacer`` keeps a token bucket per operation: the rate from each answer's ``x-amzn-RateLimit-Limit``
  header, the documented burst (``settings.USAGE_PLANS``) until a 429 shows it is smaller. Before a call it
  sleeps until the bucket holds a request; a 429 empties it and the call is retried after a growing wait.
- ``SellingPartnerClient`` sends the calls through ``sources.http.RetryingSession`` (5xx, timeouts and dropped
  connections retried with backoff; 429 handled here with the pacer) and follows ``NextToken``.

Money: the Orders API carries decimal text, the Finances API JSON numbers; both become exact ``Decimal`` (JSON is
parsed with ``parse_float=Decimal``) and land as ``decimal(18,2)``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import requests

from sources.http import RetryingSession, retry_after_seconds
from sources.money import MONEY, parse_decimal

from .settings import MAX_THROTTLE_RETRIES, TOKEN_REFRESH_MARGIN_S, USAGE_PLANS

log = logging.getLogger("sources.amazon")

TIMESTAMP = pa.timestamp("us", tz="UTC")
CENT = Decimal("0.01")
SERVER_ERRORS = frozenset({500, 502, 503, 504})


class AmazonAPIError(RuntimeError):
    """The Selling Partner API refused a request in a way retrying cannot fix."""


class AmazonAuthError(AmazonAPIError):
    """Login with Amazon refused the credentials, or SP-API refused the access token."""


class AmazonInvalidInput(AmazonAPIError):
    """HTTP 400 InvalidInput: the request's parameters were refused."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class LwaAuth:
    """Access tokens from Login with Amazon for one seller authorisation (a refresh token)."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, refresh_token: str,
                 session: requests.Session, clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self._form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id,
                      "client_secret": client_secret}
        self._session, self._clock = session, clock
        self._token: str | None = None
        self._expires_at = 0.0
        self.refreshes = 0

    def token(self) -> str:
        """A live access token (refreshed when it is about to expire)."""
        if self._token is None or self._clock() >= self._expires_at - TOKEN_REFRESH_MARGIN_S:
            self.refresh()
        return self._token  # type: ignore[return-value]

    def refresh(self) -> None:
        response = self._session.post(self.token_url, data=self._form, headers={"Accept": "application/json"})
        if response.status_code != 200:
            try:
                body = response.json()
                reason = f"{body.get('error')}: {body.get('error_description')}"
            except ValueError:
                reason = response.text[:200]
            raise AmazonAuthError(f"amazon: Login with Amazon ({self.token_url}) refused the refresh-token grant "
                                  f"(HTTP {response.status_code} {reason})")
        body = response.json()
        self._token = body["access_token"]
        self._expires_at = self._clock() + float(body.get("expires_in", 3600))
        self.refreshes += 1


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    at: float
    throttled_in_a_row: int = 0


class RatePacer:
    """A client-side token bucket per operation that keeps the source under SP-API's usage plans."""

    def __init__(self, plans: dict[str, tuple[float, float]] = USAGE_PLANS, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self._sleep, self._clock = sleep, clock
        now = clock()
        self._buckets = {op: _Bucket(rate, burst, burst, now) for op, (rate, burst) in plans.items()}
        self.stats: dict[str, float] = {"waited_s": 0.0, "waits": 0, "throttled": 0}

    def bucket(self, operation: str) -> _Bucket:
        if operation not in self._buckets:
            self._buckets[operation] = _Bucket(1.0, 1.0, 1.0, self._clock())
        return self._buckets[operation]

    def acquire(self, operation: str) -> None:
        """Wait until the operation's bucket holds one request, then take it."""
        b = self.bucket(operation)
        now = self._clock()
        b.tokens = min(b.burst, b.tokens + max(0.0, now - b.at) * b.rate)
        b.at = max(now, b.at)
        if b.tokens < 1:
            wait = (1 - b.tokens) / b.rate
            self.stats["waited_s"] += wait
            self.stats["waits"] += 1
            self._sleep(wait)
            b.tokens, b.at = 1.0, b.at + wait
        b.tokens -= 1

    def observe(self, operation: str, response: requests.Response) -> None:
        """Learn the rate the API applies (``x-amzn-RateLimit-Limit``)."""
        header = response.headers.get("x-amzn-RateLimit-Limit")
        if header:
            try:
                rate = float(header)
            except ValueError:
                return
            if rate > 0:
                self.bucket(operation).rate = rate
        if response.status_code != 429:
            self.bucket(operation).throttled_in_a_row = 0

    def throttled(self, operation: str, retry_after: float | None) -> float:
        """A 429: the bucket is empty and the burst smaller than assumed; how long to wait before retrying."""
        b = self.bucket(operation)
        b.tokens, b.burst, b.at = 0.0, 1.0, self._clock()
        b.throttled_in_a_row += 1
        self.stats["throttled"] += 1
        wait = max(retry_after or 0.0, 1.0 / b.rate) * 2 ** (b.throttled_in_a_row - 1)
        return min(wait, 120.0)


class SellingPartnerClient:
    """GET calls to one seller's Selling Partner API, authorised, paced and retried."""

    def __init__(self, endpoint: str, auth: LwaAuth, marketplace_id: str, *, session: RetryingSession,
                 pacer: RatePacer, sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.auth, self.marketplace_id = auth, marketplace_id
        self._session, self.pacer, self._sleep = session, pacer, sleep
        self.calls: dict[str, int] = {}

    def get(self, operation: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GET operation's answer (JSON, numbers as Decimal); raises a clear error when it is refused."""
        return self.call("GET", operation, path, params=params)

    def call(self, method: str, operation: str, path: str, params: dict[str, Any] | None = None,
             body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One operation's answer (JSON, numbers as Decimal), authorised, paced, retried after a 429 or an
        expired token; raises a clear error when it is refused."""
        refreshed = False
        for _ in range(MAX_THROTTLE_RETRIES + 1):
            self.pacer.acquire(operation)
            self.calls[operation] = self.calls.get(operation, 0) + 1
            response = self._session.request(method, f"{self.endpoint}{path}", params=params, json=body, headers={
                "x-amz-access-token": self.auth.token(), "Accept": "application/json",
                "user-agent": "OmniAnalytics/0.2 (Language=Python)"})
            self.pacer.observe(operation, response)
            if response.status_code in (200, 202):
                return json.loads(response.text, parse_float=Decimal)
            error = _first_error(response)
            if response.status_code == 403 and "expired" in error.get("details", "").lower() and not refreshed:
                log.info("amazon %s: access token expired, refreshing", operation)
                self.auth.refresh()
                refreshed = True
                continue
            if response.status_code == 429:
                wait = self.pacer.throttled(operation, retry_after_seconds(response.headers.get("Retry-After")))
                log.info("amazon %s: throttled (429 %s), retrying in %.2fs", operation, error.get("code"), wait)
                self._sleep(wait)
                continue
            what = f"amazon {operation} ({path}): HTTP {response.status_code} {error.get('code')}: " \
                   f"{error.get('message')} {error.get('details', '')}".rstrip()
            if response.status_code in (401, 403):
                raise AmazonAuthError(what)
            if response.status_code == 400:
                raise AmazonInvalidInput(what)
            raise AmazonAPIError(what)
        raise AmazonAPIError(f"amazon {operation} ({path}): still throttled after {MAX_THROTTLE_RETRIES} retries")

    # --- operations ---------------------------------------------------------------------------------------
    def orders(self, last_updated_after: str, page_size: int) -> Iterator[dict[str, Any]]:
        """getOrders pages (payloads) updated since ``last_updated_after``, following NextToken."""
        params: dict[str, Any] = {"MarketplaceIds": self.marketplace_id, "LastUpdatedAfter": last_updated_after,
                                  "MaxResultsPerPage": page_size}
        while True:
            payload = self.get("getOrders", "/orders/v0/orders", params)["payload"]
            yield payload
            if not payload.get("NextToken"):
                return
            params = {"MarketplaceIds": self.marketplace_id, "NextToken": payload["NextToken"]}

    def order_items(self, order_id: str) -> list[dict[str, Any]]:
        """Every item of one order (getOrderItems, following NextToken)."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        while True:
            payload = self.get("getOrderItems", f"/orders/v0/orders/{order_id}/orderItems", params)["payload"]
            items.extend(payload.get("OrderItems") or [])
            if not payload.get("NextToken"):
                return items
            params = {"NextToken": payload["NextToken"]}

    def financial_events(self, posted_after: str, posted_before: str | None,
                         page_size: int) -> Iterator[dict[str, Any]]:
        """listFinancialEvents pages (the ``FinancialEvents`` objects) posted in the window."""
        params: dict[str, Any] = {"PostedAfter": posted_after, "MaxResultsPerPage": page_size}
        if posted_before is not None:
            params["PostedBefore"] = posted_before
        while True:
            payload = self.get("listFinancialEvents", "/finances/v0/financialEvents", params)["payload"]
            yield payload.get("FinancialEvents") or {}
            if not payload.get("NextToken"):
                return
            params = {"NextToken": payload["NextToken"]}

    def inventory_summaries(self) -> Iterator[list[dict[str, Any]]]:
        """getInventorySummaries pages of the seller's marketplace, with details."""
        params: dict[str, Any] = {"granularityType": "Marketplace", "granularityId": self.marketplace_id,
                                  "marketplaceIds": self.marketplace_id, "details": "true"}
        while True:
            body = self.get("getInventorySummaries", "/fba/inventory/v1/summaries", params)
            yield (body.get("payload") or {}).get("inventorySummaries") or []
            token = (body.get("pagination") or {}).get("nextToken")
            if not token:
                return
            params = {**params, "nextToken": token}


def _first_error(response: requests.Response) -> dict[str, str]:
    try:
        errors = response.json().get("errors") or [{}]
        return {k: str(v) for k, v in errors[0].items()}
    except (ValueError, AttributeError, IndexError):
        return {"code": str(response.status_code), "message": response.text[:200]}


# --- page → Arrow ---------------------------------------------------------------------------------------------

def money(value: Any) -> Decimal | None:
    """An amount (decimal text, a Decimal from parse_float, an int) → an exact two-place Decimal."""
    if value is None:
        return None
    amount = parse_decimal(value if isinstance(value, str) else str(value))
    return None if amount is None else amount.quantize(CENT)


def _amount(bag: dict | None) -> Decimal | None:
    return None if not bag else money(bag.get("Amount"))


def table(rows: list[dict[str, Any]], columns: dict[str, pa.DataType], keys: tuple[str, ...]) -> pa.Table:
    """Rows → a typed Arrow table (timestamps from their ISO text, money already Decimal); keys not null."""
    arrays = []
    for name, dtype in columns.items():
        values = [row.get(name) for row in rows]
        if pa.types.is_timestamp(dtype):
            arrays.append(pa.array([v or None for v in values], pa.string()).cast(dtype))
        else:
            arrays.append(pa.array(values, dtype))
    fields = [pa.field(n, t, nullable=n not in keys) for n, t in columns.items()]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def orders_table(orders: list[dict[str, Any]]) -> pa.Table:
    rows = [{
        "amazon_order_id": o["AmazonOrderId"], "seller_order_id": o.get("SellerOrderId"),
        "purchase_date": o.get("PurchaseDate"), "last_update_date": o.get("LastUpdateDate"),
        "order_status": o.get("OrderStatus"), "fulfillment_channel": o.get("FulfillmentChannel"),
        "sales_channel": o.get("SalesChannel"), "marketplace_id": o.get("MarketplaceId"),
        "order_total_currency_code": (o.get("OrderTotal") or {}).get("CurrencyCode"),
        "order_total_amount": _amount(o.get("OrderTotal")),
        "number_of_items_shipped": o.get("NumberOfItemsShipped"),
        "number_of_items_unshipped": o.get("NumberOfItemsUnshipped"),
        "is_prime": o.get("IsPrime"), "is_business_order": o.get("IsBusinessOrder"),
        "buyer_email": (o.get("BuyerInfo") or {}).get("BuyerEmail"),
        "ship_country_code": (o.get("ShippingAddress") or {}).get("CountryCode"),
    } for o in orders]
    return table(rows, ORDER_COLUMNS, ("amazon_order_id",))


def order_items_table(items_by_order: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> pa.Table:
    rows = []
    for order, items in items_by_order:
        for i in items:
            rows.append({
                "order_item_id": i["OrderItemId"], "amazon_order_id": order["AmazonOrderId"],
                "order_last_update_date": order.get("LastUpdateDate"), "asin": i.get("ASIN"),
                "seller_sku": i.get("SellerSKU"), "title": i.get("Title"),
                "quantity_ordered": i.get("QuantityOrdered"), "quantity_shipped": i.get("QuantityShipped"),
                "currency_code": next((i[k]["CurrencyCode"] for k in ("ItemPrice", "ItemTax") if i.get(k)), None),
                **{column: _amount(i.get(field)) for column, field in ITEM_MONEY.items()},
            })
    return table(rows, ORDER_ITEM_COLUMNS, ("order_item_id",))


def _sum_into(row: dict[str, Any], entries: list[dict] | None, kind: str, amount: str,
              mapping: dict[str, str], other: str) -> None:
    """Add each charge/fee of a list to its column (unknown types to ``other``); note the currency."""
    for entry in entries or []:
        bag = entry.get(amount) or {}
        value = money(bag.get("CurrencyAmount"))
        if value is None:
            continue
        row["currency_code"] = row.get("currency_code") or bag.get("CurrencyCode")
        column = mapping.get(entry.get(kind), other)
        row[column] = (row.get(column) or Decimal("0.00")) + value


def _promotions(row: dict[str, Any], entries: list[dict] | None) -> None:
    for entry in entries or []:
        bag = entry.get("PromotionAmount") or {}
        value = money(bag.get("CurrencyAmount"))
        if value is not None:
            row["promotion_amount"] = (row.get("promotion_amount") or Decimal("0.00")) + value


def financial_tables(events: dict[str, Any]) -> dict[str, pa.Table]:
    """One listFinancialEvents page → item-level shipment and refund rows (charges and fees by type)."""
    shipments, refunds = [], []
    for event in events.get("ShipmentEventList") or []:
        for item in event.get("ShipmentItemList") or []:
            row = _event_row(event, item, item.get("OrderItemId"))
            row["quantity_shipped"] = item.get("QuantityShipped")
            _sum_into(row, item.get("ItemChargeList"), "ChargeType", "ChargeAmount", CHARGES, "other_charge_amount")
            _sum_into(row, item.get("ItemFeeList"), "FeeType", "FeeAmount", FEES, "other_fee_amount")
            _promotions(row, item.get("PromotionList"))
            shipments.append(row)
    for event in events.get("RefundEventList") or []:
        # refunds list their items under ShipmentItemAdjustmentList (ShipmentItemList on older answers)
        for item in event.get("ShipmentItemAdjustmentList") or event.get("ShipmentItemList") or []:
            row = _event_row(event, item, item.get("OrderAdjustmentItemId") or item.get("OrderItemId"))
            row["order_adjustment_item_id"] = item.get("OrderAdjustmentItemId")
            row["quantity"] = item.get("QuantityShipped")
            _sum_into(row, item.get("ItemChargeAdjustmentList") or item.get("ItemChargeList"), "ChargeType",
                      "ChargeAmount", CHARGES, "other_charge_amount")
            _sum_into(row, item.get("ItemFeeAdjustmentList") or item.get("ItemFeeList"), "FeeType", "FeeAmount",
                      FEES, "other_fee_amount")
            _promotions(row, item.get("PromotionAdjustmentList") or item.get("PromotionList"))
            refunds.append(row)
    return {"shipment_events": table(shipments, SHIPMENT_COLUMNS, ("event_key",)),
            "refund_events": table(refunds, REFUND_COLUMNS, ("event_key",))}


def _event_row(event: dict[str, Any], item: dict[str, Any], item_key: str | None) -> dict[str, Any]:
    """The columns every event item shares; its key is stable: order, item (or adjustment) and posting time."""
    return {
        "event_key": f"{event.get('AmazonOrderId')}/{item_key}/{event.get('PostedDate')}",
        "amazon_order_id": event.get("AmazonOrderId"), "posted_date": event.get("PostedDate"),
        "marketplace_name": event.get("MarketplaceName"), "order_item_id": item.get("OrderItemId"),
        "seller_sku": item.get("SellerSKU"),
    }


def inventory_table(summaries: list[dict[str, Any]], marketplace_id: str, today: date) -> pa.Table:
    """One page of summaries → rows of the snapshot dated by ``lastUpdatedTime`` (else ``today``, UTC)."""
    rows = []
    for s in summaries:
        details = s.get("inventoryDetails") or {}
        updated = s.get("lastUpdatedTime") or None
        rows.append({
            "snapshot_date": parse_instant(updated).astimezone(UTC).date() if updated else today,
            "seller_sku": s["sellerSku"], "marketplace_id": marketplace_id, "asin": s.get("asin"),
            "fn_sku": s.get("fnSku"), "condition": s.get("condition"), "product_name": s.get("productName"),
            "fulfillable_quantity": details.get("fulfillableQuantity"),
            "inbound_working_quantity": details.get("inboundWorkingQuantity"),
            "inbound_shipped_quantity": details.get("inboundShippedQuantity"),
            "inbound_receiving_quantity": details.get("inboundReceivingQuantity"),
            "reserved_quantity": (details.get("reservedQuantity") or {}).get("totalReservedQuantity"),
            "unfulfillable_quantity": (details.get("unfulfillableQuantity") or {}).get("totalUnfulfillableQuantity"),
            "total_quantity": s.get("totalQuantity"), "last_updated_time": updated,
        })
    return table(rows, INVENTORY_COLUMNS, ("snapshot_date", "seller_sku"))


S, INT, T, BOOL, DATE = pa.string(), pa.int64(), TIMESTAMP, pa.bool_(), pa.date32()
ORDER_COLUMNS = {
    "amazon_order_id": S, "seller_order_id": S, "purchase_date": T, "last_update_date": T, "order_status": S,
    "fulfillment_channel": S, "sales_channel": S, "marketplace_id": S, "order_total_currency_code": S,
    "order_total_amount": MONEY, "number_of_items_shipped": INT, "number_of_items_unshipped": INT, "is_prime": BOOL,
    "is_business_order": BOOL, "buyer_email": S, "ship_country_code": S,
}
ITEM_MONEY = {
    "item_price_amount": "ItemPrice", "item_tax_amount": "ItemTax", "promotion_discount_amount": "PromotionDiscount",
    "promotion_discount_tax_amount": "PromotionDiscountTax", "shipping_price_amount": "ShippingPrice",
    "shipping_tax_amount": "ShippingTax", "shipping_discount_amount": "ShippingDiscount",
}
ORDER_ITEM_COLUMNS = {
    "order_item_id": S, "amazon_order_id": S, "order_last_update_date": T, "asin": S, "seller_sku": S, "title": S,
    "quantity_ordered": INT, "quantity_shipped": INT, "currency_code": S, **dict.fromkeys(ITEM_MONEY, MONEY),
}
CHARGES = {"Principal": "principal_amount", "Tax": "tax_amount", "ShippingCharge": "shipping_charge_amount",
           "ShippingTax": "shipping_tax_amount"}
FEES = {"Commission": "commission_amount", "FBAPerUnitFulfillmentFee": "fba_fulfillment_fee_amount",
        "RefundCommission": "refund_commission_amount"}
_EVENT = {"event_key": S, "amazon_order_id": S, "posted_date": T, "marketplace_name": S, "order_item_id": S,
          "seller_sku": S}
SHIPMENT_COLUMNS = {
    **_EVENT, "quantity_shipped": INT, "currency_code": S, "principal_amount": MONEY, "tax_amount": MONEY,
    "shipping_charge_amount": MONEY, "shipping_tax_amount": MONEY, "promotion_amount": MONEY,
    "other_charge_amount": MONEY, "commission_amount": MONEY, "fba_fulfillment_fee_amount": MONEY,
    "other_fee_amount": MONEY,
}
REFUND_COLUMNS = {
    **_EVENT, "order_adjustment_item_id": S, "quantity": INT, "currency_code": S, "principal_amount": MONEY,
    "tax_amount": MONEY, "shipping_charge_amount": MONEY, "shipping_tax_amount": MONEY, "promotion_amount": MONEY,
    "other_charge_amount": MONEY, "commission_amount": MONEY, "refund_commission_amount": MONEY,
    "fba_fulfillment_fee_amount": MONEY, "other_fee_amount": MONEY,
}
INVENTORY_COLUMNS = {
    "snapshot_date": DATE, "seller_sku": S, "marketplace_id": S, "asin": S, "fn_sku": S, "condition": S,
    "product_name": S, "fulfillable_quantity": INT, "inbound_working_quantity": INT, "inbound_shipped_quantity": INT,
    "inbound_receiving_quantity": INT, "reserved_quantity": INT, "unfulfillable_quantity": INT,
    "total_quantity": INT, "last_updated_time": T,
}
