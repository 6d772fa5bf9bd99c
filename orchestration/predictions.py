"""Prediction tables in the warehouse: ``ml.<table>``, shared by all tenants and sliced by ``tenant_id`` like the
marts. A write replaces exactly one tenant's slice in one transaction, so a reader sees the old predictions or
the new ones, never a mix, and other tenants' rows are untouched. Money columns are DECIMAL(18,2).
"""

from __future__ import annotations

import io
import re

import polars as pl

from orchestration.settings import Settings
from orchestration.warehouse import connect

SCHEMA = "ml"
COMMON = {"tenant_id": "varchar", "as_of_date": "date", "model_version": "bigint", "run_id": "varchar"}
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _safe(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a safe SQL identifier")
    return name


def ddl(table: str, columns: dict[str, str], key: tuple[str, ...]) -> str:
    body = ", ".join(f"{_safe(name)} {kind}" for name, kind in {**COMMON, **columns}.items())
    primary = ", ".join(_safe(k) for k in ("tenant_id", *key))
    return f"create table if not exists {SCHEMA}.{_safe(table)} ({body}, primary key ({primary}))"


def replace_slice(settings: Settings, table: str, columns: dict[str, str], key: tuple[str, ...], tenant: str,
                  frame: pl.DataFrame) -> int:
    """Replace ``tenant``'s rows of ``ml.<table>`` by ``frame`` (the spec's columns plus as_of_date,
    model_version, run_id); returns the number of rows written."""
    names = list({**COMMON, **columns})
    money = [name for name, kind in columns.items() if kind.startswith("decimal")]
    # to the cent here, half away from zero, so both warehouses store the same figure (a cast would round the
    # binary double, and DuckDB and PostgreSQL round it differently)
    rows = frame.with_columns(pl.col(money).round(2, mode="half_away_from_zero"),
                              tenant_id=pl.lit(tenant, dtype=pl.Utf8)).select(names)
    target = f"{SCHEMA}.{_safe(table)}"
    column_list = ", ".join(names)
    with connect(settings, read_only=False) as con:
        con.execute(f"create schema if not exists {SCHEMA}")
        con.execute(ddl(table, columns, key))
        con.execute("begin")
        try:
            con.execute(f"delete from {target} where tenant_id = {'?' if settings.profile == 'embedded' else '%s'}",
                        [tenant])
            if settings.profile == "embedded":
                con.register("prediction_rows", rows.to_arrow())
                casts = ", ".join(f"cast({n} as {kind})" for n, kind in {**COMMON, **columns}.items())
                con.execute(f"insert into {target} ({column_list}) select {casts} from prediction_rows")
            else:
                buffer = io.StringIO()
                rows.write_csv(buffer, include_header=True)
                buffer.seek(0)
                con.raw.cursor().copy_expert(
                    f"copy {target} ({column_list}) from stdin with (format csv, header true)", buffer)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return rows.height
