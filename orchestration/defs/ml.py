"""The ML models as tenant-partitioned assets ``ml/<model>``: each reads its marts, trains (or reuses an
unchanged run), registers in MLflow, and replaces the tenant's slice of its prediction table ``ml.<table>``.

The models themselves are plain Python (``models_ml/``, listed in ``models_ml/catalogue.py``); this module only
wires them in. Each asset carries a check, ``beats_baseline``: the backtest metric of the version that made the
predictions against its baseline (and the forecast's MASE < 1). ML runs in its own job, ``tenant_ml``, scheduled
daily after the refresh; a refresh or a webhook run never retrains.
"""

import re

import dagster as dg
import polars as pl

from models_ml.catalogue import MODELS, ModelSpec
from models_ml.frames import load_frames
from models_ml.pipeline import Outcome, run_model
from models_ml.tracking import MlflowStore
from orchestration.defs.automation import daily_local_schedule
from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.predictions import SCHEMA, replace_slice
from orchestration.settings import Settings
from orchestration.tenants import TenantRegistry
from orchestration.translators import ML
from orchestration.warehouse import connect

ML_GROUP = ML
ML_JOB = "tenant_ml"
LOCAL_ML_HOUR = 3  # 03:15 local: after the 01:05 refresh has built the marts
CHECK = "beats_baseline"


def ml_asset_key(spec: ModelSpec) -> dg.AssetKey:
    return dg.AssetKey([ML_GROUP, spec.name])


def read_frames(settings: Settings, tenant: str):
    """One tenant's modelling frames, read from the marts of the active profile."""
    with connect(settings) as con:
        if settings.profile == "embedded":
            def query(sql: str, params: dict) -> pl.DataFrame:
                return con.sql(re.sub(r"%\((\w+)\)s", r"$\1", sql), params=params).pl()
        else:
            def query(sql: str, params: dict) -> pl.DataFrame:
                return pl.read_database(sql, con.raw, execute_options={"parameters": params})
        return load_frames(query, tenant)


def mlflow_store(settings: Settings) -> MlflowStore:
    return MlflowStore(settings.mlflow_uri, settings.mlflow_dir / "artifacts")


def check_result(outcome: Outcome) -> dg.AssetCheckResult:
    spec, metric = outcome.spec, outcome.spec.primary_metric
    bar = f" and {'above' if spec.higher_is_better else 'below'} {spec.threshold}" if spec.threshold else ""
    return dg.AssetCheckResult(
        check_name=CHECK,
        passed=outcome.beats_baseline,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{metric} of version {outcome.scored_with} must beat the baseline's{bar}",
        metadata={metric: outcome.metric, f"baseline_{metric}": outcome.baseline,
                  "model_version": outcome.scored_with},
    )


def ml_asset(spec: ModelSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    key = ml_asset_key(spec)

    @dg.asset(
        key=key,
        group_name=ML_GROUP,
        partitions_def=partitions,
        deps=[dg.AssetKey(["marts", mart]) for mart in spec.marts],
        pool=WAREHOUSE_POOL,
        kinds={"python", "mlflow", "lightgbm"},
        description=f"{spec.description} Writes {SCHEMA}.{spec.table} (the tenant's slice).",
        check_specs=[dg.AssetCheckSpec(CHECK, asset=key, description="backtest metric vs its baseline")],
    )
    def _model(context: dg.AssetExecutionContext):
        tenant, settings = context.partition_key, Settings.from_env()
        outcome = run_model(spec, read_frames(settings, tenant), mlflow_store(settings), tenant)
        rows = replace_slice(settings, spec.table, spec.columns, spec.key, tenant, outcome.predictions)
        record = outcome.record
        context.log.info(f"tenant {tenant}, model {spec.name}: {record.reason}")
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={"rows": rows, "table": f"{SCHEMA}.{spec.table}", "as_of": outcome.as_of.isoformat(),
                      "model_version": outcome.scored_with, "run_id": record.run_id,
                      "promoted": record.promoted, "reused": record.reused, "registry": record.reason,
                      **{f"backtest/{name}": float(value) for name, value in outcome.metrics.items()}},
        )
        yield check_result(outcome)

    return _model


def ml_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [ml_asset(spec, partitions) for spec in MODELS]


def ml_automation(registry: TenantRegistry):
    """The ``tenant_ml`` job (train and score every model of one tenant) and its daily schedule."""
    job = dg.define_asset_job(ML_JOB, selection=dg.AssetSelection.groups(ML_GROUP),
                              description="Train (or reuse), register and score every model of one tenant.")

    schedule = daily_local_schedule(job, registry, name="daily_tenant_ml", hour=LOCAL_ML_HOUR, minute=15,
                                    run_kind="ml")
    return job, schedule
