"""Fixtures for the production profile: the dbt manifest Dagster loads, and a throwaway PostgreSQL database on
the real server (tests/support/databases.py): missing, it skips locally and FAILS under ``CI=true``.
The slice machinery itself is in slice.py (it also runs as a process of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.databases import throwaway_database
from tests.support.dbt_manifest import fresh_manifest


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """dagster-dbt reads target/manifest.json when definitions load: a fresh one, parsed once at most."""
    return fresh_manifest()


@pytest.fixture(scope="module")
def pg_database() -> Iterator[sa.URL]:
    """A fresh ``omni_test_<random>`` database on the real PostgreSQL server, dropped afterwards."""
    yield from throwaway_database("postgresql")
