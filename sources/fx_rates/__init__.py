"""Frankfurter (ECB reference rates) → dlt: daily exchange rates into a tenant's reporting currency
(table ``daily_rates``).

For every configured source currency ``c`` the resource asks ``base=c&symbols=<reporting currency>``, so each
row's ``rate`` is reporting-currency units per 1 unit of ``c``: the warehouse multiplies an amount in ``c`` by
it and never divides. Rows: ``rate_date`` (an ECB business day; weekends and TARGET holidays have none, so a
fact dated on one takes the last rate before it), ``base_currency`` (= c), ``quote_currency`` (the reporting
currency), ``rate`` (exact ``decimal(18,8)``, the digits Frankfurter published), merged on (rate_date,
base_currency, quote_currency).

Each run first asks ``/latest`` per currency (the last business day published, which also proves the pair is
quoted), then the time series from ``start_date`` — or, once rates landed, from ``lookback_days`` before the
last one (today's rate may still be republished) — to that day, in windows of ``days_per_request`` days. dlt
state keeps the last date per currency, so adding a currency later loads its full history. See helpers.py for
retries and errors.

Run by dlt alone (against the sandbox, ``make sandbox``)::

    import dlt
    from sources.fx_rates import fx_rates_source
    pipeline = dlt.pipeline("fx_rates__alpine", destination="duckdb", dataset_name="raw_fx_rates__alpine")
    pipeline.run(fx_rates_source(currencies=["USD", "CHF", "GBP"], reporting_currency="EUR",
                                 base_url="http://127.0.0.1:8765/fx/v1", start_date="2024-10-01"))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date

import dlt
import pyarrow as pa

from .helpers import FrankfurterClient, FxRatesError, make_session, rates_table, start_for, windows
from .settings import (
    DEFAULT_BASE_URL,
    DEFAULT_DAYS_PER_REQUEST,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_START_DATE,
    PRIMARY_KEY,
    RATE_PRECISION,
    RATE_SCALE,
)

__all__ = ["FrankfurterClient", "FxRatesError", "fx_rates_source", "start_for", "validate_currencies", "windows"]

ISO_CODE = re.compile(r"^[A-Z]{3}$")


def validate_currencies(currencies: list[str], reporting_currency: str | None) -> list[str]:
    """The source currencies, checked: ISO 4217 codes, distinct, none of them the reporting currency (when
    given)."""
    codes = [str(c) for c in currencies]
    bad = [c for c in [*codes, *([reporting_currency] if reporting_currency is not None else [])]
           if not ISO_CODE.match(c)]
    if bad:
        raise ValueError(f"fx_rates: {', '.join(map(repr, bad))} is not an ISO 4217 code such as USD")
    if not codes:
        raise ValueError("fx_rates: no currencies to convert from")
    if len(set(codes)) != len(codes):
        raise ValueError(f"fx_rates: currencies must be distinct, got {codes}")
    if reporting_currency in codes:
        raise ValueError(f"fx_rates: currencies must not include the reporting currency {reporting_currency}")
    return codes


@dlt.source(name="fx_rates", max_table_nesting=0)
def fx_rates_source(
    currencies: list[str] = dlt.config.value,
    reporting_currency: str = dlt.config.value,
    base_url: str = DEFAULT_BASE_URL,
    start_date: str = DEFAULT_START_DATE,
    end_date: str | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    days_per_request: int = DEFAULT_DAYS_PER_REQUEST,
    request_timeout_s: float = 30.0,
    max_attempts: int = 6,
    backoff_s: float = 0.5,
    tenant: str | None = None,
    sleep: Callable[[float], None] | None = None,
):
    """Daily rates of each of ``currencies`` into ``reporting_currency``. ``base_url`` is Frankfurter's v1 root
    (default) or the sandbox's; ``end_date`` (default: the last rate published) caps the range; ``tenant`` only
    names the tenant in errors; ``sleep`` replaces ``time.sleep`` between retries (tests record it)."""
    codes = validate_currencies(currencies, reporting_currency)
    try:
        date.fromisoformat(start_date)
    except (TypeError, ValueError):
        raise ValueError(f"fx_rates: start_date must be a date (YYYY-MM-DD), got {start_date!r}") from None
    if lookback_days < 0 or days_per_request < 1:
        raise ValueError("fx_rates: lookback_days must be ≥ 0 and days_per_request ≥ 1")
    cap = None if end_date is None else date.fromisoformat(end_date)
    client = FrankfurterClient(base_url, make_session(request_timeout_s, max_attempts, backoff_s, sleep),
                               tenant=tenant)

    @dlt.resource(name="daily_rates", primary_key=list(PRIMARY_KEY), write_disposition="merge",
                  columns={"rate": {"data_type": "decimal", "precision": RATE_PRECISION, "scale": RATE_SCALE,
                                    "nullable": False}, "rate_date": {"data_type": "date"}})
    def daily_rates() -> Iterator[pa.Table]:
        last_dates = dlt.current.resource_state().setdefault("last_date", {})
        for code in codes:
            latest = client.latest_date(code, reporting_currency)
            end = latest if cap is None else min(latest, cap)
            since = start_for(last_dates.get(code), start_date, lookback_days)
            for number, (first, last) in enumerate(windows(since, end, days_per_request)):
                rates = client.series(code, reporting_currency, first, last)
                if number > 0:  # later windows: the business day before the window came with the one before
                    rates = {d: r for d, r in rates.items() if d >= first}
                if not rates:
                    continue
                newest = max(rates).isoformat()
                last_dates[code] = max(last_dates.get(code) or newest, newest)
                yield rates_table(rates, code, reporting_currency)

    return daily_rates
