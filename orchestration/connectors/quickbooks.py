"""QuickBooks Online Accounting API (sources/quickbooks).

Secrets (env variable NAMES under ``secrets``): ``client_id``, ``client_secret`` of the Intuit app and the
``refresh_token`` the tenant connected with. Intuit rotates the refresh token on every refresh; with
``refresh_token_file`` set, the newest one is read from that file (when present, it wins over the env variable)
and every rotated one is written back atomically (mode 0600), so the next run starts from it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from dlt.extract.source import DltSource
from pydantic import Field, model_validator

from orchestration.connectors.base import Connector, HttpUrl, SourceConfig
from sources.quickbooks import quickbooks_source
from sources.quickbooks.settings import DEFAULT_OVERLAP_S, MINOR_VERSION, PRODUCTION_API_URL, TOKEN_URL

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry

SECRETS = ("client_id", "client_secret", "refresh_token")


class QuickBooksSourceConfig(SourceConfig):
    kind: Literal["quickbooks"] = "quickbooks"
    realm_id: str = Field(pattern=r"^[0-9]{1,20}$")  # the company id (realmId)
    base_url: HttpUrl = PRODUCTION_API_URL  # or the sandbox's http://127.0.0.1:8765/quickbooks
    token_url: HttpUrl = TOKEN_URL  # or the sandbox's http://127.0.0.1:8765/quickbooks/oauth2/v1/tokens/bearer
    minor_version: int = Field(default=MINOR_VERSION, ge=75)
    start_date: str = "2000-01-01T00:00:00+00:00"
    page_size: int = Field(default=1000, ge=1, le=1000)
    overlap_s: int = Field(default=DEFAULT_OVERLAP_S, ge=0)
    request_timeout_s: float = Field(default=30.0, gt=0)
    refresh_token_file: str | None = None  # where the newest rotated refresh token is kept (relative: registry)

    @model_validator(mode="after")
    def _secrets(self) -> QuickBooksSourceConfig:
        self.require_secrets(*SECRETS)
        return self


class RefreshTokenFile:
    """The newest refresh token of one tenant on disk: read at the start of a run, replaced on every rotation."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str | None:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def write(self, token: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".refresh_token.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(token)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def build(tenant: Tenant, cfg: QuickBooksSourceConfig, registry: TenantRegistry) -> DltSource:
    def secret(role: str) -> str:
        return cfg.secret(role, tenant=tenant.slug, source="quickbooks")

    store = RefreshTokenFile(registry.resolve_path(cfg.refresh_token_file)) if cfg.refresh_token_file else None
    refresh_token = (store.read() if store else None) or secret("refresh_token")
    return quickbooks_source(
        realm_id=cfg.realm_id,
        client_id=secret("client_id"),
        client_secret=secret("client_secret"),
        refresh_token=refresh_token,
        base_url=cfg.base_url,
        token_url=cfg.token_url,
        minor_version=cfg.minor_version,
        start_date=cfg.start_date,
        page_size=cfg.page_size,
        overlap_s=cfg.overlap_s,
        request_timeout_s=cfg.request_timeout_s,
        on_refresh_token=store.write if store else None,
    )


CONNECTOR = Connector(
    config=QuickBooksSourceConfig,
    build=build,
    template=lambda: quickbooks_source(realm_id="0", client_id="unset", client_secret="unset", refresh_token="unset"),
)
