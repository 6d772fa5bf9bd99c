"""The Meta Marketing API twin (Graph API v21.0 shape), serving every shop with ``channels: {meta_ads: …}``.

Base URL ``{sandbox}/meta`` plays ``https://graph.facebook.com``:

- ``GET  /meta/v21.0/act_<id>`` — the ad account node (``fields=name,currency,timezone_name,…``)
- ``GET  /meta/v21.0/act_<id>/insights`` — synchronous Insights, paged (``limit``, ``after``)
- ``POST /meta/v21.0/act_<id>/insights`` — an async report run: ``{"report_run_id": …}``
- ``GET  /meta/v21.0/<report_run_id>`` — its ``async_status`` / ``async_percent_completion``
- ``GET  /meta/v21.0/<report_run_id>/insights`` — its rows, paged
- ``GET  /meta/v21.0/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret&fb_exchange_token``
- ``POST|DELETE /_sandbox/meta_ads/jobs`` — test control: how the shop's next report runs progress

Auth: ``access_token`` parameter or ``Authorization: Bearer`` (or ``OAuth``) header. Faults are injected per
shop by :meth:`RestTwin.guarded`; ``throttle`` answers Meta's ads-insights throttling (code 80000).
"""

from __future__ import annotations

import hmac
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.common.ratelimit import RateLimits
from sandbox.common.twin import RestTwin, bearer
from sandbox.meta_ads.errors import (
    RATE_LIMIT_DOCS,
    business_use_case_usage,
    graph_error,
    invalid_parameter,
    oauth_refused,
    unknown_object,
)
from sandbox.meta_ads.insights import InsightsError, InsightsQuery, account_today, page, query_rows
from sandbox.meta_ads.options import API, ResolvedOptions, resolve
from sandbox.meta_ads.runs import JobPlan, ReportRuns
from sandbox.meta_ads.tokens import MetaTokens
from sandbox.meta_ads.world import AdWorld, ad_world

if TYPE_CHECKING:
    from sandbox.server import Sandbox

VERSION = re.compile(r"v(\d+)\.0")
OLDEST_VERSION = 19
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name", "account_status")
USAGE_WINDOW_S = 60.0


class MetaAdsTwin(RestTwin):
    api = API

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        spec = sandbox.world.spec
        self.resolved: dict[str, ResolvedOptions] = {h: resolve(spec, spec.shop(h)) for h in self.shops}
        self.by_account = {o.account_id: h for h, o in self.resolved.items()}
        self.by_app = {o.app_id: h for h, o in self.resolved.items()}
        self.tokens = MetaTokens({h: o.access_token for h, o in self.resolved.items()})
        # generous by default (the demo never waits); tests shrink them with POST /_sandbox/ratelimit
        self.ratelimits = RateLimits({"insights": (100.0, 500.0), "oauth": (20.0, 50.0)})
        self.runs = ReportRuns()
        self._worlds: dict[str, AdWorld] = {}
        self._calls: dict[str, deque[float]] = {h: deque() for h in self.shops}
        self._lock = threading.Lock()

    # --- the world ----------------------------------------------------------------------------------------
    def world(self, shop: str) -> AdWorld:
        with self._lock:
            if shop not in self._worlds:
                self._worlds[shop] = ad_world(self.sandbox.world.spec, self.sandbox.world.shop(shop))
            return self._worlds[shop]

    @property
    def clock(self) -> datetime:
        return self.sandbox.clock

    # --- routes ---------------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/meta/{version}/oauth/access_token", self._exchange, methods=["GET", "POST"]),
            Route("/meta/{version}/{node}/insights", self._insights, methods=["GET", "POST"]),
            Route("/meta/{version}/{node}", self._node, methods=["GET"]),
            Route("/_sandbox/meta_ads/jobs", self._jobs_control, methods=["POST", "DELETE"]),
        ]

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "report_runs": self.runs.stats()}

    async def _node(self, request: Request) -> Response:
        version, node = request.path_params["version"], request.path_params["node"]
        if (refused := _version_refused(version)) is not None:
            return refused
        params = await _params(request)
        if node.startswith("act_"):
            shop = self.by_account.get(node.removeprefix("act_"))
            if shop is None:
                return unknown_object(node)
            return await self.guarded(shop, lambda: self._authorized(request, params, shop, node,
                                                                    lambda: self._account(shop, params)))
        run = self.runs.get(node)
        if run is None:
            return unknown_object(node)
        return await self.guarded(run.shop, lambda: self._authorized(
            request, params, run.shop, node, lambda: self._ok(run.shop, run.poll())))

    async def _insights(self, request: Request) -> Response:
        version, node = request.path_params["version"], request.path_params["node"]
        if (refused := _version_refused(version)) is not None:
            return refused
        params = await _params(request)
        next_url = f"{str(request.base_url).rstrip('/')}/meta/{version}/{node}/insights"
        if node.startswith("act_"):
            shop = self.by_account.get(node.removeprefix("act_"))
            if shop is None:
                return unknown_object(node)
            work = self._create_run if request.method == "POST" else self._sync_insights
            return await self.guarded(shop, lambda: self._authorized(
                request, params, shop, node, lambda: work(shop, params, next_url)))
        run = self.runs.get(node)
        if run is None or request.method != "GET":
            return unknown_object(node)
        return await self.guarded(run.shop, lambda: self._authorized(
            request, params, run.shop, node, lambda: self._run_page(run, params, next_url)))

    async def _exchange(self, request: Request) -> Response:
        if (refused := _version_refused(request.path_params["version"])) is not None:
            return refused
        params = await _params(request)
        shop = self.by_app.get(params.get("client_id", ""))
        if shop is None:
            return graph_error(400, "Error validating application. Invalid application ID.", 101)
        return await self.guarded(shop, lambda: self._exchange_token(shop, params))

    async def _jobs_control(self, request: Request) -> Response:
        """Test control: ``{"shop", "outcome": complete|fail|stall, "polls": 3, "count": 1}``; DELETE clears."""
        if request.method == "DELETE":
            self.runs.clear_plans()
            return JSONResponse({"cleared": True})
        try:
            body = await request.json()
            if body.get("shop") not in self.shops:
                return JSONResponse({"error": f"unknown meta_ads shop {body.get('shop')!r}"}, status_code=404)
            plan = JobPlan(outcome=body.get("outcome", "complete"), polls=int(body.get("polls", 3)))
            self.runs.queue(body["shop"], plan, int(body.get("count", 1)))
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"queued": True})

    # --- work (in worker threads) ------------------------------------------------------------------------
    def _authorized(self, request: Request, params: dict[str, str], shop: str, node: str,
                    work: Callable[[], Response]) -> Response:
        """Check the token, then the rate limit, then do the work."""
        token, via_header = _token(request, params)
        if token is None:
            return oauth_refused("missing", via_header=False)
        owner, state = self.tokens.check(token)
        if state != "ok":
            return oauth_refused(state, via_header=via_header)
        if owner != shop:
            return unknown_object(node)
        if (refused := self.rate_limited(shop, "insights")) is not None:
            return refused
        self._count_call(shop)
        try:
            return work()
        except InsightsError as exc:
            return graph_error(400, str(exc), exc.code)

    def _account(self, shop: str, params: dict[str, str]) -> Response:
        world = self.world(shop)
        known = {"id": f"act_{world.account_id}", "account_id": world.account_id,
                 "name": world.options.account_name, "currency": world.currency,
                 "timezone_name": world.timezone, "account_status": 1}
        fields = [f.strip() for f in params.get("fields", "").split(",") if f.strip()]
        for name in fields:
            if name not in ACCOUNT_FIELDS:
                return invalid_parameter(f"Tried accessing nonexisting field ({name}) on node type (AdAccount)")
        return self._ok(shop, {name: known[name] for name in ["id", *fields]})

    def _query(self, shop: str, params: dict[str, str]) -> tuple[AdWorld, InsightsQuery, datetime]:
        world, clock = self.world(shop), self.clock
        return world, InsightsQuery.parse(params, account_today(world, clock)), clock

    def _sync_insights(self, shop: str, params: dict[str, str], next_url: str) -> Response:
        world, query, clock = self._query(shop, params)
        rows = query_rows(world, query, clock)
        return self._ok(shop, page(rows, params, _next_base(next_url, params)), insights=True)

    def _create_run(self, shop: str, params: dict[str, str], next_url: str) -> Response:
        world, query, clock = self._query(shop, params)
        run = self.runs.create(shop, world.account_id, query.since, query.until, query_rows(world, query, clock))
        return self._ok(shop, {"report_run_id": run.id}, insights=True)

    def _run_page(self, run, params: dict[str, str], next_url: str) -> Response:
        if not run.completed:
            return graph_error(400, "(#2601) Error accessing adreport job: the report is not ready yet", 2601)
        return self._ok(run.shop, page(run.rows, params, _next_base(next_url, params)), insights=True)

    def _exchange_token(self, shop: str, params: dict[str, str]) -> Response:
        options = self.resolved[shop]
        if params.get("grant_type") != "fb_exchange_token":
            return graph_error(400, f"Invalid grant_type: '{params.get('grant_type', '')}'. Supported types: "
                                    "authorization_code, client_credentials, fb_exchange_token", 100)
        if not _equal(params.get("client_secret"), options.app_secret):
            return graph_error(400, "Error validating client secret.", 1)
        presented = params.get("fb_exchange_token")
        system = self.tokens.system_shop(presented)
        owner, state = (system, "ok") if system is not None else self.tokens.check(presented)
        if owner != shop or state != "ok":
            return oauth_refused("invalid" if state != "expired" else "expired", via_header=False)
        if (refused := self.rate_limited(shop, "oauth")) is not None:
            return refused
        token, expires_in = self.tokens.issue(shop)
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": expires_in})

    # --- answers ------------------------------------------------------------------------------------------
    def _ok(self, shop: str, body: dict[str, Any], *, insights: bool = False) -> Response:
        headers = {"x-business-use-case-usage": business_use_case_usage(self.resolved[shop].account_id,
                                                                        self._usage(shop), 0)}
        if insights:
            pct = self._usage(shop)
            headers["x-fb-ads-insights-throttle"] = json.dumps({"app_id_util_pct": pct / 2, "acc_id_util_pct": pct,
                                                                "ads_api_access_tier": "standard_access"})
        return JSONResponse(body, headers=headers)

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        """Injected faults in Meta's error shape (500: unknown error, 503: service, 429: app request limit)."""
        code, text = {500: (1, "An unknown error has occurred."), 503: (2, "Service temporarily unavailable"),
                      429: (4, "Application request limit reached")}.get(status, (1, message))
        return graph_error(status, text, code, is_transient=True, headers=headers)

    def throttled_response(self, shop: str, retry_after_s: float) -> Response:
        """Meta's ads-insights business-use-case throttling: HTTP 400, code 80000, subcode 2446079, and the
        ``x-business-use-case-usage`` header saying when access comes back (whole minutes)."""
        regain = max(1, math.ceil(retry_after_s / 60))
        usage = business_use_case_usage(self.resolved[shop].account_id, 100, regain)
        return graph_error(
            400, "There have been too many calls from this ad-account. Wait a bit and try again. For more info, "
                 f"please refer to {RATE_LIMIT_DOCS}.", 80000, subcode=2446079, is_transient=True,
            error_user_title="Ad Account Has Too Many API Calls",
            error_user_msg="There have been too many calls from this ad-account. Please wait a bit and try again.",
            headers={"x-business-use-case-usage": usage})

    def _count_call(self, shop: str) -> None:
        now = time.monotonic()
        with self._lock:
            calls = self._calls[shop]
            calls.append(now)
            while calls and calls[0] < now - USAGE_WINDOW_S:
                calls.popleft()

    def _usage(self, shop: str) -> int:
        """Percent of the insights budget used over the last minute (what the usage headers report)."""
        rate, _ = self.ratelimits.defaults["insights"]
        with self._lock:
            return min(100, int(100 * len(self._calls[shop]) / max(1.0, rate * USAGE_WINDOW_S)))


def _version_refused(version: str) -> Response | None:
    match = VERSION.fullmatch(version)
    if match is None:
        return graph_error(400, f"Unknown path components: /{version}", 2500)
    if int(match.group(1)) < OLDEST_VERSION:
        return graph_error(400, "(#2635) You are calling a deprecated version of the Ads API. Please update to "
                                "the latest version: v21.0.", 2635)
    return None


async def _params(request: Request) -> dict[str, str]:
    """Query parameters merged with a form or JSON body (Graph API accepts parameters in either)."""
    params = dict(request.query_params)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                body = {}
            if isinstance(body, dict):
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
        else:  # application/x-www-form-urlencoded (what the SDKs send)
            params.update(dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)))
    return params


def _token(request: Request, params: dict[str, str]) -> tuple[str | None, bool]:
    """(token, whether it came in a header)."""
    if params.get("access_token"):
        return params["access_token"], False
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "oauth" and value.strip():
        return value.strip(), True
    token = bearer(request)
    return token, token is not None


def _next_base(url: str, params: dict[str, str]) -> str:
    """The URL of the next page without its cursor: the request's parameters (an ``access_token`` given as a
    parameter included, as Meta does) minus ``after`` / ``before``."""
    kept = {"limit": "25", **{k: v for k, v in params.items() if k not in ("after", "before")}}
    return f"{url}?{urlencode(kept)}"


def _equal(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
