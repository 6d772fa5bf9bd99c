"""MLflow tracking and the per-tenant model registry: record a trained model, promote it on merit, load the champion.

One experiment per tenant and model (``omni/<tenant>/<model>``) whose artifacts live under
``<artifact_root>/<tenant>/<model>/`` (so one tenant's files never sit in another's folder), and one registered model
``<tenant>__<model>`` whose alias ``champion`` is the version that predictions use.

``record_training`` logs one run (flattened params, metrics, tags, the trained object as a pyfunc model, optional
frames as parquet), registers it as a new version and gives it the ``champion`` alias only when its primary metric
strictly beats both its own baseline's (``"baseline_" + primary_metric``) and the current champion's; ties keep the
incumbent. A second call with the same ``fingerprint`` (see :func:`fingerprint`) records nothing and returns the
earlier run's record with ``reused=True``: re-running an unchanged model is a no-op.

Everything goes through an explicit ``MlflowClient`` bound to the store's URI (no ``mlflow.set_tracking_uri``), so
tenants and tests never share global state. The default store is ``sqlite:///<dir>/mlflow.db`` (MLflow refuses a
plain file store); production passes ``tracking_uri="postgresql+psycopg2://..."``. Nothing here touches the network:
telemetry is off and ``pip_requirements=[]`` skips MLflow's requirement inference (8-40 s otherwise).

Params and tags are scrubbed before logging: a value that contains the value of a secret-looking environment
variable (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*KEY*``, ...), a param whose key looks like a secret, and the
password of any ``scheme://user:password@host`` URL are replaced by ``***``. The pickled model itself is not
scrubbed: models must not hold credentials.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLFLOW_LOG_UV_FILES", "false")  # else each version copies uv.lock (400 kB)

import mlflow.pyfunc  # noqa: E402  (telemetry must be off before MLflow is imported)
import polars as pl  # noqa: E402
import sqlalchemy.engine.url as sa_url  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

__all__ = [
    "CHAMPION_ALIAS", "MlflowStore", "TenantIsolationError", "TrainingRecord", "check_names", "code_version",
    "decide_promotion", "experiment_name", "find_run", "fingerprint", "flatten_params",
    "load_champion", "load_version",
    "record_training", "redact_url", "registered_model_name", "scrub", "source_hash",
]

CHAMPION_ALIAS = "champion"
# Same rule as orchestration/tenants.py (a slug becomes schema and pipeline names), plus: no '__', which separates
# tenant and model in registry names, so ``<tenant>__<model>`` always splits back into exactly one pair.
TENANT_SLUG = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
FINGERPRINT = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSW|API_?KEY|ACCESS_?KEY|PRIVATE|CREDENTIAL|AUTH|_KEY$|^KEY$", re.I)
URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*:)[^@\s/]+@")
MIN_SECRET_LENGTH = 6  # shorter env values ("1", "true") would redact ordinary params
MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value
REDACTED = "***"
FINGERPRINT_VERSION = b"omni-tracking-fingerprint-v1"
_PACKAGE_DIR = Path(__file__).resolve().parent


class TenantIsolationError(RuntimeError):
    """An experiment or registered model under a tenant's name belongs to someone else, or lives elsewhere."""


# ---------------------------------------------------------------------------------------------------------- store


@dataclass(frozen=True, init=False)
class MlflowStore:
    """Where runs, registry and artifacts live.

    ``MlflowStore(directory)``: ``sqlite:///<directory>/mlflow.db`` and artifacts in ``<directory>/artifacts``.
    ``MlflowStore(tracking_uri, artifact_root)``: any tracking URI, e.g. ``sqlite:////srv/omni/mlflow/mlflow.db``
    (artifacts default to an ``artifacts`` folder beside the file) or ``postgresql+psycopg2://user:pw@host/mlflow``
    (then ``artifact_root``, a folder or an ``s3://``-style URI, is required). The registry uses the same URI.
    """

    tracking_uri: str
    artifact_root: str

    def __init__(self, where: str | Path, artifact_root: str | Path | None = None) -> None:
        where = str(where)
        if "://" in where or where.startswith("sqlite:"):
            uri = where
            database = Path(sa_url.make_url(uri).database or "") if uri.startswith("sqlite:") else None
            if database is not None and database.name:
                database = database.resolve()
                database.parent.mkdir(parents=True, exist_ok=True)
                uri = f"sqlite:///{database}"
            if artifact_root is None:
                if database is None or not database.name:
                    raise ValueError(f"artifact_root is required with tracking URI {redact_url(uri)!r}")
                artifact_root = database.parent / "artifacts"
        else:
            directory = Path(where).resolve()
            directory.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{directory / 'mlflow.db'}"
            artifact_root = artifact_root if artifact_root is not None else directory / "artifacts"
        root = str(artifact_root)
        if "://" not in root:
            root = str(Path(root).resolve())
        object.__setattr__(self, "tracking_uri", uri)
        object.__setattr__(self, "artifact_root", root.rstrip("/"))

    def __repr__(self) -> str:
        return f"MlflowStore({redact_url(self.tracking_uri)!r}, artifact_root={self.artifact_root!r})"

    @cached_property
    def client(self) -> MlflowClient:
        """The client bound to this store (tracking and registry); no global MLflow state is touched. A new
        store's schema migrations log at INFO on the console: silenced (they are not the platform's news)."""
        for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
            logging.getLogger(name).setLevel(logging.WARNING)
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def artifact_location(self, tenant: str, model_name: str) -> str:
        """The folder (or URI) that holds every run of this tenant's model: ``<artifact_root>/<tenant>/<model>``."""
        check_names(tenant, model_name)
        return f"{self.artifact_root}/{tenant}/{model_name}"


def check_names(tenant: str, model_name: str) -> None:
    """Refuse names that could collide or escape: slugs like orchestration's, and never ``__`` in either."""
    if not isinstance(tenant, str) or not TENANT_SLUG.match(tenant) or "__" in tenant:
        raise ValueError(f"tenant {tenant!r} must match {TENANT_SLUG.pattern} without '__'")
    if not isinstance(model_name, str) or not MODEL_NAME.match(model_name) or "__" in model_name:
        raise ValueError(f"model name {model_name!r} must match {MODEL_NAME.pattern} without '__'")


def experiment_name(tenant: str, model_name: str) -> str:
    check_names(tenant, model_name)
    return f"omni/{tenant}/{model_name}"


def registered_model_name(tenant: str, model_name: str) -> str:
    check_names(tenant, model_name)
    return f"{tenant}__{model_name}"


# ---------------------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class TrainingRecord:
    """What ``record_training`` did. ``promoted``: this version got the champion alias when it was recorded;
    ``champion_version``: the champion now (None if there is none); ``reused``: nothing new was recorded."""

    run_id: str
    version: int
    promoted: bool
    reason: str
    reused: bool
    champion_version: int | None


def record_training(store: MlflowStore, tenant: str, model_name: str, trained: Any, *, primary_metric: str,
                    higher_is_better: bool, fingerprint: str,
                    artifacts: Mapping[str, pl.DataFrame | str | Path] | None = None) -> TrainingRecord:
    """Log ``trained`` (a ``Trained*`` dataclass with ``.params`` and ``.metrics``) for one tenant, register it as a
    new version of ``<tenant>__<model>`` and promote it if it strictly beats its baseline and the champion.

    ``artifacts`` maps a name to a polars frame (logged as ``data/<name>.parquet``) or to a file or folder path
    (logged under ``files/``). With a fingerprint already recorded for this tenant and model, nothing is logged.
    """
    check_names(tenant, model_name)
    _check_fingerprint(fingerprint)
    metrics = {str(k): math.nan if v is None else float(v) for k, v in dict(trained.metrics).items()}
    if primary_metric not in metrics:
        raise ValueError(f"{model_name}: metrics {sorted(metrics)} lack the primary metric {primary_metric!r}")
    artifacts = dict(artifacts or {})
    for name in artifacts:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name) or ".." in name:
            raise ValueError(f"artifact name {name!r} must be a plain file name")

    earlier = find_run(store, tenant, model_name, fingerprint)
    if earlier is not None:
        return earlier

    client = store.client
    experiment_id = _ensure_experiment(store, tenant, model_name)
    name = _ensure_registered_model(store, tenant, model_name)
    champion = _champion(store, tenant, model_name)
    champion_value = None
    if champion is not None:
        champion_value = client.get_run(champion.run_id).data.metrics.get(primary_metric)

    tags = {"tenant": tenant, "model": model_name, "fingerprint": fingerprint, "code_version": code_version(),
            "primary_metric": primary_metric, "higher_is_better": str(bool(higher_is_better)).lower(),
            "trained_type": f"{type(trained).__module__}.{type(trained).__qualname__}"}
    run = client.create_run(experiment_id, tags=scrub(tags), run_name=f"{model_name}-{fingerprint[:12]}")
    run_id = run.info.run_id
    version = None
    promoted = False
    try:
        params = scrub(flatten_params(dict(trained.params)), redact_secret_keys=True)
        items = list(params.items())
        for start in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            client.log_batch(run_id, params=[Param(k, v) for k, v in items[start:start + 100]])
        stamp = _now_ms()
        metric_items = [Metric(_metric_key(k), v, stamp, 0) for k, v in metrics.items()]
        for start in range(0, len(metric_items), 1000):
            client.log_batch(run_id, metrics=metric_items[start:start + 1000])
        with tempfile.TemporaryDirectory(prefix="omni-mlflow-") as tmp:
            model_dir = Path(tmp) / "model"
            _save_pyfunc(trained, model_dir)
            client.log_artifacts(run_id, str(model_dir), "model")
            _log_extra_artifacts(client, run_id, artifacts, Path(tmp))
        version = client.create_model_version(name, source=f"{run.info.artifact_uri}/model", run_id=run_id,
                                              tags={"tenant": tenant, "model": model_name,
                                                    "fingerprint": fingerprint})
        promoted, reason = decide_promotion(
            metrics[primary_metric], metrics.get("baseline_" + primary_metric), champion_value,
            int(champion.version) if champion is not None else None,
            metric=primary_metric, higher_is_better=higher_is_better)
        if promoted:
            client.set_registered_model_alias(name, CHAMPION_ALIAS, version.version)
        decision = {"promoted": str(promoted).lower(), "promotion_reason": reason,
                    "registered_model": name, "registered_version": str(version.version)}
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in decision.items()])
        for key in ("promoted", "promotion_reason"):
            client.set_model_version_tag(name, version.version, key, decision[key])
        client.set_terminated(run_id, "FINISHED")
    except BaseException:
        # A failed run is never reused and leaves no version behind; the previous champion keeps its alias.
        with contextlib.suppress(Exception):
            if version is not None:
                client.delete_model_version(name, version.version)
            if promoted and champion is not None:
                client.set_registered_model_alias(name, CHAMPION_ALIAS, champion.version)
        client.set_terminated(run_id, "FAILED")
        raise
    now = _champion(store, tenant, model_name)
    return TrainingRecord(run_id=run_id, version=int(version.version), promoted=promoted, reason=reason,
                          reused=False, champion_version=int(now.version) if now is not None else None)


def find_run(store: MlflowStore, tenant: str, model_name: str, fingerprint: str) -> TrainingRecord | None:
    """The finished, registered run of this tenant's model with this fingerprint (``reused=True``), else None.

    Call it before training to skip the work entirely; ``record_training`` calls it too.
    """
    check_names(tenant, model_name)
    _check_fingerprint(fingerprint)
    client = store.client
    experiment = client.get_experiment_by_name(experiment_name(tenant, model_name))
    if experiment is None or experiment.lifecycle_stage != "active":
        return None
    _check_experiment(store, experiment, tenant, model_name)
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=(f"tags.fingerprint = '{fingerprint}' and tags.tenant = '{tenant}' "
                       f"and attributes.status = 'FINISHED'"),
        order_by=["attributes.start_time ASC"], max_results=1)
    if not runs:
        return None
    run = runs[0]
    name = registered_model_name(tenant, model_name)
    versions = client.search_model_versions(f"name = '{name}' and run_id = '{run.info.run_id}'")
    if not versions:
        return None
    version = min(int(v.version) for v in versions)
    champion = _champion(store, tenant, model_name)
    reason = (f"Unchanged: run {run.info.run_id} (version {version}) has the same fingerprint, so nothing new was "
              f"recorded. {run.data.tags.get('promotion_reason', '')}").strip()
    return TrainingRecord(run_id=run.info.run_id, version=version,
                          promoted=run.data.tags.get("promoted") == "true", reason=reason, reused=True,
                          champion_version=int(champion.version) if champion is not None else None)


def load_champion(store: MlflowStore, tenant: str, model_name: str) -> tuple[Any, int, str] | None:
    """``(trained_object, version, run_id)`` of the tenant's champion, or None when no version was ever promoted."""
    champion = _champion(store, tenant, model_name)
    if champion is None:
        return None
    return _load(store, tenant, champion), int(champion.version), champion.run_id


def load_version(store: MlflowStore, tenant: str, model_name: str, version: int) -> Any:
    """The trained object registered as ``version`` of the tenant's model (e.g. the latest, when none is champion)."""
    name = registered_model_name(tenant, model_name)
    return _load(store, tenant, store.client.get_model_version(name, str(int(version))))


def _load(store: MlflowStore, tenant: str, version) -> Any:
    if version.tags.get("tenant") != tenant:
        raise TenantIsolationError(f"{version.name} v{version.version} is not tagged tenant {tenant!r}")
    with tempfile.TemporaryDirectory(prefix="omni-mlflow-") as tmp:
        local = store.client.download_artifacts(version.run_id, "model", tmp)
        with _quiet_mlflow():
            return mlflow.pyfunc.load_model(local).unwrap_python_model().trained


def decide_promotion(value: float, baseline: float | None, champion_value: float | None,
                     champion_version: int | None, *, metric: str, higher_is_better: bool) -> tuple[bool, str]:
    """Promote only when ``value`` strictly beats the baseline and the champion (ties keep the incumbent).

    Returns ``(promoted, reason)``, the reason one sentence with the numbers.
    """
    direction = "higher" if higher_is_better else "lower"

    def beats(a: float, b: float) -> bool:
        return a > b if higher_is_better else a < b

    if value is None or not math.isfinite(value):
        return False, f"Not promoted: {metric} is {value}, not a finite number."
    if baseline is None or not math.isfinite(baseline):
        return False, f"Not promoted: {metric} {_fmt(value)} has no finite baseline_{metric} to beat."
    if not beats(value, baseline):
        return False, (f"Not promoted: {metric} {_fmt(value)} does not beat the baseline's {_fmt(baseline)} "
                       f"({direction} is better).")
    if champion_version is None:
        return True, (f"Promoted: {metric} {_fmt(value)} beats the baseline's {_fmt(baseline)} "
                      f"({direction} is better) and there was no champion yet.")
    if champion_value is None or not math.isfinite(champion_value):
        return True, (f"Promoted: {metric} {_fmt(value)} beats the baseline's {_fmt(baseline)} "
                      f"({direction} is better) and champion v{champion_version} has no {metric} to compare.")
    if not beats(value, champion_value):
        tie = "ties" if value == champion_value else "does not beat"
        return False, (f"Not promoted: {metric} {_fmt(value)} beats the baseline's {_fmt(baseline)} but {tie} "
                       f"champion v{champion_version}'s {_fmt(champion_value)} ({direction} is better), "
                       f"so v{champion_version} stays champion.")
    return True, (f"Promoted: {metric} {_fmt(value)} beats the baseline's {_fmt(baseline)} and champion "
                  f"v{champion_version}'s {_fmt(champion_value)} ({direction} is better).")


# ---------------------------------------------------------------------------------------------------------- fingerprint


def fingerprint(*frames: pl.DataFrame, params: Mapping[str, Any], code: str | None = None) -> str:
    """A sha256 of the training data, the params and the code, identical for identical inputs in any process.

    Frames are hashed by content: column names and dtypes, then the rows written as CSV after sorting the columns
    by name and the rows by every column, so neither column nor row order (which a warehouse query need not fix)
    changes the fingerprint; a changed value, dtype, row or column does. Frames count in the order given.
    ``params`` (include ``as_of``) are hashed as canonical JSON. ``code`` defaults to a hash of the models_ml
    package's Python sources, so editing a model retrains it even before the edit is committed.
    """
    digest = hashlib.sha256(FINGERPRINT_VERSION)
    for frame in frames:
        if not isinstance(frame, pl.DataFrame):
            raise TypeError(f"fingerprint takes polars DataFrames, got {type(frame).__name__}")
        digest.update(b"\x00frame\x00")
        for chunk in _canonical_frame_bytes(frame):
            digest.update(chunk)
    digest.update(b"\x00params\x00")
    digest.update(json.dumps(params, sort_keys=True, default=_strict_jsonable, separators=(",", ":")).encode())
    digest.update(b"\x00code\x00")
    digest.update((code if code is not None else source_hash()).encode())
    return digest.hexdigest()


def _canonical_frame_bytes(frame: pl.DataFrame, batch_rows: int = 200_000) -> Iterator[bytes]:
    columns = sorted(frame.columns)
    frame = frame.select(columns)
    yield json.dumps([[c, str(frame.schema[c])] for c in columns]).encode()
    yield f"\x00rows={frame.height}\x00".encode()
    nested = any(dtype.is_nested() for dtype in frame.schema.values())
    if columns and frame.height:
        with contextlib.suppress(Exception):  # a dtype polars cannot sort on keeps the given row order
            frame = frame.sort(columns, nulls_last=True, maintain_order=True)
    for offset in range(0, frame.height, batch_rows):
        part = frame.slice(offset, batch_rows)
        if nested:
            yield part.write_ndjson().encode()
        else:
            yield part.write_csv(include_header=False, null_value="\\N", quote_style="non_numeric").encode()


@lru_cache(maxsize=1)
def source_hash() -> str:
    """sha256 of every ``models_ml/**/*.py`` (path and content), the default ``code`` of :func:`fingerprint`."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(_PACKAGE_DIR)).encode() + b"\x00" + path.read_bytes() + b"\x00")
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """``git describe --always --dirty --tags`` of the repository holding this file, or 'unknown' (no network)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    try:
        result = subprocess.run(["git", "-C", str(_PACKAGE_DIR), "describe", "--always", "--dirty", "--tags"],
                                capture_output=True, text=True, timeout=10, env=env, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    described = result.stdout.strip()
    return described if result.returncode == 0 and described else "unknown"


# ---------------------------------------------------------------------------------------------------------- params


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested dicts become dotted keys; every value a string (lists and the like as JSON), cut to MLflow's limit."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{_param_key(str(key))}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, prefix=f"{name}."))
            continue
        if isinstance(value, str):
            text = value
        elif isinstance(value, bool | int | float | Decimal | date | datetime | Path) or value is None:
            text = str(value)
        else:
            text = json.dumps(value, sort_keys=True, default=_jsonable)
        name = name[:250]  # MLflow's limit on a param key
        flat[name] = text if len(text) <= MAX_PARAM_VALUE else text[:MAX_PARAM_VALUE - 1] + "…"
    return flat


def scrub(values: Mapping[str, str], *, redact_secret_keys: bool = False) -> dict[str, str]:
    """Replace secrets in logged strings: env values of secret-looking variables, URL passwords, secret keys."""
    secrets = sorted({v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH},
                     key=len, reverse=True)
    clean: dict[str, str] = {}
    for key, value in values.items():
        if redact_secret_keys and SECRET_NAME.search(key.rsplit(".", 1)[-1]):
            clean[key] = REDACTED
            continue
        text = redact_url(str(value))
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        clean[key] = text
    return clean


def redact_url(text: str) -> str:
    """``scheme://user:password@host`` → ``scheme://user:***@host`` anywhere in ``text``."""
    return URL_PASSWORD.sub(lambda m: f"{m.group('head')}{REDACTED}@", text)


# ---------------------------------------------------------------------------------------------------------- internals


class TrainedObjectModel(mlflow.pyfunc.PythonModel):
    """A pyfunc around a pickled ``Trained*`` object. ``.trained`` is the object; ``predict`` calls the model
    module's ``predict(trained, **model_input)`` (``model_input`` a dict of frames and ``as_of``)."""

    def __init__(self, trained: Any) -> None:
        self.trained = trained
        self.module = type(trained).__module__

    # Inputs differ per model (frames and as_of), so MLflow's type-hint validation (and its warning) is skipped.
    _skip_type_hint_validation = True

    def predict(self, context, model_input, params=None):  # noqa: ANN001 - MLflow's signature
        import importlib

        if not isinstance(model_input, Mapping):
            raise TypeError("model_input must be a dict of the model module's predict() keyword arguments")
        return importlib.import_module(self.module).predict(self.trained, **model_input)


def _save_pyfunc(trained: Any, path: Path) -> None:
    with _quiet_mlflow():
        mlflow.pyfunc.save_model(str(path), python_model=TrainedObjectModel(trained), pip_requirements=[])


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Silence MLflow's advice about type hints, cloudpickle and uv for the duration of a save or load."""
    loggers = [logging.getLogger(n) for n in ("mlflow.pyfunc", "mlflow.utils.environment", "mlflow.utils.uv_utils",
                                              "mlflow.models.model")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _log_extra_artifacts(client: MlflowClient, run_id: str, artifacts: dict, tmp: Path) -> None:
    data_dir = tmp / "data"
    for name, value in artifacts.items():
        if isinstance(value, pl.DataFrame):
            data_dir.mkdir(exist_ok=True)
            value.write_parquet(data_dir / f"{name}.parquet")
        elif isinstance(value, str | Path):
            path = Path(value)
            if path.is_dir():
                client.log_artifacts(run_id, str(path), f"files/{name}")
            elif path.is_file():
                client.log_artifact(run_id, str(path), "files")
            else:
                raise FileNotFoundError(f"artifact {name!r}: {path} is neither a file nor a folder")
        else:
            raise TypeError(f"artifact {name!r} must be a polars DataFrame or a path, got {type(value).__name__}")
    if data_dir.exists():
        client.log_artifacts(run_id, str(data_dir), "data")


def _ensure_experiment(store: MlflowStore, tenant: str, model_name: str) -> str:
    client, name = store.client, experiment_name(tenant, model_name)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=store.artifact_location(tenant, model_name),
                                            tags={"tenant": tenant, "model": model_name})
        except MlflowException:  # created meanwhile by a concurrent run: use it (checked below)
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage != "active":
        raise TenantIsolationError(f"experiment {name!r} is deleted; restore or purge it before recording")
    _check_experiment(store, experiment, tenant, model_name)
    return experiment.experiment_id


def _check_experiment(store: MlflowStore, experiment, tenant: str, model_name: str) -> None:
    expected = store.artifact_location(tenant, model_name)
    actual = experiment.artifact_location.removeprefix("file://").rstrip("/")
    if experiment.tags.get("tenant") != tenant or actual != expected.removeprefix("file://"):
        raise TenantIsolationError(
            f"experiment {experiment.name!r} is tagged tenant {experiment.tags.get('tenant')!r} with artifacts at "
            f"{experiment.artifact_location!r}; expected tenant {tenant!r} at {expected!r}")


def _ensure_registered_model(store: MlflowStore, tenant: str, model_name: str) -> str:
    client, name = store.client, registered_model_name(tenant, model_name)
    try:
        registered = client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(name, tags={"tenant": tenant, "model": model_name},
                                           description=f"{model_name} for tenant {tenant}")
            return name
        except MlflowException:  # created meanwhile
            registered = client.get_registered_model(name)
    if registered.tags.get("tenant") != tenant:
        raise TenantIsolationError(f"registered model {name!r} is tagged tenant {registered.tags.get('tenant')!r}")
    return name


def _champion(store: MlflowStore, tenant: str, model_name: str):
    """The champion ModelVersion, or None (no registered model, or no alias yet)."""
    name = registered_model_name(tenant, model_name)
    try:
        return store.client.get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def _check_fingerprint(value: str) -> None:
    if not isinstance(value, str) or not FINGERPRINT.match(value):
        raise ValueError(f"fingerprint {value!r} must match {FINGERPRINT.pattern}")


def _param_key(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", key)[:200] or "_"


def _metric_key(key: str) -> str:
    return _param_key(key)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal | Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


def _strict_jsonable(value: Any) -> Any:
    """Like ``_jsonable`` but refuses objects whose repr may hold a memory address (a fingerprint must be stable)."""
    converted = _jsonable(value)
    if isinstance(converted, str) and converted == repr(value) and " at 0x" in converted:
        raise TypeError(f"fingerprint params cannot hash {type(value).__name__} deterministically; pass a plain value")
    return converted
