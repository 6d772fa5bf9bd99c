"""A token bucket per (shop, operation), the way Amazon SP-API and Walmart meter calls: ``rate`` requests a
second restored up to ``burst``; a call that finds the bucket empty gets HTTP 429 (nothing is debited)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.throttled = 0
        self.configure(rate, burst)

    def configure(self, rate: float, burst: float) -> None:
        """Resize the bucket; it starts full."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        with self._lock:
            self.rate, self.burst = float(rate), float(burst)
            self._tokens, self._at = self.burst, self._clock()

    def take(self) -> float | None:
        """Debit one request: None when allowed, else the seconds until one token is back (for Retry-After)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            self.throttled += 1
            return (1 - self._tokens) / self.rate

    def drain(self) -> None:
        with self._lock:
            self._tokens, self._at = 0.0, self._clock()


class RateLimits:
    """Every bucket of one API, created on first use with the operation's default (rate, burst)."""

    def __init__(self, defaults: dict[str, tuple[float, float]]) -> None:
        self.defaults = dict(defaults)
        self._overrides: dict[tuple[str, str], tuple[float, float]] = {}  # per (shop, operation), set before use
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, shop: str, operation: str) -> TokenBucket:
        with self._lock:
            if (shop, operation) not in self._buckets:
                rate, burst = self._overrides.get((shop, operation), self.defaults[operation])
                self._buckets[(shop, operation)] = TokenBucket(rate, burst)
            return self._buckets[(shop, operation)]

    def configure(self, rate: float, burst: float, shop: str | None = None, operation: str | None = None) -> None:
        """Resize the matching buckets and the defaults of future ones (``None`` matches every shop/operation)."""
        with self._lock:
            for op in self.defaults:
                if operation in (None, op):
                    if shop is None:
                        self.defaults[op] = (rate, burst)
                        self._overrides = {k: v for k, v in self._overrides.items() if k[1] != op}
                    else:
                        self._overrides[(shop, op)] = (rate, burst)
            matching = [b for (s, op), b in self._buckets.items() if shop in (None, s) and operation in (None, op)]
        for bucket in matching:
            bucket.configure(rate, burst)

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (shop, op), bucket in self._buckets.items():
                out.setdefault(shop, {})[op] = bucket.throttled
            return out
