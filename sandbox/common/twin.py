"""The base of every REST twin (Amazon SP-API, Walmart, Meta, GA4, QuickBooks, …).

A twin serves the shops whose world spec lists its ``api`` under ``channels:``; it declares its Starlette
routes, and runs each request's work through :meth:`RestTwin.guarded`, which injects whatever fault the
tests queued for ``(api, shop)`` (``POST /_sandbox/faults {"api": …}``) and runs the handler in a worker
thread. A twin with OAuth tokens keeps a :class:`~sandbox.common.tokens.TokenStore` in ``tokens``; a twin with
rate limits keeps :class:`~sandbox.common.ratelimit.RateLimits` in ``ratelimits`` (``POST /_sandbox/ratelimit``
resizes them). Subclasses override the ``*_response`` methods to answer in their API's own error shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from sandbox.common.ratelimit import RateLimits
from sandbox.common.tokens import TokenStore

if TYPE_CHECKING:
    from sandbox.server import Sandbox


class RestTwin:
    api: ClassVar[str]  # the twin's name: the key under a shop's ``channels:`` and in fault/ratelimit controls
    # False: one service for every shop, no shop in its URLs (FX reference rates); its requests and faults are
    # booked under shop ``sandbox.faults.ANY_SHOP``, whichever shop a fault control names
    per_shop: ClassVar[bool] = True

    tokens: TokenStore | None = None
    ratelimits: RateLimits | None = None

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.shops = [s.handle for s in sandbox.world.spec.shops if self.api in s.channels]

    # --- what a subclass provides -------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.tokens is not None:
            out["tokens_issued"] = dict(self.tokens.issued)
        if self.ratelimits is not None:
            out["throttled"] = self.ratelimits.stats()
        return out

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse({"errors": [{"code": str(status), "message": message}]}, status_code=status,
                            headers=headers)

    def throttled_response(self, shop: str, retry_after_s: float) -> Response:
        """The API's answer to a request over its rate limit."""
        return self.error_response(429, "Too Many Requests", {"Retry-After": str(max(1, round(retry_after_s)))})

    # --- shared machinery -----------------------------------------------------------------------------------
    def options(self, shop: str) -> dict[str, Any]:
        """The shop's options for this twin (``channels: {<api>: {...}}`` in the world spec)."""
        return dict(self.sandbox.world.spec.shop(shop).channels.get(self.api) or {})

    async def guarded(self, shop: str, handler: Callable[[], Response]) -> Response:
        """Answer one request of ``shop``: count it, inject the fault that is due, else run ``handler``
        (synchronous, in a worker thread so delays never block the event loop)."""
        return await run_in_threadpool(self._guarded, shop, handler)

    def _guarded(self, shop: str, handler: Callable[[], Response]) -> Response:
        faults = self.sandbox.faults
        book = faults.book(shop, self.api)
        fault = book.next_request()
        throttled = False
        try:
            if fault is not None:
                kind = fault.kind
                if kind == "http_500":
                    return self.error_response(500, "Internal Server Error (injected)")
                if kind == "http_503":
                    return self.error_response(503, "Service Unavailable (injected)", {"Retry-After": "1"})
                if kind == "http_429":
                    throttled = True
                    return self.error_response(429, "Too Many Requests (injected)", {"Retry-After": "1"})
                if kind == "throttle":
                    throttled = True
                    return self.throttled_response(shop, 1.0)
                if kind == "timeout":
                    time.sleep(fault.delay_s)
                elif kind == "hang":
                    faults.hang(shop, fault.delay_s, api=self.api)
                elif kind == "expire_token" and self.tokens is not None:
                    self.tokens.expire(shop)
            response = handler()
            throttled = response.status_code == 429
            return response
        finally:
            book.done(throttled=throttled)

    def rate_limited(self, shop: str, operation: str) -> Response | None:
        """The 429 answer when ``operation``'s bucket for ``shop`` is empty, else None (one request debited)."""
        if self.ratelimits is None:
            return None
        wait = self.ratelimits.bucket(shop, operation).take()
        return None if wait is None else self.throttled_response(shop, wait)


def bearer(request: Request, header: str = "authorization") -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (or the raw value of another header)."""
    value = request.headers.get(header)
    if value is None:
        return None
    if header == "authorization":
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    return value.strip()
