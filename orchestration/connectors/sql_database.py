"""A tenant's own SQL database, e.g. its ERP on MySQL/MariaDB, PostgreSQL or Redshift (sources/sql_database).

Registry entry::

    sql_database:
      url: mysql+pymysql://omni@erp.acme.internal:3306/acme_erp   # no password in the registry
      secrets: {password: ACME_ERP_PASSWORD}                       # optional: the env variable holding it
      tables: [erp_orders, erp_order_lines, erp_customers]         # or {name, primary_key, cursor_column}
      cursor_column: updated_at                                     # default cursor of every table

A SQLite file (``sqlite:///var/erp/acme.db``, relative to the registry file) stands in for a server in the
embedded demo.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa
from dlt.extract.source import DltSource
from pydantic import Field, field_validator

from orchestration.connectors.base import Connector, SourceConfig, Strict
from sources.sql_database import ERP_TABLES, TableSpec, sql_database_source
from sources.sql_database.settings import DEFAULT_CHUNK_SIZE, DEFAULT_CURSOR_COLUMN

if TYPE_CHECKING:
    from orchestration.tenants import Tenant, TenantRegistry

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_$]*$"


class SqlTable(Strict):
    """One table with its own merge key and/or cursor column."""

    name: str = Field(pattern=IDENTIFIER)
    primary_key: list[str] | None = Field(default=None, min_length=1)
    cursor_column: str | None = Field(default=None, pattern=IDENTIFIER)


class SqlDatabaseSourceConfig(SourceConfig):
    kind: Literal["sql_database"] = "sql_database"
    url: str  # a SQLAlchemy URL WITHOUT the password: mysql+pymysql://user@host:3306/db, postgresql://…
    tables: list[str | SqlTable] = Field(default_factory=lambda: list(ERP_TABLES), min_length=1)
    cursor_column: str | None = Field(default=DEFAULT_CURSOR_COLUMN, pattern=IDENTIFIER)
    db_schema: str | None = Field(default=None, alias="schema", pattern=IDENTIFIER)
    initial_value: datetime | None = None  # the cursor's start; default: the whole table
    chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, ge=1, le=1_000_000)

    @field_validator("url")
    @classmethod
    def _url_without_password(cls, url: str) -> str:
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError:
            raise ValueError("url must be a SQLAlchemy URL such as mysql+pymysql://user@host:3306/db") from None
        if parsed.password:
            raise ValueError("url must not hold the password: name its env variable in secrets.password")
        if parsed.get_backend_name() == "sqlite":  # a file database (the embedded demo's ERP): needs only a path
            if not parsed.database or parsed.database == ":memory:":
                raise ValueError("a sqlite url must name its file, e.g. sqlite:///var/erp/acme.db")
            return url
        if not parsed.host or not parsed.database:
            raise ValueError("url must name the host and the database, e.g. mysql+pymysql://user@host:3306/db")
        return url

    @field_validator("tables")
    @classmethod
    def _table_names(cls, tables: list[str | SqlTable]) -> list[str | SqlTable]:
        names = [t if isinstance(t, str) else t.name for t in tables]
        bad = [n for n in names if not re.match(IDENTIFIER, n)]
        if bad:
            raise ValueError(f"table names must be plain identifiers, got {bad}")
        if len(set(names)) != len(names):
            raise ValueError(f"tables must be distinct, got {names}")
        return tables

    @field_validator("initial_value")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)

    def table_specs(self) -> list[str | TableSpec]:
        """The tables as the source takes them (names, or specs for tables with their own options)."""
        specs: list[str | TableSpec] = []
        for table in self.tables:
            if isinstance(table, str):
                specs.append(table)
                continue
            known = ERP_TABLES.get(table.name)
            key = tuple(table.primary_key) if table.primary_key else (known.primary_key if known else None)
            specs.append(TableSpec(table.name, key, table.cursor_column or self.cursor_column))
        return specs


def resolved_url(cfg: SqlDatabaseSourceConfig, registry: TenantRegistry) -> str:
    """The URL with a relative SQLite file taken relative to the registry file (as file drops are)."""
    parsed = sa.make_url(cfg.url)
    if parsed.get_backend_name() != "sqlite":
        return cfg.url
    return parsed.set(database=str(registry.resolve_path(parsed.database))).render_as_string(hide_password=False)


def build(tenant: Tenant, cfg: SqlDatabaseSourceConfig, registry: TenantRegistry) -> DltSource:
    password = cfg.secret("password", tenant=tenant.slug, source="sql_database") if "password" in cfg.secrets \
        else None
    return sql_database_source(
        url=resolved_url(cfg, registry),
        password=password,
        tables=cfg.table_specs(),
        cursor_column=cfg.cursor_column,
        initial_value=cfg.initial_value,
        schema=cfg.db_schema,
        chunk_size=cfg.chunk_size,
    )


CONNECTOR = Connector(
    config=SqlDatabaseSourceConfig,
    build=build,
    # reflection is deferred to extraction: building the template never connects
    template=lambda: sql_database_source(url="mysql+pymysql://template@template.invalid:3306/template"),
)
