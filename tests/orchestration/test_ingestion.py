"""Ingestion through Dagster: a tenant's drop over SFTP, and a broken source failing alone with a clear error."""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.connectors import CONNECTORS
from orchestration.definitions import build_definitions
from orchestration.defs.automation import REFRESH_JOB, tenant_keys
from orchestration.settings import Settings
from orchestration.tenants import load_registry
from sandbox.files_drop import write_drop
from tests.orchestration.conftest import write_registry
from tests.support.sftp_server import PASSWORD, USER, SFTPServer

SHOP = "testshop"


def tenant(sandbox, files: dict) -> dict:
    return {"slug": SHOP, "display_name": "Test Shop", "currency": "USD", "timezone": "America/New_York",
            "sources": {"shopify": {"shop_url": sandbox.shop_url(SHOP), "page_size": 100,
                                    "secrets": {"access_token": "TESTSHOP_SHOPIFY_TOKEN"}},
                        "files": files}}


def test_sftp_drop_lands_through_the_tenant_registry(platform_env, tmp_path, monkeypatch, sandbox, small_world):
    root = tmp_path / "sftp-root"
    write_drop(small_world.shop(SHOP), root / "incoming", bad_rows=2)
    with SFTPServer(root) as server:
        registry = write_registry(tmp_path / "tenants.yaml", [tenant(sandbox, {
            "bucket_url": f"sftp://127.0.0.1:{server.port}/incoming", "sftp_username": USER,
            "secrets": {"sftp_password": "TESTSHOP_SFTP_PASSWORD"}})])
        monkeypatch.setenv("OMNI_TENANTS_FILE", str(registry))
        monkeypatch.setenv("TESTSHOP_SFTP_PASSWORD", PASSWORD)
        settings = Settings.from_env()
        job = build_definitions(settings).resolve_job_def(REFRESH_JOB)
        result = job.execute_in_process(partition_key=SHOP, instance=dg.DagsterInstance.ephemeral(),
                                        asset_selection=[dg.AssetKey(["raw", "files", t]) for t in
                                                         ("orders", "order_lines", "customers", "products")])
    assert result.success
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        orders = con.execute(f"select count(*) from raw_files__{SHOP}.orders").fetchone()[0]
        quarantined = con.execute(f"select count(*) from raw_files__{SHOP}.quarantine").fetchone()[0]
    assert (orders, quarantined) == (small_world.shop(SHOP).channel("wholesale").height, 2)


def test_a_refused_token_fails_its_source_alone_naming_tenant_and_source(platform_env, tmp_path, monkeypatch,
                                                                         sandbox, small_world):
    drops = tmp_path / "drops"
    write_drop(small_world.shop(SHOP), drops)
    registry = write_registry(tmp_path / "tenants.yaml", [tenant(sandbox, {"bucket_url": str(drops)})])
    monkeypatch.setenv("OMNI_TENANTS_FILE", str(registry))
    monkeypatch.setenv("TESTSHOP_SHOPIFY_TOKEN", "shpat_revoked")
    defs = build_definitions(Settings.from_env())
    keys = tenant_keys(load_registry(registry).get(SHOP), list(CONNECTORS), defs.resolve_asset_graph())
    result = defs.resolve_job_def(REFRESH_JOB).execute_in_process(
        partition_key=SHOP, instance=dg.DagsterInstance.ephemeral(), asset_selection=keys, raise_on_error=False)
    assert not result.success
    failures = {e.step_key: e.step_failure_data.error.message for e in result.all_events if e.is_step_failure}
    assert list(failures) == ["raw_shopify"]
    assert "tenant 'testshop', source 'shopify'" in failures["raw_shopify"]
    assert "access token refused (HTTP 401)" in failures["raw_shopify"]
    assert "shpat_revoked" not in failures["raw_shopify"]
    succeeded = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert {"raw_files", "raw__platform__tenants"} <= succeeded  # the tenant's other sources still landed
    assert "dbt_models" not in succeeded  # and nothing downstream was built on half the data
