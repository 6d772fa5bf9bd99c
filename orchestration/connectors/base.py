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
from typing import TYPE_CHECKING

from dlt.extract.source import DltSource
from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class MissingSecretError(RuntimeError):
    """A source's secret is not set in the environment; names tenant, source and variable, never a value."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(Strict):
    """Options shared by every source: ``secrets`` maps a secret's role to the env variable holding it."""

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
