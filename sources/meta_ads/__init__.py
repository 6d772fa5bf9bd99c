"""Meta (Facebook/Instagram) Marketing API → dlt: daily ad-level Insights of one ad account.

One table, ``ad_insights``: one row per (``date_start``, ``ad_id``) with the campaign/ad set/ad ids and names,
spend (exact decimal(18,2) in the account currency), impressions, clicks and the purchase conversions and their
value for one action type (``purchase_action_type``). Read through async report runs (``POST
act_<id>/insights`` → poll ``async_status`` with bounded exponential backoff → page the results with
``paging.cursors.after``), handed to dlt as one Arrow table per page.

Incremental: the latest ``date_start`` loaded is kept in dlt state; each run reloads from
``attribution_window_days`` (7) days before it, because Meta keeps attributing conversions to a day for that
long, and merges on (date_start, ad_id) so the reloaded days replace the old rows, never duplicate them.

Run by dlt alone::

    import dlt
    from sources.meta_ads import meta_ads_source
    pipeline = dlt.pipeline("meta_ads__northwind", destination="duckdb", dataset_name="raw_meta_ads__northwind")
    pipeline.run(meta_ads_source(account_id="120330000000001", access_token="EAAsandbox…",
                                 app_id="…", app_secret="…", base_url="http://127.0.0.1:8765/meta"))
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dlt
import pyarrow as pa

from .helpers import (
    PRIMARY_KEY,
    MetaAPIError,
    MetaAuthError,
    MetaGraphClient,
    MetaRateLimitError,
    MetaReportError,
    insights_to_table,
)
from .settings import (
    DEFAULT_API_VERSION,
    DEFAULT_ATTRIBUTION_WINDOW_DAYS,
    DEFAULT_BASE_URL,
    DEFAULT_DAYS_PER_REPORT,
    DEFAULT_PAGE_SIZE,
    DEFAULT_PURCHASE_ACTION_TYPE,
    DEFAULT_START_DATE,
    INSIGHTS_FIELDS,
    MAX_POLLS,
)

__all__ = ["MetaAPIError", "MetaAuthError", "MetaGraphClient", "MetaRateLimitError", "MetaReportError",
           "meta_ads_source", "oldest_available", "reload_window"]


@dlt.source(name="meta_ads", max_table_nesting=0)
def meta_ads_source(
    account_id: str = dlt.config.value,
    access_token: str = dlt.secrets.value,
    app_id: str | None = dlt.secrets.value,
    app_secret: str | None = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    api_version: str = DEFAULT_API_VERSION,
    start_date: str = DEFAULT_START_DATE,
    end_date: str | None = None,
    attribution_window_days: int = DEFAULT_ATTRIBUTION_WINDOW_DAYS,
    purchase_action_type: str = DEFAULT_PURCHASE_ACTION_TYPE,
    page_size: int = DEFAULT_PAGE_SIZE,
    days_per_report: int = DEFAULT_DAYS_PER_REPORT,
    max_polls: int = MAX_POLLS,
    request_timeout_s: float = 60.0,
    sleep: Callable[[float], None] | None = None,
) -> list:
    """Daily ad-level Insights of ``act_<account_id>``.

    ``access_token`` is the long-lived (or system-user) token; with ``app_id`` and ``app_secret`` the client
    exchanges it for a fresh one when Meta answers 190 (expired/invalid). ``base_url`` is
    ``https://graph.facebook.com`` or the sandbox's ``http://127.0.0.1:8765/meta``. ``end_date`` (default: the
    account's today) bounds a backfill; ``days_per_report`` splits long ranges into several report runs.
    ``sleep`` is what waiting uses (polls, throttling, retries): tests pass a recorder and never sleep.
    """
    if attribution_window_days < 1:
        raise ValueError("attribution_window_days must be at least 1")
    account = str(account_id).removeprefix("act_")
    client = MetaGraphClient(base_url, api_version, access_token, app_id=app_id or None,
                             app_secret=app_secret or None, timeout_s=request_timeout_s, sleep=sleep or time.sleep)

    @dlt.resource(name="ad_insights", primary_key=list(PRIMARY_KEY), write_disposition="merge")
    def ad_insights() -> Iterator[pa.Table]:
        state = dlt.current.resource_state()
        since = max(reload_window(date.fromisoformat(start_date), state.get("last_date_start"),
                                  attribution_window_days), oldest_available(datetime.now(UTC).date()))
        until = date.fromisoformat(end_date) if end_date else account_today(client, account)
        for first, last in _windows(since, until, days_per_report):
            params = {"level": "ad", "time_increment": "1", "fields": ",".join(INSIGHTS_FIELDS),
                      "time_range": json.dumps({"since": first.isoformat(), "until": last.isoformat()})}
            for rows in client.run_report(account, params, page_size=page_size, max_polls=max_polls):
                if not rows:
                    continue
                table = insights_to_table(rows, purchase_action_type)
                latest = max(table.column("date_start").to_pylist()).isoformat()
                state["last_date_start"] = max(state.get("last_date_start", ""), latest)
                yield table

    return [ad_insights]


def reload_window(start: date, last_loaded: str | None, window_days: int) -> date:
    """The first day to ask for: ``start`` on the first run; afterwards the last ``window_days`` days up to the
    latest day loaded (those whose conversions may still change), never before ``start``."""
    if not last_loaded:
        return start
    return max(start, date.fromisoformat(last_loaded) - timedelta(days=window_days - 1))


def oldest_available(today: date) -> date:
    """The first day Meta still serves Insights for (it keeps 37 months; one month of margin here)."""
    return date(today.year - 3, today.month, 1)


def account_today(client: MetaGraphClient, account: str) -> date:
    """Today in the ad account's time zone (Insights days are the account's local days)."""
    node = client.call("GET", f"act_{account}", {"fields": "timezone_name,currency"})
    return datetime.now(ZoneInfo(node.get("timezone_name") or "UTC")).date()


def _windows(since: date, until: date, days: int) -> Iterator[tuple[date, date]]:
    """[since, until] in consecutive windows of at most ``days`` days (nothing when since > until)."""
    step = timedelta(days=max(1, days))
    first = since
    while first <= until:
        last = min(until, first + step - timedelta(days=1))
        yield first, last
        first = last + timedelta(days=1)
