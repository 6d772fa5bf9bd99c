"""A tenant's own SQL database (MySQL/MariaDB, PostgreSQL, Redshift, …) → dlt, through dlt's ``sql_table``.

A thin, configured wrapper over ``dlt.sources.sql_database``: one ``sql_table`` resource per table of the
tenant's list, each

* read with the **pyarrow** backend (rows reach dlt as Arrow tables of ``chunk_size`` rows, streamed from a
  server-side cursor),
* **incremental** on its cursor column (``updated_at`` by default): dlt keeps the last value in its state and
  asks ``WHERE <cursor> >= :last ORDER BY <cursor>``; rows at the boundary value already loaded are
  deduplicated by dlt, so a second run reads only rows changed since,
* **merged** on its primary key, so changed rows replace their old version and a re-run never duplicates,
* typed exactly: DECIMAL money widens to decimal(18, scale) (never float), naive DATETIMEs are UTC.

Reflection is deferred to extraction, so building the source never connects (Dagster builds it to draw the
asset graph). Any database error becomes a ``SqlDatabaseSourceError`` naming source and table, password masked.

Run by dlt alone::

    import dlt
    from sources.sql_database import sql_database_source
    pipeline = dlt.pipeline("sql_database__northwind", destination="duckdb",
                            dataset_name="raw_sql_database__northwind")
    pipeline.run(sql_database_source(url="mysql+pymysql://root@127.0.0.1:3306/northwind_erp"))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common.configuration.specs import ConnectionStringCredentials
from dlt.sources.sql_database import sql_table

from sources.sql_database.helpers import (
    SqlDatabaseSourceError,
    connection_url,
    masked,
    naming_errors,
    table_specs,
    widen_types,
)
from sources.sql_database.settings import (
    BACKEND,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CURSOR_COLUMN,
    ERP_TABLES,
    SOURCE_NAME,
    TableSpec,
)

__all__ = ["sql_database_source", "SqlDatabaseSourceError", "TableSpec", "ERP_TABLES", "masked"]


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def sql_database_source(
    url: str = dlt.config.value,
    password: str | None = None,
    tables: Iterable[str | Mapping[str, Any] | TableSpec] | None = None,
    primary_keys: Mapping[str, Iterable[str]] | None = None,
    cursor_column: str | None = DEFAULT_CURSOR_COLUMN,
    initial_value: datetime | None = None,
    schema: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> list:
    """One merged, incremental ``sql_table`` resource per table (default: the ERP layout of settings.py).

    ``url`` is a SQLAlchemy URL without the password (``mysql+pymysql://omni@erp.acme:3306/acme_erp``;
    ``mysql://`` and ``postgresql://`` get the installed drivers), ``password`` comes from the environment.
    ``tables`` are names or ``{name, primary_key, cursor_column}`` mappings; ``cursor_column`` is the default
    cursor (None: full re-read, still merged); ``initial_value`` the cursor's start (default: everything);
    ``schema`` the database schema (PostgreSQL: default ``public``).
    """
    if chunk_size < 1:
        raise ValueError(f"{SOURCE_NAME}: chunk_size must be at least 1, got {chunk_size}")
    if initial_value is not None:  # compared with naive UTC DATETIMEs too: always pass the instant in UTC
        initial_value = initial_value.astimezone(UTC) if initial_value.tzinfo else initial_value.replace(tzinfo=UTC)
    target = connection_url(url, password)
    credentials = ConnectionStringCredentials(target.render_as_string(hide_password=False))
    resources = []
    for spec in table_specs(tables, primary_keys, cursor_column):
        incremental = None
        if spec.cursor_column:
            incremental = dlt.sources.incremental(spec.cursor_column, initial_value=initial_value, row_order="asc")
        resources.append(sql_table(
            credentials=credentials,
            table=spec.name,
            schema=schema,
            incremental=incremental,
            chunk_size=chunk_size,
            backend=BACKEND,
            reflection_level="full_with_precision",
            defer_table_reflect=True,
            type_adapter_callback=widen_types,
            engine_adapter_callback=naming_errors(spec.name, target),
            write_disposition="merge",
            primary_key=list(spec.primary_key) if spec.primary_key else None,
        ))
    return resources
