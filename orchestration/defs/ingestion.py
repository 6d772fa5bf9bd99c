"""dlt sources as tenant-partitioned Dagster assets: one multi-asset per source, one run per tenant.

Each source is bound here to the tenant config it needs (``SOURCE_BINDINGS``). A run for tenant T builds
T's own dlt pipeline (``<source>__T`` → dataset ``raw_<source>__T``), so tenants never share state or data.
A failure names the tenant and the source.
"""


from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, dlt_assets
from dlt.common.configuration.specs import SFTPCredentials
from dlt.extract.source import DltSource

from orchestration.settings import Settings
from orchestration.tenants import FilesSourceConfig, ShopifySourceConfig, Tenant, TenantRegistry
from orchestration.translators import DltTranslator
from orchestration.warehouse import dlt_destination, dlt_pipeline
from sources.files import files_source
from sources.shopify import shopify_source

WAREHOUSE_POOL = "warehouse"


@dataclass(frozen=True)
class SourceBinding:
    """How to build a source for a tenant, and a secret-free template for the asset graph."""

    build: Callable[[Tenant, TenantRegistry], DltSource]
    template: Callable[[], DltSource]


def _shopify(tenant: Tenant, registry: TenantRegistry) -> DltSource:
    cfg = tenant.source("shopify")
    assert isinstance(cfg, ShopifySourceConfig)
    return shopify_source(
        shop_url=cfg.shop_url,
        access_token=cfg.secret("access_token", tenant=tenant.slug, source="shopify"),
        api_version=cfg.api_version,
        start_date=cfg.start_date,
        page_size=cfg.page_size,
        request_timeout_s=cfg.request_timeout_s,
    )


def _files(tenant: Tenant, registry: TenantRegistry) -> DltSource:
    cfg = tenant.source("files")
    assert isinstance(cfg, FilesSourceConfig)
    rules = [r.model_dump(exclude_none=True) for r in cfg.rules]
    if cfg.is_sftp:
        return files_source(tenant=tenant.slug, bucket_url=cfg.bucket_url, rules=rules, credentials=SFTPCredentials(
            sftp_port=urlsplit(cfg.bucket_url).port or 22,
            sftp_username=cfg.sftp_username,
            sftp_password=cfg.secret("sftp_password", tenant=tenant.slug, source="files"),
            sftp_allow_agent=False,
            sftp_look_for_keys=False,
        ))
    return files_source(tenant=tenant.slug, bucket_url=registry.resolve_path(cfg.bucket_url).as_uri(), rules=rules)


SOURCE_BINDINGS: dict[str, SourceBinding] = {
    "shopify": SourceBinding(
        build=_shopify,
        template=lambda: shopify_source(shop_url="https://template.myshopify.com", access_token="unset"),
    ),
    "files": SourceBinding(
        build=_files,
        template=lambda: files_source(tenant="template", bucket_url="file:///nonexistent"),
    ),
}


def source_assets(
    source: str, registry: TenantRegistry, partitions: dg.PartitionsDefinition, settings: Settings
) -> dg.AssetsDefinition:
    """The tenant-partitioned multi-asset landing one source (one asset per dlt resource).

    The pipeline given to ``dlt_assets`` is only a template naming the destination; each run builds the
    tenant's own pipeline.
    """
    binding = SOURCE_BINDINGS[source]
    template_pipeline = dlt.pipeline(
        pipeline_name=f"{source}__template",
        destination=dlt_destination(settings),
        dataset_name=f"raw_{source}",
        pipelines_dir=str(settings.dlt_pipelines_dir / "templates"),
    )

    @dlt_assets(
        dlt_source=binding.template(),
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
            dlt_source = binding.build(tenant, registry)
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
    return [source_assets(source, registry, partitions, settings) for source in SOURCE_BINDINGS]
