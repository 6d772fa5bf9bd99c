"""A price-intelligence API (Prisync / Price2Spy / DataWeave style) → dlt: what competitors charge for our SKUs,
one row per SKU, competitor and day (table ``offers``).

Each run asks ``GET /account`` (proves the API key, gives ``observed_through``: the last day published), then
pages ``GET /offers?observed_from=…&observed_to=<observed_through>&limit=<page_size>`` following
``pagination.next_cursor``. Incremental by observed date: dlt state keeps the last day landed; the next run starts
``lookback_days`` before it (late crawls fill in) and the merge on (sku, competitor, observed_date) replaces what
it re-reads, so a re-run never duplicates. Prices land as exact ``decimal(18,2)`` in the offer's ``currency``;
each page (≤ 1000 offers) becomes one Arrow table. See helpers.py for retries and errors.

Run by dlt alone (against the sandbox, ``make sandbox``)::

    import dlt
    from sources.competitor_prices import competitor_prices_source
    pipeline = dlt.pipeline("competitor_prices__kumo", destination="duckdb",
                            dataset_name="raw_competitor_prices__kumo")
    pipeline.run(competitor_prices_source(base_url="http://127.0.0.1:8765/competitor_prices/v1",
                                          api_key="cpi_sandbox_kumo", start_date="2026-08-01"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta

import dlt
import pyarrow as pa

from sources.money import MONEY_PRECISION, MONEY_SCALE

from .helpers import (
    CompetitorPricesAuthError,
    CompetitorPricesClient,
    CompetitorPricesError,
    make_session,
    offers_table,
)
from .settings import DEFAULT_LOOKBACK_DAYS, DEFAULT_START_DATE, MAX_PAGE_SIZE, PRIMARY_KEY, TABLE

__all__ = ["CompetitorPricesAuthError", "CompetitorPricesClient", "CompetitorPricesError",
           "competitor_prices_source", "start_for"]


def start_for(last_date: str | None, start_date: str, lookback_days: int) -> date:
    """Where a run starts: ``start_date`` the first time, then ``lookback_days`` before the last day landed
    (never before ``start_date``)."""
    first = date.fromisoformat(start_date)
    if last_date is None:
        return first
    return max(first, date.fromisoformat(last_date) - timedelta(days=lookback_days))


@dlt.source(name="competitor_prices", max_table_nesting=0)
def competitor_prices_source(
    base_url: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    start_date: str = DEFAULT_START_DATE,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    page_size: int = MAX_PAGE_SIZE,
    request_timeout_s: float = 30.0,
    max_attempts: int = 6,
    backoff_s: float = 0.5,
    tenant: str | None = None,
    sleep: Callable[[float], None] | None = None,
):
    """Competitor offers of one account. ``base_url`` is the API's v1 root (the sandbox's
    ``http://127.0.0.1:8765/competitor_prices/v1``); ``tenant`` only names the tenant in errors; ``sleep`` replaces
    ``time.sleep`` between retries (tests record it)."""
    try:
        date.fromisoformat(start_date)
    except (TypeError, ValueError):
        raise ValueError(f"competitor_prices: start_date must be a date (YYYY-MM-DD), got {start_date!r}") from None
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"competitor_prices: page_size must be between 1 and {MAX_PAGE_SIZE} (the API's limit)")
    if lookback_days < 0:
        raise ValueError("competitor_prices: lookback_days must be ≥ 0")
    client = CompetitorPricesClient(base_url, api_key, make_session(request_timeout_s, max_attempts, backoff_s,
                                                                    sleep), tenant=tenant)

    @dlt.resource(name=TABLE, primary_key=list(PRIMARY_KEY), write_disposition="merge",
                  columns={"price": {"data_type": "decimal", "precision": MONEY_PRECISION, "scale": MONEY_SCALE,
                                     "nullable": False},
                           "observed_date": {"data_type": "date", "nullable": False}})
    def offers() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        through = client.account().get("observed_through")
        if not through:
            return  # nothing published yet
        last = date.fromisoformat(str(through))
        first = start_for(state.get("last_observed_date"), start_date, lookback_days)
        if first > last:
            return
        newest = None
        for page in client.offer_pages(first, last, page_size):
            table = offers_table(page, who=client.who, first=first, last=last)
            if table.num_rows:
                top = max(table["observed_date"].to_pylist()).isoformat()
                newest = top if newest is None else max(newest, top)
                yield table
        if newest is not None:  # moves only after every page was read; committed with the load
            state["last_observed_date"] = max(state.get("last_observed_date") or newest, newest)

    return offers
