"""The QuickBooks Online Accounting API twin (v3): the query endpoint and Intuit's OAuth 2.0 token endpoint.

- ``POST /quickbooks/oauth2/v1/tokens/bearer`` (stands in for https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer)
- ``GET  /quickbooks/v3/company/{realmId}/query?query=<statement>&minorversion=75`` (also ``POST`` with the
  statement as an ``application/text`` body), ``Authorization: Bearer <access token>``

Served per shop whose spec has ``channels: {quickbooks: {realm_id, client_id, client_secret, refresh_token}}``;
the company (``world.py``) is derived once per shop, and its entities rendered once per sandbox clock.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import polars as pl
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.common.ratelimit import RateLimits
from sandbox.common.tokens import TokenStore
from sandbox.common.twin import RestTwin, bearer
from sandbox.quickbooks.entities import Row, render
from sandbox.quickbooks.oauth import REFRESH_TOKEN_TTL_S, Client, OAuthError, RefreshTokens
from sandbox.quickbooks.query import QueryError, execute, parse
from sandbox.quickbooks.wire import (
    QboJSON,
    authentication_fault,
    authorization_fault,
    fault,
    server_time,
    throttle_fault,
)
from sandbox.quickbooks.world import API, Books, QuickBooksOptions, build_books

ACCESS_TOKEN_TTL_S = 3600
REQUESTS_PER_MINUTE = 500  # QBO's throttle per realm (Accounting API, production)


class QuickBooksTwin(RestTwin):
    api = API

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.settings = {shop: QuickBooksOptions.model_validate(self.options(shop)) for shop in self.shops}
        self.realms = {o.realm_id: shop for shop, o in self.settings.items()}
        if len(self.realms) != len(self.settings):
            raise ValueError("quickbooks: every shop needs its own realm_id")
        self.tokens = TokenStore(ACCESS_TOKEN_TTL_S, prefix="eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..")
        self.refresh_tokens = RefreshTokens([Client(shop, o.client_id, o.client_secret, o.refresh_token)
                                             for shop, o in self.settings.items()])
        self.ratelimits = RateLimits({"accounting": (REQUESTS_PER_MINUTE / 60, REQUESTS_PER_MINUTE)})
        self._books: dict[str, Books] = {}
        self._rendered: dict[tuple[str, datetime], dict[str, list[Row]]] = {}
        self._lock = threading.Lock()

    # --- routes -----------------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/quickbooks/oauth2/v1/tokens/bearer", self.token, methods=["POST"]),
            Route("/quickbooks/v3/company/{realm}/query", self.query, methods=["GET", "POST"]),
        ]

    async def token(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        try:
            client = self.refresh_tokens.client(request.headers.get("authorization"))
            grant = (form.get("grant_type") or [""])[0]
            if grant != "refresh_token":
                raise OAuthError(400, "unsupported_grant_type" if grant else "invalid_request")
            refresh_token = (form.get("refresh_token") or [""])[0]
            if not refresh_token:
                raise OAuthError(400, "invalid_request")
            new_refresh = self.refresh_tokens.rotate(client, refresh_token)
        except OAuthError as err:
            return JSONResponse(err.body(), status_code=err.status,
                                headers={"WWW-Authenticate": "Basic"} if err.status == 401 else None)
        access, expires_in = self.tokens.issue(client.shop)
        return JSONResponse({"x_refresh_token_expires_in": REFRESH_TOKEN_TTL_S, "refresh_token": new_refresh,
                             "access_token": access, "token_type": "bearer", "expires_in": expires_in},
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def query(self, request: Request) -> Response:
        shop = self.realms.get(request.path_params["realm"])
        token = bearer(request)
        if shop is None:
            _, status = self.tokens.check(token)
            return authentication_fault("Token invalid") if status == "invalid" else authorization_fault()
        if request.method == "POST":
            statement = (await request.body()).decode("utf-8", "replace")
        else:
            statement = request.query_params.get("query", "")
        return await self.guarded(shop, lambda: self._answer(shop, token, statement))

    # --- the work of one request (in a worker thread) ---------------------------------------------------------
    def _answer(self, shop: str, token: str | None, statement: str) -> Response:
        owner, status = self.tokens.check(token)
        if status == "invalid":
            return authentication_fault("Token invalid" if token else "Malformed bearer token: missing")
        if status == "expired":
            return authentication_fault(f"Token expired: {server_time()}")
        if owner != shop:
            return authorization_fault()
        throttled = self.rate_limited(shop, "accounting")
        if throttled is not None:
            return throttled
        if not statement.strip():
            return fault([("Error parsing query", "QueryParserError: Encountered \"<EOF>\"", "4000")],
                         "ValidationFault", 400)
        zone = ZoneInfo(self.sandbox.world.spec.shop(shop).timezone)
        try:
            query = parse(statement, zone)
        except QueryError as err:
            return fault([(err.message, err.detail, err.code)], "ValidationFault", 400)
        rows = self.entities(shop, self.sandbox.clock)[query.entity]
        return QboJSON({"QueryResponse": execute(query, rows), "time": server_time()})

    def throttled_response(self, shop: str, retry_after_s: float) -> Response:
        return throttle_fault()

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return fault([(message, message, str(status))], "SERVICE", status, headers)

    # --- the company ------------------------------------------------------------------------------------------
    def books(self, shop: str) -> Books:
        with self._lock:
            if shop not in self._books:
                self._books[shop] = build_books(self.sandbox.world.spec, self.sandbox.world.shop(shop))
            return self._books[shop]

    def entities(self, shop: str, clock: datetime) -> dict[str, list[Row]]:
        """Every entity of the shop's company as the API shows it at ``clock`` (rendered once per clock)."""
        key = (shop, clock)
        with self._lock:
            cached = self._rendered.get(key)
        if cached is not None:
            return cached
        world = self.sandbox.world.shop(shop)
        books = self.books(shop).at_clock(clock)
        rendered = render(books, _qty_on_hand(world.visible(clock).inventory_daily, books.items))
        with self._lock:
            if len(self._rendered) > 16:
                self._rendered.clear()
            self._rendered[key] = rendered
        return rendered

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "refreshes": self.refresh_tokens.stats()}


def _qty_on_hand(inventory_daily: pl.DataFrame, items: pl.DataFrame) -> dict[int, int]:
    """Units on hand per item at the end of the last visible day."""
    if inventory_daily.is_empty():
        return {}
    last = inventory_daily.filter(pl.col("date") == pl.col("date").max()).select("variant_id", "on_hand")
    joined = items.select("item_id", "variant_id").join(last, on="variant_id", how="inner")
    return dict(zip(joined["item_id"].to_list(), joined["on_hand"].to_list(), strict=True))
