"""The one HTTP client of every REST source: a ``requests.Session`` that retries what retrying can fix.

Retried: HTTP 429 and 5xx, timeouts and dropped connections, up to ``max_attempts`` tries in all. The wait
before a retry is the server's ``Retry-After`` when it sends one (seconds or an HTTP date), plus a little
jitter so many workers do not come back in the same instant; otherwise exponential backoff with "equal
jitter": half of ``backoff_s × 2^(attempt−1)`` (capped at ``max_delay_s``) plus a random part up to the other
half. Anything else (4xx) is returned to the caller at once, which knows the API's meaning of it (e.g. an
expired token to refresh). Counters in ``stats`` tell tests and logs what happened.

The Shopify source uses dlt's own requests client (retry without jitter) and its cost-based throttling; every
REST source (Amazon, Walmart, Meta, GA4, QuickBooks) uses this session.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

log = logging.getLogger("sources.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def retry_after_seconds(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """A ``Retry-After`` header as seconds from now (None when absent or unreadable)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


class RetryingSession(requests.Session):
    def __init__(
        self,
        *,
        timeout_s: float = 30.0,
        max_attempts: int = 6,
        backoff_s: float = 0.5,
        max_delay_s: float = 60.0,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.timeout_s, self.max_attempts = timeout_s, max_attempts
        self.backoff_s, self.max_delay_s = backoff_s, max_delay_s
        self.retry_statuses = retry_statuses
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats: Counter[str] = Counter()  # requests, retries, retried_<status> / retried_<exception>, waited_s

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(self.max_delay_s, retry_after) + self._rng.uniform(0, min(1.0, 0.1 * retry_after + 0.05))
        base = min(self.max_delay_s, self.backoff_s * 2 ** (attempt - 1))
        return base / 2 + self._rng.uniform(0, base / 2)

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout_s)
        for attempt in range(1, self.max_attempts + 1):
            self.stats["requests"] += 1
            try:
                response = super().request(method, url, *args, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt == self.max_attempts:
                    raise
                reason, wait = type(exc).__name__, self.delay(attempt, None)
            else:
                if response.status_code not in self.retry_statuses or attempt == self.max_attempts:
                    return response
                reason = str(response.status_code)
                wait = self.delay(attempt, retry_after_seconds(response.headers.get("Retry-After")))
                response.close()
            self.stats["retries"] += 1
            self.stats[f"retried_{reason}"] += 1
            self.stats["waited_s"] += wait
            log.info("%s %s: %s, retry %d of %d in %.2fs", method, _path(url), reason, attempt,
                     self.max_attempts - 1, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")


def _path(url: str) -> str:
    """The URL without its query string (which may carry ids or tokens): what a log line may show."""
    return url.split("?", 1)[0]
