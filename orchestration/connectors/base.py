"""What every connector shares: the tenant-config model of a source and how Dagster builds it per tenant.

A connector is one source as the platform wires it: its options in ``tenants.yaml`` (a pydantic model,
validated on load), how to build the dlt source for a tenant at run time (reading secrets from the
environment then, never at import), and a secret-free template that gives the asset graph its shape.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from dlt.extract.source import DltSource
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from sources.rules import TenantRule

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")


def _http_url(url: str) -> str:
    if not URL.match(url):
        raise ValueError(f"must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


# An API's base or token URL: the real one by default, the sandbox's http://127.0.0.1:8765/<api>/… in the demo.
HttpUrl = Annotated[str, AfterValidator(_http_url)]


class MissingSecretError(RuntimeError):
    """A source's secret is not set in the environment; names tenant, source and variable, never a value."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = str | int | float


class Rule(Strict):
    """A tenant's own validation rule on one column of one table the source lands (sources/rules.py), e.g.
    ``{name: eur_only, table: orders, column: currency, allowed: [EUR]}`` or ``{name: no_refund_lines,
    table: expense_lines, column: amount, minimum: 0}``. Rows breaking it land in the source's ``quarantine``
    table (rule ``tenant_rule:<name>``) instead of their own."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    table: str = Field(min_length=1)
    column: str = Field(min_length=1)
    allowed: list[Scalar] | None = None  # compared as text
    minimum: Scalar | None = None  # compared exactly as decimals (write money as text, e.g. "0.01")
    maximum: Scalar | None = None
    pattern: str | None = None  # a regex searched in the value's text

    @model_validator(mode="after")
    def _checkable(self) -> Rule:
        self.tenant_rule()
        return self

    def tenant_rule(self) -> TenantRule:
        return TenantRule(
            name=self.name, table=self.table, column=self.column, pattern=self.pattern,
            allowed=None if self.allowed is None else tuple(str(v) for v in self.allowed),
            minimum=None if self.minimum is None else str(self.minimum),
            maximum=None if self.maximum is None else str(self.maximum),
        )


class SourceConfig(Strict):
    """Options shared by every source: ``secrets`` maps a secret's role to the env variable holding it;
    ``rules`` are the tenant's own validation rules on what the source lands (applied by
    ``sources.rules.with_tenant_rules`` where Dagster builds the source, ``orchestration/defs/ingestion.py``)."""

    secrets: dict[str, str] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _distinct_rule_names(cls, rules: list[Rule]) -> list[Rule]:
        names = [r.name for r in rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must be distinct, {', '.join(twice)} is used twice")
        return rules

    def tenant_rules(self) -> tuple[TenantRule, ...]:
        return tuple(r.tenant_rule() for r in self.rules)

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

    def require_secrets(self, *roles: str) -> None:
        """For a model validator: every role must name an env variable."""
        missing = [r for r in roles if r not in self.secrets]
        if missing:
            raise ValueError(f"secrets must name the env variables holding {', '.join(missing)}")


@dataclass(frozen=True)
class Connector:
    """One source as the platform wires it (see the module docstring)."""

    config: type[SourceConfig]
    build: Callable[[Tenant, SourceConfig, TenantRegistry], DltSource]
    template: Callable[[], DltSource]
    applies_rules: bool = False  # True: ``build`` applies the tenant's rules itself (files), so Dagster does not
