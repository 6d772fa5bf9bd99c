"""The Dagster code location: it loads without secrets, dlt and dbt keys line up, and the graph matches
its snapshot (update with ``OMNI_UPDATE_SNAPSHOTS=1 pytest tests/orchestration``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from models_ml.catalogue import MODELS
from orchestration.definitions import build_definitions
from orchestration.defs.automation import REFRESH_JOB, tenant_selection
from orchestration.defs.ml import ML_JOB
from orchestration.defs.transformation import dbt_build_args
from orchestration.settings import Settings
from orchestration.tenants import load_registry
from orchestration.translators import DbtTranslator

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def graph_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    nodes = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        nodes[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitioned_by_tenant": node.partitions_def is not None,
            "checks": sorted(c.name for c in graph.get_check_keys_for_assets([key])),
        }
    return nodes


def test_definitions_load_without_any_secret(platform_env, monkeypatch):
    for name in ("NORTHWIND_SHOPIFY_TOKEN", "ALPINE_SHOPIFY_TOKEN", "KUMO_SHOPIFY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    defs = build_definitions(Settings.from_env())
    job = defs.resolve_job_def(REFRESH_JOB)
    assert job.partitions_def.get_partition_keys() == ["northwind", "alpine", "kumo"]
    assert len(defs.resolve_schedule_def("daily_tenant_refresh").job_name) > 0


def test_every_dbt_source_is_landed_by_a_dlt_asset(platform_env, dbt_manifest):
    defs = build_definitions(Settings.from_env())
    graph = defs.resolve_asset_graph()
    landed = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name.startswith("raw_")
              and graph.get(k).is_materializable}
    manifest = json.loads(dbt_manifest.read_text())
    translator = DbtTranslator()
    source_keys = {translator.get_asset_key(props) for props in manifest["sources"].values()}
    assert source_keys, "the dbt project declares its raw sources"
    assert source_keys <= landed, f"dbt sources nobody lands: {sorted(map(str, source_keys - landed))}"
    # and the staging models really depend on them
    staged = {p for k in graph.get_all_asset_keys() if k.path[0] == "staging" for p in graph.get(k).parent_keys}
    assert source_keys <= staged


def test_asset_graph_matches_snapshot(platform_env):
    snapshot = graph_snapshot(build_definitions(Settings.from_env()))
    if os.environ.get("OMNI_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), "no snapshot yet: run with OMNI_UPDATE_SNAPSHOTS=1 and review the file"
    assert snapshot == json.loads(SNAPSHOT.read_text())


def test_dbt_build_args_carry_the_tenant():
    assert dbt_build_args("kumo") == ["build", "--vars", '{"tenant": "kumo"}']


def test_tenant_selection_drops_sources_the_tenant_lacks(platform_env, tmp_path):
    registry = load_registry(Settings.from_env().tenants_file)
    defs = build_definitions(Settings.from_env())
    graph = defs.resolve_asset_graph()
    northwind = registry.get("northwind")
    without_files = northwind.model_copy(update={"sources": {"shopify": northwind.sources["shopify"]}})
    keys = tenant_selection(without_files, ["shopify", "files"]).resolve(graph)
    assert not any(k.path[:2] == ["raw", "files"] for k in keys)
    assert any(k.path[:2] == ["raw", "shopify"] for k in keys)
    assert dg.AssetKey(["marts", "fct_orders"]) in keys


def test_daily_refresh_runs_each_tenant_after_its_own_midnight(platform_env):
    from datetime import UTC, datetime

    defs = build_definitions(Settings.from_env())
    schedule = defs.resolve_schedule_def("daily_tenant_refresh")
    requested = []
    instance = dg.DagsterInstance.ephemeral()
    for hour in range(24):  # one UTC day of hourly ticks
        tick = datetime(2026, 11, 24, hour, 5, tzinfo=UTC)
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick,
                                            repository_def=defs.get_repository_def())
        requested += [(tick.hour, r.partition_key, r.run_key, r.asset_selection)
                      for r in schedule.evaluate_tick(context).run_requests]
    # 01:05 local: Berlin (UTC+1) at 00:05 UTC, London (UTC+0) at 01:05, New York (UTC-5) at 06:05
    assert [(h, p, k) for h, p, k, _ in requested] == [
        (0, "alpine", "alpine:2026-11-24"), (1, "kumo", "kumo:2026-11-24"), (6, "northwind", "northwind:2026-11-24")]
    # each run lands only the tenant's own sources (and builds everything downstream)
    registry = load_registry(Settings.from_env().tenants_file)
    graph = defs.resolve_asset_graph()
    for _, slug, _, selection in requested:
        sources = {key.path[1] for key in selection if key.path[0] == "raw"} - {"platform"}
        assert sources == set(registry.get(slug).sources), slug
        assert any(key.path[0] == "marts" for key in selection)
        assert set(selection) <= graph.get_all_asset_keys()


def test_models_train_in_their_own_job_daily_after_each_tenants_refresh(platform_env):
    from datetime import UTC, datetime

    defs = build_definitions(Settings.from_env())
    graph = defs.resolve_asset_graph()
    models = {key for key in graph.get_all_asset_keys() if key.path[0] == "ml"}
    assert models == {dg.AssetKey(["ml", spec.name]) for spec in MODELS}
    # a refresh (the schedule's, a webhook's) never retrains; tenant_ml runs the models only
    for job in (REFRESH_JOB, "shopify_webhook_refresh"):
        assert not models & set(defs.resolve_job_def(job).asset_layer.selected_asset_keys), job
    assert set(defs.resolve_job_def(ML_JOB).asset_layer.selected_asset_keys) == models
    schedule, instance, requested = defs.resolve_schedule_def("daily_tenant_ml"), dg.DagsterInstance.ephemeral(), []
    for hour in range(24):
        tick = datetime(2026, 11, 24, hour, 15, tzinfo=UTC)
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick,
                                            repository_def=defs.get_repository_def())
        requested += [(tick.hour, r.partition_key) for r in schedule.evaluate_tick(context).run_requests]
    # 03:15 local, two hours after the 01:05 refresh: Berlin at 02:15 UTC, London 03:15, New York 08:15
    assert requested == [(2, "alpine"), (3, "kumo"), (8, "northwind")]


def test_alerts_and_report_sites_run_in_their_own_jobs(platform_env):
    defs = build_definitions(Settings.from_env())
    faces = {dg.AssetKey(["alerts", "firings"]), dg.AssetKey(["sites", "report_export"]),
             dg.AssetKey(["sites", "report_site"])}
    assert faces <= defs.resolve_asset_graph().get_all_asset_keys()
    # a data refresh never waits for an Evidence build or sends alerts itself (the sensor asks for that run)
    for job in (REFRESH_JOB, "tenant_transform", "shopify_webhook_refresh", ML_JOB):
        assert not faces & set(defs.resolve_job_def(job).asset_layer.selected_asset_keys), job
    assert set(defs.resolve_job_def("tenant_alerts").asset_layer.selected_asset_keys) == {
        dg.AssetKey(["alerts", "firings"])}
    assert set(defs.resolve_job_def("tenant_reports").asset_layer.selected_asset_keys) == faces - {
        dg.AssetKey(["alerts", "firings"])}
    # each tenant's site daily at 04:15 local, after its models (03:15)
    from datetime import UTC, datetime

    schedule, instance = defs.resolve_schedule_def("daily_tenant_reports"), dg.DagsterInstance.ephemeral()
    requested = []
    for hour in range(24):
        context = dg.build_schedule_context(instance=instance, repository_def=defs.get_repository_def(),
                                            scheduled_execution_time=datetime(2026, 11, 24, hour, 15, tzinfo=UTC))
        requested += [(hour, r.partition_key) for r in schedule.evaluate_tick(context).run_requests]
    assert requested == [(3, "alpine"), (4, "kumo"), (9, "northwind")]
    # the raw landings and the marts carry their Great Expectations suite as a check (tests/quality: blocking)
    checks = {key.asset_key.to_user_string(): key for key in defs.resolve_asset_graph().asset_check_keys
              if key.name == "great_expectations"}
    assert {"raw/shopify/orders", "raw/files/orders", "raw/amazon/orders", "marts/fct_orders"} <= set(checks)
