"""Shopify webhooks in: a small receiver that verifies, dedups and spools deliveries per tenant (README.md).

``python -m orchestration.webhooks serve`` runs it; the Dagster sensor ``shopify_webhook_sensor``
(``orchestration/defs/webhooks.py``) turns newly spooled events into one incremental run per tenant.
"""
