"""Is this delivery really from Shopify, for this tenant, and fresh? Pure functions, unit-tested.

Shopify signs the raw request body with the app's client secret: ``X-Shopify-Hmac-Sha256`` is the base64 of
HMAC-SHA256(body). Verification recomputes it over the bytes exactly as received (never a re-serialised
JSON) and compares in constant time. Freshness reads ``X-Shopify-Triggered-At``, the instant Shopify first
triggered the event (unchanged on its retries).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

WEBHOOK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")  # a safe file name: no dots, no separators


def signature(secret: str, body: bytes) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify sends for ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of ``header`` against the HMAC of the raw ``body``."""
    if not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())


def triggered_at(header: str | None) -> datetime | None:
    """``X-Shopify-Triggered-At`` (ISO 8601, often with nanoseconds and ``Z``) → an aware datetime."""
    if not header:
        return None
    text = header.strip().replace("Z", "+00:00")
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", text)
    if not match:
        return None
    head, fraction, zone = match.groups()
    try:  # Python parses at most microseconds: cut the fraction to six digits
        moment = datetime.fromisoformat(head + (fraction or "")[:7] + zone)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def staleness(header: str | None, now: datetime, max_age_s: float) -> str | None:
    """Why a delivery is too old (or from the future) to accept, or None when it is fresh."""
    moment = triggered_at(header)
    if moment is None:
        return "missing or unreadable X-Shopify-Triggered-At"
    age = (now - moment).total_seconds()
    if age > max_age_s:
        return f"stale: triggered {age:.0f}s ago, older than the {max_age_s:.0f}s window"
    if age < -max_age_s:
        return f"triggered {-age:.0f}s in the future (clock skew beyond the {max_age_s:.0f}s window)"
    return None


def shop_domain(shop_url: str) -> str | None:
    """The ``X-Shopify-Shop-Domain`` a tenant's deliveries must carry: ``acme.myshopify.com`` for
    ``https://acme.myshopify.com``, ``<handle>.myshopify.com`` for the sandbox's ``http://host:port/<handle>``,
    None when the URL says neither (then the domain is not checked)."""
    parts = urlsplit(shop_url)
    host = (parts.hostname or "").lower()
    if host.endswith(".myshopify.com"):
        return host
    handle = parts.path.strip("/").rsplit("/", 1)[-1]
    return f"{handle.lower()}.myshopify.com" if handle else None


def printable(value: str | None, limit: int = 80) -> str:
    """A header value made safe for one log line (no control characters, bounded length)."""
    if value is None:
        return "-"
    cleaned = "".join(c if c.isprintable() else "?" for c in value)
    return cleaned[:limit] + ("…" if len(cleaned) > limit else "")
