"""dlt sources as tenant-partitioned Dagster assets: one multi-asset per source, one run per tenant.

Every connector (``orchestration/connectors``) becomes one multi-asset. A run for tenant T builds T's own dlt
pipeline (``<source>__T`` → dataset ``raw_<source>__T``), so tenants never share state or data. A failure
names the tenant and the source, and fails that source's asset only.
"""


import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, dlt_assets

from orchestration.connectors import CONNECTORS
from orchestration.settings import Settings
from orchestration.tenants import TenantRegistry
from orchestration.translators import DltTranslator
from orchestration.warehouse import dlt_destination, dlt_pipeline

WAREHOUSE_POOL = "warehouse"


def source_assets(
    source: str, registry: TenantRegistry, partitions: dg.PartitionsDefinition, settings: Settings
) -> dg.AssetsDefinition:
    """The tenant-partitioned multi-asset landing one source (one asset per dlt resource).

    The pipeline given to ``dlt_assets`` is only a template naming the destination; each run builds the
    tenant's own pipeline.
    """
    connector = CONNECTORS[source]
    template_pipeline = dlt.pipeline(
        pipeline_name=f"{source}__template",
        destination=dlt_destination(settings),
        dataset_name=f"raw_{source}",
        pipelines_dir=str(settings.dlt_pipelines_dir / "templates"),
    )

    @dlt_assets(
        dlt_source=connector.template(),
        dlt_pipeline=template_pipeline,
        name=f"raw_{source}",
        dagster_dlt_translator=DltTranslator(),
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
    )
    def _land(context: dg.AssetExecutionContext, dlt: DagsterDltResource):
        tenant = registry.get(context.partition_key)
        if source not in tenant.sources:
            raise dg.Failure(f"tenant {tenant.slug!r} has no {source!r} source configured in {registry.path}")
        settings = Settings.from_env()
        try:
            dlt_source = connector.build(tenant, tenant.sources[source], registry)
            yield from dlt.run(
                context=context,
                dlt_source=dlt_source,
                dlt_pipeline=dlt_pipeline(settings, source, tenant.slug),
                dagster_dlt_translator=DltTranslator(),
            )
        except dg.DagsterError:
            raise
        except Exception as exc:  # name tenant and source on every failure, keep the cause chained
            raise dg.Failure(
                description=f"tenant {tenant.slug!r}, source {source!r}: {type(exc).__name__}: {exc}",
            ) from exc

    return _land


def ingestion_assets(
    registry: TenantRegistry, partitions: dg.PartitionsDefinition, settings: Settings
) -> list[dg.AssetsDefinition]:
    return [source_assets(source, registry, partitions, settings) for source in CONNECTORS]
