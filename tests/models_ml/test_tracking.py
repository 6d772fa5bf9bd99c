"""MLflow tracking and the per-tenant registry (models_ml/tracking.py) against a real sqlite MLflow store in tmp_path:
promotion on merit only, re-runs as no-ops, tenants isolated, the champion round-trips, no secret logged."""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from models_ml import tracking
from models_ml.tracking import (
    MlflowStore,
    TenantIsolationError,
    decide_promotion,
    find_run,
    fingerprint,
    load_champion,
    record_training,
)
from tests.support.databases import throwaway_database

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TrainedFake:
    """Stands in for the models' Trained* dataclasses: params, metrics and something predict needs."""

    params: dict
    metrics: dict
    coef: float
    table: dict = field(default_factory=dict)


def predict(trained: TrainedFake, frame: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The module-level predict the pyfunc wrapper delegates to."""
    return frame.with_columns(y=pl.col("x") * trained.coef, as_of=pl.lit(as_of))


def fake(mase: float, baseline: float = 1.0, coef: float = 1.0, **params) -> TrainedFake:
    return TrainedFake(params={"learning_rate": 0.05, "num_leaves": 15, **params},
                       metrics={"mase": mase, "baseline_mase": baseline, "rmse": 2.5 * mase}, coef=coef,
                       table={"sku-1": [1.0, 2.0]})


def record(store, trained, fp, tenant="northwind", model="demand", **kwargs):
    return record_training(store, tenant, model, trained, primary_metric="mase", higher_is_better=False,
                           fingerprint=fp, **kwargs)


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory) -> Path:
    """MLflow's schema migrations run once; every test copies the empty, migrated database."""
    directory = tmp_path_factory.mktemp("mlflow-template")
    store = MlflowStore(directory)
    store.client.search_experiments()
    return directory / "mlflow.db"


@pytest.fixture
def store(tmp_path, migrated_db) -> MlflowStore:
    shutil.copyfile(migrated_db, tmp_path / "mlflow.db")
    return MlflowStore(tmp_path)


def runs_of(store, tenant, model="demand"):
    experiment = store.client.get_experiment_by_name(f"omni/{tenant}/{model}")
    return [] if experiment is None else store.client.search_runs([experiment.experiment_id], run_view_type=3)


def versions_of(store, tenant, model="demand"):
    return sorted(int(v.version) for v in store.client.search_model_versions(f"name = '{tenant}__{model}'"))


def test_first_good_model_becomes_champion_without_touching_the_network(store, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network attempt: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)

    started = time.perf_counter()
    first = record(store, fake(0.80, coef=3.0), "fp-1")
    seconds = time.perf_counter() - started

    assert (first.version, first.promoted, first.reused, first.champion_version) == (1, True, False, 1)
    assert "0.8" in first.reason and "1" in first.reason and first.reason.startswith("Promoted")
    assert seconds < 5, f"record_training took {seconds:.2f} s (requirement inference must be skipped)"

    run = store.client.get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"mase": 0.8, "baseline_mase": 1.0, "rmse": 2.0}
    assert run.data.params["learning_rate"] == "0.05" and run.data.params["num_leaves"] == "15"
    tags = run.data.tags
    assert (tags["tenant"], tags["model"], tags["fingerprint"], tags["promoted"]) == (
        "northwind", "demand", "fp-1", "true")
    assert tags["code_version"] and tags["code_version"] == tracking.code_version()
    model_files = {p.name for p in Path(run.info.artifact_uri, "model").iterdir()}
    assert {"MLmodel", "python_model.pkl"} <= model_files and "uv.lock" not in model_files

    loaded, version, run_id = load_champion(store, "northwind", "demand")
    assert (loaded, version, run_id) == (fake(0.80, coef=3.0), 1, first.run_id)
    assert loaded.coef == 3.0 and loaded.table == {"sku-1": [1.0, 2.0]}


def test_worse_model_is_registered_but_champion_stays(store):
    record(store, fake(0.80, coef=1.0), "fp-1")
    worse = record(store, fake(0.93, coef=2.0), "fp-2")

    assert (worse.version, worse.promoted, worse.champion_version) == (2, False, 1)
    assert "0.93" in worse.reason and "0.8" in worse.reason and "v1" in worse.reason
    assert versions_of(store, "northwind") == [1, 2]
    assert store.client.get_run(worse.run_id).data.tags["promoted"] == "false"
    assert store.client.get_model_version("northwind__demand", "2").tags["promotion_reason"] == worse.reason
    assert load_champion(store, "northwind", "demand")[0].coef == 1.0


def test_ties_keep_the_incumbent_and_a_strictly_better_model_takes_over(store):
    record(store, fake(0.80, coef=1.0), "fp-1")
    tie = record(store, fake(0.80, coef=2.0), "fp-2")
    better = record(store, fake(0.70, coef=3.0), "fp-3")

    assert (tie.promoted, tie.champion_version) == (False, 1) and "ties" in tie.reason
    assert (better.version, better.promoted, better.champion_version) == (3, True, 3)
    assert "0.7" in better.reason and "0.8" in better.reason
    assert load_champion(store, "northwind", "demand")[1:] == (3, better.run_id)
    assert load_champion(store, "northwind", "demand")[0].coef == 3.0


def test_model_not_beating_its_baseline_is_never_champion_even_first(store):
    lost = record(store, fake(1.10, baseline=1.05), "fp-1")

    assert (lost.version, lost.promoted, lost.champion_version) == (1, False, None)
    assert "1.1" in lost.reason and "1.05" in lost.reason and "baseline" in lost.reason
    assert load_champion(store, "northwind", "demand") is None
    assert tracking.load_version(store, "northwind", "demand", 1) == fake(1.10, baseline=1.05)

    good = record(store, fake(0.90, baseline=1.05), "fp-2")
    assert (good.version, good.promoted, good.champion_version) == (2, True, 2)


def test_higher_is_better_metrics_and_non_numbers():
    assert decide_promotion(0.81, 0.70, 0.80, 4, metric="auc", higher_is_better=True)[0] is True
    promoted, reason = decide_promotion(0.79, 0.70, 0.80, 4, metric="auc", higher_is_better=True)
    assert promoted is False and "0.79" in reason and "0.8" in reason and "higher is better" in reason
    assert decide_promotion(0.65, 0.70, None, None, metric="auc", higher_is_better=True)[0] is False
    assert decide_promotion(math.nan, 1.0, None, None, metric="mase", higher_is_better=False)[0] is False
    assert decide_promotion(0.5, None, None, None, metric="mase", higher_is_better=False)[0] is False


def test_same_fingerprint_is_a_no_op(store):
    first = record(store, fake(0.80), "fp-same")
    artifact_files = sorted(p for p in (Path(store.artifact_root)).rglob("*"))

    again = record(store, fake(0.80), "fp-same")
    ahead = find_run(store, "northwind", "demand", "fp-same")

    assert again.reused is True and ahead.reused is True
    assert (again.run_id, again.version, again.promoted, again.champion_version) == (first.run_id, 1, True, 1)
    assert ahead.run_id == first.run_id
    assert len(runs_of(store, "northwind")) == 1 and versions_of(store, "northwind") == [1]
    assert sorted(p for p in (Path(store.artifact_root)).rglob("*")) == artifact_files

    changed = record(store, fake(0.80), "fp-other")
    assert (changed.reused, changed.version) == (False, 2) and len(runs_of(store, "northwind")) == 2


def test_failed_run_is_not_reused(store, tmp_path):
    with pytest.raises(FileNotFoundError):
        record(store, fake(0.80), "fp-1", artifacts={"notes": tmp_path / "missing.txt"})
    assert [r.info.status for r in runs_of(store, "northwind")] == ["FAILED"]
    assert find_run(store, "northwind", "demand", "fp-1") is None

    retried = record(store, fake(0.80), "fp-1")
    assert (retried.reused, retried.version, retried.promoted) == (False, 1, True)


def test_failure_after_promotion_leaves_the_old_champion(store, monkeypatch):
    record(store, fake(0.80, coef=1.0), "fp-1")

    def boom(*args, **kwargs):
        raise RuntimeError("registry went away")

    monkeypatch.setattr(store.client, "set_model_version_tag", boom)  # fails after v2 took the alias
    with pytest.raises(RuntimeError, match="registry went away"):
        record(store, fake(0.50, coef=9.0), "fp-2")
    monkeypatch.undo()

    assert versions_of(store, "northwind") == [1]
    assert load_champion(store, "northwind", "demand")[1] == 1
    assert sorted(r.info.status for r in runs_of(store, "northwind")) == ["FAILED", "FINISHED"]
    assert find_run(store, "northwind", "demand", "fp-2") is None


def test_missing_primary_metric_records_nothing(store):
    broken = TrainedFake(params={}, metrics={"rmse": 1.0}, coef=1.0)
    with pytest.raises(ValueError, match="mase"):
        record(store, broken, "fp-1")
    assert runs_of(store, "northwind") == []


def test_tenants_are_isolated(store):
    north = record(store, fake(0.80, coef=1.0), "fp-shared", tenant="northwind")
    south = record(store, fake(0.95, coef=7.0), "fp-shared", tenant="southpaw")

    assert south.reused is False and south.run_id != north.run_id  # a fingerprint never crosses tenants
    assert (north.version, south.version, north.champion_version, south.champion_version) == (1, 1, 1, 1)
    names = sorted(m.name for m in store.client.search_registered_models())
    assert names == ["northwind__demand", "southpaw__demand"]
    experiments = {e.name: e for e in store.client.search_experiments() if e.name.startswith("omni/")}
    assert sorted(experiments) == ["omni/northwind/demand", "omni/southpaw/demand"]
    for tenant in ("northwind", "southpaw"):
        experiment = experiments[f"omni/{tenant}/demand"]
        folder = Path(store.artifact_root) / tenant / "demand"
        assert experiment.tags["tenant"] == tenant and Path(experiment.artifact_location) == folder
        runs = runs_of(store, tenant)
        assert len(runs) == 1 and runs[0].data.tags["tenant"] == tenant
        assert Path(runs[0].info.artifact_uri).is_relative_to(folder)
    assert sorted(p.name for p in (Path(store.artifact_root)).iterdir()) == ["northwind", "southpaw"]
    assert load_champion(store, "northwind", "demand")[0].coef == 1.0
    assert load_champion(store, "southpaw", "demand")[0].coef == 7.0
    assert load_champion(store, "eastwind", "demand") is None


def test_store_from_a_sqlite_uri_and_artifact_folder(tmp_path, migrated_db):
    (tmp_path / "mlflow").mkdir()
    shutil.copyfile(migrated_db, tmp_path / "mlflow" / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    explicit = MlflowStore(uri, tmp_path / "mlflow" / "artifacts")

    assert explicit == MlflowStore(uri) == MlflowStore(tmp_path / "mlflow")
    assert explicit.artifact_location("northwind", "demand") == str(tmp_path / "mlflow/artifacts/northwind/demand")
    done = record(explicit, fake(0.80), "fp-1")
    assert Path(explicit.client.get_run(done.run_id).info.artifact_uri).is_relative_to(tmp_path / "mlflow/artifacts")


def test_an_experiment_not_owned_by_the_tenant_is_refused(store):
    intruder_folder = store.artifact_location("northwind", "demand")  # eve's experiment points at northwind's files
    store.client.create_experiment("omni/eve/demand", artifact_location=intruder_folder, tags={"tenant": "eve"})
    with pytest.raises(TenantIsolationError, match="expected tenant 'eve'"):
        record(store, fake(0.80), "fp-1", tenant="eve")


@pytest.mark.parametrize("tenant, model", [
    ("a__b", "c"), ("a", "b__c"),  # both would be registered as 'a__b__c'
    ("North", "demand"), ("x", "demand"), ("../etc", "demand"), ("a/b", "demand"), ("a-b", "demand"),
    ("northwind", "Demand"), ("northwind", "_demand"), ("northwind", "de/mand"), ("northwind", ""),
])
def test_unsafe_names_are_refused(store, tenant, model):
    with pytest.raises(ValueError):
        record(store, fake(0.80), "fp-1", tenant=tenant, model=model)
    with pytest.raises(ValueError):
        load_champion(store, tenant, model)
    assert [e.name for e in store.client.search_experiments()] == ["Default"]


def test_artifacts_frames_as_parquet_and_files(store, tmp_path):
    frame = pl.DataFrame({"sku": ["a", "b"], "units": [3, 4], "day": [date(2025, 1, 1), date(2025, 1, 2)]})
    notes = tmp_path / "notes.txt"
    notes.write_text("backtest folds: 3\n")
    done = record(store, fake(0.80), "fp-1", artifacts={"backtest": frame, "notes": notes})

    root = Path(store.client.get_run(done.run_id).info.artifact_uri)
    assert root.is_relative_to(Path(store.artifact_root) / "northwind" / "demand")
    assert pl.read_parquet(root / "data" / "backtest.parquet").equals(frame)
    assert (root / "files" / "notes.txt").read_text() == "backtest folds: 3\n"
    with pytest.raises(ValueError, match="plain file name"):
        record(store, fake(0.80), "fp-2", artifacts={"../escape": frame})


def test_pyfunc_model_delegates_to_the_model_module(store, tmp_path):
    import mlflow.pyfunc

    done = record(store, fake(0.80, coef=2.5), "fp-1")
    local = store.client.download_artifacts(done.run_id, "model", str(tmp_path / "download"))
    out = mlflow.pyfunc.load_model(local).predict({"frame": pl.DataFrame({"x": [1.0, 4.0]}),
                                                    "as_of": date(2025, 3, 1)})
    assert out["y"].to_list() == [2.5, 10.0]


def test_no_secret_reaches_params_or_tags(store, monkeypatch):
    monkeypatch.setenv("OMNI_TEST_SHOPIFY_ACCESS_TOKEN", "shpat_live_9f8e7d6c5b4a")
    monkeypatch.setenv("OMNI_TEST_DB_PASSWORD", "hunter2-pw")
    trained = fake(0.80, note="pulled with shpat_live_9f8e7d6c5b4a", api_token="literal-token-xyz",
                   warehouse={"url": "postgresql+psycopg2://omni:s3cr3t-pw@db:5432/wh", "schema": "marts"},
                   comment="hunter2-pw appears here")
    done = record(store, trained, "fp-1")

    data = store.client.get_run(done.run_id).data
    logged = " ".join([*data.params.values(), *data.tags.values(), *data.params.keys(), *data.tags.keys()])
    for secret in ("shpat_live_9f8e7d6c5b4a", "literal-token-xyz", "s3cr3t-pw", "hunter2-pw"):
        assert secret not in logged
    assert data.params["learning_rate"] == "0.05" and data.params["warehouse.schema"] == "marts"
    assert data.params["warehouse.url"] == "postgresql+psycopg2://omni:***@db:5432/wh"
    assert data.params["note"] == "pulled with ***" and data.params["api_token"] == "***"

    production = MlflowStore("postgresql+psycopg2://mlflow:pg-pass-77@db/mlflow", "s3://omni-ml/artifacts")
    assert "pg-pass-77" not in repr(production) and "postgresql+psycopg2://mlflow:***@db/mlflow" in repr(production)
    with pytest.raises(ValueError, match="artifact_root is required") as refused:
        MlflowStore("postgresql+psycopg2://mlflow:pg-pass-77@db/mlflow")
    assert "pg-pass-77" not in str(refused.value)


@pytest.fixture
def postgres_url():
    yield from throwaway_database("postgresql")


def test_production_postgresql_store(postgres_url, tmp_path):
    """The production shape: runs and registry in PostgreSQL, artifacts in a folder (skipped without a server)."""
    uri = postgres_url.render_as_string(hide_password=False)
    store = MlflowStore(uri, tmp_path / "shared-artifacts")

    first = record(store, fake(0.80, coef=4.0), "fp-1")
    worse = record(store, fake(0.90), "fp-2")
    again = record(store, fake(0.80, coef=4.0), "fp-1")

    assert (first.promoted, worse.promoted, worse.champion_version) == (True, False, 1)
    assert (again.reused, again.run_id) == (True, first.run_id) and versions_of(store, "northwind") == [1, 2]
    assert load_champion(store, "northwind", "demand")[0].coef == 4.0
    assert Path(store.client.get_run(first.run_id).info.artifact_uri).is_relative_to(
        tmp_path / "shared-artifacts" / "northwind" / "demand")
    assert not (tmp_path / "mlflow.db").exists()


def frames_for_fingerprint():
    sales = pl.DataFrame({"sku": ["a", "b", "a", "c"], "date": [date(2025, 1, d) for d in (1, 1, 2, 3)],
                          "units": [3, 1, 2, 5], "net_amount": [30.0, 9.5, 20.0, None]})
    products = pl.DataFrame({"sku": ["a", "b", "c"], "title": ["A", "", None]})
    return sales, products


def test_fingerprint_is_content_based():
    sales, products = frames_for_fingerprint()
    params = {"as_of": date(2025, 1, 3), "horizon": 28, "lags": [7, 14]}
    base = fingerprint(sales, products, params=params, code="c1")

    shuffled = sales.select(reversed(sales.columns)).reverse()
    assert fingerprint(shuffled, products, params=dict(reversed(params.items())), code="c1") == base
    changed_value = sales.with_columns(units=pl.when(pl.col("sku") == "c").then(6).otherwise(pl.col("units")))
    variants = [
        fingerprint(changed_value, products, params=params, code="c1"),
        fingerprint(sales.with_columns(pl.col("units").cast(pl.Float64)), products, params=params, code="c1"),
        fingerprint(sales.head(3), products, params=params, code="c1"),
        fingerprint(products, sales, params=params, code="c1"),
        fingerprint(sales, products.with_columns(pl.col("title").fill_null("")), params=params, code="c1"),
        fingerprint(sales, products, params={**params, "horizon": 14}, code="c1"),
        fingerprint(sales, products, params=params, code="c2"),
        fingerprint(sales, products, params=params),  # the models_ml sources instead of "c1"
    ]
    assert len({base, *variants}) == 1 + len(variants)
    with pytest.raises(TypeError):
        fingerprint(sales, params={"callback": object()})


def test_fingerprint_is_identical_in_another_process():
    sales, products = frames_for_fingerprint()
    here = fingerprint(sales, products, params={"as_of": date(2025, 1, 3)}, code="c1")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])\n"
        "from test_tracking import frames_for_fingerprint\n"
        "from datetime import date\n"
        "from models_ml.tracking import fingerprint\n"
        "print(fingerprint(*frames_for_fingerprint(), params={'as_of': date(2025, 1, 3)}, code='c1'))\n"
    )
    there = subprocess.run([sys.executable, "-c", script, str(REPO), str(Path(__file__).parent)],
                           capture_output=True, text=True, timeout=60, env={"PYTHONHASHSEED": "123",
                                                                             "MLFLOW_DISABLE_TELEMETRY": "true",
                                                                             "PATH": "/usr/bin:/bin"})
    assert there.returncode == 0, there.stderr
    assert there.stdout.strip() == here
