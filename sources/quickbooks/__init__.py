"""QuickBooks Online Accounting API → dlt: items, vendors, bills (+ lines) and purchases (+ lines) of one company.

Incremental on ``MetaData.LastUpdatedTime``: each entity keeps its cursor in dlt resource state and asks for
``WHERE MetaData.LastUpdatedTime > '<cursor − overlap>' ORDERBY MetaData.LastUpdatedTime``, paging with
STARTPOSITION/MAXRESULTS; rows merge on the QBO ``Id`` (lines on ``<txn Id>-<line Id>``), so the overlap and any
re-run never duplicate. Pages go to dlt as Arrow tables, money as exact decimals (JSON parsed with
``parse_float=Decimal``). Intuit rotates the refresh token: the newest is kept for the run, each rotation is
reported (``on_refresh_token`` callback, a warning without the token, ``oauth`` in the source state).

Run by dlt alone (against the sandbox, ``make sandbox``)::

    import dlt
    from sources.quickbooks import quickbooks_source
    pipeline = dlt.pipeline("quickbooks__northwind", destination="duckdb", dataset_name="raw_quickbooks__northwind")
    pipeline.run(quickbooks_source(
        realm_id="9341453000000001", client_id="qbo_client_northwind", client_secret="qbo_secret_northwind",
        refresh_token="qbo_rt_sandbox_northwind", base_url="http://127.0.0.1:8765/quickbooks",
        token_url="http://127.0.0.1:8765/quickbooks/oauth2/v1/tokens/bearer"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
import pyarrow as pa

from sources.http import RetryingSession

from .helpers import (
    IntuitOAuth,
    QuickBooksAuthError,
    QuickBooksClient,
    QuickBooksError,
    bills_to_tables,
    items_to_table,
    purchases_to_tables,
    vendors_to_table,
)
from .settings import (
    DEFAULT_OVERLAP_S,
    DEFAULT_PAGE_SIZE,
    DEFAULT_START_DATE,
    MAX_PAGE_SIZE,
    MINOR_VERSION,
    PRODUCTION_API_URL,
    TOKEN_URL,
)

__all__ = ["quickbooks_source", "QuickBooksError", "QuickBooksAuthError", "IntuitOAuth", "QuickBooksClient"]

BILL_TABLES = ("bills", "bill_lines")
PURCHASE_TABLES = ("purchases", "purchase_lines")


@dlt.source(name="quickbooks", max_table_nesting=0)
def quickbooks_source(
    realm_id: str = dlt.config.value,
    client_id: str = dlt.secrets.value,
    client_secret: str = dlt.secrets.value,
    refresh_token: str = dlt.secrets.value,
    base_url: str = PRODUCTION_API_URL,
    token_url: str = TOKEN_URL,
    minor_version: int = MINOR_VERSION,
    start_date: str = DEFAULT_START_DATE,
    page_size: int = DEFAULT_PAGE_SIZE,
    overlap_s: int = DEFAULT_OVERLAP_S,
    request_timeout_s: float = 30.0,
    max_attempts: int = 8,
    on_refresh_token: Callable[[str], None] | None = None,
) -> list:
    """One company's items, vendors, bills (+ ``bill_lines``) and purchases (+ ``purchase_lines``).

    ``base_url`` is the API host (``https://quickbooks.api.intuit.com``, or the sandbox's
    ``http://127.0.0.1:8765/quickbooks``); ``page_size`` ≤ 1000 (QBO's cap); ``on_refresh_token`` is called with
    every rotated refresh token so the caller can persist it (see README, "Refresh-token rotation").
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"quickbooks: page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    session = RetryingSession(timeout_s=request_timeout_s, max_attempts=max_attempts)
    auth = IntuitOAuth(client_id=client_id, client_secret=client_secret, refresh_token=refresh_token,
                       token_url=token_url, session=session, on_refresh_token=on_refresh_token)
    client = QuickBooksClient(base_url=base_url, realm_id=realm_id, auth=auth, session=session,
                              minor_version=minor_version)

    def pages(entity: str) -> Iterator[list[dict[str, Any]]]:
        return _incremental_pages(client, entity, start_date, overlap_s, page_size)

    @dlt.resource(name="items", primary_key="id", write_disposition="merge")
    def items() -> Iterator[pa.Table]:
        currency = _home_currency(client)
        for page in pages("Item"):
            yield items_to_table(page, currency)

    @dlt.resource(name="vendors", primary_key="id", write_disposition="merge")
    def vendors() -> Iterator[pa.Table]:
        for page in pages("Vendor"):
            yield vendors_to_table(page)

    @dlt.resource(name="bill_pages", selected=False)
    def bill_pages() -> Iterator[dict[str, pa.Table]]:
        for page in pages("Bill"):
            yield bills_to_tables(page)

    @dlt.resource(name="purchase_pages", selected=False)
    def purchase_pages() -> Iterator[dict[str, pa.Table]]:
        for page in pages("Purchase"):
            yield purchases_to_tables(page)

    return [
        items,
        vendors,
        *(bill_pages | _table(name) for name in BILL_TABLES),
        *(purchase_pages | _table(name) for name in PURCHASE_TABLES),
    ]


def _table(name: str):
    """A transformer taking one table out of each converted page."""

    @dlt.transformer(name=name, primary_key="id", write_disposition="merge")
    def pick(page: dict[str, pa.Table]) -> Iterator[pa.Table]:
        if page[name].num_rows:
            yield page[name]

    return pick


def _home_currency(client: QuickBooksClient) -> str | None:
    """The company's home currency (Preferences.CurrencyPrefs): every amount of items is in it."""
    prefs = client.query("SELECT * FROM Preferences").get("Preferences") or [{}]
    return ((prefs[0].get("CurrencyPrefs") or {}).get("HomeCurrency") or {}).get("value")


def _incremental_pages(client: QuickBooksClient, entity: str, start_date: str, overlap_s: int,
                       page_size: int) -> Iterator[list[dict[str, Any]]]:
    """Pages of ``entity`` updated after the resource's cursor (minus the overlap); the cursor follows each page."""
    state = dlt.current.resource_state()
    cursor = _utc(state.get("last_updated_cursor", start_date))
    since = cursor - timedelta(seconds=overlap_s) if "last_updated_cursor" in state else cursor
    where = f"MetaData.LastUpdatedTime > '{since.isoformat()}'"
    for page in client.paginate(entity, where=where, order_by="MetaData.LastUpdatedTime", page_size=page_size):
        newest = max(_utc(e["MetaData"]["LastUpdatedTime"]) for e in page)
        if newest > cursor:
            cursor = newest
            state["last_updated_cursor"] = cursor.isoformat()
        _report_rotation(client.auth)
        yield page
    _report_rotation(client.auth)


def _report_rotation(auth: IntuitOAuth) -> None:
    """Record in the source state that Intuit rotated the refresh token in this run (when, how often; never the
    token itself): the orchestrator and an operator can see that the newest one has to be persisted."""
    if auth.rotations:
        oauth = dlt.current.source_state().setdefault("oauth", {})
        oauth["rotations_in_last_run"] = auth.rotations
        oauth["last_rotated_at"] = auth.last_rotated_at


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
