"""Jobs and schedules: one job refreshes a tenant's whole graph; the daily refresh runs it for every tenant
once its own business day has closed (one run per tenant, selecting only the sources that tenant has)."""

from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.tenants import Tenant, TenantRegistry
from orchestration.translators import ALERTS, ML, RAW, SITES

REFRESH_JOB = "tenant_refresh"
# landings and dbt; the models train, the alerts evaluate and the report sites build in their own jobs
# (tenant_ml, tenant_alerts, tenant_reports: orchestration/defs/ml.py, alerts.py, reports.py)
WAREHOUSE_GRAPH = dg.AssetSelection.all() - dg.AssetSelection.groups(ML, ALERTS, SITES)
TRANSFORM_JOB = "tenant_transform"
HOURLY_CRON = "5 * * * *"
LOCAL_REFRESH_HOUR = 1  # 01:05 in the tenant's own time zone: yesterday is complete everywhere it sells


def missing_sources(tenant: Tenant, all_sources: list[str]) -> list[str]:
    return [s for s in all_sources if s not in tenant.sources]


def tenant_selection(tenant: Tenant, all_sources: list[str]) -> dg.AssetSelection:
    """Everything but the models for one tenant, minus the raw landings of sources it does not have."""
    selection = WAREHOUSE_GRAPH
    for source in missing_sources(tenant, all_sources):
        selection = selection - dg.AssetSelection.groups(f"{RAW}_{source}")
    return selection


def tenant_keys(tenant: Tenant, all_sources: list[str], asset_graph) -> list[dg.AssetKey]:
    """``tenant_selection`` resolved: what a ``tenant_refresh`` run of this tenant materializes (the schedule,
    the demo and the tests all launch it with this selection; a source the tenant lacks would fail its step)."""
    return sorted(tenant_selection(tenant, all_sources).resolve(asset_graph))


def automation(registry: TenantRegistry, sources: list[str]) -> tuple[list[object], dg.ScheduleDefinition]:
    """The ``tenant_refresh`` and ``tenant_transform`` jobs (unresolved asset jobs) and the daily schedule.

    In one refresh run a failed source skips the tenant's dbt step (nothing is built on half a landing);
    ``tenant_transform`` then builds the tenant's slice on what did land (its other sources, and the last good
    landing of the failed one), which is what ``make demo`` does after a source fails.
    """
    job = dg.define_asset_job(
        REFRESH_JOB,
        selection=WAREHOUSE_GRAPH,
        description="Land one tenant's sources, then build its dbt slice (partition = tenant). Select the tenant's "
                    "own sources (as the daily schedule does): a source the tenant lacks fails its step.",
    )
    transform = dg.define_asset_job(
        TRANSFORM_JOB,
        selection=WAREHOUSE_GRAPH - dg.AssetSelection.key_prefixes([RAW]),
        description="Build one tenant's dbt slice on what has landed, without landing anything.",
    )

    @dg.schedule(job=job, cron_schedule=HOURLY_CRON, name="daily_tenant_refresh",
                 default_status=dg.DefaultScheduleStatus.STOPPED,
                 description=f"Each tenant daily at {LOCAL_REFRESH_HOUR:02d}:05 in its own time zone.")
    def daily_tenant_refresh(context: dg.ScheduleEvaluationContext):
        for tenant in registry.tenants:
            local = context.scheduled_execution_time.astimezone(ZoneInfo(tenant.timezone))
            if local.hour != LOCAL_REFRESH_HOUR:
                continue
            yield dg.RunRequest(
                run_key=f"{tenant.slug}:{local.date().isoformat()}",
                partition_key=tenant.slug,
                asset_selection=_keys(tenant, sources, context),
                tags={"tenant": tenant.slug},
            )

    return [job, transform], daily_tenant_refresh


def daily_local_schedule(job, registry: TenantRegistry, *, name: str, hour: int, minute: int,
                         run_kind: str) -> dg.ScheduleDefinition:
    """A run of ``job`` per tenant once a day at ``hour:minute`` in the tenant's own time zone: an hourly tick, and
    each tenant whose local hour it is gets one run (run key: tenant, ``run_kind``, local date). Stopped until
    turned on."""

    @dg.schedule(job=job, cron_schedule=f"{minute} * * * *", name=name,
                 default_status=dg.DefaultScheduleStatus.STOPPED,
                 description=f"Each tenant daily at {hour:02d}:{minute:02d} in its own time zone.")
    def daily(context: dg.ScheduleEvaluationContext):
        for tenant in registry.tenants:
            local = context.scheduled_execution_time.astimezone(ZoneInfo(tenant.timezone))
            if local.hour == hour:
                yield dg.RunRequest(run_key=f"{tenant.slug}:{run_kind}:{local.date().isoformat()}",
                                    partition_key=tenant.slug, tags={"tenant": tenant.slug})

    return daily


def _keys(tenant: Tenant, sources: list[str], context: dg.ScheduleEvaluationContext) -> list[dg.AssetKey] | None:
    """The run's asset selection: the whole job (None) unless the tenant lacks a source."""
    if not missing_sources(tenant, sources):
        return None
    return tenant_keys(tenant, sources, context.repository_def.asset_graph)
