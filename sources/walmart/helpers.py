"""The Walmart Marketplace client (OAuth client-credentials token, Walmart's headers, its cursor and rate-limit
headers) and the converters from Walmart's JSON to Arrow tables.

Transport retries (429, 5xx, timeouts) are :class:`sources.http.RetryingSession`'s. Walmart's 429 carries no
``Retry-After`` but ``x-next-replenish-time`` (epoch ms): a response hook turns it into a ``Retry-After`` so the
session waits exactly until the bucket refills. A success that reports ``x-current-token-count: 0`` makes the
client pause until then before its next call. The 15-minute access token is renewed before it expires and,
if Walmart still refuses it (401 UNAUTHORIZED), once more on the spot.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa
import requests

from sources.http import RetryingSession
from sources.money import MONEY, UNIT_PRICE

from .settings import FEE_AMOUNT_TYPES, MAX_THROTTLE_WAIT_S, SERVICE_NAME, TOKEN_REFRESH_MARGIN_S

log = logging.getLogger("sources.walmart")

TIMESTAMP = pa.timestamp("us", tz="UTC")
ZERO = Decimal("0.00")


class WalmartAPIError(RuntimeError):
    """Walmart refused a request in a way retrying cannot fix (the message names endpoint and reason)."""


class WalmartAuthError(WalmartAPIError):
    """The client credentials or the access token were refused."""


def _replenish_as_retry_after(response: requests.Response, *args, **kwargs) -> requests.Response:
    """Walmart's 429 says when the bucket refills (``x-next-replenish-time``, epoch ms), not ``Retry-After``."""
    if response.status_code == 429 and "Retry-After" not in response.headers:
        replenish = response.headers.get("x-next-replenish-time")
        if replenish and replenish.isdigit():
            wait_s = max(0.0, int(replenish) / 1000 - time.time())
            response.headers["Retry-After"] = f"{min(wait_s, MAX_THROTTLE_WAIT_S):.3f}"
    return response


class WalmartClient:
    """Calls one seller's Walmart Marketplace API (``base_url`` = https://marketplace.walmartapis.com or the
    sandbox's ``http://127.0.0.1:8765/walmart``)."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, *, timeout_s: float = 30.0,
                 max_attempts: int = 6, backoff_s: float = 0.5, session: RetryingSession | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.session = session or RetryingSession(timeout_s=timeout_s, max_attempts=max_attempts,
                                                  backoff_s=backoff_s)
        self.session.hooks["response"].append(_replenish_as_retry_after)
        self._clock, self._sleep = clock, sleep
        self._token: str | None = None
        self._expires_at = 0.0
        self.stats = {"tokens": 0, "token_refusals": 0, "paced_s": 0.0}

    # --- auth -------------------------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"WM_SVC.NAME": SERVICE_NAME, "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
                "Accept": "application/json"}

    def access_token(self, *, renew: bool = False) -> str:
        if renew or self._token is None or self._clock() >= self._expires_at - TOKEN_REFRESH_MARGIN_S:
            response = self.session.post(
                f"{self.base_url}/v3/token", data={"grant_type": "client_credentials"},
                headers={**self._headers(), "Authorization": f"Basic {self._basic}",
                         "Content-Type": "application/x-www-form-urlencoded"})
            if response.status_code in (400, 401, 403):
                raise WalmartAuthError(f"walmart: POST /v3/token: client credentials refused "
                                       f"(HTTP {response.status_code} {_error_code(response)})")
            _raise_for_status(response, "POST /v3/token")
            body = response.json()
            self._token = body["access_token"]
            self._expires_at = self._clock() + float(body.get("expires_in", 900))
            self.stats["tokens"] += 1
        return self._token

    # --- requests ---------------------------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None, *, not_found_ok: bool = False,
            accept: str = "application/json") -> requests.Response | None:
        """GET ``path`` (which may carry Walmart's cursor query string); None for a 404 when ``not_found_ok``."""
        endpoint = path.split("?", 1)[0]
        for renewed in (False, True):
            headers = {**self._headers(), "Accept": accept, "WM_SEC.ACCESS_TOKEN": self.access_token(renew=renewed)}
            response = self.session.get(f"{self.base_url}{path}", params=params, headers=headers)
            if response.status_code != 401:
                break
            self.stats["token_refusals"] += 1
            log.info("walmart: %s: access token refused (expired?); renewing it", endpoint)
        else:
            raise WalmartAuthError(f"walmart: GET {endpoint}: access token refused after renewing it (HTTP 401)")
        if response.status_code == 404 and not_found_ok:
            return None
        _raise_for_status(response, f"GET {endpoint}")
        self._pace(response)
        return response

    def get_json(self, path: str, params: dict[str, Any] | None = None, *, not_found_ok: bool = False
                 ) -> dict[str, Any] | None:
        response = self.get(path, params, not_found_ok=not_found_ok)
        return None if response is None else json.loads(response.content, parse_float=Decimal)

    def _pace(self, response: requests.Response) -> None:
        """An emptied bucket (x-current-token-count 0): wait for its next token instead of earning a 429."""
        if response.headers.get("x-current-token-count") != "0":
            return
        replenish = response.headers.get("x-next-replenish-time", "")
        if replenish.isdigit():
            wait = min(MAX_THROTTLE_WAIT_S, max(0.0, int(replenish) / 1000 - time.time()))
            self.stats["paced_s"] += wait
            self._sleep(wait)

    # --- orders -----------------------------------------------------------------------------------------------
    def order_pages(self, *, last_modified_start: str, limit: int) -> Iterator[list[dict[str, Any]]]:
        """Pages of purchase orders modified since ``last_modified_start``, following ``meta.nextCursor`` (a
        query string appended to ``/v3/orders``, as Walmart documents)."""
        body = self.get_json("/v3/orders", {"lastModifiedStartDate": last_modified_start, "limit": limit},
                             not_found_ok=True)  # Walmart answers 404 CONTENT_NOT_FOUND when nothing matches
        while body is not None:
            listing = body["list"]
            yield (listing.get("elements") or {}).get("order") or []
            cursor = (listing.get("meta") or {}).get("nextCursor")
            if not cursor:
                return
            body = self.get_json(f"/v3/orders{cursor if cursor.startswith('?') else '?' + cursor}",
                                 not_found_ok=True)

    # --- returns ----------------------------------------------------------------------------------------------
    def return_pages(self, *, created_start: str, limit: int) -> Iterator[list[dict[str, Any]]]:
        """Pages of return orders created since ``created_start``, following ``meta.nextCursor`` (a query
        string appended to ``/v3/returns``). Newest first, as Walmart lists them."""
        body = self.get_json("/v3/returns", {"returnCreationStartDate": created_start, "limit": limit},
                             not_found_ok=True)
        while body is not None:
            yield list(body.get("returnOrders") or [])
            cursor = (body.get("meta") or {}).get("nextCursor")
            if not cursor:
                return
            body = self.get_json(f"/v3/returns{cursor if cursor.startswith('?') else '?' + cursor}",
                                 not_found_ok=True)

    # --- reconciliation report --------------------------------------------------------------------------------
    def recon_report_dates(self) -> list[str]:
        body = self.get_json("/v3/report/reconreport/availableReconFiles", {"reportVersion": "v1"})
        return list(body.get("availableApReportDates") or [])

    def recon_report(self, report_date: str, page_size: int) -> list[dict[str, Any]]:
        """Every row of one report (``reconFileJson`` pages until ``nextOffset`` is -1)."""
        rows, offset = [], 0
        while offset >= 0:
            body = self.get_json("/v3/report/reconreport/reconFileJson",
                                 {"reportDate": report_date, "offset": offset, "noOfRecords": page_size})
            rows += body.get("reportData") or []
            next_offset = int(body.get("nextOffset", -1))
            if 0 <= next_offset <= offset:
                raise WalmartAPIError(f"walmart: reconFileJson {report_date}: nextOffset {next_offset} does not "
                                      "advance")
            offset = next_offset
        return rows


def _error_code(response: requests.Response) -> str:
    try:
        return str(response.json()["errors"][0]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        return "no error body"


def _raise_for_status(response: requests.Response, what: str) -> None:
    if response.status_code < 400:
        return
    try:
        detail = response.json()["errors"][0]
        reason = f"{detail.get('code')}: {detail.get('description')}"
    except (ValueError, KeyError, IndexError, TypeError):
        reason = response.text[:200]
    raise WalmartAPIError(f"walmart: {what}: HTTP {response.status_code} {reason}")


# --- JSON → Arrow ----------------------------------------------------------------------------------------------

def ms_to_iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(int(ms) / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _ts(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def _amount(money: dict | None) -> Decimal:
    return ZERO if not money else Decimal(money["amount"])


def line_id_of(purchase_order_id: str, line_number: str | int) -> str:
    """Walmart identifies a line by (purchaseOrderId, lineNumber); our text key joins them."""
    return f"{purchase_order_id}-{line_number}"


def order_modified_ms(order: dict) -> int:
    """The latest event Walmart shows on an order: its date or any line's status date."""
    lines = order["orderLines"]["orderLine"]
    return max([int(order["orderDate"]), *(int(line.get("statusDate") or 0) for line in lines)])


def orders_to_tables(orders: list[dict]) -> dict[str, pa.Table]:
    """One page of purchase orders → the raw tables ``orders``, ``order_lines``, ``refunds``."""
    order_rows, line_rows, refund_rows = [], [], []
    for order in orders:
        po = str(order["purchaseOrderId"])
        lines = order["orderLines"]["orderLine"]
        currency, order_shipping, cancelled = None, ZERO, bool(lines)
        modified = _ts(order_modified_ms(order))
        for line in lines:
            line_id = line_id_of(po, line["lineNumber"])
            item_price = discount = tax = shipping = shipping_tax = ZERO
            for charge in line["charges"]["charge"]:
                value = _amount(charge.get("chargeAmount"))
                charge_tax = _amount((charge.get("tax") or {}).get("taxAmount"))
                currency = currency or (charge.get("chargeAmount") or {}).get("currency")
                if charge["chargeType"] == "SHIPPING":
                    shipping, shipping_tax = shipping + value, shipping_tax + charge_tax
                elif charge.get("chargeName") == "ItemPrice":
                    item_price, tax = item_price + value, tax + charge_tax
                else:  # a PRODUCT charge that is a discount (negative): Discount, SubscriptionDiscount, …
                    discount, tax = discount - value, tax + charge_tax
            statuses = line["orderLineStatuses"]["orderLineStatus"]
            by_status: dict[str, int] = {}
            for status in statuses:
                by_status[status["status"]] = by_status.get(status["status"], 0) + int(
                    status["statusQuantity"]["amount"])
            cancelled = cancelled and set(by_status) == {"Cancelled"}
            quantity = int(line["orderLineQuantity"]["amount"])
            order_shipping += shipping
            line_rows.append({
                "line_id": line_id, "order_id": po, "line_number": int(line["lineNumber"]),
                "sku": line["item"].get("sku"), "product_name": line["item"].get("productName"),
                "quantity": quantity, "item_price_amount": item_price,
                "unit_price_amount": (item_price / quantity).quantize(Decimal("0.0001"), ROUND_HALF_UP)
                if quantity else None,
                "discount_amount": discount, "tax_amount": tax, "shipping_amount": shipping,
                "shipping_tax_amount": shipping_tax,
                "status": ",".join(sorted(by_status)), "status_date": _ts(line.get("statusDate")),
                "order_modified_at": modified,
            })
            refund = line.get("refund")
            if refund:
                merchandise = refund_tax = refund_shipping = ZERO
                for item in refund["refundCharges"]["refundCharge"]:
                    charge = item["charge"]
                    value = -_amount(charge.get("chargeAmount"))
                    refund_tax -= _amount((charge.get("tax") or {}).get("taxAmount"))
                    if charge["chargeType"] == "SHIPPING":
                        refund_shipping += value
                    else:
                        merchandise += value
                refund_rows.append({
                    "refund_line_id": f"{line_id}-{refund['refundId']}", "refund_id": str(refund["refundId"]),
                    "order_id": po, "line_id": line_id, "refunded_at": _ts(line.get("statusDate")),
                    "quantity": by_status.get("Refund", 0), "amount": merchandise, "tax_amount": refund_tax,
                    "shipping_amount": refund_shipping, "refund_comments": refund.get("refundComments"),
                    "order_modified_at": modified,
                })
        order_rows.append({
            "order_id": po, "customer_order_id": str(order["customerOrderId"]),
            "customer_email_id": order.get("customerEmailId"), "order_date": _ts(order["orderDate"]),
            "currency": currency, "shipping_amount": order_shipping, "line_count": len(lines),
            "is_cancelled": cancelled, "ship_node_type": (order.get("shipNode") or {}).get("type"),
            "last_modified_at": modified,
        })
    return {
        "orders": _table(order_rows, ORDER_COLUMNS, "order_id"),
        "order_lines": _table(line_rows, LINE_COLUMNS, "line_id"),
        "refunds": _table(refund_rows, REFUND_COLUMNS, "refund_line_id"),
    }


def returns_to_table(return_orders: list[dict]) -> pa.Table:
    """One page of return orders → one row per return order line (``returns``), keyed by
    (return_order_id, return_order_line_number)."""
    rows = []
    for ro in return_orders:
        total = ro.get("totalRefundAmount") or {}
        for line in ro.get("returnOrderLines") or []:
            quantity = line.get("quantity") or {}
            units = Decimal(str(quantity.get("measurementValue", 0)))
            if units != units.to_integral_value():
                raise WalmartAPIError(f"walmart: GET /v3/returns: return order {ro.get('returnOrderId')} line "
                                      f"{line.get('returnOrderLineNumber')}: quantity {units} is not whole units")
            po, po_line = line.get("purchaseOrderId"), line.get("purchaseOrderLineNumber")
            rows.append({
                "return_order_id": str(ro["returnOrderId"]),
                "return_order_line_number": int(line["returnOrderLineNumber"]),
                "customer_order_id": ro.get("customerOrderId"), "customer_email_id": ro.get("customerEmailId"),
                "return_order_date": _iso_ts(ro.get("returnOrderDate")),
                "purchase_order_id": None if po is None else str(po),
                "purchase_order_line_number": None if po_line is None else int(po_line),
                "sales_order_line_number": line.get("salesOrderLineNumber"),
                "line_id": line_id_of(str(po), po_line) if po is not None and po_line is not None else None,
                "sku": (line.get("item") or {}).get("sku"),
                "product_name": (line.get("item") or {}).get("productName"),
                "return_reason": line.get("returnReason"), "quantity": int(units),
                "unit_of_measure": quantity.get("unitOfMeasure"),
                "refunded_quantity": _units(line.get("refundedQty")),
                "status": line.get("status"), "status_time": _iso_ts(line.get("statusTime")),
                "current_refund_status": line.get("currentRefundStatus"),
                "total_refund_amount": None if total.get("currencyAmount") is None
                else Decimal(str(total["currencyAmount"])).quantize(Decimal("0.01")),
                "currency": total.get("currencyUnit"),
            })
    arrays = [pa.array([row[name] for row in rows], dtype) for name, dtype in RETURN_COLUMNS.items()]
    keys = ("return_order_id", "return_order_line_number")
    fields = [pa.field(name, dtype, nullable=name not in keys) for name, dtype in RETURN_COLUMNS.items()]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _units(value: Any) -> int | None:
    return None if value is None else int(Decimal(str(value)))


def _iso_ts(text: str | None) -> datetime | None:
    """Walmart's ISO instants (2019-02-21T01:01:08.000Z, or with an offset) → aware UTC."""
    if not text:
        return None
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def recon_to_fees(report_date: str, rows: list[dict]) -> pa.Table:
    """One reconciliation report → fee rows (commission, WFS and other fees, and their refunds), amounts as
    Walmart signs them (a fee is negative). The report's currency is on its PaymentSummary row."""
    currency = next((r.get("Currency") for r in rows if r.get("Transaction Type") == "PaymentSummary"), None)
    day = datetime.strptime(report_date, "%m%d%Y").date()
    fees = [r for r in rows
            if r.get("Amount Type") in FEE_AMOUNT_TYPES and r.get("Transaction Type") != "PaymentSummary"]
    keys = [_fee_key(report_date, r) for r in fees]
    total, seen, out = Counter(keys), Counter(), []
    for key, row in zip(keys, fees, strict=True):
        seen[key] += 1
        po, line = str(row.get("Purchase Order #") or ""), str(row.get("Purchase Order line #") or "")
        out.append({
            "fee_id": key if total[key] == 1 else f"{key}-{seen[key]}",  # the same money line twice in a report
            "report_date": day, "order_id": po or None, "line_id": line_id_of(po, line) if po and line else None,
            "transaction_type": row.get("Transaction Type"), "amount_type": row["Amount Type"],
            "transaction_description": row.get("Transaction Description"), "amount": Decimal(row["Amount"]),
            "currency": currency,
            "posted_at": datetime.strptime(row["Transaction Posted Timestamp"], "%m/%d/%Y").replace(tzinfo=UTC),
            "sku": row.get("Partner Item Id") or None, "fulfillment_type": row.get("Fulfillment Type") or None,
        })
    return _table(out, FEE_COLUMNS, "fee_id")


def _fee_key(report_date: str, row: dict) -> str:
    """A stable key of one fee row: report, purchase order, line, transaction and amount type."""
    parts = (report_date, row.get("Purchase Order #"), row.get("Purchase Order line #"), row.get("Transaction Type"),
             row.get("Amount Type"))
    return "-".join(str(p or "").lower().replace(" ", "_").replace("/", "_") for p in parts)


def _table(rows: list[dict[str, Any]], columns: dict[str, pa.DataType], key: str) -> pa.Table:
    arrays = [pa.array([row[name] for row in rows], dtype) for name, dtype in columns.items()]
    fields = [pa.field(name, dtype, nullable=(name != key)) for name, dtype in columns.items()]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


S, INT, T, B = pa.string(), pa.int64(), TIMESTAMP, pa.bool_()
ORDER_COLUMNS = {
    "order_id": S, "customer_order_id": S, "customer_email_id": S, "order_date": T, "currency": S,
    "shipping_amount": MONEY, "line_count": INT, "is_cancelled": B, "ship_node_type": S, "last_modified_at": T,
}
LINE_COLUMNS = {
    "line_id": S, "order_id": S, "line_number": INT, "sku": S, "product_name": S, "quantity": INT,
    "item_price_amount": MONEY, "unit_price_amount": UNIT_PRICE, "discount_amount": MONEY, "tax_amount": MONEY,
    "shipping_amount": MONEY, "shipping_tax_amount": MONEY, "status": S, "status_date": T, "order_modified_at": T,
}
REFUND_COLUMNS = {
    "refund_line_id": S, "refund_id": S, "order_id": S, "line_id": S, "refunded_at": T, "quantity": INT,
    "amount": MONEY, "tax_amount": MONEY, "shipping_amount": MONEY, "refund_comments": S, "order_modified_at": T,
}
RETURN_COLUMNS = {
    "return_order_id": S, "return_order_line_number": INT, "customer_order_id": S, "customer_email_id": S,
    "return_order_date": T, "purchase_order_id": S, "purchase_order_line_number": INT,
    "sales_order_line_number": INT, "line_id": S, "sku": S, "product_name": S, "return_reason": S, "quantity": INT,
    "unit_of_measure": S, "refunded_quantity": INT, "status": S, "status_time": T, "current_refund_status": S,
    "total_refund_amount": MONEY, "currency": S,
}
FEE_COLUMNS = {
    "fee_id": S, "report_date": pa.date32(), "order_id": S, "line_id": S, "transaction_type": S, "amount_type": S,
    "transaction_description": S, "amount": MONEY, "currency": S, "posted_at": T, "sku": S, "fulfillment_type": S,
}
