"""Amazon Selling Partner API → dlt: orders with their items, financial events (shipments, refunds: charges and
fees per item) and FBA inventory snapshots of one seller in one marketplace.

- ``orders`` / ``order_items``: getOrders incremental on ``LastUpdatedAfter`` (cursor in dlt state: the
  ``LastUpdatedBefore`` Amazon reports for the window, re-read with a small overlap), getOrderItems for each
  order of a page; merged on ``amazon_order_id`` / ``order_item_id``.
- ``shipment_events`` / ``refund_events``: listFinancialEvents incremental on ``PostedAfter`` in windows of at
  most 180 days (Amazon returns nothing for wider ones), merged on a stable ``event_key`` (order, item or
  adjustment item, posting time).
- ``inventory_summaries``: getInventorySummaries as a daily snapshot, merged on (``snapshot_date``,
  ``seller_sku``).
- ``returns``: the FBA customer returns report (Reports API 2021-06-30, ``GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA``)
  for the return dates since the cursor (``return_date_cursor`` in dlt state, the ``dataEndTime`` of the last
  report, re-read with a 3-day overlap), in windows of ``returns_window_days``; createReport, getReport polled
  with a bounded backoff, the GZIP document downloaded and parsed; merged on ``return_key`` (order, sku,
  return-date, license plate).

Login with Amazon refreshes the access token at the start, before it expires and whenever an answer says it has
expired. Calls are paced by the ``x-amzn-RateLimit-Limit`` header of each operation and retried after a 429.
Pages reach dlt as Arrow tables, money as exact ``decimal(18,2)``.

Run by dlt alone (the sandbox: ``make sandbox``)::

    import dlt
    from sources.amazon import amazon_source
    pipeline = dlt.pipeline("amazon__northwind", destination="duckdb", dataset_name="raw_amazon__northwind")
    pipeline.run(amazon_source(
        endpoint="http://127.0.0.1:8765/amazon/sp", lwa_token_url="http://127.0.0.1:8765/amazon/auth/o2/token",
        marketplace_id="ATVPDKIKX0DER", client_id="amzn1.application-oa2-client.sandbox",
        client_secret="amzn1.oa2-cs.v1.sandbox", refresh_token="Atzr|sandbox-northwind"))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import dlt
import pyarrow as pa

from sources.http import RetryingSession

from .helpers import (
    SERVER_ERRORS,
    AmazonAPIError,
    AmazonAuthError,
    AmazonInvalidInput,
    LwaAuth,
    RatePacer,
    SellingPartnerClient,
    financial_tables,
    inventory_table,
    iso,
    now_utc,
    order_items_table,
    orders_table,
    parse_instant,
)
from .reports import RETURNS_REPORT, Report, request_report, returns_table
from .settings import (
    DEFAULT_ENDPOINT,
    DEFAULT_START_DATE,
    EVENTS_PAGE_SIZE,
    FINANCES_OVERLAP,
    FINANCES_WINDOW,
    LWA_TOKEN_URL,
    MAX_REPORT_WAIT_S,
    ORDERS_OVERLAP,
    ORDERS_PAGE_SIZE,
    REPORT_POLL_WAITS_S,
    RETURNS_OVERLAP,
    RETURNS_WINDOW_DAYS,
)

__all__ = ["amazon_source", "AmazonAPIError", "AmazonAuthError", "SellingPartnerClient"]

ORDER_TABLES = {"orders": "amazon_order_id", "order_items": "order_item_id"}
EVENT_TABLES = {"shipment_events": "event_key", "refund_events": "event_key"}
RETURNS_CHUNK = 10_000  # rows per Arrow table handed to dlt


@dlt.source(name="amazon", max_table_nesting=0)
def amazon_source(
    marketplace_id: str = dlt.config.value,
    client_id: str = dlt.secrets.value,
    client_secret: str = dlt.secrets.value,
    refresh_token: str = dlt.secrets.value,
    endpoint: str = DEFAULT_ENDPOINT,
    lwa_token_url: str = LWA_TOKEN_URL,
    start_date: str = DEFAULT_START_DATE,
    page_size: int = ORDERS_PAGE_SIZE,
    events_page_size: int = EVENTS_PAGE_SIZE,
    request_timeout_s: float = 30.0,
    sleep: Any = None,
    returns_window_days: int = RETURNS_WINDOW_DAYS,
    report_poll_waits_s: tuple[float, ...] = REPORT_POLL_WAITS_S,
    max_report_wait_s: float = MAX_REPORT_WAIT_S,
) -> list:
    """One seller's marketplace: ``endpoint`` is the regional SP-API host (or the sandbox's
    ``http://127.0.0.1:8765/amazon/sp``), ``lwa_token_url`` Login with Amazon's token endpoint. ``sleep``
    (default ``time.sleep``) is what every wait goes through: pacing, 429 and 5xx backoff, report polling
    (``report_poll_waits_s`` between getReport calls, the last repeated, at most ``max_report_wait_s`` a report)."""
    if returns_window_days < 1:
        raise ValueError("amazon: returns_window_days must be at least 1")
    pause = sleep or time.sleep
    session = RetryingSession(timeout_s=request_timeout_s, retry_statuses=SERVER_ERRORS, sleep=pause)
    auth = LwaAuth(lwa_token_url, client_id, client_secret, refresh_token, session)
    client = SellingPartnerClient(endpoint, auth, marketplace_id, session=session, pacer=RatePacer(sleep=pause),
                                  sleep=pause)

    @dlt.resource(name="order_pages", selected=False)
    def order_pages() -> Iterator[dict[str, pa.Table]]:
        state = dlt.current.resource_state()
        cursor = state.get("last_updated_before", start_date)
        after = max(parse_instant(cursor) - ORDERS_OVERLAP, parse_instant(start_date))
        window_end = cursor
        for payload in client.orders(iso(after), page_size):
            orders = payload.get("Orders") or []
            seen = [payload.get("LastUpdatedBefore"), *(o.get("LastUpdateDate") for o in orders)]
            window_end = max([window_end, *(_normal(t) for t in seen if t)])
            if orders:
                items = [(o, client.order_items(o["AmazonOrderId"])) for o in orders]
                yield {"orders": orders_table(orders), "order_items": order_items_table(items)}
        state["last_updated_before"] = _normal(window_end)

    @dlt.resource(name="financial_event_pages", selected=False)
    def financial_event_pages() -> Iterator[dict[str, pa.Table]]:
        state = dlt.current.resource_state()
        cursor = state.get("posted_cursor", start_date)
        after = max(parse_instant(cursor) - FINANCES_OVERLAP, parse_instant(start_date))
        latest = cursor
        for events in _event_windows(client, after, events_page_size):
            tables = financial_tables(events)
            for name in EVENT_TABLES:
                if tables[name].num_rows:
                    latest = max(latest, _normal(max(tables[name]["posted_date"].to_pylist()).isoformat()))
            yield tables
        state["posted_cursor"] = latest

    @dlt.resource(name="inventory_summaries", primary_key=("snapshot_date", "seller_sku"), write_disposition="merge")
    def inventory_summaries() -> Iterator[pa.Table]:
        today = datetime.now(UTC).date()
        for summaries in client.inventory_summaries():
            if summaries:
                yield inventory_table(summaries, marketplace_id, today)

    @dlt.resource(name="returns", primary_key="return_key", write_disposition="merge")
    def returns() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        cursor = state.get("return_date_cursor", start_date)
        after = max(parse_instant(cursor) - RETURNS_OVERLAP, parse_instant(start_date))
        window = timedelta(days=returns_window_days)
        fetch = partial(request_report, client, RETURNS_REPORT, sleep=pause, session=session,
                        poll_waits_s=tuple(report_poll_waits_s), max_wait_s=max_report_wait_s)
        for report in _report_windows(fetch, after, window):
            table = returns_table(report.content, report.report_id)
            for batch in table.to_batches(max_chunksize=RETURNS_CHUNK):
                yield pa.Table.from_batches([batch], schema=table.schema)
            if report.data_end:
                cursor = max(cursor, _normal(report.data_end))
                state["return_date_cursor"] = cursor

    return [
        *(order_pages | _pick(name, key) for name, key in ORDER_TABLES.items()),
        *(financial_event_pages | _pick(name, key) for name, key in EVENT_TABLES.items()),
        inventory_summaries,
        returns,
    ]


def _report_windows(fetch: Callable[[str, str | None], Report], after: datetime,
                    window: timedelta) -> Iterator[Report]:
    """One report per window from ``after`` to Amazon's now (``fetch(data_start, data_end)``). A window ending
    after Amazon's now is refused (400: dataEndTime must not be in the future), so it is asked again
    open-ended, which ends the walk."""
    while True:
        before = after + window
        try:
            report = fetch(iso(after), iso(before))
        except AmazonInvalidInput as exc:
            if "dataEndTime" not in str(exc) and before < now_utc():
                raise
            yield fetch(iso(after), None)
            return
        yield report
        after = before


def _event_windows(client: SellingPartnerClient, after: datetime, page_size: int) -> Iterator[dict[str, Any]]:
    """Financial events from ``after`` to Amazon's now, window by window (≤ 180 days each). A window ending after
    Amazon's "now − 2 minutes" is refused (400), so it is asked again open-ended, which ends the walk."""
    while True:
        before = after + FINANCES_WINDOW
        try:
            pages = client.financial_events(iso(after), iso(before), page_size)
            first = next(pages, None)
        except AmazonInvalidInput as exc:
            if "PostedBefore" not in str(exc) and before < now_utc():
                raise
            yield from client.financial_events(iso(after), None, page_size)
            return
        if first is not None:
            yield first
            yield from pages
        after = before


def _normal(text: str) -> str:
    """An ISO instant as Amazon's UTC Z text (cursor values compare as text)."""
    return iso(parse_instant(text))


def _pick(name: str, key: str):
    """A transformer taking one table out of each converted page."""

    @dlt.transformer(name=name, primary_key=key, write_disposition="merge")
    def pick(page: dict[str, pa.Table]) -> Iterator[pa.Table]:
        if page[name].num_rows:
            yield page[name]

    return pick
