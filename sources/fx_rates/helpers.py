"""The Frankfurter v1 client, the date windows a load asks for, and the answer → Arrow converter.

Transport faults (HTTP 429 from the API's rate limit, 5xx, timeouts, dropped connections) are retried by
``sources.http.RetryingSession`` (its ``Retry-After`` when sent, else exponential backoff with jitter).
Frankfurter's refusals are final and raise :class:`FxRatesError` naming the tenant, the source, the currency
pair and the date range: 422 ``{"message": "invalid date" | "bad currency pair" | …}`` and, for the probe of
the latest rate, 404 ``not found`` (an unknown currency). A 404 for a time-series window only means the ECB
published nothing in it (e.g. before its first rate), which is no error. Rates are read from the JSON text as
exact Decimals (``parse_float=Decimal``): the digits published are the digits landed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa
import requests

from sources.http import RetryingSession

from .settings import COLUMNS, RATE_SCALE

log = logging.getLogger("sources.fx_rates")


class FxRatesError(RuntimeError):
    """Frankfurter refused a request, or answered something that is not a rate, in a way retrying cannot fix."""


def make_session(timeout_s: float, max_attempts: int, backoff_s: float,
                 sleep: Callable[[float], None] | None = None) -> RetryingSession:
    session = RetryingSession(timeout_s=timeout_s, max_attempts=max_attempts, backoff_s=backoff_s,
                              **({"sleep": sleep} if sleep is not None else {}))
    session.headers.update({"Accept": "application/json", "User-Agent": "omnianalytics-fx-rates/1"})
    return session


def windows(start: date, end: date, days: int) -> Iterator[tuple[date, date]]:
    """[start, end] in consecutive windows of at most ``days`` days."""
    while start <= end:
        last = min(end, start + timedelta(days=days - 1))
        yield start, last
        start = last + timedelta(days=1)


def start_for(last_date: str | None, start_date: str, lookback_days: int) -> date:
    """Where a run starts for one currency: ``start_date`` the first time, then ``lookback_days`` before the
    last rate landed (never before ``start_date``)."""
    first = date.fromisoformat(start_date)
    if last_date is None:
        return first
    return max(first, date.fromisoformat(last_date) - timedelta(days=lookback_days))


class FrankfurterClient:
    """``GET {base_url}/latest`` and ``GET {base_url}/{start}..{end}`` for one base currency and one quote."""

    def __init__(self, base_url: str, session: requests.Session, *, tenant: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.who = f"tenant {tenant!r}, source 'fx_rates'" if tenant else "source 'fx_rates'"
        self.requests = 0

    def _get(self, path: str, base: str, quote: str, what: str) -> tuple[int, dict]:
        self.requests += 1
        try:
            response = self.session.get(f"{self.base_url}/{path}", params={"base": base, "symbols": quote})
        except requests.RequestException as exc:
            raise FxRatesError(f"{self.who}: {base}->{quote} {what}: {type(exc).__name__}: {exc}") from exc
        try:
            body = json.loads(response.text, parse_float=Decimal, parse_int=Decimal)
        except ValueError:
            body = {"message": response.text[:200]}
        if not isinstance(body, dict):
            body = {"message": str(body)[:200]}
        return response.status_code, body

    def _refused(self, status: int, body: dict, base: str, quote: str, what: str) -> FxRatesError:
        return FxRatesError(f"{self.who}: {base}->{quote} {what}: Frankfurter answered HTTP {status}: "
                            f"{body.get('message', body)}")

    def latest_date(self, base: str, quote: str) -> date:
        """The last business day with a published ``base`` → ``quote`` rate (validates the pair)."""
        status, body = self._get("latest", base, quote, "latest rate")
        if status != 200:
            hint = " (is the currency one the ECB quotes?)" if status == 404 else ""
            raise FxRatesError(str(self._refused(status, body, base, quote, "latest rate")) + hint)
        try:
            return date.fromisoformat(str(body["date"]))
        except (KeyError, ValueError) as exc:
            raise FxRatesError(f"{self.who}: {base}->{quote} latest rate: no date in the answer {body}") from exc

    def series(self, base: str, quote: str, start: date, end: date) -> dict[date, Decimal]:
        """Every published rate of [start, end] — Frankfurter also sends the last business day before ``start``
        when ``start`` is none — as exact Decimals; {} when it published nothing in the window (404)."""
        what = f"{start}..{end}"
        status, body = self._get(f"{start.isoformat()}..{end.isoformat()}", base, quote, what)
        if status == 404:
            log.info("%s: %s->%s %s: no rates published in the window", self.who, base, quote, what)
            return {}
        if status != 200:
            raise self._refused(status, body, base, quote, what)
        if body.get("base") != base or not isinstance(body.get("rates"), dict):
            raise FxRatesError(f"{self.who}: {base}->{quote} {what}: not a time series of base {base}: "
                               f"{str(body)[:200]}")
        out: dict[date, Decimal] = {}
        for day, rates in body["rates"].items():
            rate = rates.get(quote) if isinstance(rates, dict) else None
            if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
                raise FxRatesError(f"{self.who}: {base}->{quote} {what}: rate of {day} is {rate!r}, not a "
                                   "positive number")
            if -rate.as_tuple().exponent > RATE_SCALE:
                raise FxRatesError(f"{self.who}: {base}->{quote} {what}: rate of {day} ({rate}) has more than "
                                   f"{RATE_SCALE} decimals")
            out[date.fromisoformat(day)] = rate
        return out


def rates_table(rates: dict[date, Decimal], base: str, quote: str) -> pa.Table:
    """One currency pair's rates as an Arrow table with the landed columns (``settings.COLUMNS``)."""
    days = sorted(rates)
    values = {"rate_date": days, "base_currency": [base] * len(days), "quote_currency": [quote] * len(days),
              "rate": [rates[d] for d in days]}
    return pa.Table.from_pydict(values, schema=SCHEMA)


SCHEMA = pa.schema([pa.field(name, kind, nullable=False) for name, kind in COLUMNS.items()])  # every value set
