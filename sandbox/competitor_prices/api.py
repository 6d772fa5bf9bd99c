"""The price-intelligence API twin (Prisync / Price2Spy / DataWeave style): competitor offers per SKU and day.

Base URL ``{sandbox}/competitor_prices/v1`` stands for the vendor's ``https://api.<vendor>/v1``. Every shop of the
world has an account (no ``channels:`` entry needed; ``channels: {competitor_prices: {...}}`` tunes it,
``feed.CompetitorPricesOptions``). The API key (header ``X-API-Key``) names the account.

- ``GET /competitor_prices/v1/account`` → ``{"account", "name", "currency", "competitors", "tracked_skus",
  "history_from", "observed_through"}`` (``observed_through``: the last day published, null before the first).
- ``GET /competitor_prices/v1/offers?observed_from=YYYY-MM-DD[&observed_to=…][&sku=A,B][&limit=1..1000]`` →
  ``{"data": [{"sku", "product_name", "competitor", "competitor_url", "observed_date", "price": "12.34",
  "currency", "in_stock"}], "pagination": {"limit", "total", "next_cursor"}, "meta": {"currency",
  "observed_through"}}``, sorted by (observed_date, sku, competitor). The next page: ``?cursor=<next_cursor>``
  (the cursor carries the query and pins the day published when the first page was read; ``limit`` may change).

Answers: 401 ``{"error": {"code": "unauthorized", …}}`` for a missing or unknown key; 400 ``invalid_parameter``
(with ``parameter``) for a bad date, range, limit or cursor; 429 ``rate_limited`` with ``Retry-After`` (whole
seconds) when the account's token bucket is empty (default 10 requests/s, burst 100; ``POST /_sandbox/ratelimit
{"api": "competitor_prices", …}``). Every answer to a known key carries ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (seconds until the bucket is full). Injected faults: ``POST
/_sandbox/faults {"api": "competitor_prices", "shop", "kind"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import threading
from collections import deque
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.common.ratelimit import RateLimits, TokenBucket
from sandbox.common.twin import RestTwin
from sandbox.competitor_prices.feed import (
    CompetitorFeed,
    CompetitorPricesOptions,
    api_key_for,
    competitor_feed,
    competitor_options,
)
from sandbox.world.money import cents_text

if TYPE_CHECKING:
    from sandbox.server import Sandbox

API = "competitor_prices"
PREFIX = "/competitor_prices/v1"
API_KEY_HEADER = "x-api-key"
MAX_LIMIT, DEFAULT_LIMIT = 1000, 100
RATE, BURST = 10.0, 100.0
HISTORY = 2000  # the last requests kept for tests: (path, query, status)


class BadRequest(Exception):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter, self.message = parameter, message


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
          **extra: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status,
                        headers=headers)


class MeteredBucket(TokenBucket):
    """A token bucket that also tells how full it is, for the ``X-RateLimit-*`` headers."""

    def headers(self) -> dict[str, str]:
        with self._lock:
            tokens = min(self.burst, self._tokens + (self._clock() - self._at) * self.rate)
        return {"X-RateLimit-Limit": str(int(self.burst)), "X-RateLimit-Remaining": str(int(math.floor(tokens))),
                "X-RateLimit-Reset": str(math.ceil((self.burst - tokens) / self.rate))}


class MeteredLimits(RateLimits):
    def bucket(self, shop: str, operation: str) -> MeteredBucket:
        with self._lock:
            if (shop, operation) not in self._buckets:
                rate, burst = self._overrides.get((shop, operation), self.defaults[operation])
                self._buckets[(shop, operation)] = MeteredBucket(rate, burst)
            return self._buckets[(shop, operation)]  # type: ignore[return-value]


class CompetitorPricesTwin(RestTwin):
    api = API

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.shops = list(sandbox.world.handles)  # every shop watches its competitors
        self._options: dict[str, CompetitorPricesOptions] = {s: competitor_options(self.options(s))
                                                             for s in self.shops}
        self._keys = {api_key_for(s, o): s for s, o in self._options.items()}
        self.ratelimits = MeteredLimits({"api": (RATE, BURST)})
        self.history: deque[tuple[str, dict[str, str], int]] = deque(maxlen=HISTORY)
        self.refused_keys = 0
        self._lock = threading.Lock()

    def routes(self) -> list[BaseRoute]:
        return [Route(f"{PREFIX}/account", self._endpoint(self._account), methods=["GET"]),
                Route(f"{PREFIX}/offers", self._endpoint(self._offers), methods=["GET"])]

    def feed(self, shop: str) -> CompetitorFeed:
        world = self.sandbox.world
        return competitor_feed(world.spec, world.shop(shop), self._options[shop])

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "refused_keys": self.refused_keys}

    # --- the vendor's error shapes for RestTwin's machinery ------------------------------------------------
    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        code = {429: "rate_limited", 500: "internal_error", 503: "unavailable"}.get(status, f"http_{status}")
        return error(status, code, message, headers)

    def throttled_response(self, shop: str, retry_after_s: float) -> Response:
        bucket = self.ratelimits.bucket(shop, "api")
        headers = {**bucket.headers(), "Retry-After": str(max(1, math.ceil(retry_after_s)))}
        return error(429, "rate_limited", f"rate limit exceeded: {bucket.rate:g} requests a second, burst "
                                          f"{bucket.burst:g}", headers)

    # --- every call ------------------------------------------------------------------------------------------
    def _endpoint(self, handler: Callable[[str, dict[str, str]], dict[str, Any]]):
        async def endpoint(request: Request) -> Response:
            params = dict(request.query_params)
            shop = self._keys.get((request.headers.get(API_KEY_HEADER) or "").strip())
            if shop is None:
                with self._lock:
                    self.refused_keys += 1
                response: Response = error(401, "unauthorized", "missing or invalid API key (header X-API-Key)")
            else:
                response = await self.guarded(shop, lambda: self._answer(shop, handler, params))
            with self._lock:
                self.history.append((request.url.path, params, response.status_code))
            return response

        return endpoint

    def _answer(self, shop: str, handler, params: dict[str, str]) -> Response:
        limited = self.rate_limited(shop, "api")
        if limited is not None:
            return limited
        headers = self.ratelimits.bucket(shop, "api").headers()
        try:
            return JSONResponse(handler(shop, params), headers=headers)
        except BadRequest as bad:
            return error(400, "invalid_parameter", bad.message, headers, parameter=bad.parameter)

    # --- endpoints -------------------------------------------------------------------------------------------
    def _account(self, shop: str, params: dict[str, str]) -> dict[str, Any]:
        feed = self.feed(shop)
        through = feed.published_through(self.sandbox.clock)
        return {"account": shop, "name": self.sandbox.world.spec.shop(shop).name, "currency": feed.currency,
                "competitors": list(feed.competitors), "tracked_skus": feed.offers["sku"].n_unique(),
                "history_from": feed.first_day.isoformat(),
                "observed_through": through.isoformat() if through else None}

    def _offers(self, shop: str, params: dict[str, str]) -> dict[str, Any]:
        feed = self.feed(shop)
        limit = _limit(params.get("limit"))
        if params.get("cursor"):
            query = _read_cursor(params["cursor"], shop)
        else:
            through = feed.published_through(self.sandbox.clock)
            first = _day(params.get("observed_from"), "observed_from", required=True)
            last = _day(params.get("observed_to"), "observed_to") if params.get("observed_to") else None
            if last is not None and last < first:
                raise BadRequest("observed_to", "observed_to must not be before observed_from")
            skus = sorted({s.strip() for s in (params.get("sku") or "").split(",") if s.strip()})
            query = {"shop": shop, "from": first.isoformat(), "to": last.isoformat() if last else None,
                     "through": through.isoformat() if through else None, "skus": skus, "offset": 0}
        rows = self._matching(feed, query)
        offset = int(query["offset"])
        page = rows.slice(offset, limit)
        more = offset + limit < rows.height
        return {
            "data": _render(page, feed.currency),
            "pagination": {"limit": limit, "total": rows.height,
                           "next_cursor": _write_cursor({**query, "offset": offset + limit}) if more else None},
            "meta": {"currency": feed.currency, "observed_through": query["through"]},
        }

    @staticmethod
    def _matching(feed: CompetitorFeed, query: dict[str, Any]) -> pl.DataFrame:
        if query["through"] is None:
            return feed.offers.clear()
        last = date.fromisoformat(query["through"])
        if query["to"] is not None:
            last = min(last, date.fromisoformat(query["to"]))
        rows = feed.offers.filter(pl.col("observed_date").is_between(date.fromisoformat(query["from"]), last))
        if query["skus"]:
            rows = rows.filter(pl.col("sku").is_in(query["skus"]))
        return rows


def _render(page: pl.DataFrame, currency: str) -> list[dict[str, Any]]:
    prices = cents_text(page["price_cents"]).to_list()
    return [{"sku": sku, "product_name": name, "competitor": competitor, "competitor_url": url,
             "observed_date": day.isoformat(), "price": price, "currency": currency, "in_stock": stock}
            for (day, sku, competitor, name, url, stock), price in zip(
                page.select("observed_date", "sku", "competitor", "product_name", "competitor_url",
                            "in_stock").iter_rows(), prices, strict=True)]


def _day(text: str | None, name: str, *, required: bool = False) -> date:
    if not text:
        raise BadRequest(name, f"{name} is required (YYYY-MM-DD)" if required else f"{name} is empty")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(name, f"{name} must be a date YYYY-MM-DD, got {text!r}") from None


def _limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest("limit", f"limit must be an integer between 1 and {MAX_LIMIT}, got {text!r}")
    return int(text)


def _write_cursor(query: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(query, separators=(",", ":")).encode()).decode().rstrip("=")


def _read_cursor(cursor: str, shop: str) -> dict[str, Any]:
    try:
        query = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        valid = (isinstance(query, dict) and query.get("shop") == shop and isinstance(query.get("offset"), int)
                 and query["offset"] >= 0 and date.fromisoformat(query["from"]) is not None)
    except (ValueError, KeyError, TypeError, binascii.Error):
        valid = False
    if not valid:
        raise BadRequest("cursor", "cursor is invalid or belongs to another account")
    return query
