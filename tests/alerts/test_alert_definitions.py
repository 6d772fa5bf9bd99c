"""The alerts in Dagster on a crafted warehouse: materializing ``alerts/firings`` for one tenant partition stores and
delivers that tenant's firings (a re-run adds nothing); the sensor asks for one ``tenant_alerts`` run after a
tenant's data run succeeded; the digest schedule and job run per tenant at its local hour."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from orchestration.alerts.delivery import log_path
from orchestration.defs.alerts import (
    ALERTS_JOB,
    DIGEST_JOB,
    DIGEST_SCHEDULE,
    FIRINGS_KEY,
    SENSOR,
    alert_definitions,
    table_asset_key,
)
from orchestration.partitions import tenant_partitions
from orchestration.tenants import load_registry
from tests.alerts.conftest import STOCK_RULE, stock_world, tenant_entry, write_registry


@pytest.fixture
def platform(duck, tmp_path, monkeypatch):
    """The crafted warehouse as the platform's embedded warehouse; acme has a stock rule, globex none."""
    settings = duck.settings
    for name, value in {"OMNI_PROFILE": "embedded", "OMNI_HOME": str(settings.home),
                        "OMNI_DUCKDB_PATH": str(settings.duckdb_path)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ACME_SLACK_WEBHOOK_URL", raising=False)
    registry = load_registry(write_registry(
        tmp_path / "tenants.yaml",
        tenant_entry("acme", {"slack_webhook_env": "ACME_SLACK_WEBHOOK_URL", "digest_hour": 8, "rules": [STOCK_RULE]}),
        tenant_entry("globex", {})))
    stock_world(duck, "acme", date(2025, 3, 14), {"SKU-A": 60, "SKU-B": 12})
    stock_world(duck, "globex", date(2025, 3, 14), {"GLX-1": 0})
    assets, jobs, sensors, schedules = alert_definitions(registry, tenant_partitions(registry))
    defs = dg.Definitions(assets=assets, jobs=jobs, sensors=sensors, schedules=schedules)
    return duck, defs


def test_materializing_one_tenant_partition_stores_and_delivers_its_firings(platform):
    duck, defs = platform
    assert defs.resolve_assets_def(FIRINGS_KEY).specs_by_key[FIRINGS_KEY].deps  # the tables its rules read
    instance = dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def(ALERTS_JOB)

    first = job.execute_in_process(partition_key="acme", instance=instance)
    assert first.success
    (event,) = first.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert (event.materialization.partition, metadata["new_firings"], metadata["delivered"],
            metadata["delivered_via"]) == ("acme", 2, 2, "log")
    assert duck.query("select tenant_id, subject, delivered_via from alerts.firings order by subject") == [
        ("acme", "amazon/SKU-A", "log"), ("acme", "amazon/SKU-B", "log")]
    assert len(log_path(duck.settings.home, "acme").read_text().splitlines()) == 2

    again = job.execute_in_process(partition_key="acme", instance=instance)
    assert again.success
    metadata = {k: v.value for k, v in again.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert (metadata["new_firings"], metadata["duplicates"], metadata["delivered"]) == (0, 2, 0)
    assert len(log_path(duck.settings.home, "acme").read_text().splitlines()) == 2
    assert not log_path(duck.settings.home, "globex").exists()


def test_the_sensor_requests_one_alert_run_after_a_tenant_data_run(platform):
    _, defs = platform
    instance = dg.DagsterInstance.ephemeral()
    sensor = defs.resolve_sensor_def(SENSOR)
    partitions = dg.StaticPartitionsDefinition(["acme", "globex"])

    def finished(job_name: str, tenant: str):
        @dg.op
        def work():
            return None

        @dg.job(name=job_name, partitions_def=partitions)
        def data_run():
            work()

        result = data_run.execute_in_process(partition_key=tenant, instance=instance)
        return sensor(dg.build_run_status_sensor_context(
            sensor_name=SENSOR, dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_success_event()))

    request = finished("tenant_refresh", "acme")
    assert isinstance(request, dg.RunRequest)
    assert (request.partition_key, request.tags["trigger"]) == ("acme", "tenant_refresh")
    assert request.run_key.startswith("alerts:")
    assert isinstance(finished("tenant_ml", "acme"), dg.RunRequest)
    assert isinstance(finished("tenant_refresh", "globex"), dg.SkipReason)  # no rules
    assert isinstance(finished(ALERTS_JOB, "acme"), dg.SkipReason)  # never its own runs


def test_the_digest_runs_per_tenant_at_its_local_hour(platform):
    duck, defs = platform
    schedule = defs.resolve_schedule_def(DIGEST_SCHEDULE)

    def requests(at: datetime) -> list:
        return list(schedule(dg.build_schedule_context(scheduled_execution_time=at)))

    (request,) = requests(datetime(2025, 3, 15, 7, tzinfo=UTC))  # 08:00 in Berlin; globex has no rules
    assert (request.partition_key, request.run_key) == ("acme", "digest:acme:2025-03-15")
    assert requests(datetime(2025, 3, 15, 8, tzinfo=UTC)) == []

    result = defs.resolve_job_def(DIGEST_JOB).execute_in_process(partition_key="acme",
                                                               instance=dg.DagsterInstance.ephemeral())
    assert result.success
    (line,) = log_path(duck.settings.home, "acme").read_text().splitlines()
    assert json.loads(line)["type"] == "digest"


def test_warehouse_tables_map_to_the_assets_that_build_them():
    assert [table_asset_key(t).to_user_string() for t in (
        "marts.cube_channel_daily", "marts.rpt_inventory_intelligence", "marts.fct_competitor_prices",
        "ml.demand_forecast", "ml.churn_scores")] == [
        "cubes/cube_channel_daily", "reports/rpt_inventory_intelligence", "marts/fct_competitor_prices",
        "ml/demand_forecast", "ml/churn"]
