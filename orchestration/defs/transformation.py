"""The dbt project as tenant-partitioned assets: a run for tenant T is ``dbt build --vars {tenant: T}``.

Staging views land in T's own schema and every mart replaces exactly T's slice (see dbt_project/README.md),
so tenants build independently and a failure in one never touches another. dbt tests become asset checks.
"""


import importlib.metadata
import json
import sys
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets
from packaging import version

from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.settings import DBT_PROJECT_DIR, Settings
from orchestration.translators import DbtTranslator
from orchestration.warehouse import dbt_environment

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_build_args(tenant: str) -> list[str]:
    """The dbt command for one tenant's slice (a pure function, unit-tested)."""
    return ["build", "--vars", json.dumps({"tenant": tenant})]


def manifest_path() -> Path:
    path = Path(DBT_PROJECT.manifest_path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run `make manifest` (dbt parse) before loading the Dagster definitions"
        )
    return path


class OfflineDbtCliResource(DbtCliResource):
    """dagster-dbt learns dbt's version by running ``dbt --version``, which asks PyPI for newer releases.
    Nothing here may try the network: read the installed version instead."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))


def dbt_resource() -> DbtCliResource:
    """dbt from the same environment as Dagster (the venv's executable, whether or not it is on PATH)."""
    return OfflineDbtCliResource(project_dir=DBT_PROJECT,
                                 dbt_executable=str(Path(sys.executable).with_name("dbt")))


def transformation_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    @dbt_assets(
        manifest=manifest_path(),
        project=DBT_PROJECT,
        dagster_dbt_translator=DbtTranslator(),
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        name="dbt_models",
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        with dbt_environment(Settings.from_env()):
            yield from dbt.cli(dbt_build_args(context.partition_key), context=context).stream()

    return [dbt_models]
