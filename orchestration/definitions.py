"""The one Dagster code location. Definitions are built when Dagster loads them, not at import:
the registry (``OMNI_TENANTS_FILE``) and profile (``OMNI_PROFILE``) are read then, and no secret is needed."""

from __future__ import annotations

import dagster as dg
from dagster_dlt import DagsterDltResource

from orchestration.connectors import CONNECTORS
from orchestration.defs.alerts import alert_definitions
from orchestration.defs.automation import automation
from orchestration.defs.ingestion import ingestion_assets
from orchestration.defs.ml import ml_assets, ml_automation
from orchestration.defs.platform import platform_assets
from orchestration.defs.quality import quality_checks
from orchestration.defs.reports import report_site_definitions
from orchestration.defs.transformation import dbt_resource, transformation_assets
from orchestration.defs.webhooks import webhook_sensor
from orchestration.partitions import tenant_partitions
from orchestration.settings import Settings
from orchestration.tenants import load_registry


def build_definitions(settings: Settings) -> dg.Definitions:
    registry = load_registry(settings.tenants_file)
    partitions = tenant_partitions(registry)
    jobs, schedule = automation(registry, list(CONNECTORS))
    ml_job, ml_schedule = ml_automation(registry)
    alert_assets, alert_jobs, alert_sensors, alert_schedules = alert_definitions(registry, partitions)
    site_assets, site_jobs, site_schedules = report_site_definitions(registry, partitions)
    warehouse = [
        *platform_assets(registry, partitions),
        *ingestion_assets(registry, partitions, settings),
        *transformation_assets(partitions),
    ]
    return dg.Definitions(
        assets=[
            *warehouse,
            *ml_assets(partitions),
            *alert_assets,
            *site_assets,
        ],
        asset_checks=quality_checks(registry, warehouse),  # Great Expectations suites (expectations/)
        jobs=[*jobs, ml_job, *alert_jobs, *site_jobs],
        schedules=[schedule, ml_schedule, *alert_schedules, *site_schedules],
        sensors=[webhook_sensor(registry), *alert_sensors],
        resources={"dlt": DagsterDltResource(), "dbt": dbt_resource()},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
