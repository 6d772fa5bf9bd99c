"""File drops: a local folder or an ``sftp://`` server (sources/files)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from dlt.common.configuration.specs import SFTPCredentials
from dlt.extract.source import DltSource
from pydantic import AliasChoices, Field, model_validator

from orchestration.connectors.base import Connector, Rule, SourceConfig, Strict
from sources.files import files_source
from sources.files.formats import ColumnMapping
from sources.files.settings import layout_rule

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry


class FileRule(Rule):
    """The shared tenant rule (``base.Rule``) checked against the file layout when the registry loads; ``entity``
    is accepted for ``table`` (the files source's first spelling). See sources/files/README.md, "Tenant rules"."""

    table: str = Field(min_length=1, validation_alias=AliasChoices("table", "entity"))

    @model_validator(mode="after")
    def _in_layout(self) -> FileRule:
        layout_rule(self.tenant_rule())
        return self


class FileMapping(Strict):
    """A tenant's own export layout: its header names → canonical columns (sources/files/README.md, "Column
    mappings"), e.g. ``{name: erp, files: "invoices_*.csv", columns: {InvoiceNo: order_id, Qty: quantity},
    defaults: {currency: EUR}, timestamp_format: "%d.%m.%Y %H:%M", timezone: Europe/Berlin,
    decimal_separator: ",", thousands_separator: ".", delimiter: ";"}``."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    columns: dict[str, str | list[str]] = Field(min_length=1)
    files: str | None = None
    entities: list[str] | None = None
    defaults: dict[str, str] = Field(default_factory=dict)
    timestamp_format: str | None = None
    timezone: str | None = None
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8"
    float_ids: bool = False

    @model_validator(mode="after")
    def _readable(self) -> FileMapping:
        ColumnMapping.from_dict(self.model_dump(exclude_none=True))
        return self


class FilesSourceConfig(SourceConfig):
    kind: Literal["files"] = "files"
    bucket_url: str  # a folder (relative to the registry file), file://…, or sftp://host[:port]/path
    sftp_username: str | None = None
    rules: list[FileRule] = Field(default_factory=list)  # applied by the source itself, beside the layout's rules
    mappings: list[FileMapping] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_mapping_names(self) -> FilesSourceConfig:
        names = [m.name for m in self.mappings]
        if len(names) != len(set(names)):
            raise ValueError("column mappings need distinct names")
        return self

    @property
    def is_sftp(self) -> bool:
        return self.bucket_url.startswith("sftp://")

    @model_validator(mode="after")
    def _sftp_login(self) -> FilesSourceConfig:
        if self.is_sftp and (not self.sftp_username or "sftp_password" not in self.secrets):
            raise ValueError("an sftp:// drop needs sftp_username and secrets.sftp_password (an env variable name)")
        return self


def build(tenant: Tenant, cfg: FilesSourceConfig, registry: TenantRegistry) -> DltSource:
    rules = [{k: v for k, v in vars(r.tenant_rule()).items() if v is not None} for r in cfg.rules]
    mappings = [m.model_dump(exclude_none=True) for m in cfg.mappings]
    if cfg.is_sftp:
        login = SFTPCredentials(
            sftp_port=urlsplit(cfg.bucket_url).port or 22,
            sftp_username=cfg.sftp_username,
            sftp_password=cfg.secret("sftp_password", tenant=tenant.slug, source="files"),
            sftp_allow_agent=False,
            sftp_look_for_keys=False,
        )
        return files_source(tenant=tenant.slug, bucket_url=cfg.bucket_url, rules=rules, mappings=mappings,
                            credentials=login)
    return files_source(tenant=tenant.slug, bucket_url=registry.resolve_path(cfg.bucket_url).as_uri(), rules=rules,
                        mappings=mappings)


CONNECTOR = Connector(
    config=FilesSourceConfig,
    build=build,
    template=lambda: files_source(tenant="template", bucket_url="file:///nonexistent"),
    applies_rules=True,  # validated with the layout, quarantined on file + line + entity (sources/files)
)
