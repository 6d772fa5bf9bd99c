"""Short-lived access tokens, as an OAuth2 token endpoint issues them (Login with Amazon, Walmart's
``/v3/token``, Intuit's OAuth2 …): opaque, bound to one shop, expiring after ``ttl_s`` seconds.

A test makes a token expire mid-run with the ``expire_token`` fault (``sandbox/faults.py``): every token issued
so far for that shop stops working, the next API call is refused as expired and the client has to refresh.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Grant:
    shop: str
    expires_at: float


class TokenStore:
    """Tokens of one API (every shop): ``issue`` at the token endpoint, ``check`` on every API call."""

    def __init__(self, ttl_s: float, prefix: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.prefix = float(ttl_s), prefix
        self._clock = clock
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()
        self.issued: dict[str, int] = {}  # per shop, for the stats and the tests

    def issue(self, shop: str) -> tuple[str, int]:
        """A new token for ``shop`` and its lifetime in whole seconds (the ``expires_in`` of the answer)."""
        token = f"{self.prefix}{secrets.token_urlsafe(24)}"
        with self._lock:
            self._grants[token] = Grant(shop, self._clock() + self.ttl_s)
            self.issued[shop] = self.issued.get(shop, 0) + 1
        return token, int(self.ttl_s)

    def check(self, token: str | None) -> tuple[str | None, str]:
        """(shop, "ok") for a live token; (shop, "expired") or (None, "invalid") otherwise."""
        if not token:
            return None, "invalid"
        with self._lock:
            grant = self._grants.get(token)
        if grant is None:
            return None, "invalid"
        if self._clock() >= grant.expires_at:
            return grant.shop, "expired"
        return grant.shop, "ok"

    def expire(self, shop: str) -> int:
        """Expire every token issued so far for ``shop``; returns how many were live."""
        now = self._clock()
        with self._lock:
            live = [t for t, g in self._grants.items() if g.shop == shop and g.expires_at > now]
            for token in live:
                self._grants[token] = Grant(shop, now)
        return len(live)
