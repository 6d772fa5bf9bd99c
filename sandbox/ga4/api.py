"""The Google Analytics 4 Data API twin (v1beta) and Google's OAuth2 token endpoint, for the shops that trade
on ``channels: {ga4: {property_id: …}}``.

- ``POST /ga4/token`` stands in for ``https://oauth2.googleapis.com/token``: ``grant_type=refresh_token`` with
  ``client_id``, ``client_secret``, ``refresh_token`` (form-encoded, or JSON) → ``{"access_token",
  "expires_in": 3599, "scope", "token_type": "Bearer"}``; Google's ``invalid_client`` (401),
  ``invalid_grant`` / ``invalid_request`` / ``unsupported_grant_type`` (400) otherwise.
- ``POST /ga4/v1beta/properties/{property_id}:runReport`` (base ``https://analyticsdata.googleapis.com``)
  with ``Authorization: Bearer <access token>``: sandbox/ga4/report.py. A missing, unknown or expired token
  gets 401 UNAUTHENTICATED, a property the token's client cannot read 403 PERMISSION_DENIED, an exhausted
  quota 429 RESOURCE_EXHAUSTED (sandbox/ga4/quota.py), every error in Google's ``{"error": {"code",
  "message", "status"}}`` shape.
- ``GET /ga4/v1beta/properties/{property_id}/metadata`` lists the dimensions and metrics the twin knows.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.common.tokens import TokenStore
from sandbox.common.twin import RestTwin, bearer
from sandbox.ga4.quota import CONCURRENT_REQUESTS, PropertyQuotas, request_cost
from sandbox.ga4.report import InvalidArgument, parse_request, report_entries, run_report
from sandbox.ga4.schema import DIMENSIONS, METRICS
from sandbox.ga4.world import Ga4Options, Ga4Property, ga4_options

SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
ACCESS_TOKEN_TTL_S = 3599
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
UNAUTHENTICATED = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                   "or other valid authentication credential. See "
                   "https://developers.google.com/identity/sign-in/web/devconsole-project.")
PERMISSION_DENIED = ("User does not have sufficient permissions for this property. To learn more about Property "
                     "ID, see https://developers.google.com/analytics/devguides/reporting/data/v1/property-id.")
HOURLY_EXHAUSTED = ("Exhausted property tokens per hour. These quota tokens will return in under an hour. To learn "
                    "more, see https://developers.google.com/analytics/devguides/reporting/data/v1/quotas")
DAILY_EXHAUSTED = ("Exhausted property tokens per day. These quota tokens will return tomorrow. To learn more, see "
                   "https://developers.google.com/analytics/devguides/reporting/data/v1/quotas")
CONCURRENCY_EXHAUSTED = ("Exhausted concurrent requests quota. To learn more, see "
                         "https://developers.google.com/analytics/devguides/reporting/data/v1/quotas")


def google_error(code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN")}},
                        status_code=code, headers=headers)


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


class Ga4Twin(RestTwin):
    api = "ga4"

    def __init__(self, sandbox) -> None:
        super().__init__(sandbox)
        spec = sandbox.world.spec
        self.settings: dict[str, Ga4Options] = {h: ga4_options(spec.shop(h)) for h in self.shops}
        self.by_property: dict[str, str] = {}
        self.by_client: dict[str, str] = {}
        for handle, options in self.settings.items():
            client_id = options.credentials(handle)[0]
            if options.property_id in self.by_property or client_id in self.by_client:
                raise ValueError(f"ga4: shop {handle!r} shares its property_id or client_id with another shop")
            self.by_property[options.property_id] = handle
            self.by_client[client_id] = handle
        self.tokens = TokenStore(ttl_s=ACCESS_TOKEN_TTL_S, prefix="ya29.sandbox-")
        self.ratelimits = PropertyQuotas()
        self._properties: dict[str, Ga4Property] = {}
        self._rows: dict[str, tuple[datetime, Any]] = {}
        self._reports: dict[tuple[str, datetime, str], list] = {}
        self._lock = threading.Lock()
        self.reports: dict[str, int] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/ga4/token", self.token_endpoint, methods=["POST"]),
            Route("/ga4/v1beta/properties/{property_id}:runReport", self.run_report_endpoint, methods=["POST"]),
            Route("/ga4/v1beta/properties/{property_id}/metadata", self.metadata_endpoint, methods=["GET"]),
        ]

    # --- Google's error shapes for the machinery of RestTwin (injected faults) ---------------------------------
    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return google_error(status, message, headers)

    def throttled_response(self, shop: str, retry_after_s: float) -> Response:
        return google_error(429, HOURLY_EXHAUSTED)  # Google sends no Retry-After: clients back off exponentially

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "reports": dict(self.reports),
                "tokens_used_today": {h: self.ratelimits.used_today(h) for h in self.shops}}

    # --- the property's data ---------------------------------------------------------------------------------
    def property(self, shop: str) -> Ga4Property:
        with self._lock:
            if shop not in self._properties:
                world = self.sandbox.world
                self._properties[shop] = Ga4Property(world.spec, world.shop(shop), self.settings[shop])
            return self._properties[shop]

    def rows(self, shop: str, clock: datetime):
        """The property's traffic rows as seen at ``clock`` (cached for the last clock asked)."""
        with self._lock:
            cached = self._rows.get(shop)
        if cached is not None and cached[0] == clock:
            return cached[1]
        prop = self.property(shop)
        rows = prop.rows(None if prop.settled(clock) else clock)
        with self._lock:
            self._rows[shop] = (clock, rows)
        return rows

    def _entries(self, shop: str, clock: datetime, body: dict[str, Any], report, rows) -> list:
        """The ordered rows of a report, cached per (shop, clock, request without offset/limit) for paging."""
        key = (shop, clock, json.dumps({k: v for k, v in body.items() if k not in ("offset", "limit")},
                                       sort_keys=True, default=str))
        with self._lock:
            cached = self._reports.get(key)
        if cached is None:
            cached = report_entries(report, rows)
            with self._lock:
                if len(self._reports) >= 16:
                    self._reports.pop(next(iter(self._reports)))
                self._reports[key] = cached
        return cached

    # --- endpoints -------------------------------------------------------------------------------------------
    async def token_endpoint(self, request: Request) -> Response:
        raw = (await request.body()).decode("utf-8", "replace")
        if "json" in request.headers.get("content-type", ""):
            try:
                params = {k: str(v) for k, v in (json.loads(raw) or {}).items()}
            except (ValueError, AttributeError):
                return oauth_error(400, "invalid_request", "Invalid JSON payload received.")
        else:
            params = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        grant = params.get("grant_type", "")
        if grant != "refresh_token":
            return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
        client_id = params.get("client_id")
        if not client_id:
            return oauth_error(400, "invalid_request", "Could not determine client ID from request.")
        shop = self.by_client.get(client_id)
        if shop is None:
            return oauth_error(401, "invalid_client", "The OAuth client was not found.")
        _, secret, refresh = self.settings[shop].credentials(shop)
        if params.get("client_secret") != secret:
            return oauth_error(401, "invalid_client", "Unauthorized")
        if not params.get("refresh_token"):
            return oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
        if params["refresh_token"] != refresh:
            return oauth_error(400, "invalid_grant", "Bad Request")
        token, ttl = self.tokens.issue(shop)
        return JSONResponse({"access_token": token, "expires_in": ttl, "scope": SCOPE, "token_type": "Bearer"})

    async def run_report_endpoint(self, request: Request) -> Response:
        shop = self.by_property.get(request.path_params["property_id"])
        token = bearer(request)
        body = await request.body()
        if shop is None:
            return self._refuse_unknown_property(token)
        return await self.guarded(shop, lambda: self._run_report(shop, token, body))

    async def metadata_endpoint(self, request: Request) -> Response:
        property_id = request.path_params["property_id"]
        shop = self.by_property.get(property_id)
        token = bearer(request)
        if shop is None:
            return self._refuse_unknown_property(token)

        def answer() -> Response:
            refused = self._authorize(shop, token)
            if refused is not None:
                return refused
            return JSONResponse({
                "name": f"properties/{property_id}/metadata",
                "dimensions": [{"apiName": k, "uiName": v[0], "category": "Traffic source"}
                               for k, v in DIMENSIONS.items()],
                "metrics": [{"apiName": k, "uiName": v[0], "type": v[1]} for k, v in METRICS.items()],
            })

        return await self.guarded(shop, answer)

    # --- the work, in a worker thread ------------------------------------------------------------------------
    def _authorize(self, shop: str, token: str | None) -> Response | None:
        owner, status = self.tokens.check(token)
        if status != "ok":
            return google_error(401, UNAUTHENTICATED,
                                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                                     'error="invalid_token"'})
        if owner != shop:
            return google_error(403, PERMISSION_DENIED)
        return None

    def _refuse_unknown_property(self, token: str | None) -> Response:
        if self.tokens.check(token)[1] != "ok":
            return google_error(401, UNAUTHENTICATED)
        return google_error(403, PERMISSION_DENIED)

    def _run_report(self, shop: str, token: str | None, raw: bytes) -> Response:
        refused = self._authorize(shop, token)
        if refused is not None:
            return refused
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return google_error(400, "Invalid JSON payload received. Unexpected token.")
        in_flight = self.sandbox.faults.book(shop, self.api).in_flight
        if in_flight > CONCURRENT_REQUESTS:
            return google_error(429, CONCURRENCY_EXHAUSTED)
        prop = self.property(shop)
        clock = self.sandbox.clock
        today = clock.astimezone(ZoneInfo(prop.timezone)).date()
        try:
            report = parse_request(body, today, prop.currency)
        except InvalidArgument as exc:
            return google_error(400, str(exc))
        rows = self.rows(shop, clock)
        answer, page_rows, _ = run_report(report, rows, self._entries(shop, clock, body, report, rows))
        days = sum((r.end - r.start).days + 1 for r in report.date_ranges)
        cost = request_cost(page_rows, days)
        if self.ratelimits.bucket(shop).take_tokens(cost) is not None:
            return google_error(429, HOURLY_EXHAUSTED)
        if not self.ratelimits.charge_day(shop, cost):
            return google_error(429, DAILY_EXHAUSTED)
        answer["metadata"] = {"currencyCode": prop.currency, "timeZone": prop.timezone}
        if report.return_property_quota:
            answer["propertyQuota"] = self.ratelimits.property_quota(shop, cost, in_flight)
        answer["kind"] = "analyticsData#runReport"
        with self._lock:
            self.reports[shop] = self.reports.get(shop, 0) + 1
        return JSONResponse(answer)
