"""Shopify webhooks → an incremental run: the ``shopify_webhook_sensor`` and the job it requests.

The receiver (``orchestration/webhooks``) lands verified deliveries in ``$OMNI_HOME/webhooks/<tenant>/``. Every
``MINIMUM_INTERVAL_S`` the sensor looks at each webhook-enabled tenant's spool; when events arrived after the
tenant's cursor it requests ONE run of ``shopify_webhook_refresh`` for that tenant's partition: the Shopify
raw assets (group ``raw_shopify``) and everything downstream of them (the dbt models). The run is the
Shopify source's own incremental pull (its ``updated_at`` cursor in dlt state): the webhook says *that* the
shop changed, the API says *what* changed, so a lost or refused webhook costs latency, never data.

Never twice, never lost: the run key is ``shopify-webhooks:<tenant>:<newest webhook id>`` (Dagster refuses a
second run with the same key from this sensor) and the cursor (per tenant, the arrival time in ns of the
newest event turned into a run) moves with the request. Events that arrive while the tenant's previous
request is still queued wait for the next tick, when that run has started (bursts coalesce into one run
each). Events only count once ``SETTLE_S`` old, so a delivery still being renamed into the spool is never
skipped by the cursor. Retention: events at or before the cursor committed by an earlier tick are pruned
once ``OMNI_WEBHOOK_RETENTION_HOURS`` old (default 72 h, beyond Shopify's 4-hour retry window), which is also
how long a webhook id is remembered for dedup.
"""

from __future__ import annotations

import json
import os
import time

import dagster as dg

from orchestration.defs.automation import WAREHOUSE_GRAPH
from orchestration.settings import Settings
from orchestration.tenants import TenantRegistry
from orchestration.webhooks.app import secret_variable
from orchestration.webhooks.spool import DEFAULT_RETENTION_S, Spool, spool_root

WEBHOOK_JOB = "shopify_webhook_refresh"
SENSOR = "shopify_webhook_sensor"
MINIMUM_INTERVAL_S = 15
SETTLE_S = 2.0
WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING]


def webhook_selection() -> dg.AssetSelection:
    """The Shopify landing and every dbt model built from it (the models retrain on their own schedule)."""
    return dg.AssetSelection.groups("raw_shopify").downstream() & WAREHOUSE_GRAPH


def webhook_tenants(registry: TenantRegistry) -> list[str]:
    """Tenants whose shopify source names a ``webhook_secret``: the only ones the receiver accepts."""
    return [t.slug for t in registry.tenants if secret_variable(registry, t.slug)[0]]


def retention_s() -> float:
    hours = os.environ.get("OMNI_WEBHOOK_RETENTION_HOURS")
    return float(hours) * 3600 if hours else DEFAULT_RETENTION_S


def webhook_sensor(registry: TenantRegistry) -> dg.SensorDefinition:
    """The sensor, targeting the ``shopify_webhook_refresh`` job (Definitions picks the job up from it; its
    tenant partitions come from the selected assets)."""
    job = dg.define_asset_job(
        WEBHOOK_JOB,
        selection=webhook_selection(),
        tags={"trigger": "shopify_webhooks"},
        description="Pull one tenant's Shopify changes incrementally and rebuild the dbt models on top of them.",
    )

    @dg.sensor(job=job, name=SENSOR, minimum_interval_seconds=MINIMUM_INTERVAL_S,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="One incremental Shopify run per tenant with newly received webhooks.")
    def shopify_webhook_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        spool = Spool(spool_root(Settings.from_env()))
        committed: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        cursor = dict(committed)
        now_ns = time.time_ns()
        requests = []
        for slug in webhook_tenants(registry):
            tenant_spool = spool.tenant(slug)
            tenant_spool.prune(committed.get(slug, 0), now_ns - int(retention_s() * 1e9))
            new = tenant_spool.entries(after_ns=committed.get(slug, 0), before_ns=now_ns - int(SETTLE_S * 1e9))
            if not new or _waiting_run(context, slug):
                continue
            newest = new[-1]
            requests.append(dg.RunRequest(
                run_key=f"shopify-webhooks:{slug}:{newest.webhook_id}",
                partition_key=slug,
                tags={"tenant": slug, "trigger": "shopify_webhooks", "webhook_events": str(len(new))},
            ))
            cursor[slug] = newest.received_ns
            context.log.info(f"tenant {slug}: {len(new)} new webhook event(s), newest {newest.webhook_id}")
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return shopify_webhook_sensor


def _waiting_run(context: dg.SensorEvaluationContext, slug: str) -> bool:
    """A run this sensor requested for ``slug`` has not started yet (it will pull these changes too)."""
    if context.instance is None:
        return False
    runs = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=WEBHOOK_JOB, statuses=WAITING,
                              tags={"tenant": slug, "trigger": "shopify_webhooks"}), limit=1)
    return bool(runs)
