"""Google Analytics 4 Data API (sources/ga4): a tenant's GA4 property, read with an OAuth2 refresh token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from dlt.extract.source import DltSource
from pydantic import Field, model_validator

from orchestration.connectors.base import Connector, HttpUrl, SourceConfig
from sources.ga4 import ga4_source
from sources.ga4.settings import DEFAULT_API_BASE_URL, DEFAULT_START_DATE, DEFAULT_TOKEN_URL

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry



class Ga4SourceConfig(SourceConfig):
    kind: Literal["ga4"] = "ga4"
    property_id: str = Field(pattern=r"^[1-9][0-9]{5,11}$")  # the numeric GA4 property id
    client_id: str = Field(min_length=1)  # the OAuth client id (not a secret); its secret is in `secrets`
    api_base_url: HttpUrl = DEFAULT_API_BASE_URL  # or the sandbox's http://127.0.0.1:8765/ga4
    token_url: HttpUrl = DEFAULT_TOKEN_URL  # or the sandbox's http://127.0.0.1:8765/ga4/token
    start_date: str = Field(default=DEFAULT_START_DATE, pattern=r"^\d{4}-\d{2}-\d{2}$")
    lookback_days: int = Field(default=3, ge=0, le=30)
    page_size: int = Field(default=10_000, ge=1, le=250_000)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _secrets(self) -> Ga4SourceConfig:
        self.require_secrets("client_secret", "refresh_token")
        return self


def build(tenant: Tenant, cfg: Ga4SourceConfig, registry: TenantRegistry) -> DltSource:
    return ga4_source(
        property_id=cfg.property_id,
        client_id=cfg.client_id,
        client_secret=cfg.secret("client_secret", tenant=tenant.slug, source="ga4"),
        refresh_token=cfg.secret("refresh_token", tenant=tenant.slug, source="ga4"),
        api_base_url=cfg.api_base_url,
        token_url=cfg.token_url,
        start_date=cfg.start_date,
        lookback_days=cfg.lookback_days,
        page_size=cfg.page_size,
        request_timeout_s=cfg.request_timeout_s,
    )


CONNECTOR = Connector(
    config=Ga4SourceConfig,
    build=build,
    template=lambda: ga4_source(property_id="100000000", client_id="template.apps.googleusercontent.com",
                                client_secret="unset", refresh_token="unset"),
)
