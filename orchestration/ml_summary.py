"""``make demo``'s models step: one ``tenant_ml`` run per built tenant, then a short table per model (version
and whether it was promoted or reused, the backtest metric against its baseline, the check, the rows written).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from models_ml.catalogue import MODELS
from orchestration.defs.ml import CHECK, ML_JOB


@dataclass(frozen=True)
class ModelLine:
    tenant: str
    model: str
    version: int
    state: str  # promoted (now champion) / candidate (registered, did not beat the bar) / reused (unchanged)
    metric: str
    value: float
    baseline: float
    passed: bool
    rows: int


def train_all(defs: dg.Definitions, instance: dg.DagsterInstance, tenants: list[str], log_dir: Path,
              run_config: dict) -> tuple[list[ModelLine], dict[str, str]]:
    """Run ``tenant_ml`` for each tenant; returns one line per model and tenant, and the tenants that failed."""
    job = defs.resolve_job_def(ML_JOB)
    lines, failed = [], {}
    for tenant in tenants:
        started = time.monotonic()
        with (log_dir / f"demo-{tenant}-ml.log").open("w") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(partition_key=tenant, instance=instance, raise_on_error=False,
                                            tags={"tenant": tenant, "trigger": "make demo"}, run_config=run_config)
        checks = {e.asset_key.path[-1]: e.passed for e in result.get_asset_check_evaluations()
                  if e.check_name == CHECK}
        for event in result.get_asset_materialization_events():
            materialization = event.materialization
            meta = {k: v.value for k, v in materialization.metadata.items()}
            name = materialization.asset_key.path[-1]
            metric = next(s.primary_metric for s in MODELS if s.name == name)
            state = "reused" if meta["reused"] else "promoted" if meta["promoted"] else "candidate"
            lines.append(ModelLine(tenant, name, meta["model_version"], state, metric, meta[f"backtest/{metric}"],
                                   meta[f"backtest/baseline_{metric}"], checks.get(name, False), meta["rows"]))
        if not result.success:
            failed[tenant] = "; ".join(e.step_key or "" for e in result.all_events if e.is_step_failure)
        print(f"  {tenant:<12} {'ok' if result.success else 'FAILED'} in {time.monotonic() - started:5.1f}s",
              flush=True)
    return lines, failed


def print_model_table(lines: list[ModelLine]) -> None:
    header = (f"{'tenant':<12}{'model':<19}{'version':>8}  {'state':<11}{'metric':<18}{'model':>8}{'baseline':>10}"
              f"  {'check':<6}{'rows':>9}")
    print("\nModels (MLflow registry, backtest against the baseline)\n" + header + "\n" + "-" * len(header))
    for line in lines:
        print(f"{line.tenant:<12}{line.model:<19}{line.version:>8}  {line.state:<11}{line.metric:<18}"
              f"{line.value:>8.3f}{line.baseline:>10.3f}  {'pass' if line.passed else 'FAIL':<6}{line.rows:>9,}")
