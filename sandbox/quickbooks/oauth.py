"""Intuit's OAuth 2.0 token endpoint, the refresh-token grant only: ``POST /oauth2/v1/tokens/bearer`` with HTTP
Basic ``client_id:client_secret`` and the form ``grant_type=refresh_token&refresh_token=…``.

Every refresh answers a new access token (1 hour) **and a new refresh token** (Intuit rotates them). A rotated
refresh token is single-use here: once it has been exchanged, using it again is ``invalid_grant`` — so a client
that does not keep the newest token it was given fails at its next refresh. The shop's configured refresh token
(``channels.quickbooks.refresh_token``: what the tenant's secret holds) stays valid, so every new run can start
from it; see sources/quickbooks/README.md for how production persists rotated tokens.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from collections import Counter
from dataclasses import dataclass

REFRESH_TOKEN_TTL_S = 8_726_400  # 101 days: what Intuit reports in x_refresh_token_expires_in


@dataclass(frozen=True)
class Client:
    shop: str
    client_id: str
    client_secret: str
    refresh_token: str  # the seed: always accepted


class OAuthError(Exception):
    """An OAuth error answer: ``status`` and the RFC 6749 ``error`` code."""

    def __init__(self, status: int, error: str, description: str | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, **({"error_description": self.description} if self.description else {})}


class RefreshTokens:
    """The seed refresh token of every shop and the rotated ones issued since (live or already exchanged)."""

    def __init__(self, clients: list[Client]) -> None:
        self._clients = {c.client_id: c for c in clients}
        self._seeds = {c.refresh_token: c.shop for c in clients}
        self._live: dict[str, str] = {}  # rotated refresh token → shop, until it is exchanged
        self._used: set[str] = set()
        self._lock = threading.Lock()
        self.refreshes: dict[str, Counter[str]] = {c.shop: Counter() for c in clients}

    def client(self, authorization: str | None) -> Client:
        """The app authenticated by the ``Authorization: Basic`` header, else ``invalid_client`` (401)."""
        scheme, _, encoded = (authorization or "").partition(" ")
        try:
            client_id, _, client_secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, client_secret = "", ""
        client = self._clients.get(client_id)
        if scheme.lower() != "basic" or client is None or not secrets.compare_digest(client.client_secret,
                                                                                     client_secret):
            raise OAuthError(401, "invalid_client")
        return client

    def rotate(self, client: Client, refresh_token: str) -> str:
        """Exchange ``refresh_token`` of ``client``'s shop for a new one (the old one, unless the seed, dies)."""
        with self._lock:
            if self._seeds.get(refresh_token) == client.shop:
                kind = "seed"
            elif self._live.get(refresh_token) == client.shop:
                kind = "rotated"
                del self._live[refresh_token]
                self._used.add(refresh_token)
            else:
                self.refreshes[client.shop]["refused"] += 1
                reused = refresh_token in self._used
                raise OAuthError(400, "invalid_grant", "Token has been expired or revoked." if reused else None)
            new = f"RT1-{secrets.token_urlsafe(32)}"
            self._live[new] = client.shop
            self.refreshes[client.shop][kind] += 1
            return new

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {shop: {"seed": c["seed"], "rotated": c["rotated"], "refused": c["refused"]}
                    for shop, c in self.refreshes.items()}
