"""Meta (Facebook/Instagram) Marketing API ads Insights (sources/meta_ads)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from dlt.extract.source import DltSource
from pydantic import Field, field_validator, model_validator

from orchestration.connectors.base import Connector, HttpUrl, SourceConfig
from sources.meta_ads import meta_ads_source

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry


class MetaAdsSourceConfig(SourceConfig):
    kind: Literal["meta_ads"] = "meta_ads"
    account_id: str  # the ad account, "act_<digits>" or the digits
    base_url: HttpUrl = "https://graph.facebook.com"  # the sandbox: http://127.0.0.1:8765/meta
    api_version: str = Field(default="v21.0", pattern=r"^v\d+\.0$")
    start_date: str = Field(default="2024-01-01", pattern=r"^\d{4}-\d{2}-\d{2}$")
    attribution_window_days: int = Field(default=7, ge=1, le=28)
    purchase_action_type: str = "offsite_conversion.fb_pixel_purchase"
    page_size: int = Field(default=500, ge=1, le=5000)
    days_per_report: int = Field(default=366, ge=1)
    request_timeout_s: float = Field(default=60.0, gt=0)

    @field_validator("account_id")
    @classmethod
    def _account(cls, value: str) -> str:
        digits = str(value).removeprefix("act_")
        if not re.fullmatch(r"[1-9][0-9]{5,17}", digits):
            raise ValueError(f"account_id must be act_<digits> or the digits, got {value!r}")
        return digits

    @model_validator(mode="after")
    def _secrets(self) -> MetaAdsSourceConfig:
        self.require_secrets("access_token")
        if ("app_id" in self.secrets) != ("app_secret" in self.secrets):
            raise ValueError("secrets.app_id and secrets.app_secret go together (they exchange the token)")
        return self


def build(tenant: Tenant, cfg: MetaAdsSourceConfig, registry: TenantRegistry) -> DltSource:
    def secret(role: str) -> str | None:
        return cfg.secret(role, tenant=tenant.slug, source="meta_ads") if role in cfg.secrets else None

    return meta_ads_source(
        account_id=cfg.account_id,
        access_token=secret("access_token"),
        app_id=secret("app_id"),
        app_secret=secret("app_secret"),
        base_url=cfg.base_url,
        api_version=cfg.api_version,
        start_date=cfg.start_date,
        attribution_window_days=cfg.attribution_window_days,
        purchase_action_type=cfg.purchase_action_type,
        page_size=cfg.page_size,
        days_per_report=cfg.days_per_report,
        request_timeout_s=cfg.request_timeout_s,
    )


CONNECTOR = Connector(
    config=MetaAdsSourceConfig,
    build=build,
    template=lambda: meta_ads_source(account_id="100000000000000", access_token="unset", app_id=None,
                                     app_secret=None),
)
