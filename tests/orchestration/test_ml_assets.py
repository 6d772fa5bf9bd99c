"""The models as Dagster assets, on a real warehouse built through the real path: a one-tenant shop served by the
sandbox, landed and built by ``tenant_refresh``, then ``tenant_ml`` twice.

The first run trains every model, registers version 1 of each in MLflow, writes each prediction table's slice
with that version and run id, and evaluates each ``beats_baseline`` check. The second run changes nothing: every
run is reused (same fingerprint), no version is added, and every prediction row is byte-identical.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pytest
from mlflow.tracking import MlflowClient

from models_ml.catalogue import MODELS
from orchestration.connectors import CONNECTORS
from orchestration.definitions import build_definitions
from orchestration.defs.automation import REFRESH_JOB, tenant_keys
from orchestration.defs.ml import CHECK, ML_JOB
from orchestration.settings import Settings
from orchestration.tenants import load_registry
from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, WorldSpec
from tests.orchestration.conftest import write_registry

SHOP = "mlshop"
SPEC = WorldSpec(seed=5, start_date=date(2024, 6, 1), days=540, shops=[
    ShopSpec(handle=SHOP, name="ML Shop", currency="USD", timezone="America/Chicago",
             access_token="shpat_sandbox_mlshop", orders_per_day=9, wholesale_orders_per_week=0, n_products=10,
             categories=["Outdoor", "Apparel"]),
])


def predictions(db, table: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select * from ml.{table} order by all").fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tenant landed and built once; yields (settings, definitions, instance)."""
    home = tmp_path_factory.mktemp("ml") / "omni"
    patch = pytest.MonkeyPatch()
    with SandboxServer(SPEC, port=0) as server:
        registry = write_registry(home.parent / "tenants.yaml", [{
            "slug": SHOP, "display_name": "ML Shop", "currency": "USD", "timezone": "America/Chicago",
            "sources": {"shopify": {"shop_url": server.shop_url(SHOP), "page_size": 100,
                                    "secrets": {"access_token": "MLSHOP_SHOPIFY_TOKEN"}}},
        }])
        for name, value in {"OMNI_PROFILE": "embedded", "OMNI_HOME": str(home), "OMNI_TENANTS_FILE": str(registry),
                            "OMNI_DUCKDB_PATH": str(home / "warehouse" / "omni.duckdb"),
                            "MLSHOP_SHOPIFY_TOKEN": "shpat_sandbox_mlshop"}.items():
            patch.setenv(name, value)
        settings = Settings.from_env()
        defs = build_definitions(settings)
        instance = dg.DagsterInstance.ephemeral()
        keys = tenant_keys(load_registry(registry).get(SHOP), list(CONNECTORS), defs.resolve_asset_graph())
        refresh = defs.resolve_job_def(REFRESH_JOB).execute_in_process(partition_key=SHOP, instance=instance,
                                                                       asset_selection=keys)
        assert refresh.success
    yield settings, defs, instance
    patch.undo()


def test_tenant_ml_trains_registers_scores_and_a_rerun_changes_nothing(built):
    settings, defs, instance = built
    job = defs.resolve_job_def(ML_JOB)

    first = job.execute_in_process(partition_key=SHOP, instance=instance)
    assert first.success
    materialized = {e.materialization.asset_key.path[-1]: {k: v.value for k, v in
                                                           e.materialization.metadata.items()}
                    for e in first.get_asset_materialization_events()}
    assert set(materialized) == {spec.name for spec in MODELS}
    checks = {e.asset_key.path[-1]: e for e in first.get_asset_check_evaluations() if e.check_name == CHECK}
    assert set(checks) == set(materialized)
    assert checks["demand_forecast"].passed, checks["demand_forecast"].metadata

    client = MlflowClient(settings.mlflow_uri)
    tables = {}
    for spec in MODELS:
        meta = materialized[spec.name]
        assert meta["model_version"] == 1 and meta["reused"] is False, (spec.name, meta)
        assert meta["rows"] > 0, spec.name
        rows = predictions(settings.duckdb_path, spec.table)
        assert len(rows) == meta["rows"]
        with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
            tenants, versions, runs, as_of = con.execute(
                f"select list(distinct tenant_id), list(distinct model_version), list(distinct run_id), "
                f"max(as_of_date) from ml.{spec.table}").fetchone()
        assert (tenants, versions, runs) == ([SHOP], [1], [meta["run_id"]]), spec.name
        assert as_of == date(2025, 11, 22)  # the world's last local day: 2024-06-01 + 540 days - 1
        run = client.get_run(meta["run_id"])
        assert run.data.tags.get("tenant") == SHOP
        assert spec.primary_metric in run.data.metrics
        registered = client.search_model_versions(f"name = '{SHOP}__{spec.name}'")
        assert [int(v.version) for v in registered] == [1]
        tables[spec.table] = rows

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        horizon, skus = con.execute("select max(horizon_day), count(distinct sku) from ml.demand_forecast "
                                    "where channel = 'online_store'").fetchone()
        bad_intervals = con.execute(
            "select count(*) from ml.demand_forecast where not (lower_95 <= lower_80 and lower_80 <= units_mean "
            "and units_mean <= upper_80 and upper_80 <= upper_95 and lower_95 >= 0)").fetchone()[0]
        churn_range = con.execute("select min(churn_probability), max(churn_probability) "
                                  "from ml.churn_scores").fetchone()
        price_type = con.execute("select data_type from information_schema.columns where table_schema = 'ml' "
                                 "and table_name = 'price_recommendations' and column_name = 'recommended_price'"
                                 ).fetchone()[0]
    assert horizon == 180 and skus >= 10
    assert bad_intervals == 0
    assert 0.0 <= churn_range[0] < churn_range[1] <= 1.0
    assert price_type == "DECIMAL(18,2)"

    second = job.execute_in_process(partition_key=SHOP, instance=instance)
    assert second.success
    for event in second.get_asset_materialization_events():
        meta = {k: v.value for k, v in event.materialization.metadata.items()}
        assert meta["reused"] is True and meta["model_version"] == 1, meta
    for spec in MODELS:
        assert predictions(settings.duckdb_path, spec.table) == tables[spec.table], spec.name
        assert len(client.search_model_versions(f"name = '{SHOP}__{spec.name}'")) == 1
