"""The tenant registry: every brand on the platform, loaded from one YAML file and validated on load.

A tenant's slug becomes part of schema and pipeline names, so it is a safe identifier. Sources carry their
options (each source's model lives with its connector, ``orchestration/connectors/``) and the *names* of the
environment variables that hold their secrets, never the secrets themselves; ``SourceConfig.secret`` reads the
value when a run needs it.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from orchestration.alerts.config import AlertsConfig
from orchestration.connectors import CONNECTORS, MissingSecretError, SourceConfig
from orchestration.connectors.base import Strict

SLUG = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class TenantConfigError(ValueError):
    """The registry is invalid; the message names the file, the tenant and the field."""


SourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
HexColor = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]


class Branding(Strict):
    """White-label look of the tenant's report site (orchestration/sites/branding.py resolves the defaults):
    ``title`` defaults to the display name, ``primary_color`` to ``settings.brand_color``, ``logo`` (an .svg or
    .png file, relative to the registry file unless absolute) to a generated monogram."""

    title: str | None = Field(default=None, min_length=1)
    logo: str | None = None
    primary_color: HexColor | None = None
    accent_color: HexColor | None = None


class Tenant(Strict):
    slug: str
    display_name: str = Field(min_length=1)
    currency: str
    timezone: str
    plan_tier: Literal["starter", "growth", "enterprise"] = "starter"
    data_retention_days: int = Field(default=730, ge=30)
    settings: dict[str, object] = Field(default_factory=dict)
    sources: dict[SourceName, SourceConfig] = Field(default_factory=dict)  # typed by orchestration/connectors
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)  # rules and delivery: orchestration/alerts/config.py
    branding: Branding = Field(default_factory=Branding)  # the report site's title, logo, colours

    @field_validator("slug")
    @classmethod
    def _slug(cls, slug: str) -> str:
        if not SLUG.match(slug) or "__" in slug:
            raise ValueError(
                f"slug {slug!r} must match {SLUG.pattern} without '__' (it becomes schema and pipeline names)"
            )
        return slug

    @field_validator("currency")
    @classmethod
    def _currency(cls, currency: str) -> str:
        if not CURRENCY.match(currency):
            raise ValueError(f"currency {currency!r} must be an ISO 4217 code such as USD")
        return currency

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, tz: str) -> str:
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone {tz!r} is not an IANA time zone") from exc
        return tz

    @field_validator("sources", mode="before")
    @classmethod
    def _source_kinds(cls, sources: object, info: ValidationInfo) -> object:
        if not isinstance(sources, dict):
            return sources
        typed = {}
        context = {"tenant_currency": info.data.get("currency")}  # what a connector may check its options against
        for name, options in sources.items():
            if name not in CONNECTORS:
                raise ValueError(f"unknown source {name!r}; known: {', '.join(sorted(CONNECTORS))}")
            try:
                typed[name] = CONNECTORS[name].config.model_validate({**(options or {}), "kind": name},
                                                                     context=context)
            except ValidationError as exc:
                details = "; ".join(
                    f"{'.'.join([name, *map(str, e['loc'])])}: {e['msg']}" for e in exc.errors()
                )
                raise ValueError(details) from None
        return typed

    def source(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            raise KeyError(f"tenant {self.slug!r} has no source {name!r} configured") from None


class TenantRegistry(Strict):
    path: Path
    tenants: tuple[Tenant, ...]

    @property
    def slugs(self) -> list[str]:
        return [t.slug for t in self.tenants]

    def get(self, slug: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.slug == slug:
                return tenant
        raise KeyError(f"unknown tenant {slug!r}; registry {self.path} has {', '.join(self.slugs)}")

    def with_source(self, source: str) -> list[Tenant]:
        return [t for t in self.tenants if source in t.sources]

    def resolve_path(self, location: str) -> Path:
        """A folder named in the registry, relative to the registry file unless absolute."""
        path = Path(location.removeprefix("file://"))
        return path if path.is_absolute() else (self.path.parent / path).resolve()


def load_registry(path: Path | str) -> TenantRegistry:
    """Load and validate the registry; errors name the file, the tenant and the field."""
    path = Path(path).resolve()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise TenantConfigError(f"{path}: tenant registry not found") from None
    except yaml.YAMLError as exc:
        raise TenantConfigError(f"{path}: not valid YAML: {exc}") from None
    entries = raw.get("tenants") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise TenantConfigError(f"{path}: expected a non-empty list under 'tenants'")

    tenants, problems = [], []
    for index, entry in enumerate(entries):
        label = entry.get("slug", f"#{index + 1}") if isinstance(entry, dict) else f"#{index + 1}"
        try:
            tenants.append(Tenant.model_validate(entry))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "(tenant)"
                problems.append(f"tenant {label!r}, field {field}: {err['msg']}")
    seen: set[str] = set()
    for tenant in tenants:
        if tenant.slug in seen:
            problems.append(f"tenant {tenant.slug!r}: slug is used twice")
        seen.add(tenant.slug)
    if problems:
        raise TenantConfigError(f"{path}: invalid tenant registry:\n  " + "\n  ".join(problems))
    return TenantRegistry(path=path, tenants=tuple(tenants))


__all__ = ["MissingSecretError", "SourceConfig", "Tenant", "TenantConfigError", "TenantRegistry", "load_registry"]
