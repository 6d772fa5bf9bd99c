"""Competitor prices (sources/competitor_prices): one price-intelligence account per tenant, authenticated by an
API key named by its environment variable (``secrets: {api_key: <ENV>}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from dlt.extract.source import DltSource
from pydantic import Field, model_validator

from orchestration.connectors.base import Connector, HttpUrl, SourceConfig
from sources.competitor_prices import competitor_prices_source
from sources.competitor_prices.settings import DEFAULT_LOOKBACK_DAYS, DEFAULT_START_DATE, MAX_PAGE_SIZE

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry

SOURCE = "competitor_prices"


class CompetitorPricesSourceConfig(SourceConfig):
    kind: Literal["competitor_prices"] = "competitor_prices"
    base_url: HttpUrl  # the vendor's v1 root (no default: vendors differ), or the sandbox's …/competitor_prices/v1
    start_date: str = Field(default=DEFAULT_START_DATE, pattern=r"^\d{4}-\d{2}-\d{2}$")
    lookback_days: int = Field(default=DEFAULT_LOOKBACK_DAYS, ge=0, le=60)
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _secrets(self) -> CompetitorPricesSourceConfig:
        self.require_secrets("api_key")
        return self


def build(tenant: Tenant, cfg: CompetitorPricesSourceConfig, registry: TenantRegistry) -> DltSource:
    return competitor_prices_source(
        base_url=cfg.base_url,
        api_key=cfg.secret("api_key", tenant=tenant.slug, source=SOURCE),
        start_date=cfg.start_date,
        lookback_days=cfg.lookback_days,
        page_size=cfg.page_size,
        request_timeout_s=cfg.request_timeout_s,
        tenant=tenant.slug,
    )


CONNECTOR = Connector(
    config=CompetitorPricesSourceConfig,
    build=build,
    template=lambda: competitor_prices_source(base_url="http://127.0.0.1:8765/competitor_prices/v1",
                                              api_key="unset"),
)
