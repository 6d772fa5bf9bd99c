"""Fixtures for the quality tests: the Dagster-level ones reuse tests/orchestration's platform home and the
parsed dbt project; the runner's unit tests need neither (the manifest is only parsed when asked for)."""

from __future__ import annotations

import pytest

from tests.orchestration.conftest import platform_env  # noqa: F401  (a fixture, re-exported)
from tests.support.dbt_manifest import fresh_manifest


@pytest.fixture(scope="session")
def dbt_manifest():
    return fresh_manifest()
