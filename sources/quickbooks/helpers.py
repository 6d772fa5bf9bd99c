"""The QuickBooks Online client (Intuit OAuth 2.0 with rotating refresh tokens, the query endpoint, paging) and the
page → Arrow converters.

Transport faults (429 throttling, 5xx, timeouts, dropped connections) are retried by
``sources.http.RetryingSession`` (QBO sends no Retry-After, so exponential backoff with jitter). An expired access
token (401 ``AuthenticationFailed`` 3200) is refreshed once and the call repeated. Intuit rotates the refresh
token on refresh: the client always keeps the newest one it was given, reports each rotation
(``on_refresh_token``, ``rotations``) and never logs or raises with a token or the client secret in the text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import requests

from sources.http import RetryingSession
from sources.money import MONEY, UNIT_PRICE, parse_decimal

log = logging.getLogger("sources.quickbooks")

TIMESTAMP = pa.timestamp("us", tz="UTC")
REFRESH_MARGIN_S = 60  # refresh an access token this long before it expires


class QuickBooksError(RuntimeError):
    """QuickBooks refused a request in a way retrying cannot fix."""


class QuickBooksAuthError(QuickBooksError):
    """The OAuth app, the refresh token or the access token was refused."""


class IntuitOAuth:
    """Access tokens from Intuit's token endpoint by the refresh-token grant; keeps the newest refresh token."""

    def __init__(self, *, client_id: str, client_secret: str, refresh_token: str, token_url: str,
                 session: requests.Session, on_refresh_token: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client_id, self._client_secret = client_id, client_secret
        self._refresh_token = refresh_token
        self.token_url = token_url
        self._session = session
        self._on_refresh_token = on_refresh_token
        self._clock = clock
        self._access_token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.refreshes = 0
        self.rotations = 0  # how many times Intuit handed out a new refresh token in this run
        self.last_rotated_at: str | None = None  # when (UTC, ISO 8601)

    def __repr__(self) -> str:  # never show a secret
        return f"IntuitOAuth(token_url={self.token_url!r}, refreshes={self.refreshes}, rotations={self.rotations})"

    @property
    def refresh_token(self) -> str:
        """The newest refresh token (what production must persist after a run that rotated it)."""
        return self._refresh_token

    def access_token(self) -> str:
        with self._lock:
            if self._access_token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_S:
                self._refresh()
            return self._access_token

    def invalidate(self, used: str) -> None:
        """The API refused ``used`` as expired: the next ``access_token()`` refreshes (once, if called twice)."""
        with self._lock:
            if self._access_token == used:
                self._access_token = None

    def _refresh(self) -> None:
        response = self._session.post(
            self.token_url, auth=(self._client_id, self._client_secret),
            data={"grant_type": "refresh_token", "refresh_token": self._refresh_token},
            headers={"Accept": "application/json"},
        )
        if response.status_code != 200:
            error = _oauth_error(response)
            if response.status_code == 401 or error == "invalid_client":
                raise QuickBooksAuthError(f"quickbooks: {self.token_url} refused the app's client credentials "
                                          f"({error}); check client_id and client_secret")
            raise QuickBooksAuthError(f"quickbooks: {self.token_url} refused the refresh token (HTTP "
                                      f"{response.status_code} {error}); reconnect the company to get a new one")
        body = response.json()
        self.refreshes += 1
        self._access_token = body["access_token"]
        self._expires_at = self._clock() + float(body.get("expires_in", 3600))
        rotated = body.get("refresh_token")
        if rotated and rotated != self._refresh_token:
            self._refresh_token = rotated
            self.rotations += 1
            self.last_rotated_at = datetime.now(UTC).isoformat(timespec="seconds")
            log.warning("quickbooks: Intuit rotated the refresh token (rotation %d of this run); the newest one is "
                        "kept for the rest of the run and must be persisted", self.rotations)
            if self._on_refresh_token is not None:
                self._on_refresh_token(rotated)


def _oauth_error(response: requests.Response) -> str:
    try:
        return str(response.json().get("error") or "unknown_error")
    except ValueError:
        return "unreadable answer"


class QuickBooksClient:
    """Queries one company (realm) of the Accounting API v3."""

    def __init__(self, *, base_url: str, realm_id: str, auth: IntuitOAuth, session: RetryingSession,
                 minor_version: int) -> None:
        self.endpoint = f"{base_url.rstrip('/')}/v3/company/{realm_id}/query"
        self.realm_id = realm_id
        self.auth, self._session, self.minor_version = auth, session, minor_version
        self.requests = 0

    def query(self, statement: str) -> dict[str, Any]:
        """The ``QueryResponse`` of one statement (amounts as exact ``Decimal``)."""
        for attempt in (1, 2):
            token = self.auth.access_token()
            self.requests += 1
            response = self._session.get(self.endpoint, params={"query": statement, "minorversion": self.minor_version},
                                         headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            if response.status_code == 401 and attempt == 1:
                log.info("quickbooks: access token refused (%s); refreshing", _fault_text(response))
                self.auth.invalidate(token)
                continue
            if response.status_code in (401, 403):
                raise QuickBooksAuthError(f"quickbooks: {self.endpoint} refused the access token for company "
                                          f"{self.realm_id} (HTTP {response.status_code}: {_fault_text(response)})")
            if response.status_code >= 400:
                raise QuickBooksError(f"quickbooks: {self.endpoint} refused the query {statement!r} "
                                      f"(HTTP {response.status_code}: {_fault_text(response)})")
            return response.json(parse_float=Decimal)["QueryResponse"]
        raise AssertionError("unreachable")

    def paginate(self, entity: str, *, where: str | None, order_by: str | None,
                 page_size: int) -> Iterator[list[dict[str, Any]]]:
        """Every entity matching ``where``, a page (STARTPOSITION/MAXRESULTS) at a time; stops at a short page."""
        start = 1
        clauses = [f"SELECT * FROM {entity}", f"WHERE {where}" if where else "", f"ORDERBY {order_by}" if order_by
                   else ""]
        base = " ".join(c for c in clauses if c)
        while True:
            page = self.query(f"{base} STARTPOSITION {start} MAXRESULTS {page_size}").get(entity, [])
            if page:
                yield page
            if len(page) < page_size:
                return
            start += len(page)


def _fault_text(response: requests.Response) -> str:
    """The Fault's code, message and detail (QBO's ``Fault`` or the gateway's lower-case ``fault``)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    fault = body.get("Fault") or body.get("fault") or {}
    errors = fault.get("Error") or fault.get("error") or []
    parts = [f"{e.get('code')} {e.get('Message') or e.get('message')}: {e.get('Detail') or e.get('detail')}"
             for e in errors if isinstance(e, dict)]
    return "; ".join(parts) or response.text[:200]


# --- pages → Arrow ----------------------------------------------------------------------------------------------
def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _money(value: Any) -> Decimal | None:
    return parse_decimal(value, max_places=2)


def _unit(value: Any) -> Decimal | None:
    return parse_decimal(value, max_places=4)


def _ref(obj: dict | None, key: str = "value") -> str | None:
    return None if not obj else obj.get(key)


def _table(rows: list[dict[str, Any]], columns: dict[str, pa.DataType]) -> pa.Table:
    fields = [pa.field(n, t, nullable=(n != "id")) for n, t in columns.items()]
    return pa.Table.from_arrays([pa.array([r[n] for r in rows], t) for n, t in columns.items()],
                                schema=pa.schema(fields))


def _meta(entity: dict[str, Any]) -> dict[str, Any]:
    meta = entity.get("MetaData") or {}
    return {"id": entity["Id"], "sync_token": entity.get("SyncToken"), "created_at": _instant(meta.get("CreateTime")),
            "updated_at": _instant(meta.get("LastUpdatedTime"))}


def items_to_table(entities: list[dict[str, Any]], currency: str | None) -> pa.Table:
    rows = [{
        **_meta(e), "name": e.get("Name"), "sku": e.get("Sku"), "type": e.get("Type"), "active": e.get("Active"),
        "unit_price": _unit(e.get("UnitPrice")), "purchase_cost": _unit(e.get("PurchaseCost")), "currency": currency,
        "asset_account_name": _ref(e.get("AssetAccountRef"), "name"),
        "expense_account_name": _ref(e.get("ExpenseAccountRef"), "name"),
        "pref_vendor_id": _ref(e.get("PrefVendorRef")),
    } for e in entities]
    return _table(rows, ITEM_COLUMNS)


def vendors_to_table(entities: list[dict[str, Any]]) -> pa.Table:
    rows = [{
        **_meta(e), "display_name": e.get("DisplayName"), "company_name": e.get("CompanyName"),
        "active": e.get("Active"), "currency": _ref(e.get("CurrencyRef")), "balance": _money(e.get("Balance")),
    } for e in entities]
    return _table(rows, VENDOR_COLUMNS)


def _lines(entity: dict[str, Any], parent: str) -> list[dict[str, Any]]:
    """Expense lines of a Bill or Purchase: item-based (stock) or account-based (a category of expense)."""
    out = []
    updated_at = _instant((entity.get("MetaData") or {}).get("LastUpdatedTime"))
    for line in entity.get("Line") or []:
        kind = line.get("DetailType")
        item = line.get("ItemBasedExpenseLineDetail") or {}
        account = line.get("AccountBasedExpenseLineDetail") or {}
        out.append({
            "id": f"{entity['Id']}-{line['Id']}", f"{parent}_id": entity["Id"], "line_id": line["Id"],
            "line_num": line.get("LineNum"), "detail_type": kind, "description": line.get("Description"),
            "amount": _money(line.get("Amount")),
            "item_id": _ref(item.get("ItemRef")), "item_name": _ref(item.get("ItemRef"), "name"),
            "qty": _unit(item.get("Qty")), "unit_price": _unit(item.get("UnitPrice")),
            "account_id": _ref(account.get("AccountRef")), "account_name": _ref(account.get("AccountRef"), "name"),
            f"{parent}_updated_at": updated_at,
        })
    return out


def bills_to_tables(entities: list[dict[str, Any]]) -> dict[str, pa.Table]:
    bills = [{
        **_meta(e), "doc_number": e.get("DocNumber"), "txn_date": _day(e.get("TxnDate")),
        "due_date": _day(e.get("DueDate")), "vendor_id": _ref(e.get("VendorRef")),
        "vendor_name": _ref(e.get("VendorRef"), "name"), "currency": _ref(e.get("CurrencyRef")),
        "total_amt": _money(e.get("TotalAmt")), "balance": _money(e.get("Balance")),
        "private_note": e.get("PrivateNote"),
    } for e in entities]
    lines = [line for e in entities for line in _lines(e, "bill")]
    return {"bills": _table(bills, BILL_COLUMNS), "bill_lines": _table(lines, line_columns("bill"))}


def purchases_to_tables(entities: list[dict[str, Any]]) -> dict[str, pa.Table]:
    purchases = [{
        **_meta(e), "doc_number": e.get("DocNumber"), "txn_date": _day(e.get("TxnDate")),
        "payment_type": e.get("PaymentType"), "credit": e.get("Credit"),
        "account_id": _ref(e.get("AccountRef")), "account_name": _ref(e.get("AccountRef"), "name"),
        "entity_id": _ref(e.get("EntityRef")), "entity_name": _ref(e.get("EntityRef"), "name"),
        "entity_type": _ref(e.get("EntityRef"), "type"), "currency": _ref(e.get("CurrencyRef")),
        "total_amt": _money(e.get("TotalAmt")), "private_note": e.get("PrivateNote"),
    } for e in entities]
    lines = [line for e in entities for line in _lines(e, "purchase")]
    return {"purchases": _table(purchases, PURCHASE_COLUMNS), "purchase_lines": _table(lines, line_columns("purchase"))}


S, T, D, B, INT = pa.string(), TIMESTAMP, pa.date32(), pa.bool_(), pa.int64()
META_COLUMNS = {"id": S, "sync_token": S, "created_at": T, "updated_at": T}
ITEM_COLUMNS = {**META_COLUMNS, "name": S, "sku": S, "type": S, "active": B, "unit_price": UNIT_PRICE,
                "purchase_cost": UNIT_PRICE, "currency": S, "asset_account_name": S, "expense_account_name": S,
                "pref_vendor_id": S}
VENDOR_COLUMNS = {**META_COLUMNS, "display_name": S, "company_name": S, "active": B, "currency": S, "balance": MONEY}
BILL_COLUMNS = {**META_COLUMNS, "doc_number": S, "txn_date": D, "due_date": D, "vendor_id": S, "vendor_name": S,
                "currency": S, "total_amt": MONEY, "balance": MONEY, "private_note": S}
PURCHASE_COLUMNS = {**META_COLUMNS, "doc_number": S, "txn_date": D, "payment_type": S, "credit": B, "account_id": S,
                    "account_name": S, "entity_id": S, "entity_name": S, "entity_type": S, "currency": S,
                    "total_amt": MONEY, "private_note": S}


def line_columns(parent: str) -> dict[str, pa.DataType]:
    return {"id": S, f"{parent}_id": S, "line_id": S, "line_num": INT, "detail_type": S, "description": S,
            "amount": MONEY, "item_id": S, "item_name": S, "qty": UNIT_PRICE, "unit_price": UNIT_PRICE,
            "account_id": S, "account_name": S, f"{parent}_updated_at": T}
