"""Connection URL and credentials, type mapping, and errors that name the table but never the password.

Everything here adapts dlt's own ``sql_table`` (``dlt.sources.sql_database``); nothing reads rows itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext

from sources.sql_database.settings import (
    DEFAULT_CURSOR_COLUMN,
    DRIVERS,
    ERP_TABLES,
    MIN_MONEY_PRECISION,
    SOURCE_NAME,
    TableSpec,
)


class SqlDatabaseSourceError(RuntimeError):
    """The database refused the source (connection, login, missing database or table, a failing query).
    The message names the source, the table and the server (password masked), never a secret."""


def connection_url(url: str | sa.URL, password: str | None = None) -> sa.URL:
    """The SQLAlchemy URL with an explicit driver and the password (from the environment, never from the
    tenant registry) set; a password already in ``url`` is kept when none is given."""
    parsed = sa.make_url(url)
    parsed = parsed.set(drivername=DRIVERS.get(parsed.drivername, parsed.drivername))
    return parsed.set(password=password) if password else parsed


def masked(url: sa.URL) -> str:
    """The URL as it may appear in logs and errors: password replaced by ``***``."""
    return url.render_as_string(hide_password=True)


def table_specs(tables: Iterable[str | Mapping[str, Any] | TableSpec] | None,
                primary_keys: Mapping[str, Iterable[str]] | None = None,
                cursor_column: str | None = DEFAULT_CURSOR_COLUMN) -> list[TableSpec]:
    """Normalise the tenant's table list: names (the ERP layout's key, else ``primary_keys[name]``, else the
    reflected primary key) or ``{name, primary_key, cursor_column}`` mappings; ``cursor_column`` is the
    default cursor for tables that do not name their own."""
    specs = []
    for entry in ERP_TABLES.values() if tables is None else tables:
        if isinstance(entry, TableSpec):
            spec = entry
        elif isinstance(entry, str):
            known = ERP_TABLES.get(entry)
            spec = TableSpec(entry, known.primary_key if known else None, cursor_column)
        else:
            name = entry["name"]
            known = ERP_TABLES.get(name)
            key = entry.get("primary_key", known.primary_key if known else None)
            spec = TableSpec(name, (key,) if isinstance(key, str) else tuple(key) if key else None,
                             entry.get("cursor_column", cursor_column))
        if primary_keys and spec.name in primary_keys:
            spec = TableSpec(spec.name, tuple(primary_keys[spec.name]), spec.cursor_column)
        specs.append(spec)
    names = [s.name for s in specs]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"{SOURCE_NAME}: tables must be a non-empty list of distinct names, got {names}")
    return specs


def widen_types(sql_type: Any) -> Any:
    """dlt ``type_adapter_callback``: exact decimals widen to decimal(18, scale) (so DECIMAL(12,2) money
    lands as the platform's decimal(18,2), sources/money.py); timestamps without a time zone (MySQL
    DATETIME) are taken as UTC and land as timestamps with time zone. Everything else is reflected as is."""
    if isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float) and sql_type.asdecimal:
        precision, scale = sql_type.precision, sql_type.scale
        if precision is not None and scale is not None and precision < MIN_MONEY_PRECISION:
            return sa.Numeric(MIN_MONEY_PRECISION, scale)
        return sql_type
    if isinstance(sql_type, sa.DateTime) and not sql_type.timezone:
        return sa.DateTime(timezone=True)
    return sql_type


def naming_errors(table: str, url: sa.URL) -> Callable[[sa.Engine], sa.Engine]:
    """dlt ``engine_adapter_callback``: every database error on this table's engine (connecting, reflecting,
    reading) becomes a ``SqlDatabaseSourceError`` naming source, table and server, password masked."""
    where = f"source {SOURCE_NAME}, table {table} ({masked(url)})"
    secret = url.password

    def adapt(engine: sa.Engine) -> sa.Engine:
        @event.listens_for(engine, "handle_error")
        def _name_the_table(context: ExceptionContext) -> None:
            original = context.original_exception
            reason = " ".join(str(original).split())
            if secret:
                reason = reason.replace(str(secret), "***")
            raise SqlDatabaseSourceError(
                f"{where}: the database refused the request ({type(original).__name__}): {reason}"
            ) from None

        return engine

    return adapt
