"""The Shopify Admin GraphQL client and the page → Arrow converters.

Transport retries (5xx, 429, timeouts, dropped connections, with exponential backoff honouring
Retry-After) are dlt's own ``requests`` client. On top of it this module follows Shopify's calculated
query cost: every answer reports ``extensions.cost.throttleStatus``; before each query the client waits
until the leaky bucket has refilled enough for the query's requested cost, and a THROTTLED answer makes
it wait exactly the refill time and ask again (bounded), never a blind retry storm.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
from dlt.sources.helpers.requests import Client

from sources.money import MONEY, UNIT_PRICE

log = logging.getLogger("sources.shopify")

TIMESTAMP = pa.timestamp("us", tz="UTC")


class ShopifyAPIError(RuntimeError):
    """Shopify answered with an error that retrying will not fix."""


class ShopifyAuthError(ShopifyAPIError):
    """The access token was refused (HTTP 401/403)."""


@dataclass
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float
    observed_at: float

    def available_at(self, now: float) -> float:
        restored = self.currently_available + (now - self.observed_at) * self.restore_rate
        return min(self.maximum_available, restored)

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` points are in the bucket (0 when they already are)."""
        missing = cost - self.available_at(now)
        return max(0.0, missing / self.restore_rate) if self.restore_rate > 0 else 0.0


class ShopifyGraphQLClient:
    """Sends GraphQL queries to one shop, within its cost budget."""

    def __init__(
        self,
        shop_url: str,
        access_token: str,
        api_version: str,
        *,
        timeout_s: float = 30.0,
        max_attempts: int = 5,
        backoff_factor: float = 0.5,
        max_throttle_waits: int = 20,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = f"{shop_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self._headers = {"X-Shopify-Access-Token": access_token, "Content-Type": "application/json"}
        self._session = Client(
            request_timeout=timeout_s,
            raise_for_status=False,
            request_max_attempts=max_attempts,
            request_backoff_factor=backoff_factor,
            request_max_retry_delay=60,
        ).session
        self._max_throttle_waits = max_throttle_waits
        self._sleep, self._clock = sleep, clock
        self._throttle: ThrottleStatus | None = None
        self._last_requested_cost: dict[str, float] = {}
        self.stats = {"requests": 0, "throttled": 0, "waited_s": 0.0}

    def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run one query and return its ``data``; waits out throttling, raises on real errors."""
        for _ in range(self._max_throttle_waits + 1):
            self._wait(self._last_requested_cost.get(query, 0.0))
            body = self._post(query, variables)
            cost = (body.get("extensions") or {}).get("cost") or {}
            self._observe(cost)
            if cost.get("requestedQueryCost") is not None:
                self._last_requested_cost[query] = float(cost["requestedQueryCost"])
            errors = body.get("errors")
            if not errors:
                return body["data"]
            codes = {((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)}
            if "THROTTLED" not in codes:
                raise ShopifyAPIError(f"{self.endpoint}: GraphQL errors {errors}")
            self.stats["throttled"] += 1
            log.info("throttled by %s; waiting for the bucket to refill", self.endpoint)
        raise ShopifyAPIError(f"{self.endpoint}: still throttled after {self._max_throttle_waits} waits")

    def paginate(self, query: str, connection: str, *, page_size: int, search: str | None) -> Iterator[list[dict]]:
        """Yield the nodes of ``connection`` page by page, following ``pageInfo.endCursor``."""
        cursor = None
        while True:
            data = self.execute(query, {"first": page_size, "after": cursor, "query": search})
            page = data[connection]
            yield page["nodes"]
            if not page["pageInfo"]["hasNextPage"]:
                return
            cursor = page["pageInfo"]["endCursor"]

    def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        self.stats["requests"] += 1
        response = self._session.post(self.endpoint, json={"query": query, "variables": variables},
                                      headers=self._headers)
        if response.status_code in (401, 403):
            raise ShopifyAuthError(f"{self.endpoint}: access token refused (HTTP {response.status_code})")
        if response.status_code >= 400:
            raise ShopifyAPIError(f"{self.endpoint}: HTTP {response.status_code}: {response.text[:300]}")
        return response.json()

    def _observe(self, cost: dict[str, Any]) -> None:
        status = cost.get("throttleStatus")
        if status:
            self._throttle = ThrottleStatus(
                maximum_available=float(status["maximumAvailable"]),
                currently_available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
                observed_at=self._clock(),
            )

    def _wait(self, cost: float) -> None:
        if self._throttle is None or cost <= 0:
            return
        delay = self._throttle.wait_for(min(cost, self._throttle.maximum_available), self._clock())
        if delay > 0:
            self.stats["waited_s"] += delay
            self._sleep(delay)


def expect_complete(connection: dict, what: str, owner: str) -> list[dict]:
    """Nested connections are fetched in one page; more would be silently lost, so refuse it."""
    if connection["pageInfo"]["hasNextPage"]:
        raise ShopifyAPIError(f"{owner}: more {what} than one nested page holds; raise the page size")
    return connection["nodes"]


def _shop(bag: dict | None) -> str | None:
    return None if bag is None else bag["shopMoney"]["amount"]


def _presentment(bag: dict | None) -> str | None:
    return None if bag is None else bag["presentmentMoney"]["amount"]


def _id(obj: dict | None) -> str | None:
    return None if obj is None else obj["id"]


def _table(rows: list[dict[str, Any]], columns: dict[str, pa.DataType]) -> pa.Table:
    """Rows → a typed Arrow table; decimals and timestamps are cast from their text, so exactly."""
    arrays = []
    for name, dtype in columns.items():
        values = [row[name] for row in rows]
        if pa.types.is_decimal(dtype) or pa.types.is_timestamp(dtype):
            arrays.append(pa.array(values, pa.string()).cast(dtype))
        else:
            arrays.append(pa.array(values, dtype))
    # ids are primary keys: not nullable, as dlt's schema has them
    fields = [pa.field(n, t, nullable=(n != "id")) for n, t in columns.items()]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def sum_money(amounts: Iterable[str]) -> str:
    """Σ of decimal texts, exact (the tax lines of one line item)."""
    return str(sum((Decimal(a) for a in amounts), Decimal("0.00")))


def orders_to_tables(nodes: list[dict]) -> dict[str, pa.Table]:
    """One page of orders → the four raw tables (orders, line items, refunds, refund line items)."""
    orders, lines, refunds, refund_lines = [], [], [], []
    for n in nodes:
        orders.append({
            "id": n["id"], "legacy_resource_id": int(n["legacyResourceId"]), "name": n["name"],
            "created_at": n["createdAt"], "updated_at": n["updatedAt"], "processed_at": n["processedAt"],
            "cancelled_at": n["cancelledAt"], "currency_code": n["currencyCode"],
            "presentment_currency_code": n["presentmentCurrencyCode"], "source_name": n["sourceName"],
            "customer_id": _id(n["customer"]), "subtotal_amount": _shop(n["subtotalPriceSet"]),
            "total_discounts_amount": _shop(n["totalDiscountsSet"]), "total_tax_amount": _shop(n["totalTaxSet"]),
            "total_shipping_amount": _shop(n["totalShippingPriceSet"]),
            "total_price_amount": _shop(n["totalPriceSet"]),
            "total_refunded_amount": _shop(n["totalRefundedSet"]),
            "total_price_presentment_amount": _presentment(n["totalPriceSet"]),
        })
        for line in expect_complete(n["lineItems"], "line items", n["id"]):
            lines.append({
                "id": line["id"], "order_id": n["id"], "order_updated_at": n["updatedAt"], "sku": line["sku"],
                "quantity": line["quantity"], "variant_id": _id(line["variant"]),
                "product_id": _id(line["product"]),
                "original_unit_price_amount": _shop(line["originalUnitPriceSet"]),
                "original_unit_price_presentment_amount": _presentment(line["originalUnitPriceSet"]),
                "total_discount_amount": _shop(line["totalDiscountSet"]),
                "tax_amount": sum_money(_shop(t["priceSet"]) for t in line["taxLines"]),
            })
        for refund in n["refunds"]:
            refunds.append({"id": refund["id"], "order_id": n["id"], "created_at": refund["createdAt"],
                            "total_refunded_amount": _shop(refund["totalRefundedSet"])})
            for rline in expect_complete(refund["refundLineItems"], "refund line items", refund["id"]):
                refund_lines.append({
                    "id": rline["id"], "refund_id": refund["id"], "order_id": n["id"],
                    "line_item_id": _id(rline["lineItem"]), "quantity": rline["quantity"],
                    "subtotal_amount": _shop(rline["subtotalSet"]), "total_tax_amount": _shop(rline["totalTaxSet"]),
                })
    return {
        "orders": _table(orders, ORDER_COLUMNS),
        "order_line_items": _table(lines, LINE_COLUMNS),
        "refunds": _table(refunds, REFUND_COLUMNS),
        "refund_line_items": _table(refund_lines, REFUND_LINE_COLUMNS),
    }


def customers_to_table(nodes: list[dict]) -> pa.Table:
    rows = [{
        "id": n["id"], "email": n["email"], "first_name": n["firstName"], "last_name": n["lastName"],
        "created_at": n["createdAt"], "updated_at": n["updatedAt"], "number_of_orders": int(n["numberOfOrders"]),
        "amount_spent_amount": (n["amountSpent"] or {}).get("amount"),
        "country_code": (n.get("defaultAddress") or {}).get("countryCodeV2"),
    } for n in nodes]
    return _table(rows, CUSTOMER_COLUMNS)


def products_to_tables(nodes: list[dict]) -> dict[str, pa.Table]:
    products, variants = [], []
    for n in nodes:
        products.append({"id": n["id"], "title": n["title"], "product_type": n["productType"],
                         "vendor": n["vendor"], "status": n["status"], "created_at": n["createdAt"],
                         "updated_at": n["updatedAt"]})
        for variant in expect_complete(n["variants"], "variants", n["id"]):
            unit_cost = ((variant.get("inventoryItem") or {}).get("unitCost") or {}).get("amount")
            variants.append({"id": variant["id"], "product_id": n["id"], "sku": variant["sku"],
                             "title": variant["title"], "price_amount": variant["price"],
                             "unit_cost_amount": unit_cost, "updated_at": n["updatedAt"]})
    return {"products": _table(products, PRODUCT_COLUMNS), "product_variants": _table(variants, VARIANT_COLUMNS)}


ORDER_TABLES = ("orders", "order_line_items", "refunds", "refund_line_items")
PRODUCT_TABLES = ("products", "product_variants")
S, INT, T = pa.string(), pa.int64(), TIMESTAMP
ORDER_COLUMNS = {
    "id": S, "legacy_resource_id": INT, "name": S, "created_at": T, "updated_at": T, "processed_at": T,
    "cancelled_at": T, "currency_code": S, "presentment_currency_code": S, "source_name": S, "customer_id": S,
    "subtotal_amount": MONEY, "total_discounts_amount": MONEY, "total_tax_amount": MONEY,
    "total_shipping_amount": MONEY, "total_price_amount": MONEY, "total_refunded_amount": MONEY,
    "total_price_presentment_amount": MONEY,
}
LINE_COLUMNS = {
    "id": S, "order_id": S, "order_updated_at": T, "sku": S, "quantity": INT, "variant_id": S, "product_id": S,
    "original_unit_price_amount": UNIT_PRICE, "original_unit_price_presentment_amount": UNIT_PRICE,
    "total_discount_amount": MONEY, "tax_amount": MONEY,
}
REFUND_COLUMNS = {"id": S, "order_id": S, "created_at": T, "total_refunded_amount": MONEY}
REFUND_LINE_COLUMNS = {
    "id": S, "refund_id": S, "order_id": S, "line_item_id": S, "quantity": INT, "subtotal_amount": MONEY,
    "total_tax_amount": MONEY,
}
CUSTOMER_COLUMNS = {
    "id": S, "email": S, "first_name": S, "last_name": S, "created_at": T, "updated_at": T,
    "number_of_orders": INT, "amount_spent_amount": MONEY, "country_code": S,
}
PRODUCT_COLUMNS = {"id": S, "title": S, "product_type": S, "vendor": S, "status": S, "created_at": T, "updated_at": T}
VARIANT_COLUMNS = {
    "id": S, "product_id": S, "sku": S, "title": S, "price_amount": UNIT_PRICE, "unit_cost_amount": UNIT_PRICE,
    "updated_at": T,
}
