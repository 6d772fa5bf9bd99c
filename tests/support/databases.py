"""Real database servers for tests: a throwaway database per test on MySQL/MariaDB or PostgreSQL.

Servers are found at ``OMNI_TEST_MYSQL_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306``) and
``OMNI_TEST_POSTGRES_URL`` (default ``postgresql+psycopg2://postgres:postgres@127.0.0.1:5432``; the password
is ignored under trust authentication). Each test gets ``omni_test_<random>``, dropped afterwards. A server
that cannot be reached skips the test locally and FAILS it under ``CI=true``: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sandbox.databases import create_database, drop_database

SERVERS = {
    "mysql": ("OMNI_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"),
    "postgresql": ("OMNI_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432"),
}
CONNECT_TIMEOUT_S = 5


def server_url(kind: str) -> sa.URL:
    variable, default = SERVERS[kind]
    return sa.make_url(os.environ.get(variable) or default)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_server(kind: str) -> sa.URL:
    """The server's URL once a connection succeeded; otherwise skip (locally) or fail (CI) naming it."""
    url = server_url(kind)
    probe = sa.URL.create(url.drivername, url.username, url.password, url.host, url.port,
                          None if kind == "mysql" else "postgres", url.query)
    engine = sa.create_engine(probe, poolclass=sa.NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        variable = SERVERS[kind][0]
        why = " ".join(str(exc.orig if hasattr(exc, "orig") else exc).split())
        message = (f"{kind} server at {url.render_as_string(hide_password=True)} is not reachable ({why}); "
                   f"start it or point {variable} at one")
        if in_ci():
            pytest.fail(f"CI=true requires a real {kind} server: {message}", pytrace=False)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


def throwaway_database(kind: str) -> Iterator[sa.URL]:
    """A fresh ``omni_test_<random>`` database on the server (URL yielded), dropped afterwards."""
    server = require_server(kind)
    url = sa.URL.create(server.drivername, server.username, server.password, server.host, server.port,
                        f"omni_test_{secrets.token_hex(6)}", server.query)
    create_database(url)
    try:
        yield url
    finally:
        drop_database(url)
