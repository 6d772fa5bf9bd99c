"""``make demo``'s alerts step: one ``tenant_alerts`` run per built tenant (the run the sensor
``alerts_after_tenant_runs`` requests after a tenant's data changed; in-process runs trigger no sensor, so the demo
asks for it), then the list of every alert each tenant has fired, with where it was delivered.

A firing is stored once per rule, subject and data window (orchestration/alerts/store.py), so a second demo over
the same data lists the same firings and marks none as new.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from orchestration.alerts.store import Firing, all_firings, ensure_table
from orchestration.defs.alerts import ALERTS_JOB, FIRINGS_KEY
from orchestration.run_failures import failure_summary
from orchestration.settings import Settings
from orchestration.warehouse import connect


@dataclass(frozen=True)
class TenantAlerts:
    tenant: str
    firings: list[Firing]  # every firing of the tenant, oldest first
    new: int  # stored by this run
    error: str  # the run's failure (a rule that could not be evaluated names tenant and rule), else ""


def evaluate_all(settings: Settings, defs: dg.Definitions, instance: dg.DagsterInstance, tenants: list[str],
                 log_dir: Path, run_config: dict) -> list[TenantAlerts]:
    """Run ``tenant_alerts`` for each tenant and read back what it stored."""
    job = defs.resolve_job_def(ALERTS_JOB)
    outcomes = []
    for tenant in tenants:
        started = time.monotonic()
        with (log_dir / f"demo-{tenant}-alerts.log").open("w") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(partition_key=tenant, instance=instance, raise_on_error=False,
                                            tags={"tenant": tenant, "trigger": "make demo"}, run_config=run_config)
        new = sum(int(event.materialization.metadata["new_firings"].value)
                  for event in result.get_asset_materialization_events()
                  if event.materialization.asset_key == FIRINGS_KEY)
        error = failure_summary(result)
        with connect(settings, read_only=False) as con:
            ensure_table(con)
            firings = all_firings(con, tenant)
        outcomes.append(TenantAlerts(tenant, firings, new, error))
        print(f"  {tenant:<12} {'ok' if result.success else 'FAILED'} in {time.monotonic() - started:5.1f}s: "
              f"{new} new firing(s)", flush=True)
    return outcomes


def print_alert_list(outcomes: list[TenantAlerts], home: Path) -> None:
    print("\nAlerts fired (rules in tenants.yaml; delivered to the tenant's Slack webhook, or without one to "
          f"{home / 'alerts'}/<tenant>.log)")
    for outcome in outcomes:
        print(f"{outcome.tenant}: {len(outcome.firings)} alert(s), {outcome.new} new in this run"
              + (f"; FAILED: {outcome.error}" if outcome.error else ""))
        for firing in outcome.firings:
            via = firing.delivered_via or "undelivered"
            print(f"  [{firing.severity:<8}] {firing.rule:<28} {firing.subject:<16} {via:<6} {firing.message}")
