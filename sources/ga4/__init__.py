"""Google Analytics 4 Data API → dlt: daily traffic by session source, medium and campaign (table ``traffic``).

One ``runReport`` over ``date × sessionSource × sessionMedium × sessionCampaignName`` (plus the
``sessionDefaultChannelGroup`` of each) with ``sessions``, ``totalUsers``, ``keyEvents`` and
``purchaseRevenue``, paged with ``offset`` / ``limit`` in a stable order; each page lands as an Arrow table.
Incremental by date: the resource keeps ``last_date`` (the latest property date landed) in dlt state and
the next run asks from ``last_date − lookback_days`` (GA4 keeps revising the last ~2 days while it processes),
merging on (date, source, medium, campaign) so the re-read days replace their earlier numbers and nothing
is ever duplicated. Auth is OAuth2 with a refresh token (access tokens last an hour and are refreshed when
refused); see helpers.py for retries.

Run by dlt alone (against the sandbox, ``make sandbox``)::

    import dlt
    from sources.ga4 import ga4_source
    pipeline = dlt.pipeline("ga4__northwind", destination="duckdb", dataset_name="raw_ga4__northwind")
    pipeline.run(ga4_source(
        property_id="310000001", client_id="sandbox-northwind.apps.googleusercontent.com",
        client_secret="GOCSPX-sandbox-northwind", refresh_token="1//sandbox-northwind",
        api_base_url="http://127.0.0.1:8765/ga4", token_url="http://127.0.0.1:8765/ga4/token"))
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import dlt
import pyarrow as pa
import pyarrow.compute as pc

from .helpers import Ga4APIError, Ga4AuthError, Ga4DataClient, GoogleOAuth2, make_session, report_to_table
from .settings import (
    DEFAULT_API_BASE_URL,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_PAGE_SIZE,
    DEFAULT_START_DATE,
    DEFAULT_TOKEN_URL,
    DIMENSIONS,
    MAX_PAGE_SIZE,
    METRICS,
    ORDER_BYS,
    PRIMARY_KEY,
)

__all__ = ["Ga4APIError", "Ga4AuthError", "Ga4DataClient", "GoogleOAuth2", "ga4_source", "report_body"]


def report_body(start_date: str, end_date: str) -> dict:
    """The runReport request of the ``traffic`` table (without offset/limit)."""
    return {
        "dateRanges": [{"startDate": start_date, "endDate": end_date}],
        "dimensions": [{"name": name} for name in DIMENSIONS],
        "metrics": [{"name": name} for name in METRICS],
        "orderBys": list(ORDER_BYS),
        "keepEmptyRows": False,
        "returnPropertyQuota": True,
    }


def start_for(last_date: str | None, start_date: str, lookback_days: int) -> str:
    """Where a run starts: ``start_date`` the first time, then ``lookback_days`` before the last date landed."""
    if last_date is None:
        return start_date
    return max(start_date, (date.fromisoformat(last_date) - timedelta(days=lookback_days)).isoformat())


@dlt.source(name="ga4", max_table_nesting=0)
def ga4_source(
    property_id: str = dlt.config.value,
    client_id: str = dlt.config.value,
    client_secret: str = dlt.secrets.value,
    refresh_token: str = dlt.secrets.value,
    api_base_url: str = DEFAULT_API_BASE_URL,
    token_url: str = DEFAULT_TOKEN_URL,
    start_date: str = DEFAULT_START_DATE,
    end_date: str = "today",
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    page_size: int = DEFAULT_PAGE_SIZE,
    request_timeout_s: float = 30.0,
    max_attempts: int = 6,
    backoff_s: float = 0.5,
):
    """The property's daily traffic. ``api_base_url`` / ``token_url`` point at Google (defaults) or the sandbox;
    ``page_size`` is the runReport ``limit`` (tests force many pages with a small one); ``end_date`` is any
    GA4 date (``today`` = the property's today)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"ga4: page_size must be within 1..{MAX_PAGE_SIZE}, got {page_size}")
    if lookback_days < 0:
        raise ValueError("ga4: lookback_days must be ≥ 0")
    session = make_session(request_timeout_s, max_attempts, backoff_s)
    oauth = GoogleOAuth2(token_url, client_id, client_secret, refresh_token, session)
    client = Ga4DataClient(api_base_url, property_id, oauth, session)

    @dlt.resource(name="traffic", primary_key=list(PRIMARY_KEY), write_disposition="merge")
    def traffic() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        since = start_for(state.get("last_date"), start_date, lookback_days)
        for answer in client.pages(report_body(since, end_date), page_size):
            table = report_to_table(answer, property_id)
            if table.num_rows == 0:
                continue
            latest = pc.max(table["date"]).as_py().isoformat()
            state["last_date"] = max(state.get("last_date") or latest, latest)
            yield table

    return traffic
