"""Register the receiver with each webhook-enabled tenant's shop, through the REST Admin API (``webhooks.json``).

Idempotent: a (topic, address) the shop already has is left as it is (Shopify answers 422 "already been
taken"). Works against the sandbox and a real shop alike (a real one wants an https address it can reach).
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestration.tenants import TenantRegistry
from orchestration.webhooks.app import SECRET_ROLE
from sources.http import RetryingSession

TOPICS = ("orders/create", "orders/updated", "refunds/create")


class SubscribeError(RuntimeError):
    """The shop refused a subscription; names tenant, topic and the answer, never the token."""


@dataclass(frozen=True)
class Subscribed:
    tenant: str
    topic: str
    address: str
    created: bool  # False: it existed already


def subscribe_all(registry: TenantRegistry, receiver_base: str, topics: tuple[str, ...] = TOPICS,
                  tenants: list[str] | None = None) -> list[Subscribed]:
    """Subscribe ``<receiver_base>/webhooks/shopify/<tenant>`` to ``topics`` for every tenant whose shopify
    source names a ``webhook_secret`` (or only ``tenants``)."""
    session = RetryingSession()
    done = []
    for tenant in registry.tenants:
        source = tenant.sources.get("shopify")
        if source is None or SECRET_ROLE not in source.secrets or (tenants and tenant.slug not in tenants):
            continue
        token = source.secret("access_token", tenant=tenant.slug, source="shopify")
        endpoint = f"{source.shop_url}/admin/api/{source.api_version}/webhooks.json"
        address = f"{receiver_base.rstrip('/')}/webhooks/shopify/{tenant.slug}"
        for topic in topics:
            answer = session.post(endpoint, headers={"X-Shopify-Access-Token": token}, timeout=30,
                                  json={"webhook": {"topic": topic, "address": address, "format": "json"}})
            taken = answer.status_code == 422 and "already been taken" in answer.text
            if answer.status_code != 201 and not taken:
                raise SubscribeError(f"tenant {tenant.slug!r}: {endpoint} refused {topic} → {address}: "
                                     f"HTTP {answer.status_code} {answer.text[:200]}")
            done.append(Subscribed(tenant.slug, topic, address, created=not taken))
    return done
