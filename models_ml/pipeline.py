"""Train, register and score one model for one tenant: the whole life of a model run, without Dagster.

1. The model's input frames and parameters are fingerprinted. A run with the same fingerprint already in MLflow
   means nothing changed: its model is reused and nothing new is trained or registered (re-running is a no-op).
2. Otherwise the model trains (its own backtest included), and the run is logged and registered as a new version
   of ``<tenant>__<model>``; it becomes the champion only when it beats its baseline and the current champion.
3. Predictions come from the champion (the new version if it was promoted). A tenant whose every version failed
   its baseline still gets the latest version's predictions, marked by ``promoted=False`` and a failing check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from models_ml import tracking
from models_ml.catalogue import ModelSpec
from models_ml.frames import MlFrames


@dataclass(frozen=True)
class Outcome:
    spec: ModelSpec
    tenant: str
    as_of: date
    predictions: pl.DataFrame  # the spec's columns, plus as_of_date, model_version, run_id
    record: tracking.TrainingRecord  # this run (or the reused one)
    scored_with: int  # the model version that made the predictions
    metrics: dict[str, float]  # the backtest of the version that made the predictions

    @property
    def metric(self) -> float:
        return self.metrics[self.spec.primary_metric]

    @property
    def baseline(self) -> float:
        return self.metrics["baseline_" + self.spec.primary_metric]

    @property
    def beats_baseline(self) -> bool:
        """The bar the asset check holds: better than the baseline, and inside the spec's absolute threshold."""
        better = self.metric > self.baseline if self.spec.higher_is_better else self.metric < self.baseline
        if self.spec.threshold is not None:
            inside = self.metric > self.spec.threshold if self.spec.higher_is_better else \
                self.metric < self.spec.threshold
            better = better and inside
        return better


def run_model(spec: ModelSpec, frames: MlFrames, store: tracking.MlflowStore, tenant: str,
              as_of: date | None = None) -> Outcome:
    """Train (or reuse), register and score ``spec`` on one tenant's frames."""
    as_of = as_of or frames.as_of
    if as_of is None:
        raise ValueError(f"tenant {tenant!r}: model {spec.name!r} has no orders to learn from")
    inputs = [getattr(frames, name) for name in spec.inputs]
    params = {**spec.params, "as_of": as_of.isoformat()}
    fingerprint = tracking.fingerprint(*inputs, params=params)

    record = tracking.find_run(store, tenant, spec.name, fingerprint)
    if record is None:
        try:
            trained = spec.module.train(*inputs, as_of=as_of, **spec.params)
        except ValueError as exc:  # e.g. too little history for the backtest: say whose
            raise ValueError(f"tenant {tenant!r}, model {spec.name!r}: {exc}") from exc
        record = tracking.record_training(store, tenant, spec.name, trained, primary_metric=spec.primary_metric,
                                          higher_is_better=spec.higher_is_better, fingerprint=fingerprint)
    champion = tracking.load_champion(store, tenant, spec.name)
    if champion is None:  # never beat its baseline: the latest version speaks, its check fails
        model, version, run_id = tracking.load_version(store, tenant, spec.name, record.version), \
            record.version, record.run_id
    else:
        model, version, run_id = champion
    predictions = spec.module.predict(model, *inputs, as_of=as_of)
    predictions = predictions.select(list(spec.columns)).with_columns(
        as_of_date=pl.lit(as_of, dtype=pl.Date),
        model_version=pl.lit(version, dtype=pl.Int64),
        run_id=pl.lit(run_id, dtype=pl.Utf8),
    )
    return Outcome(spec=spec, tenant=tenant, as_of=as_of, predictions=predictions, record=record,
                   scored_with=version, metrics=dict(model.metrics))
