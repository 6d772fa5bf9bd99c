"""Walmart Marketplace API → dlt: purchase orders (with lines and refunds) and the fees of the reconciliation
(settlement) report.

- ``orders``, ``order_lines``, ``refunds``: one hidden resource pages ``GET /v3/orders?lastModifiedStartDate=…``
  (``limit`` ≤ 200, following ``meta.nextCursor``) and transformers split each page; merged on ``order_id``,
  ``line_id`` (purchaseOrderId-lineNumber) and ``refund_line_id``. The cursor (``last_modified_cursor`` in dlt
  state) is the latest order date or line status date seen; the overlap at it is idempotent (merge).
- ``returns``: ``GET /v3/returns?returnCreationStartDate=…`` (``limit`` ≤ 200, following ``meta.nextCursor``),
  one row per return order line (reason, quantity, status); incremental on the return creation date
  (``return_created_cursor`` in dlt state: the latest ``returnOrderDate`` seen, re-read with a 7-day overlap so
  statuses catch up); merged on (``return_order_id``, ``return_order_line_number``).
- ``fees``: every reconciliation report not loaded yet (``last_report_date`` in dlt state) through
  ``reconFileJson``; commission, WFS and other fees with their refunds, merged on ``fee_id``.

Tokens: client credentials (HTTP Basic) → a 15-minute access token, renewed before it expires and on a 401.
Each API page becomes Arrow tables (money as exact decimals). Run by dlt alone::

    import dlt
    from sources.walmart import walmart_source
    pipeline = dlt.pipeline("walmart__northwind", destination="duckdb", dataset_name="raw_walmart__northwind")
    pipeline.run(walmart_source(base_url="http://127.0.0.1:8765/walmart", client_id="wm_client_northwind",
                                client_secret="wm_secret_northwind"))
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import dlt
import pyarrow as pa

from .helpers import (
    WalmartAPIError,
    WalmartAuthError,
    WalmartClient,
    ms_to_iso,
    order_modified_ms,
    orders_to_tables,
    recon_to_fees,
    returns_to_table,
)
from .settings import (
    DEFAULT_BASE_URL,
    DEFAULT_START_DATE,
    MAX_ORDERS_LIMIT,
    MAX_RETURNS_LIMIT,
    RECON_PAGE_SIZE,
    RETURNS_OVERLAP_DAYS,
)

__all__ = ["walmart_source", "WalmartClient", "WalmartAPIError", "WalmartAuthError", "ORDER_TABLES"]

ORDER_TABLES = {"orders": "order_id", "order_lines": "line_id", "refunds": "refund_line_id"}


@dlt.source(name="walmart", max_table_nesting=0)
def walmart_source(
    client_id: str = dlt.secrets.value,
    client_secret: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    start_date: str = DEFAULT_START_DATE,
    page_size: int = MAX_ORDERS_LIMIT,
    recon_page_size: int = RECON_PAGE_SIZE,
    request_timeout_s: float = 30.0,
    returns_page_size: int = MAX_RETURNS_LIMIT,
) -> list:
    """One seller's Walmart orders, order lines, refunds, return orders and fees.

    ``base_url`` is ``https://marketplace.walmartapis.com`` (or the sandbox's ``http://127.0.0.1:8765/walmart``);
    ``start_date`` (ISO 8601, UTC) bounds the first run; ``page_size`` is the orders ``limit`` (1–200),
    ``returns_page_size`` the returns ``limit`` (1–200).
    """
    if not 1 <= returns_page_size <= MAX_RETURNS_LIMIT:
        raise ValueError(f"walmart: returns_page_size must be between 1 and {MAX_RETURNS_LIMIT} (Walmart's limit)")
    if not 1 <= page_size <= MAX_ORDERS_LIMIT:
        raise ValueError(f"walmart: page_size must be between 1 and {MAX_ORDERS_LIMIT} (Walmart's limit)")
    client = WalmartClient(base_url, client_id, client_secret, timeout_s=request_timeout_s)

    @dlt.resource(name="order_pages", selected=False)
    def order_pages() -> Iterator[dict[str, pa.Table]]:
        state = dlt.current.resource_state()
        cursor = state.get("last_modified_cursor", start_date)
        latest = None
        for orders in client.order_pages(last_modified_start=cursor, limit=page_size):
            if orders:
                page_latest = max(order_modified_ms(o) for o in orders)
                latest = page_latest if latest is None else max(latest, page_latest)
                yield orders_to_tables(orders)
        if latest is not None:  # pages come newest-created first, so the cursor moves only once all are read
            state["last_modified_cursor"] = max(cursor, ms_to_iso(latest), key=_instant)

    @dlt.resource(name="fees", primary_key="fee_id", write_disposition="merge")
    def fees() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        loaded = state.get("last_report_date")  # ISO date of the newest report landed
        dates = sorted(client.recon_report_dates(), key=_report_day)
        for report_date in dates:
            if loaded is not None and _report_day(report_date).isoformat() <= loaded:
                continue
            table = recon_to_fees(report_date, client.recon_report(report_date, recon_page_size))
            if table.num_rows:
                yield table
            state["last_report_date"] = _report_day(report_date).isoformat()

    @dlt.resource(name="returns", primary_key=("return_order_id", "return_order_line_number"),
                  write_disposition="merge")
    def returns() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        cursor = state.get("return_created_cursor")
        since = start_date if cursor is None else max(
            _instant(start_date), _instant(cursor) - timedelta(days=RETURNS_OVERLAP_DAYS)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z")
        latest = cursor
        for page in client.return_pages(created_start=since, limit=returns_page_size):
            table = returns_to_table(page)
            if table.num_rows:
                newest = ms_to_iso(int(max(table["return_order_date"].to_pylist()).timestamp() * 1000))
                latest = newest if latest is None else max(latest, newest, key=_instant)
                yield table
        if latest is not None:  # pages come newest first: the cursor moves only once all are read
            state["return_created_cursor"] = latest

    return [*(order_pages | _table(name, key) for name, key in ORDER_TABLES.items()), returns, fees]


def _table(name: str, key: str):
    """A transformer taking one table out of each converted page."""

    @dlt.transformer(name=name, primary_key=key, write_disposition="merge")
    def pick(page: dict[str, pa.Table]) -> Iterator[pa.Table]:
        if page[name].num_rows:
            yield page[name]

    return pick


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _report_day(text: str):
    return datetime.strptime(text, "%m%d%Y").date()
