"""The tenant registry: every brand on the platform, loaded from one YAML file and validated on load.

A tenant's slug becomes part of schema and pipeline names, so it is a safe identifier. Sources carry their
options and the *names* of the environment variables that hold their secrets, never the secrets themselves;
:meth:`SourceConfig.secret` reads the value when a run needs it.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sources.files.settings import TenantRule

SLUG = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class TenantConfigError(ValueError):
    """The registry is invalid; the message names the file, the tenant and the field."""


class MissingSecretError(RuntimeError):
    """A source's secret is not set in the environment; names tenant, source and variable, never a value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """Options shared by every source: secrets maps a secret's role to the env variable holding it."""

    secrets: dict[str, str] = Field(default_factory=dict)

    @field_validator("secrets")
    @classmethod
    def _env_names(cls, secrets: dict[str, str]) -> dict[str, str]:
        for role, name in secrets.items():
            if not ENV_NAME.match(name):
                raise ValueError(f"secret {role!r} must name an environment variable (A-Z, 0-9, _), got {name!r}")
        return secrets

    def secret(self, role: str, *, tenant: str, source: str) -> str:
        name = self.secrets.get(role)
        if name is None:
            raise MissingSecretError(f"tenant {tenant!r}, source {source!r}: no secret {role!r} is configured")
        value = os.environ.get(name)
        if not value:
            raise MissingSecretError(
                f"tenant {tenant!r}, source {source!r}: environment variable {name} ({role}) is not set"
            )
        return value


class ShopifySourceConfig(SourceConfig):
    kind: Literal["shopify"] = "shopify"
    shop_url: str  # https://<shop>.myshopify.com, or the sandbox's http://127.0.0.1:8765/<shop>
    api_version: str = "2025-01"
    start_date: str = "2000-01-01T00:00:00Z"
    page_size: int = Field(default=50, ge=1, le=250)
    request_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("shop_url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/]+(/[^\s]*)?$", url):
            raise ValueError(f"shop_url must be an http(s) URL, got {url!r}")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _token(self) -> ShopifySourceConfig:
        if "access_token" not in self.secrets:
            raise ValueError("secrets.access_token must name the env variable holding the Admin API token")
        return self


class FileRule(_Strict):
    """A tenant's own validation rule on a file-drop column (see sources/files/README.md, "Tenant rules")."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    entity: str
    column: str
    allowed: list[str] | None = None
    minimum: str | None = None
    maximum: str | None = None
    pattern: str | None = None

    @model_validator(mode="after")
    def _checkable(self) -> FileRule:
        TenantRule(**{**self.model_dump(), "allowed": tuple(self.allowed) if self.allowed else None})
        return self


class FilesSourceConfig(SourceConfig):
    kind: Literal["files"] = "files"
    bucket_url: str  # a folder (relative to the registry file), file://…, or sftp://host[:port]/path
    sftp_username: str | None = None
    rules: list[FileRule] = Field(default_factory=list)

    @property
    def is_sftp(self) -> bool:
        return self.bucket_url.startswith("sftp://")

    @model_validator(mode="after")
    def _sftp_login(self) -> FilesSourceConfig:
        if self.is_sftp and (not self.sftp_username or "sftp_password" not in self.secrets):
            raise ValueError("an sftp:// drop needs sftp_username and secrets.sftp_password (an env variable name)")
        return self


SOURCE_MODELS: dict[str, type[SourceConfig]] = {"shopify": ShopifySourceConfig, "files": FilesSourceConfig}
SourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Tenant(_Strict):
    slug: str
    display_name: str = Field(min_length=1)
    currency: str
    timezone: str
    plan_tier: Literal["starter", "growth", "enterprise"] = "starter"
    data_retention_days: int = Field(default=730, ge=30)
    settings: dict[str, object] = Field(default_factory=dict)
    sources: dict[SourceName, ShopifySourceConfig | FilesSourceConfig] = Field(default_factory=dict)

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
    def _source_kinds(cls, sources: object) -> object:
        if not isinstance(sources, dict):
            return sources
        typed = {}
        for name, options in sources.items():
            if name not in SOURCE_MODELS:
                raise ValueError(f"unknown source {name!r}; known: {', '.join(sorted(SOURCE_MODELS))}")
            try:
                typed[name] = SOURCE_MODELS[name].model_validate({**(options or {}), "kind": name})
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


class TenantRegistry(_Strict):
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
