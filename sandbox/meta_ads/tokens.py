"""Meta access tokens: the shop's long-lived system-user token (from the world spec) and the tokens the
``fb_exchange_token`` grant issues.

Both work on every Graph call. The ``expire_token`` fault expires every token of the shop issued so far,
the system-user token included, for API calls; the system-user token still works as ``fb_exchange_token``
(it is the credential the client keeps), so a client that exchanges it on error 190/463 goes on.
"""

from __future__ import annotations

import hmac
import threading

from sandbox.common.tokens import TokenStore

LONG_LIVED_TTL_S = 60 * 24 * 3600  # a long-lived token lives about 60 days


class MetaTokens(TokenStore):
    def __init__(self, system_tokens: dict[str, str], ttl_s: float = LONG_LIVED_TTL_S) -> None:
        super().__init__(ttl_s, prefix="EAAG")
        self._system = dict(system_tokens)  # shop → its system-user token
        self._system_expired: set[str] = set()
        self._system_lock = threading.Lock()

    def check(self, token: str | None) -> tuple[str | None, str]:
        shop = self.system_shop(token)
        if shop is not None:
            with self._system_lock:
                return shop, "expired" if shop in self._system_expired else "ok"
        return super().check(token)

    def system_shop(self, token: str | None) -> str | None:
        """The shop whose system-user token ``token`` is (None when it is not one)."""
        if not token:
            return None
        for shop, expected in self._system.items():
            if hmac.compare_digest(token.encode(), expected.encode()):
                return shop
        return None

    def expire(self, shop: str) -> int:
        with self._system_lock:
            self._system_expired.add(shop)
        return super().expire(shop) + 1
