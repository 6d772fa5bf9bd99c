"""dlt sources as tenant-partitioned Dagster assets: one multi-asset per source, one run per tenant.

Every connector (``orchestration/connectors``) becomes one multi-asset. A run for tenant T builds T's own dlt
pipeline (``<source>__T`` → dataset ``raw_<source>__T``), so tenants never share state or data. A failure
names the tenant and the source, and fails that source's asset only.
"""


import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, dlt_assets
from dlt.common.exceptions import DltException
from dlt.pipeline.exceptions import PipelineStepFailed

from orchestration.connectors import CONNECTORS
from orchestration.settings import Settings
from orchestration.tenants import TenantRegistry
from orchestration.translators import DltTranslator
from orchestration.warehouse import dlt_destination, dlt_pipeline
from sources.rules import with_tenant_rules

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
        if source not in tenant.sources:  # select the tenant's own sources: defs/automation.tenant_selection
            raise dg.Failure(f"tenant {tenant.slug!r} has no {source!r} source configured in {registry.path}")
        settings = Settings.from_env()
        try:
            cfg = tenant.sources[source]
            dlt_source = connector.build(tenant, cfg, registry)
            if not connector.applies_rules:  # the tenant's own rules: bad rows to the dataset's quarantine table
                dlt_source = with_tenant_rules(dlt_source, cfg.tenant_rules(), tenant=tenant.slug, source_name=source)
            yield from dlt.run(
                context=context,
                dlt_source=dlt_source,
                dlt_pipeline=dlt_pipeline(settings, source, tenant.slug),
                dagster_dlt_translator=DltTranslator(),
            )
        except dg.DagsterError:
            raise
        except Exception as exc:  # name tenant and source on every failure, keep the cause chained
            cause = root_cause(exc)
            raise dg.Failure(
                description=f"tenant {tenant.slug!r}, source {source!r}: {type(cause).__name__}: {cause}",
            ) from exc

    return _land


def root_cause(exc: BaseException) -> BaseException:
    """The error that stopped a load: dlt wraps what a source raised in ``PipelineStepFailed`` (and that in
    resource-extraction errors), whose message is about the pipeline step, not about the API's refusal."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "exception", None) if isinstance(exc, PipelineStepFailed) else exc.__cause__
        if not isinstance(inner, BaseException) or not isinstance(exc, (PipelineStepFailed, DltException)):
            return exc
        exc = inner
    return exc


def ingestion_assets(
    registry: TenantRegistry, partitions: dg.PartitionsDefinition, settings: Settings
) -> list[dg.AssetsDefinition]:
    return [source_assets(source, registry, partitions, settings) for source in CONNECTORS]
