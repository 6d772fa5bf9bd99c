"""The one helper that turns the profile into connections: dlt destinations, dbt env, SQL reads.

``embedded`` is one DuckDB file; ``production`` is PostgreSQL. Everything that writes or reads the
warehouse asks this module, so the profile switch lives in one place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import dlt
from dlt.common.destination import Destination

from orchestration.settings import Settings


def dlt_destination(settings: Settings) -> Destination:
    """The warehouse as a dlt destination. Dataset names are used verbatim: dlt would otherwise fold the
    ``__`` between source and tenant (its nesting separator) into ``_``."""
    if settings.profile == "embedded":
        settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(str(settings.duckdb_path), enable_dataset_name_normalization=False)
    return dlt.destinations.postgres(credentials=settings.postgres.dlt_url(),
                                     enable_dataset_name_normalization=False)


def dataset_name(source: str, tenant: str) -> str:
    """Raw data lands per tenant and source: ``raw_<source>__<tenant>``."""
    return f"raw_{source}__{tenant}"


def pipeline_name(source: str, tenant: str) -> str:
    """A distinct dlt pipeline per tenant and source (a shared pipeline's state would race)."""
    return f"{source}__{tenant}"


def dlt_pipeline(settings: Settings, source: str, tenant: str) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=pipeline_name(source, tenant),
        destination=dlt_destination(settings),
        dataset_name=dataset_name(source, tenant),
        pipelines_dir=str(settings.dlt_pipelines_dir),
    )


@contextlib.contextmanager
def dbt_environment(settings: Settings) -> Iterator[None]:
    """dbt's profiles.yml reads the warehouse location from the environment: set it for one invocation."""
    saved = {k: os.environ.get(k) for k in settings.dbt_env()}
    os.environ.update(settings.dbt_env())
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class PostgresConnection:
    """psycopg2 behind DuckDB's connection surface, so readers run the same code on both profiles:
    ``con.execute(sql[, params]).fetchall()`` (parameters in the driver's own style: ``%s`` here, ``?`` on
    DuckDB). Autocommit: a failed statement (e.g. probing a table a tenant never landed) spoils no later one."""

    def __init__(self, con) -> None:
        self.raw = con

    def execute(self, sql: str, params=None):
        cursor = self.raw.cursor()
        cursor.execute(sql, params)
        return cursor

    def close(self) -> None:
        self.raw.close()


@contextlib.contextmanager
def connect(settings: Settings, *, read_only: bool = True) -> Iterator[object]:
    """A connection to the warehouse (DuckDB, or PostgreSQL as a ``PostgresConnection``): ``con.execute(sql)``
    returns something to ``fetchone()``/``fetchall()`` on either profile."""
    if settings.profile == "embedded":
        import duckdb

        con = duckdb.connect(str(settings.duckdb_path), read_only=read_only)
    else:
        import psycopg2

        pg = settings.postgres
        raw = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, password=pg.password or None,
                               dbname=pg.database)
        raw.set_session(readonly=read_only, autocommit=True)
        con = PostgresConnection(raw)
    try:
        yield con
    finally:
        con.close()
