"""GA4 property quotas: tokens per hour as a token bucket per property, tokens per day, concurrent requests.

A request costs tokens (the twin's model: 1, plus 1 per 1,000 rows returned, plus 1 per full year the date
ranges span; Google: "most requests consume fewer than 10 tokens"). A request the property's bucket cannot
pay gets 429 RESOURCE_EXHAUSTED and costs nothing. The hourly bucket defaults to 40,000 tokens (a standard
property's hour) refilling at 40,000 a second, so the demo never waits; ``POST /_sandbox/ratelimit {"api":
"ga4", "rate": …, "burst": …}`` resizes it (a real property refills 40,000 an hour: rate 11.1).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

from sandbox.common.ratelimit import RateLimits, TokenBucket

TOKENS_PER_HOUR = 40_000
TOKENS_PER_DAY = 200_000
TOKENS_PER_PROJECT_PER_HOUR = 14_000
CONCURRENT_REQUESTS = 10
SERVER_ERRORS_PER_PROJECT_PER_HOUR = 10
POTENTIALLY_THRESHOLDED_PER_HOUR = 120
HOURLY = "tokensPerHour"
DEFAULTS = {HOURLY: (float(TOKENS_PER_HOUR), float(TOKENS_PER_HOUR))}  # (refill per second, burst)


def request_cost(rows_returned: int, days_spanned: int) -> int:
    return 1 + rows_returned // 1000 + days_spanned // 365


class QuotaBucket(TokenBucket):
    """A token bucket debited by a request's cost instead of one."""

    def take_tokens(self, cost: float) -> float | None:
        """Debit ``cost``: None when paid, else the seconds until the bucket holds it (nothing debited)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= cost:
                self._tokens -= cost
                return None
            self.throttled += 1
            return (cost - self._tokens) / self.rate

    def remaining(self) -> int:
        with self._lock:
            level = min(self.burst, self._tokens + (self._clock() - self._at) * self.rate)
        return max(0, int(level))


class PropertyQuotas(RateLimits):
    """The hourly bucket of every property (``RateLimits`` keyed by shop), plus daily token counters."""

    def __init__(self, defaults: dict[str, tuple[float, float]] | None = None,
                 today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        super().__init__(defaults or DEFAULTS)
        self._today = today
        self._daily: dict[str, tuple[date, int]] = {}
        self._daily_lock = threading.Lock()

    def bucket(self, shop: str, operation: str = HOURLY) -> QuotaBucket:
        with self._lock:
            if (shop, operation) not in self._buckets:
                rate, burst = self.defaults[operation]
                self._buckets[(shop, operation)] = QuotaBucket(rate, burst)
            return self._buckets[(shop, operation)]  # type: ignore[return-value]

    def used_today(self, shop: str) -> int:
        with self._daily_lock:
            return self._used(shop)

    def charge_day(self, shop: str, cost: int) -> bool:
        """Count ``cost`` against the day's tokens; False (nothing counted) when the day is exhausted."""
        with self._daily_lock:
            used = self._used(shop)
            if used + cost > TOKENS_PER_DAY:
                return False
            self._daily[shop] = (self._today(), used + cost)
            return True

    def _used(self, shop: str) -> int:
        day, used = self._daily.get(shop, (self._today(), 0))
        return used if day == self._today() else 0

    def property_quota(self, shop: str, cost: int, in_flight: int) -> dict[str, dict[str, int]]:
        """The ``propertyQuota`` of an answer: this request's ``consumed`` and what ``remaining`` after it
        (proto3 JSON leaves zero values out, as Google's answers do)."""
        hourly = self.bucket(shop).remaining()

        def status(consumed: int, remaining: int) -> dict[str, int]:
            return {k: v for k, v in (("consumed", consumed), ("remaining", remaining)) if v}

        with self._daily_lock:
            daily = TOKENS_PER_DAY - self._used(shop)
        return {
            "tokensPerDay": status(cost, daily),
            "tokensPerHour": status(cost, min(hourly, TOKENS_PER_HOUR)),
            "concurrentRequests": status(0, max(0, CONCURRENT_REQUESTS - max(0, in_flight - 1))),
            "serverErrorsPerProjectPerHour": status(0, SERVER_ERRORS_PER_PROJECT_PER_HOUR),
            "potentiallyThresholdedRequestsPerHour": status(0, POTENTIALLY_THRESHOLDED_PER_HOUR),
            "tokensPerProjectPerHour": status(cost, max(0, min(hourly, TOKENS_PER_PROJECT_PER_HOUR) - cost)),
        }
