"""Jobs and schedules, declared as data: one job refreshes a tenant's whole graph, a daily schedule runs it
for every tenant (one run per tenant, selecting only the sources that tenant has)."""


import dagster as dg

from orchestration.tenants import Tenant, TenantRegistry
from orchestration.translators import RAW

REFRESH_JOB = "tenant_refresh"
DAILY_CRON = "0 3 * * *"  # after midnight in every demo tenant's zone; tenants' local days are closed


def tenant_selection(tenant: Tenant, all_sources: list[str]) -> dg.AssetSelection:
    """Everything for one tenant, minus the raw landings of sources it does not have."""
    missing = [s for s in all_sources if s not in tenant.sources]
    selection = dg.AssetSelection.all()
    for source in missing:
        selection = selection - dg.AssetSelection.groups(f"{RAW}_{source}")
    return selection


def automation(
    registry: TenantRegistry, partitions: dg.PartitionsDefinition, sources: list[str]
) -> tuple:
    job = dg.define_asset_job(
        REFRESH_JOB,
        selection=dg.AssetSelection.all(),
        partitions_def=partitions,
        description="Land every source of one tenant, then build its dbt slice (partition = tenant).",
    )

    @dg.schedule(job=job, cron_schedule=DAILY_CRON, name="daily_tenant_refresh",
                 default_status=dg.DefaultScheduleStatus.STOPPED)
    def daily_tenant_refresh(context: dg.ScheduleEvaluationContext):
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        for tenant in registry.tenants:
            yield dg.RunRequest(
                run_key=f"{tenant.slug}:{day}",
                partition_key=tenant.slug,
                asset_selection=_keys(tenant, sources, context),
                tags={"tenant": tenant.slug},
            )

    return job, daily_tenant_refresh


def _keys(tenant: Tenant, sources: list[str], context: dg.ScheduleEvaluationContext) -> list[dg.AssetKey] | None:
    missing = [s for s in sources if s not in tenant.sources]
    if not missing:
        return None  # the whole job
    graph = context.repository_def.asset_graph
    return sorted(tenant_selection(tenant, sources).resolve(graph))
