"""Fixtures for the report-site tests: the hand-made two-tenant warehouse of world.py on DuckDB or on a
throwaway PostgreSQL database, with settings and a registry pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestration.settings import PostgresSettings, Settings
from orchestration.tenants import load_registry
from orchestration.warehouse import connect
from tests.sites import world
from tests.support.databases import throwaway_database

PG_UNUSED = PostgresSettings("127.0.0.1", 5432, "postgres", "", "unused")


def write_registry(path: Path, *, acme_branding: dict | None = None) -> Path:
    tenants = [
        {"slug": world.ACME, "display_name": world.ACME_NAME, "currency": "USD", "timezone": "America/New_York",
         "settings": {"brand_color": "#1f6f4a"}, **({"branding": acme_branding} if acme_branding else {})},
        {"slug": world.RIVAL, "display_name": world.RIVAL_NAME, "currency": "EUR", "timezone": "Europe/Berlin"},
    ]
    path.write_text(yaml.safe_dump({"tenants": tenants}, sort_keys=False))
    return path


def duckdb_settings(tmp: Path) -> Settings:
    tmp.mkdir(parents=True, exist_ok=True)
    return Settings(profile="embedded", home=tmp / "home", duckdb_path=tmp / "warehouse.duckdb",
                    tenants_file=write_registry(tmp / "tenants.yaml"), postgres=PG_UNUSED)


def build_duckdb_world(tmp: Path, **kwargs) -> Settings:
    settings = duckdb_settings(tmp)
    with connect(settings, read_only=False) as con:
        world.load(con, "?", **kwargs)
    return settings


@pytest.fixture
def duckdb_world(tmp_path) -> Settings:
    return build_duckdb_world(tmp_path)


@pytest.fixture
def postgres_world(tmp_path) -> Settings:
    for url in throwaway_database("postgresql"):
        settings = Settings(profile="production", home=tmp_path / "home", duckdb_path=tmp_path / "unused.duckdb",
                            tenants_file=write_registry(tmp_path / "tenants.yaml"),
                            postgres=PostgresSettings(url.host, url.port, url.username, url.password or "",
                                                      url.database))
        with connect(settings, read_only=False) as con:
            world.load(con, "%s")
        yield settings


@pytest.fixture
def registry(duckdb_world):
    return load_registry(duckdb_world.tenants_file)
