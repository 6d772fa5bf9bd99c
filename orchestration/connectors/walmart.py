"""Walmart Marketplace API (sources/walmart): one seller account per tenant (client-credentials API keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from dlt.extract.source import DltSource
from pydantic import Field, model_validator

from orchestration.connectors.base import Connector, HttpUrl, SourceConfig
from sources.walmart import walmart_source
from sources.walmart.settings import DEFAULT_BASE_URL, DEFAULT_START_DATE, MAX_ORDERS_LIMIT, RECON_PAGE_SIZE

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry

SECRETS = ("client_id", "client_secret")


class WalmartSourceConfig(SourceConfig):
    kind: Literal["walmart"] = "walmart"
    base_url: HttpUrl = DEFAULT_BASE_URL  # https://marketplace.walmartapis.com, or the sandbox's …/walmart
    start_date: str = DEFAULT_START_DATE
    page_size: int = Field(default=MAX_ORDERS_LIMIT, ge=1, le=MAX_ORDERS_LIMIT)
    recon_page_size: int = Field(default=RECON_PAGE_SIZE, ge=1, le=RECON_PAGE_SIZE)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _secrets(self) -> WalmartSourceConfig:
        self.require_secrets(*SECRETS)
        return self


def build(tenant: Tenant, cfg: WalmartSourceConfig, registry: TenantRegistry) -> DltSource:
    secret = {role: cfg.secret(role, tenant=tenant.slug, source="walmart") for role in SECRETS}
    return walmart_source(base_url=cfg.base_url, start_date=cfg.start_date, page_size=cfg.page_size,
                          recon_page_size=cfg.recon_page_size, request_timeout_s=cfg.request_timeout_s, **secret)


CONNECTOR = Connector(
    config=WalmartSourceConfig,
    build=build,
    template=lambda: walmart_source(client_id="unset", client_secret="unset"),
)
