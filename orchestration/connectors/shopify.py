"""Shopify Admin GraphQL API (sources/shopify)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from dlt.extract.source import DltSource
from pydantic import Field, model_validator

from orchestration.connectors.base import Connector, HttpUrl, SourceConfig
from sources.shopify import shopify_source

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry


class ShopifySourceConfig(SourceConfig):
    kind: Literal["shopify"] = "shopify"
    shop_url: HttpUrl  # https://<shop>.myshopify.com, or the sandbox's http://127.0.0.1:8765/<shop>
    api_version: str = "2025-01"
    start_date: str = "2000-01-01T00:00:00Z"
    page_size: int = Field(default=50, ge=1, le=250)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _token(self) -> ShopifySourceConfig:
        if "access_token" not in self.secrets:
            raise ValueError("secrets.access_token must name the env variable holding the Admin API token")
        return self


def build(tenant: Tenant, cfg: ShopifySourceConfig, registry: TenantRegistry) -> DltSource:
    return shopify_source(
        shop_url=cfg.shop_url,
        access_token=cfg.secret("access_token", tenant=tenant.slug, source="shopify"),
        api_version=cfg.api_version,
        start_date=cfg.start_date,
        page_size=cfg.page_size,
        request_timeout_s=cfg.request_timeout_s,
    )


CONNECTOR = Connector(
    config=ShopifySourceConfig,
    build=build,
    template=lambda: shopify_source(shop_url="https://template.myshopify.com", access_token="unset"),
)
