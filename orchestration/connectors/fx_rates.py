"""Daily FX rates (sources/fx_rates): ECB reference rates from Frankfurter into the tenant's reporting currency.

The reporting currency is the tenant's own (``currency`` in tenants.yaml); ``currencies`` are the ones its
facts arrive in besides it (ad accounts, presentment currencies, marketplaces abroad). No secrets: the API is
public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from dlt.extract.source import DltSource
from pydantic import Field, ValidationInfo, field_validator, model_validator

from orchestration.connectors.base import Connector, HttpUrl, SourceConfig
from sources.fx_rates import fx_rates_source, validate_currencies
from sources.fx_rates.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_DAYS_PER_REQUEST,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_START_DATE,
)

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry

TENANT_CURRENCY = "tenant_currency"  # validation context key: the tenant's reporting currency (orchestration/tenants)


class FxRatesSourceConfig(SourceConfig):
    kind: Literal["fx_rates"] = "fx_rates"
    base_url: HttpUrl = DEFAULT_BASE_URL  # or the sandbox's http://127.0.0.1:8765/fx/v1
    currencies: list[str] = Field(min_length=1)  # ISO 4217 codes to convert from, never the reporting currency
    start_date: str = Field(default=DEFAULT_START_DATE, pattern=r"^\d{4}-\d{2}-\d{2}$")
    lookback_days: int = Field(default=DEFAULT_LOOKBACK_DAYS, ge=0, le=60)
    days_per_request: int = Field(default=DEFAULT_DAYS_PER_REQUEST, ge=1, le=3660)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("currencies")
    @classmethod
    def _iso_codes(cls, codes: list[str]) -> list[str]:
        return validate_currencies(codes, None)  # ISO 4217 form, distinct (the tenant's currency: below)

    @model_validator(mode="after")
    def _not_the_reporting_currency(self, info: ValidationInfo) -> FxRatesSourceConfig:
        reporting = (info.context or {}).get(TENANT_CURRENCY)
        if reporting and reporting in self.currencies:
            raise ValueError(f"currencies must not include the tenant's reporting currency {reporting}")
        if self.secrets:
            raise ValueError("Frankfurter needs no secrets; remove `secrets`")
        return self


def build(tenant: Tenant, cfg: FxRatesSourceConfig, registry: TenantRegistry) -> DltSource:
    if tenant.currency in cfg.currencies:
        raise ValueError(f"tenant {tenant.slug!r}, source 'fx_rates': currencies {cfg.currencies} include the "
                         f"reporting currency {tenant.currency}")
    return fx_rates_source(
        currencies=list(cfg.currencies),
        reporting_currency=tenant.currency,
        base_url=cfg.base_url,
        start_date=cfg.start_date,
        lookback_days=cfg.lookback_days,
        days_per_request=cfg.days_per_request,
        request_timeout_s=cfg.request_timeout_s,
        tenant=tenant.slug,
    )


CONNECTOR = Connector(
    config=FxRatesSourceConfig,
    build=build,
    template=lambda: fx_rates_source(currencies=["USD"], reporting_currency="EUR"),
)
