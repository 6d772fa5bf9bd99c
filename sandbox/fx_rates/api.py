"""The Frankfurter v1 twin (ECB reference rates), one public service for every shop: ``{sandbox}/fx/v1`` plays
``https://api.frankfurter.dev/v1``. No credentials.

- ``GET /fx/v1/latest`` (or ``/current``) — the last business day published at the sandbox clock
- ``GET /fx/v1/{YYYY-MM-DD}`` — that day's rates, or the last business day before it (weekends, holidays)
- ``GET /fx/v1/{start}..{end}`` and ``/fx/v1/{start}..`` (up to today) — a time series; it starts at the last
  business day on or before ``start`` (Frankfurter issue #71), so a weekend start still gets Friday's rates
- ``GET /fx/v1/currencies`` — ``{code: name}``

Query parameters: ``base`` (alias ``from``, default EUR), ``symbols`` (alias ``to``, comma-separated) and
``amount`` (positive). Answers: ``{"amount": 1.0, "base", "date", "rates": {code: rate}}`` and
``{"amount", "base", "start_date", "end_date", "rates": {date: {code: rate}}}``, rates as JSON numbers with
Frankfurter's rounding (sandbox/fx_rates/rates.py), ``Cache-Control: public, max-age=900`` and an ETag.
"Today" is the sandbox clock's UTC date (Frankfurter stores dates in UTC); a business day's rates appear at
16:00 Frankfurt time. Frankfurter's refusals: a calendar-invalid date 422 ``{"message": "invalid date"}``, a
non-positive amount 422 ``invalid amount``, ``base`` = the only symbol 422 ``bad currency pair``; an unknown
base, only unknown symbols, a date after today or before the first rate: 404 ``{"message": "not found"}``.
Faults (``POST /_sandbox/faults {"api": "fx_rates", "kind": …}``) apply to everyone (no shop here).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import deque
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.common.ratelimit import RateLimits
from sandbox.common.twin import RestTwin
from sandbox.faults import ANY_SHOP
from sandbox.fx_rates.rates import EUR, QuoteError, ReferenceRates, quote_day, reference_rates

if TYPE_CHECKING:
    from sandbox.server import Sandbox

API = "fx_rates"
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})?")
NUMBER_PREFIX = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
CURRENCY_NAMES = {
    "AUD": "Australian Dollar", "CAD": "Canadian Dollar", "CHF": "Swiss Franc", "DKK": "Danish Krone",
    "EUR": "Euro", "GBP": "British Pound", "NOK": "Norwegian Krone", "NZD": "New Zealand Dollar",
    "PLN": "Polish Złoty", "SEK": "Swedish Krona", "USD": "United States Dollar",
}
HEADERS = {"Cache-Control": "public, max-age=900"}
HISTORY = 2000  # the last requests kept for tests (FxRatesTwin.history)


def message(status: int, text: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Frankfurter's error body."""
    return JSONResponse({"message": text}, status_code=status, headers=headers)


def ruby_to_f(text: str) -> float:
    """Ruby's ``String#to_f``: the leading number, 0.0 when there is none."""
    match = NUMBER_PREFIX.match(text)
    return float(match.group(0)) if match else 0.0


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise QuoteError(422, "invalid date") from None


class Query:
    """Frankfurter's Query: ``base``/``from``, ``symbols``/``to``, ``amount``."""

    def __init__(self, params: dict[str, str]) -> None:
        raw_base = params.get("from", params.get("base"))
        raw_symbols = params.get("to", params.get("symbols"))
        self.base = raw_base.upper() if raw_base is not None else EUR
        self.symbols = raw_symbols.upper().split(",") if raw_symbols is not None else None
        if raw_base is not None and self.symbols == [self.base]:
            raise QuoteError(422, "bad currency pair")
        self.amount = 1.0
        if params.get("amount") is not None:
            self.amount = ruby_to_f(params["amount"])
            if self.amount <= 0:
                raise QuoteError(422, "invalid amount")


class FxRatesTwin(RestTwin):
    api = API
    per_shop = False

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        # api.frankfurter.dev sits behind nginx limit_req (50 r/s, burst 500): generous, shrink in tests
        self.ratelimits = RateLimits({"rates": (50.0, 500.0)})
        self.answered: dict[str, int] = {}  # 200 answers by kind: latest, date, interval, currencies
        self.history: deque[tuple[str, dict[str, str], int]] = deque(maxlen=HISTORY)  # (path, query, status)
        self._lock = threading.Lock()

    def routes(self) -> list[BaseRoute]:
        return [Route("/fx/v1/{path:path}", self.endpoint, methods=["GET"])]

    # --- Frankfurter's error shapes for the machinery of RestTwin -----------------------------------------
    def error_response(self, status: int, text: str, headers: dict[str, str] | None = None) -> Response:
        return message(status, text, headers)

    def throttled_response(self, shop: str, retry_after_s: float) -> Response:
        # nginx's limit_req answers a bare 429 page, without Retry-After
        return Response("<html><head><title>429 Too Many Requests</title></head><body><center><h1>429 Too Many "
                        "Requests</h1></center><hr><center>nginx</center></body></html>\n", status_code=429,
                        media_type="text/html")

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "answered": dict(self.answered)}

    # --- the endpoint ------------------------------------------------------------------------------------
    @property
    def series(self) -> ReferenceRates:
        return reference_rates(self.sandbox.world.spec)

    async def endpoint(self, request: Request) -> Response:
        path, params = request.path_params["path"].rstrip("/"), dict(request.query_params)
        response = await self.guarded(ANY_SHOP, lambda: self.answer(path, params))
        with self._lock:
            self.history.append((path, params, response.status_code))
        return response

    def answer(self, path: str, params: dict[str, str]) -> Response:
        throttled = self.rate_limited(ANY_SHOP, "rates")
        if throttled is not None:
            return throttled
        clock = self.sandbox.clock
        try:
            if path in ("latest", "current"):
                kind, (body, key) = "latest", self.end_of_day(clock.date(), Query(params), clock)
            elif DAY.fullmatch(path):
                kind, (body, key) = "date", self.end_of_day(parse_day(path), Query(params), clock)
            elif match := RANGE.fullmatch(path):
                start = parse_day(match.group(1))
                end = parse_day(match.group(2)) if match.group(2) else clock.date()
                kind, (body, key) = "interval", self.interval(start, end, Query(params), clock)
            elif path == "currencies":
                kind, body = "currencies", {code: CURRENCY_NAMES.get(code, code) for code in self.series.currencies}
                key = ",".join(body)
            else:
                return Response(status_code=404)
        except QuoteError as exc:
            return message(exc.status, exc.message, HEADERS)
        with self._lock:
            self.answered[kind] = self.answered.get(kind, 0) + 1
        etag = '"' + hashlib.md5(key.encode()).hexdigest() + '"'  # noqa: S324 -- a cache key, as Frankfurter's
        return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                        media_type="application/json; charset=utf-8", headers={**HEADERS, "ETag": etag})

    def end_of_day(self, day: date, query: Query, clock: datetime) -> tuple[dict[str, Any], str]:
        """Quote::EndOfDay: the last business day on or before ``day`` that is published at ``clock``."""
        series = self.series
        if day > clock.date():
            raise QuoteError(404, "not found")
        index = min(series.day_index(day), series.published_count(clock) - 1)
        rates = quote_day(series.eur_rates(index), query.base, query.symbols, query.amount) if index >= 0 else {}
        if not rates:
            raise QuoteError(404, "not found")
        on = series.days[index].isoformat()
        return {"amount": query.amount, "base": query.base, "date": on, "rates": rates}, on

    def interval(self, start: date, end: date, query: Query, clock: datetime) -> tuple[dict[str, Any], str]:
        """Quote::Interval: every published business day from the last one on or before ``start`` to ``end``."""
        series = self.series
        if start > clock.date():
            raise QuoteError(404, "not found")
        published = series.published_count(clock)
        first = max(0, min(series.day_index(start), published - 1))  # none before start: from the first rate
        rates: dict[str, dict[str, float | int]] = {}
        for index in range(first, published):
            day = series.days[index]
            if day > end:
                break
            answer = quote_day(series.eur_rates(index), query.base, query.symbols, query.amount)
            if answer:
                rates[day.isoformat()] = answer
        if not rates:
            raise QuoteError(404, "not found")
        days = list(rates)
        return ({"amount": query.amount, "base": query.base, "start_date": days[0], "end_date": days[-1],
                 "rates": rates}, days[-1])
