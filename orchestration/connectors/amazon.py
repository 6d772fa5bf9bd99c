"""Amazon Selling Partner API (sources/amazon): one seller account in one marketplace per tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from dlt.extract.source import DltSource
from pydantic import Field, model_validator

from orchestration.connectors.base import Connector, HttpUrl, SourceConfig
from sources.amazon import amazon_source
from sources.amazon.settings import DEFAULT_ENDPOINT, DEFAULT_START_DATE, LWA_TOKEN_URL

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry

SECRETS = ("client_id", "client_secret", "refresh_token")


class AmazonSourceConfig(SourceConfig):
    kind: Literal["amazon"] = "amazon"
    marketplace_id: str = Field(pattern=r"^[A-Z0-9]{10,14}$")  # ATVPDKIKX0DER (US), A1PA6795UKMFR9 (DE), …
    endpoint: HttpUrl = DEFAULT_ENDPOINT  # regional SP-API host, or the sandbox's http://127.0.0.1:8765/amazon/sp
    lwa_token_url: HttpUrl = LWA_TOKEN_URL  # or the sandbox's http://127.0.0.1:8765/amazon/auth/o2/token
    start_date: str = DEFAULT_START_DATE
    page_size: int = Field(default=100, ge=1, le=100)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _secrets(self) -> AmazonSourceConfig:
        self.require_secrets(*SECRETS)
        return self


def build(tenant: Tenant, cfg: AmazonSourceConfig, registry: TenantRegistry) -> DltSource:
    secret = {role: cfg.secret(role, tenant=tenant.slug, source="amazon") for role in SECRETS}
    return amazon_source(
        marketplace_id=cfg.marketplace_id,
        endpoint=cfg.endpoint,
        lwa_token_url=cfg.lwa_token_url,
        start_date=cfg.start_date,
        page_size=cfg.page_size,
        request_timeout_s=cfg.request_timeout_s,
        **secret,
    )


CONNECTOR = Connector(
    config=AmazonSourceConfig,
    build=build,
    template=lambda: amazon_source(marketplace_id="ATVPDKIKX0DER", client_id="unset", client_secret="unset",
                                   refresh_token="unset"),
)
