"""The sandbox over HTTP: Starlette on uvicorn, loopback by default.

Shopify:  ``POST /{shop}/admin/api/{YYYY-MM}/graphql.json`` with ``X-Shopify-Access-Token``.
REST twins (``sandbox/twins.py``): each mounts its own routes (Amazon SP-API, Walmart, …).
Controls: ``GET /_sandbox/health``, ``GET /_sandbox/stats``, ``POST|DELETE /_sandbox/faults``,
          ``POST /_sandbox/clock``, ``POST /_sandbox/throttle``, ``POST /_sandbox/ratelimit`` (sandbox/README.md).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.common.background import BackgroundServer
from sandbox.faults import ANY_SHOP, Fault, Faults
from sandbox.shopify.api import Answer, ShopifyTwin
from sandbox.shopify.webhooks import ShopifyWebhooks
from sandbox.twins import load_twins
from sandbox.world import WorldSpec, build_world

log = logging.getLogger("sandbox")
API_VERSION = re.compile(r"\d{4}-\d{2}|unstable")


class Sandbox:
    """The world, its API twins and the test controls, independent of the HTTP layer."""

    def __init__(self, spec: WorldSpec, **throttle: float) -> None:
        self.world = build_world(spec)
        self.shopify = ShopifyTwin(self.world, **throttle)
        self.faults = Faults(self.world.handles)
        self.twins = load_twins(self)
        self.webhooks = ShopifyWebhooks(self)  # subscriptions and signed deliveries (sandbox/shopify/webhooks.py)

    @property
    def clock(self) -> datetime:
        """What every API sees: the world up to this instant (default: the world's end)."""
        return self.shopify.clock

    @clock.setter
    def clock(self, as_of: datetime) -> None:
        self.shopify.clock = as_of

    def shopify_request(self, shop: str, token: str | None, payload: dict[str, Any]) -> Answer:
        """One GraphQL request of ``shop``, with whatever fault is due injected (runs in a worker thread)."""
        book = self.faults.books[shop]
        started = time.perf_counter()
        fault = book.next_request()
        answer: Answer | None = None
        try:
            if fault is not None:
                answer = self._inject(shop, fault, payload)
            if answer is None:
                answer = self.shopify.answer(shop, token, payload)
            return answer
        finally:
            book.done(throttled=answer is not None and answer.throttled)
            log.debug("shop=%s status=%s requested=%s actual=%s fault=%s %.1fms", shop,
                      answer.status if answer else "-", (answer.cost if answer else {}).get("requested"),
                      (answer.cost if answer else {}).get("actual"), fault.kind if fault else "-",
                      (time.perf_counter() - started) * 1000)

    def _inject(self, shop: str, fault: Fault, payload: dict[str, Any]) -> Answer | None:
        """The fault's answer, or None when the request goes on to a normal answer (after a delay)."""
        if fault.kind == "http_500":
            return Answer(500, {"errors": "Internal Server Error"})
        if fault.kind == "http_503":
            return Answer(503, {"errors": "Service Unavailable"}, headers={"Retry-After": "1"})
        if fault.kind == "http_429":
            return Answer(429, {"errors": "Exceeded 2 calls per second for api client."}, headers={"Retry-After": "1"})
        if fault.kind == "expire_token":
            return None  # an Admin API access token does not expire
        if fault.kind == "throttle":
            emptied = self.shopify.buckets[shop].drain()
            return self.shopify.throttled(shop, self.shopify.requested_cost(payload), emptied)
        if fault.kind == "timeout":
            time.sleep(fault.delay_s)
        elif fault.kind == "hang":
            self.faults.hang(shop, fault.delay_s)
        return None

    def stats(self) -> dict[str, Any]:
        """Per shop, Shopify's counters (top level, as before); per REST twin under ``apis``."""
        shopify = {h: {**book.stats(), "lowest_available": self.shopify.buckets[h].lowest,
                       "throttle_status": self.shopify.buckets[h].status()}
                   for h, book in self.faults.books.items()}
        books = self.faults.by_api()
        apis = {api: {"shops": {h: b.stats() for h, b in books.get(api, {}).items()}, **twin.stats()}
                for api, twin in self.twins.items()}
        return {**shopify, "apis": apis}


def create_app(sandbox: Sandbox) -> Starlette:
    async def graphql(request: Request) -> JSONResponse:
        shop = request.path_params["shop"]
        if shop not in sandbox.faults.books or not API_VERSION.fullmatch(request.path_params["version"]):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        payload = await _json(request)
        if payload is None:
            return JSONResponse({"errors": "The request body is not a JSON object"}, status_code=400)
        # the twin's work and injected delays run in worker threads, never blocking the event loop
        answer = await run_in_threadpool(sandbox.shopify_request, shop,
                                         request.headers.get("x-shopify-access-token"), payload)
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "shops": sandbox.world.handles, "apis": ["shopify", *sandbox.twins],
                             "clock": sandbox.clock.isoformat()})

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(sandbox.stats())

    async def faults(request: Request) -> JSONResponse:
        if request.method == "DELETE":
            sandbox.faults.clear()
            return JSONResponse({"cleared": True})
        body = await _json(request) or {}
        shop = body.pop("shop", None)
        api = body.pop("api", "shopify")
        if api in sandbox.twins and not sandbox.twins[api].per_shop:
            shop = ANY_SHOP  # a service every shop shares (FX rates): one book, whichever shop is named
        elif shop not in sandbox.faults.books:
            return JSONResponse({"error": f"unknown shop {shop!r}"}, status_code=404)
        if api != "shopify" and api not in sandbox.twins:
            return JSONResponse({"error": f"unknown api {api!r}; known: shopify, {', '.join(sandbox.twins)}"},
                                status_code=404)
        try:
            sandbox.faults.add(shop, Fault(**body), api=api)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"queued": True})

    async def clock(request: Request) -> JSONResponse:
        body = await _json(request) or {}
        try:
            as_of = _instant(body["as_of"]) if body.get("as_of") else sandbox.world.spec.end
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        sandbox.clock = as_of
        queued = await run_in_threadpool(sandbox.webhooks.clock_moved, as_of)  # sent by the delivery worker
        return JSONResponse({"clock": as_of.isoformat(), "webhooks_queued": queued})

    async def throttle(request: Request) -> JSONResponse:
        body = await _json(request) or {}
        shops = [body["shop"]] if body.get("shop") else sandbox.world.handles
        if any(s not in sandbox.shopify.buckets for s in shops):
            return JSONResponse({"error": f"unknown shop {body.get('shop')!r}"}, status_code=404)
        try:
            for shop in shops:
                sandbox.shopify.buckets[shop].configure(body["maximum_available"], body["restore_rate"])
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"maximum_available and restore_rate (positive) expected: {exc}"},
                                status_code=400)
        return JSONResponse({shop: sandbox.shopify.buckets[shop].status() for shop in shops})

    async def ratelimit(request: Request) -> JSONResponse:
        """Resize a REST twin's token buckets: {"api", "rate", "burst", "shop"?, "operation"?}."""
        body = await _json(request) or {}
        twin = sandbox.twins.get(body.get("api"))
        if twin is None or twin.ratelimits is None:
            return JSONResponse({"error": f"no rate-limited api {body.get('api')!r}"}, status_code=404)
        try:
            twin.ratelimits.configure(float(body["rate"]), float(body["burst"]), shop=body.get("shop"),
                                      operation=body.get("operation"))
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"rate and burst (positive) expected: {exc}"}, status_code=400)
        return JSONResponse({"defaults": twin.ratelimits.defaults})

    return Starlette(routes=[
        *(route for twin in sandbox.twins.values() for route in twin.routes()),
        *sandbox.webhooks.routes(),
        Route("/{shop}/admin/api/{version}/graphql.json", graphql, methods=["POST"]),
        Route("/_sandbox/health", health),
        Route("/_sandbox/stats", stats),
        Route("/_sandbox/faults", faults, methods=["POST", "DELETE"]),
        Route("/_sandbox/clock", clock, methods=["POST"]),
        Route("/_sandbox/throttle", throttle, methods=["POST"]),
        Route("/_sandbox/ratelimit", ratelimit, methods=["POST"]),
    ])


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _instant(text: str) -> datetime:
    """ISO 8601 → an aware datetime (``Z`` or an offset; none means UTC)."""
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SandboxServer(BackgroundServer):
    """The sandbox on a loopback port in a background thread: ``with SandboxServer(spec) as s: s.base_url``.

    ``spec`` is a ``WorldSpec`` or the path of its YAML; ``throttle`` may set ``maximum_available`` and
    ``restore_rate`` of every shop's bucket. ``port=0`` picks a free port (read it from ``.port``).
    """

    name = "sandbox"
    health_path = "/_sandbox/health"

    def __init__(self, spec: WorldSpec | Path | str, *, host: str = "127.0.0.1", port: int = 0,
                 **throttle: float) -> None:
        super().__init__(host=host, port=port)
        self.sandbox = Sandbox(spec if isinstance(spec, WorldSpec) else WorldSpec.load(spec), **throttle)

    def app(self) -> Starlette:
        return create_app(self.sandbox)

    def shop_url(self, handle: str) -> str:
        """What a client uses where it would use ``https://<shop>.myshopify.com``."""
        return f"{self.base_url}/{handle}"

    def stop(self) -> None:
        self.sandbox.faults.clear()  # hanging requests return, so the server can drain
        super().stop()
        self.sandbox.webhooks.close()
