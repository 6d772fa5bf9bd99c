"""The report sites in Dagster: per tenant, ``sites/report_export`` then ``sites/report_site`` (group ``sites``;
keys from orchestration/translators.py).

* ``sites/report_export`` reads the warehouse (pool ``warehouse``: the embedded DuckDB has one writer, a reader
  must not run beside it): the tenant's export file and the other tenants' markers
  (``orchestration.sites.build.prepare_site``). It is downstream of every table the pages show: the marts,
  cube and report marts, ``ml/demand_forecast`` and ``alerts/firings``.
* ``sites/report_site`` builds and publishes the Evidence site from that export without opening the warehouse
  (``build_prepared``; pool ``report_sites``: one Evidence build at a time, ~3 GB each — a lock file enforces it
  across processes as well). It is skipped, and says so in its metadata, when neither the exported data nor the
  reports project nor the branding changed since the last build.
* job ``tenant_reports``: both, for one tenant; schedule ``daily_tenant_reports`` runs it for each tenant at 04:15
  in its own time zone, an hour after the models (``daily_tenant_ml``, 03:15) and their alerts.

``report_site_definitions(registry, partitions)`` returns ``(assets, jobs, schedules)`` for ``dg.Definitions``.
"""


import dagster as dg

from orchestration.defs.automation import daily_local_schedule
from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.settings import Settings
from orchestration.sites.build import build_prepared, load_plan, prepare_site
from orchestration.tenants import TenantRegistry
from orchestration.translators import SITES

SITES_GROUP = SITES
EXPORT_KEY = dg.AssetKey([SITES_GROUP, "report_export"])
SITE_KEY = dg.AssetKey([SITES_GROUP, "report_site"])
REPORTS_JOB = "tenant_reports"
SITES_POOL = "report_sites"
LOCAL_REPORTS_HOUR = 4  # 04:15 local: after the refresh (01:05) and the models (03:15)

# What the export reads (orchestration/sites/export.py TABLES), as the assets that build it.
UPSTREAM = (
    dg.AssetKey(["marts", "fct_orders"]), dg.AssetKey(["marts", "fct_order_lines"]),
    dg.AssetKey(["marts", "dim_customers"]), dg.AssetKey(["marts", "dim_channels"]),
    dg.AssetKey(["marts", "dim_products"]), dg.AssetKey(["marts", "dim_tenants"]),
    dg.AssetKey(["cubes", "cube_channel_daily"]),
    dg.AssetKey(["reports", "rpt_channel_profitability"]), dg.AssetKey(["reports", "rpt_cohort_retention"]),
    dg.AssetKey(["reports", "rpt_inventory_intelligence"]), dg.AssetKey(["reports", "rpt_ltv_cac"]),
    dg.AssetKey(["reports", "rpt_return_rates"]),
    dg.AssetKey(["ml", "demand_forecast"]),
    dg.AssetKey(["alerts", "firings"]),
)


def report_site_definitions(registry: TenantRegistry, partitions: dg.PartitionsDefinition):
    """(assets, jobs, schedules) of the report sites."""

    @dg.asset(
        key=EXPORT_KEY,
        group_name=SITES_GROUP,
        partitions_def=partitions,
        deps=list(UPSTREAM),
        pool=WAREHOUSE_POOL,
        kinds={"duckdb", "python"},
        description="The tenant's slice of the tables its report site shows, as a DuckDB (v1.4 format) file "
                    "under $OMNI_HOME/sites/<tenant>/ (Evidence never opens the warehouse).",
    )
    def site_export(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        plan = prepare_site(Settings.from_env(), context.partition_key)
        for note in plan.export.notes:
            context.log.info(f"tenant {plan.tenant}: {note}")
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(plan.export.path)),
            "content_hash": plan.export.content_hash,
            "as_of": plan.export.as_of.isoformat() if plan.export.as_of else "",
            "rows": dg.MetadataValue.json(plan.export.row_counts),
            "notes": "; ".join(plan.export.notes),
        })

    @dg.asset(
        key=SITE_KEY,
        group_name=SITES_GROUP,
        partitions_def=partitions,
        deps=[EXPORT_KEY],
        pool=SITES_POOL,
        kinds={"evidence"},
        description="The tenant's static Evidence report site (executive summary with insights, five reports, "
                    "forecast, alerts), white-labelled, built offline and published to "
                    "$OMNI_HOME/sites/<tenant>/site; skipped when nothing it shows changed.",
    )
    def site(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        settings = Settings.from_env()
        plan = load_plan(settings, context.partition_key)
        result = build_prepared(settings, plan, log=context.log.info)
        return dg.MaterializeResult(metadata={
            "site_path": dg.MetadataValue.path(str(result.site_dir)),
            "pages": dg.MetadataValue.json(list(result.pages)),
            "built": result.built,
            "skipped": not result.built,
            "build_seconds": round(result.seconds, 1),
            "steps_seconds": dg.MetadataValue.json(result.steps),
            "content_hash": result.content_hash,
        })

    job = dg.define_asset_job(REPORTS_JOB, selection=dg.AssetSelection.assets(EXPORT_KEY, SITE_KEY),
                              description="Export one tenant's report data and build its Evidence site.")

    schedule = daily_local_schedule(job, registry, name="daily_tenant_reports", hour=LOCAL_REPORTS_HOUR,
                                    minute=15, run_kind="reports")
    return [site_export, site], [job], [schedule]
