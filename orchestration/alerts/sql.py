"""One way to run parameterised SQL on either warehouse connection.

``orchestration.warehouse.connect`` yields a DuckDB connection or a ``PostgresConnection``; both take
``execute(sql, params)`` but in their driver's own placeholder style (``?`` vs ``%s``). The alert SQL is written
once with ``?`` placeholders (and never a literal ``?`` or ``%``) and translated here for PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from orchestration.warehouse import PostgresConnection


def is_postgres(con: Any) -> bool:
    return isinstance(con, PostgresConnection)


def execute(con: Any, sql: str, params: Sequence[Any] = ()):
    """Run ``sql`` (``?`` placeholders) on ``con``; returns the driver's cursor/result."""
    if is_postgres(con):
        return con.execute(sql.replace("?", "%s"), list(params))
    return con.execute(sql, list(params))


def rows(con: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    return execute(con, sql, params).fetchall()


def decimal(value: Any) -> Decimal | None:
    """A number from either driver as an exact Decimal (floats through their shortest repr)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))
