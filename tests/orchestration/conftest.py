"""Fixtures for Dagster-level tests: a parsed dbt project and an isolated platform home per test."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.dbt_manifest import fresh_manifest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """dagster-dbt reads target/manifest.json when definitions load: a fresh one, parsed once at most."""
    return fresh_manifest()


@pytest.fixture
def platform_env(tmp_path, monkeypatch):
    """OMNI_* pointing at a throwaway home: its own warehouse, dlt state and Dagster instance."""
    home = tmp_path / "omni"
    monkeypatch.setenv("OMNI_PROFILE", "embedded")
    monkeypatch.setenv("OMNI_HOME", str(home))
    monkeypatch.setenv("OMNI_DUCKDB_PATH", str(home / "warehouse" / "omni.duckdb"))
    monkeypatch.setenv("OMNI_TENANTS_FILE", str(REPO / "tenants.yaml"))
    return home


def write_registry(path: Path, tenants: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"tenants": tenants}))
    return path
