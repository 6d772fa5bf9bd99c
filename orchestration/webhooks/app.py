"""The receiver: ``POST /webhooks/shopify/<tenant>`` verifies a Shopify delivery and lands it in the spool.

In order: the tenant must be in the registry with a ``webhook_secret`` (404 otherwise), its secret set in
the environment (503, so Shopify retries once it is), the HMAC of the raw body must match (401), the shop
domain must be the tenant's (401), ``X-Shopify-Triggered-At`` within the window (400), the webhook id
present and safe (400). An accepted delivery is fsynced to the tenant's spool before the 200; a webhook id
seen before answers 200 and lands nothing. Every refusal is ONE warning line naming tenant, topic, webhook
id and the reason, never the secret or the body.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestration.tenants import TenantRegistry
from orchestration.webhooks.spool import Spool
from orchestration.webhooks.verify import WEBHOOK_ID, printable, shop_domain, signature_matches, staleness

log = logging.getLogger("orchestration.webhooks")

SECRET_ROLE = "webhook_secret"  # secrets: {webhook_secret: <ENV_VAR>} under the tenant's shopify source
DEFAULT_MAX_AGE_S = 300.0
MAX_BODY_BYTES = 5 * 1024 * 1024


def secret_variable(registry: TenantRegistry, slug: str) -> tuple[str | None, str | None]:
    """(env variable naming the tenant's webhook secret, the shop domain it must come from); None when the
    tenant is unknown or takes no Shopify webhooks."""
    tenant = next((t for t in registry.tenants if t.slug == slug), None)
    source = tenant.sources.get("shopify") if tenant is not None else None
    if source is None or SECRET_ROLE not in source.secrets:
        return None, None
    return source.secrets[SECRET_ROLE], shop_domain(source.shop_url)


def create_app(registry: TenantRegistry, spool: Spool, *, max_age_s: float = DEFAULT_MAX_AGE_S,
               now: Callable[[], float] = time.time) -> Starlette:
    async def receive(request: Request) -> JSONResponse:
        slug = request.path_params["tenant"]
        headers = request.headers
        topic, webhook_id = headers.get("x-shopify-topic"), headers.get("x-shopify-webhook-id")

        def refuse(status: int, reason: str) -> JSONResponse:
            log.warning("shopify webhook rejected: tenant=%s topic=%s webhook_id=%s reason=%s", printable(slug),
                        printable(topic), printable(webhook_id), reason)
            return JSONResponse({"error": reason}, status_code=status)

        variable, domain = secret_variable(registry, slug)
        if variable is None:
            return refuse(404, "unknown tenant, or no shopify webhook_secret configured for it")
        secret = os.environ.get(variable)
        if not secret:
            return refuse(503, f"environment variable {variable} ({SECRET_ROLE}) is not set")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return refuse(413, f"body of {len(body)} bytes exceeds {MAX_BODY_BYTES}")
        if not headers.get("x-shopify-hmac-sha256"):
            return refuse(401, "missing X-Shopify-Hmac-Sha256")
        if not signature_matches(secret, body, headers.get("x-shopify-hmac-sha256")):
            return refuse(401, "HMAC signature does not match the raw body under this tenant's secret")
        sent_from = (headers.get("x-shopify-shop-domain") or "").lower()
        if domain is not None and sent_from != domain:
            return refuse(401, f"shop domain {printable(sent_from)!r} is not this tenant's ({domain})")
        stale = staleness(headers.get("x-shopify-triggered-at"), datetime.fromtimestamp(now(), UTC), max_age_s)
        if stale:
            return refuse(400, stale)
        if not webhook_id or not WEBHOOK_ID.match(webhook_id):
            return refuse(400, "missing or malformed X-Shopify-Webhook-Id")
        record = {"topic": topic, "shop_domain": sent_from, "event_id": headers.get("x-shopify-event-id"),
                  "api_version": headers.get("x-shopify-api-version"),
                  "triggered_at": headers.get("x-shopify-triggered-at"),
                  "hmac": headers.get("x-shopify-hmac-sha256"), "body": body.decode("utf-8", "replace")}
        landed = await run_in_threadpool(spool.tenant(slug).land, webhook_id, record)
        log.info("shopify webhook %s: tenant=%s topic=%s webhook_id=%s", "landed" if landed else "duplicate",
                 slug, printable(topic), webhook_id)
        return JSONResponse({"status": "landed" if landed else "duplicate"})

    async def health(request: Request) -> JSONResponse:
        tenants = [t.slug for t in registry.tenants if secret_variable(registry, t.slug)[0]]
        return JSONResponse({"status": "ok", "tenants": tenants, "spool": str(spool.root)})

    return Starlette(routes=[
        Route("/webhooks/shopify/{tenant}", receive, methods=["POST"]),
        Route("/webhooks/health", health, methods=["GET"]),
    ])
