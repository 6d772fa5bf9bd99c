"""The sandbox over HTTP (Starlette on uvicorn, loopback by default).

Shopify:  ``POST /{shop}/admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``.
Admin:    ``/_sandbox/health``, ``/_sandbox/stats``, ``/_sandbox/faults`` (POST adds, DELETE clears),
          ``/_sandbox/clock`` (POST ``{"as_of": ISO}``), ``/_sandbox/throttle`` (POST per shop).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from pathlib import Path

import requests
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.faults import Fault, FaultBook
from sandbox.shopify.api import ShopifyTwin
from sandbox.world import World, WorldSpec, build_world

log = logging.getLogger("sandbox")


class Sandbox:
    """The world, its API twins and the test controls, independent of the HTTP layer."""

    def __init__(self, spec: WorldSpec, **throttle: float) -> None:
        self.world: World = build_world(spec)
        self.shopify = ShopifyTwin(self.world, **throttle)
        self.faults = {h: FaultBook() for h in self.world.handles}
        self.release = threading.Event()  # set when faults are cleared: hanging requests return

    def stats(self) -> dict:
        return {h: {"requests": b.requests, "faults_fired": b.fired, "throttled": b.throttled,
                    "in_flight_hangs": b.in_flight_hangs, "lowest_available": self.shopify.buckets[h].lowest}
                for h, b in self.faults.items()}


def create_app(sandbox: Sandbox) -> Starlette:
    async def graphql_endpoint(request: Request) -> Response:
        payload = await _json(request)
        shop = request.path_params["shop"]
        # the twin's work (and injected delays) run in the thread pool, never blocking the event loop
        return await run_in_threadpool(_shopify, sandbox, shop, request.headers.get("x-shopify-access-token"),
                                       payload)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "shops": sandbox.world.handles,
                             "clock": sandbox.shopify.clock.isoformat()})

    async def stats(request: Request) -> Response:
        return JSONResponse(sandbox.stats())

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            for book in sandbox.faults.values():
                book.clear()
            sandbox.release.set()
            return JSONResponse({"cleared": True})
        body = await _json(request)
        book = sandbox.faults.get(body.pop("shop", None))
        if book is None:
            return JSONResponse({"error": "unknown shop"}, status_code=404)
        try:
            book.add(Fault(**body))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        sandbox.release.clear()
        return JSONResponse({"queued": True})

    async def clock(request: Request) -> Response:
        body = await _json(request)
        sandbox.shopify.clock = min(datetime.fromisoformat(body["as_of"].replace("Z", "+00:00")),
                                    sandbox.world.spec.end)
        return JSONResponse({"clock": sandbox.shopify.clock.isoformat()})

    async def throttle(request: Request) -> Response:
        body = await _json(request)
        bucket = sandbox.shopify.buckets.get(body.get("shop"))
        if bucket is None:
            return JSONResponse({"error": "unknown shop"}, status_code=404)
        bucket.configure(body["maximum_available"], body["restore_rate"])
        return JSONResponse(bucket.status())

    return Starlette(routes=[
        Route("/{shop}/admin/api/{version}/graphql.json", graphql_endpoint, methods=["POST"]),
        Route("/_sandbox/health", health),
        Route("/_sandbox/stats", stats),
        Route("/_sandbox/faults", faults, methods=["POST", "DELETE"]),
        Route("/_sandbox/clock", clock, methods=["POST"]),
        Route("/_sandbox/throttle", throttle, methods=["POST"]),
    ])


async def _json(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _shopify(sandbox: Sandbox, shop: str, token: str | None, payload: dict) -> Response:
    if shop not in sandbox.faults:
        return JSONResponse({"errors": "Not Found"}, status_code=404)
    book = sandbox.faults[shop]
    fault = book.next_request()
    if fault is not None:
        log.debug("shop %s: injecting %s", shop, fault.kind)
        if fault.kind == "http_500":
            return JSONResponse({"errors": "Internal Server Error"}, status_code=500)
        if fault.kind == "http_503":
            return JSONResponse({"errors": "Service Unavailable"}, status_code=503, headers={"Retry-After": "1"})
        if fault.kind == "timeout":
            time.sleep(fault.delay_s)
        if fault.kind == "hang":
            book.in_flight_hangs += 1
            try:
                sandbox.release.wait(fault.delay_s)
            finally:
                book.in_flight_hangs -= 1
        if fault.kind == "throttle":
            sandbox.shopify.buckets[shop].drain()
            book.throttled += 1
            answer = sandbox.shopify.throttled(shop, sandbox.shopify.requested_cost(payload))
            return JSONResponse(answer.body, status_code=answer.status)
    answer = sandbox.shopify.answer(shop, token, payload)
    if answer.body.get("errors") and isinstance(answer.body["errors"], list) and any(
            (e.get("extensions") or {}).get("code") == "THROTTLED" for e in answer.body["errors"]):
        book.throttled += 1
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


class SandboxServer:
    """The sandbox on a loopback port in a background thread: ``with SandboxServer(spec) as s: s.base_url``."""

    def __init__(self, spec: WorldSpec | Path | str, *, host: str = "127.0.0.1", port: int = 0,
                 **throttle: float) -> None:
        spec = spec if isinstance(spec, WorldSpec) else WorldSpec.load(spec)
        self.sandbox = Sandbox(spec, **throttle)
        config = uvicorn.Config(create_app(self.sandbox), host=host, port=port, log_level="warning",
                                access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="sandbox", daemon=True)
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def shop_url(self, handle: str) -> str:
        return f"{self.base_url}/{handle}"

    def start(self, timeout_s: float = 30.0) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the sandbox could not start on {self.host}:{self.port} (port in use?)")
            if time.monotonic() > deadline:
                raise TimeoutError("the sandbox did not start in time")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        requests.get(f"{self.base_url}/_sandbox/health", timeout=5).raise_for_status()
        return self

    def stop(self) -> None:
        self.sandbox.release.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
