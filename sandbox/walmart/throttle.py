"""Walmart's rate limits: a token bucket per seller and API (Orders 5,000 a minute, …), reported on every
answer in ``x-current-token-count`` (requests left) and ``x-next-replenish-time`` (epoch milliseconds when
the next token arrives); an empty bucket answers HTTP 429 ``REQUEST_THRESHOLD_VIOLATED``.

Limits are Walmart's published defaults where it publishes one (Orders: 5,000/min); the token and report
endpoints publish none, so they get generous assumed values. ``POST /_sandbox/ratelimit {"api": "walmart",
"operation": "orders", "rate": …, "burst": …}`` resizes them for a test.
"""

from __future__ import annotations

import math
import time

from sandbox.common.ratelimit import RateLimits, TokenBucket

LIMITS: dict[str, tuple[float, float]] = {  # operation → (tokens restored a second, bucket size)
    "token": (10.0, 100.0),  # no published limit; the 15-minute token is what bounds it
    "orders": (5000 / 60, 5000.0),  # GET /v3/orders: 5,000 a minute
    "reports": (50.0, 500.0),  # recon report endpoints: none published; assumed 50 a second, burst 500
    "returns": (10.0, 100.0),  # GET /v3/returns: none published; assumed 10 a second, burst 100
}


class WalmartBucket(TokenBucket):
    """A token bucket that can also say how full it is, for the rate-limit headers."""

    def headers(self) -> dict[str, str]:
        with self._lock:
            now = self._clock()
            tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        wait_s = 0.0 if tokens >= self.burst else (math.floor(tokens) + 1 - tokens) / self.rate
        return {"x-current-token-count": str(int(math.floor(tokens))),
                "x-next-replenish-time": str(int((time.time() + wait_s) * 1000))}


class WalmartRateLimits(RateLimits):
    def bucket(self, shop: str, operation: str) -> WalmartBucket:
        with self._lock:
            if (shop, operation) not in self._buckets:
                rate, burst = self.defaults[operation]
                self._buckets[(shop, operation)] = WalmartBucket(rate, burst)
            return self._buckets[(shop, operation)]  # type: ignore[return-value]
