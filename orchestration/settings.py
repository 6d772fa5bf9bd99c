"""Platform settings, read from the environment when asked (never at import time).

One setting switches the profile: ``OMNI_PROFILE`` = ``embedded`` (default: DuckDB file, Dagster's local
storage, nothing to run) or ``production`` (PostgreSQL warehouse and Dagster storage). Every variable is listed
with its safe embedded default in ``.env.example``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

Profile = Literal["embedded", "production"]
PROFILES: tuple[Profile, ...] = ("embedded", "production")


@dataclass(frozen=True)
class PostgresSettings:
    host: str
    port: int
    user: str
    password: str
    database: str

    def sqlalchemy_url(self) -> str:
        """For SQLAlchemy 2.1, whose bare ``postgresql://`` means psycopg 3 (not installed): psycopg2 named."""
        return self._url("postgresql+psycopg2")

    def dlt_url(self) -> str:
        """For dlt's postgres destination: it hands the URL to psycopg2 as a DSN, which refuses ``+psycopg2``."""
        return self._url("postgresql")

    def _url(self, scheme: str) -> str:
        # dlt refuses a URL without a password even under trust auth; any value is accepted then.
        password = quote(self.password or "unused", safe="")
        return f"{scheme}://{quote(self.user, safe='')}:{password}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class Settings:
    profile: Profile
    home: Path
    duckdb_path: Path
    tenants_file: Path
    postgres: PostgresSettings
    mlflow_tracking_uri: str = ""  # empty: the embedded store under OMNI_HOME/mlflow (see ``mlflow_uri``)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        profile = env.get("OMNI_PROFILE", "embedded")
        if profile not in PROFILES:
            raise ValueError(f"OMNI_PROFILE={profile!r} is not one of {', '.join(PROFILES)}")
        home = Path(env.get("OMNI_HOME", REPO_ROOT / "var")).resolve()
        return cls(
            profile=profile,  # type: ignore[arg-type]
            home=home,
            duckdb_path=Path(env.get("OMNI_DUCKDB_PATH", home / "warehouse" / "omni.duckdb")).resolve(),
            tenants_file=Path(env.get("OMNI_TENANTS_FILE", REPO_ROOT / "tenants.yaml")).resolve(),
            postgres=PostgresSettings(
                host=env.get("OMNI_PG_HOST", "127.0.0.1"),
                port=int(env.get("OMNI_PG_PORT", "5432")),
                user=env.get("OMNI_PG_USER", "postgres"),
                password=env.get("OMNI_PG_PASSWORD", ""),
                database=env.get("OMNI_PG_DATABASE", "omni"),
            ),
            mlflow_tracking_uri=env.get("OMNI_MLFLOW_TRACKING_URI", ""),
        )

    @property
    def dlt_pipelines_dir(self) -> Path:
        """dlt's working state, kept under OMNI_HOME (dlt would otherwise write /var/dlt as root)."""
        return self.home / "dlt"

    @property
    def mlflow_dir(self) -> Path:
        """MLflow's embedded store (sqlite) and every tenant's artifacts."""
        return self.home / "mlflow"

    @property
    def mlflow_uri(self) -> str:
        """The MLflow tracking store: ``OMNI_MLFLOW_TRACKING_URI`` (e.g. a PostgreSQL database in production),
        else the embedded sqlite file under ``mlflow_dir``."""
        return self.mlflow_tracking_uri or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    def dbt_env(self) -> dict[str, str]:
        """The environment dbt needs to reach the same warehouse (its profiles.yml reads these)."""
        pg = self.postgres
        return {
            "OMNI_PROFILE": self.profile,
            "OMNI_DUCKDB_PATH": str(self.duckdb_path),
            "OMNI_PG_HOST": pg.host,
            "OMNI_PG_PORT": str(pg.port),
            "OMNI_PG_USER": pg.user,
            "OMNI_PG_PASSWORD": pg.password,
            "OMNI_PG_DATABASE": pg.database,
        }
