"""The tenant registry landed in the warehouse (``raw_platform.tenants``), so dbt builds ``dim_tenants``
(display name, reporting currency, timezone, plan) from the same single source of truth."""


from datetime import UTC, datetime

import dagster as dg
import dlt
import pyarrow as pa

from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.settings import Settings
from orchestration.tenants import Tenant, TenantRegistry
from orchestration.translators import raw_asset_key
from orchestration.warehouse import dlt_destination

PLATFORM_DATASET = "raw_platform"
TENANT_SCHEMA = pa.schema([
    pa.field("tenant_id", pa.string(), nullable=False), pa.field("display_name", pa.string()),
    pa.field("currency", pa.string()), pa.field("timezone", pa.string()), pa.field("plan_tier", pa.string()),
    pa.field("data_retention_days", pa.int64()), pa.field("updated_at", pa.timestamp("us", tz="UTC")),
])


def tenant_record(tenant: Tenant, now: datetime) -> pa.Table:
    return pa.table({
        "tenant_id": pa.array([tenant.slug], pa.string()),
        "display_name": [tenant.display_name],
        "currency": [tenant.currency],
        "timezone": [tenant.timezone],
        "plan_tier": [tenant.plan_tier],
        "data_retention_days": pa.array([tenant.data_retention_days], pa.int64()),
        "updated_at": pa.array([now], pa.timestamp("us", tz="UTC")),
    }).cast(TENANT_SCHEMA)


def platform_assets(registry: TenantRegistry, partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=raw_asset_key("platform", "tenants"),
        group_name="raw_platform",
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        kinds={"dlt"},
        description="The tenant's registry entry (tenants.yaml), one row per tenant, merged on tenant_id.",
    )
    def platform_tenants(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        tenant = registry.get(context.partition_key)
        settings = Settings.from_env()
        pipeline = dlt.pipeline(
            pipeline_name=f"platform__{tenant.slug}",
            destination=dlt_destination(settings),
            dataset_name=PLATFORM_DATASET,
            pipelines_dir=str(settings.dlt_pipelines_dir),
        )
        info = pipeline.run(
            tenant_record(tenant, datetime.now(UTC)),
            table_name="tenants",
            write_disposition="merge",
            primary_key="tenant_id",
        )
        return dg.MaterializeResult(metadata={"load_id": info.loads_ids[-1] if info.loads_ids else None,
                                              "dataset": PLATFORM_DATASET})

    return [platform_tenants]
