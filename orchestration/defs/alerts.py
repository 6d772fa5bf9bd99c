"""Alerts in Dagster: the tenant-partitioned asset ``alerts/firings``, its job, the sensor that runs it after a
tenant's data changed, and the daily digest.

* ``alerts/firings`` (group ``alerts``): evaluates the tenant's rules (``orchestration/alerts``) over the
  warehouse, stores new firings in ``alerts.firings`` and delivers every undelivered one (Slack, or the local log
  without a webhook URL). Its deps are the marts, reports and ML tables the tenants' rules read.
* job ``tenant_alerts``: materializes it for one tenant.
* sensor ``alerts_after_tenant_runs``: when a ``tenant_refresh``, ``tenant_transform``, ``tenant_ml`` or
  ``shopify_webhook_refresh`` run of a tenant succeeds, ONE ``tenant_alerts`` run of that tenant (run key = the
  finished run's id, so each upstream run triggers at most one evaluation).
* job ``tenant_alert_digest`` and schedule ``daily_alert_digest``: each tenant with rules gets its digest at
  ``alerts.digest_hour`` in its own time zone (one run per tenant and local day).

Re-running anything is safe: a firing is stored once per (rule, subject, window) and a subject in its cooldown
is not stored again (``orchestration/alerts/store.py``).
"""

from zoneinfo import ZoneInfo

import dagster as dg

from models_ml.catalogue import MODELS
from orchestration.alerts.run import run_alerts, send_digest
from orchestration.defs.automation import REFRESH_JOB, TRANSFORM_JOB
from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.defs.ml import ML_JOB
from orchestration.defs.webhooks import WEBHOOK_JOB
from orchestration.settings import Settings
from orchestration.tenants import TenantRegistry
from orchestration.translators import ALERTS

ALERTS_GROUP = ALERTS
FIRINGS_KEY = dg.AssetKey([ALERTS_GROUP, "firings"])
ALERTS_JOB = "tenant_alerts"
DIGEST_JOB = "tenant_alert_digest"
SENSOR = "alerts_after_tenant_runs"
DIGEST_SCHEDULE = "daily_alert_digest"
TRIGGER_JOBS = (REFRESH_JOB, TRANSFORM_JOB, ML_JOB, WEBHOOK_JOB)
PARTITION_TAG = "dagster/partition"


def table_asset_key(table: str) -> dg.AssetKey:
    """The asset that builds a warehouse table: ``marts.cube_*`` → cubes/…, ``marts.rpt_*`` → reports/…, other
    ``marts.*`` → marts/… (the dbt translator's layers), ``ml.<table>`` → ml/<model> (models_ml/catalogue.py)."""
    schema, name = table.split(".", 1)
    if schema == "ml":
        model = next((m.name for m in MODELS if m.table == name), name)
        return dg.AssetKey(["ml", model])
    layer = "cubes" if name.startswith("cube_") else "reports" if name.startswith("rpt_") else "marts"
    return dg.AssetKey([layer, name])


def upstream_keys(registry: TenantRegistry) -> list[dg.AssetKey]:
    """Every table any tenant's rules read, as asset keys."""
    tables = {table for tenant in registry.tenants for rule in tenant.alerts.active_rules for table in rule.tables()}
    return sorted({table_asset_key(t) for t in tables}, key=lambda k: k.to_user_string())


def tenants_with_rules(registry: TenantRegistry) -> list[str]:
    return [t.slug for t in registry.tenants if t.alerts.active_rules]


def firings_asset(registry: TenantRegistry, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=FIRINGS_KEY,
        group_name=ALERTS_GROUP,
        partitions_def=partitions,
        deps=upstream_keys(registry),
        pool=WAREHOUSE_POOL,
        kinds={"python", "slack"},
        description="The tenant's alert rules evaluated over the warehouse: new firings stored in alerts.firings "
                    "(deduplicated, cooldown per rule and subject) and delivered to its Slack webhook or log.",
    )
    def firings(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        tenant = registry.get(context.partition_key)
        result = run_alerts(Settings.from_env(), tenant)
        for firing, outcome in result.failed:
            context.log.warning(f"tenant {tenant.slug}: firing {firing.firing_id} ({firing.rule}, {firing.subject}) "
                                f"not delivered, retried next evaluation: {outcome.error}")
        if result.errors:
            raise dg.Failure(description="; ".join(result.errors),
                             metadata={"stored": len(result.stored), "delivered": len(result.delivered)})
        return dg.MaterializeResult(metadata={
            "rules": result.rules, "findings": len(result.findings), "new_firings": len(result.stored),
            "duplicates": result.duplicates, "in_cooldown": result.cooling, "delivered": len(result.delivered),
            "undelivered": len(result.failed),
            "delivered_via": ", ".join(sorted({o.via for _, o in result.delivered if o.via})) or "-",
            "table": "alerts.firings",
        })

    return firings


def alert_definitions(registry: TenantRegistry, partitions: dg.PartitionsDefinition):
    """(assets, jobs, sensors, schedules) of the alerts, for ``dg.Definitions``."""
    asset = firings_asset(registry, partitions)
    alerts_job = dg.define_asset_job(ALERTS_JOB, selection=dg.AssetSelection.assets(FIRINGS_KEY),
                                     description="Evaluate, store and deliver one tenant's alerts.")

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name=SENSOR,
        request_job=alerts_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"One {ALERTS_JOB} run of a tenant after its {', '.join(TRIGGER_JOBS)} run succeeded.",
    )
    def alerts_after_tenant_runs(context: dg.RunStatusSensorContext):
        run = context.dagster_run
        tenant = run.tags.get(PARTITION_TAG)
        if run.job_name not in TRIGGER_JOBS:
            return dg.SkipReason(f"{run.job_name} is not a tenant data run")
        if tenant not in tenants_with_rules(registry):
            return dg.SkipReason(f"run {run.run_id} has no tenant with alert rules (partition {tenant!r})")
        return dg.RunRequest(run_key=f"alerts:{run.run_id}", partition_key=tenant,
                             tags={"tenant": tenant, "trigger": run.job_name})

    @dg.op(pool=WAREHOUSE_POOL, description="Send the tenant's daily digest (its firings of the last 24 hours).")
    def send_alert_digest(context: dg.OpExecutionContext) -> None:
        tenant = registry.get(context.partition_key)
        firings, outcome = send_digest(Settings.from_env(), tenant)
        if not outcome.delivered:
            raise dg.Failure(description=f"tenant {tenant.slug!r}: digest not delivered: {outcome.error}")
        context.log.info(f"tenant {tenant.slug}: digest of {len(firings)} firing(s) sent via {outcome.via}")

    @dg.job(name=DIGEST_JOB, partitions_def=partitions, description="One tenant's daily alert digest.")
    def digest_job():
        send_alert_digest()

    @dg.schedule(job=digest_job, cron_schedule="0 * * * *", name=DIGEST_SCHEDULE,
                 default_status=dg.DefaultScheduleStatus.STOPPED,
                 description="Each tenant with alert rules daily at its alerts.digest_hour, in its own time zone.")
    def daily_alert_digest(context: dg.ScheduleEvaluationContext):
        for tenant in registry.tenants:
            if not (tenant.alerts.digest and tenant.alerts.active_rules):
                continue
            local = context.scheduled_execution_time.astimezone(ZoneInfo(tenant.timezone))
            if local.hour == tenant.alerts.digest_hour:
                yield dg.RunRequest(run_key=f"digest:{tenant.slug}:{local.date().isoformat()}",
                                    partition_key=tenant.slug, tags={"tenant": tenant.slug})

    return [asset], [alerts_job, digest_job], [alerts_after_tenant_runs], [daily_alert_digest]
