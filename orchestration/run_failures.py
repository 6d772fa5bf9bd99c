"""What failed in an in-process Dagster run, as ``make demo`` reports it: each failed step and the first line of its
error (which names tenant and source for a landing, tenant and rule for an alert)."""

from __future__ import annotations

import dagster as dg


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Failed step → the first line of its error (the error the step's own code raised, not Dagster's wrapper)."""
    failures = {}
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            error = event.step_failure_data.error
            while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
                error = error.cause
            lines = error.message.strip().splitlines() or [""]
            failures[event.step_key] = lines[0].removeprefix("dagster._core.definitions.events.Failure: ")
    return failures


def failure_summary(result: dg.ExecuteInProcessResult) -> str:
    """Every failed step's first error line, in one line ("" when nothing failed)."""
    return "; ".join(f"step {step}: {message}" for step, message in step_failures(result).items())


def failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    """Each asset check that failed with ERROR severity (a blocking one stops what is downstream of its asset), as
    ``<asset> <check>: <its description>`` (a Great Expectations suite names the failed rules there)."""
    return [f"{e.asset_key.to_user_string()} {e.check_name}: {e.description or 'failed'}"
            for e in result.get_asset_check_evaluations()
            if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
