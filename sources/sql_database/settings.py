"""The ERP layout the platform maps (dbt staging ``stg_sql_database__*``) and the source's defaults.

A tenant's database may name its tables as it likes; these are the tables the staging models read, each
with its primary key (the merge key) and its incremental cursor column. A table outside this layout needs
its ``primary_key`` given (or a primary key constraint in the database, which dlt reflects).
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_NAME = "sql_database"  # dlt's own source name: raw dataset raw_sql_database__<tenant>
DEFAULT_CURSOR_COLUMN = "updated_at"
DEFAULT_CHUNK_SIZE = 50_000  # rows per Arrow table handed to dlt (and per fetch from the server cursor)
BACKEND = "pyarrow"  # rows go to dlt as Arrow tables, never as lists of dicts
MIN_MONEY_PRECISION = 18  # exact decimals widen to decimal(18, scale): DECIMAL(12,2) lands as decimal(18,2)
DRIVERS = {  # a URL without a driver gets the one the platform installs
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "postgresql": "postgresql+psycopg2",
    "postgres": "postgresql+psycopg2",
    "redshift": "postgresql+psycopg2",  # Redshift speaks the PostgreSQL protocol
}


@dataclass(frozen=True)
class TableSpec:
    """One table to load: merged on ``primary_key``, read incrementally on ``cursor_column`` (None: full
    re-read each run, still merged)."""

    name: str
    primary_key: tuple[str, ...] | None = None
    cursor_column: str | None = DEFAULT_CURSOR_COLUMN


ERP_TABLES: dict[str, TableSpec] = {
    "erp_orders": TableSpec("erp_orders", ("order_id",)),
    "erp_order_lines": TableSpec("erp_order_lines", ("line_id",)),
    "erp_customers": TableSpec("erp_customers", ("customer_id",)),
}
