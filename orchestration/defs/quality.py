"""Great Expectations suites (``expectations/``) as tenant-partitioned Dagster asset checks.

Every suite file becomes one asset check named ``great_expectations`` on the asset its path names
(``expectations/suites/raw/files/orders.yaml`` → ``raw/files/orders``, ``…/marts/fct_orders.yaml`` →
``marts/fct_orders``), partitioned by tenant like its asset (Dagster 1.13's partitioned asset checks, still a
preview API: each evaluation is recorded for its tenant partition and the UI shows it per tenant). The checks of
one step's assets run in one op (``gx_raw_<source>``, ``gx_marts``; a multi-asset check that runs only the
selected checks), so a multiprocess run imports GX once per op, not once per suite, and every suite of a
source reports even when another one fails.

- **Only the tenant's slice is read**: a raw landing in the tenant's own schema ``raw_<source>__<tenant>``, a
  mart filtered on ``tenant_id``. Failure samples (key columns and offending values) are therefore the
  tenant's own records, and so is everything in the check's metadata and log lines.
- **Blocking**: the suites declare ``blocking: true``, so a *critical* failure (AssetCheckSeverity.ERROR)
  stops everything downstream of the checked asset in the same run. A raw check runs right after its landing
  and before the dbt step, which then does not run: the tenant's marts keep their last good slice, while a
  run of another tenant is untouched (one run per tenant, partition = tenant). A *warning* expectation (e.g.
  freshness of the latest order) fails with severity WARN and blocks nothing. A suite that cannot run (a
  database error) fails closed with ERROR. The mart checks run after the one dbt step (cubes and reports are
  built in it too), so their blocking gates only later steps of the same run; jobs of their own (models,
  alerts, report sites) do not see it.
- **Per-tenant rules** come from the registry: currency and time zone, and overrides of the plausible ranges
  under ``settings: {quality: {...}}`` (``expectations/parameters.py``).
- A suite's references (e.g. order lines → orders) read tables landed or built by the same step as the checked
  one (one dlt source, one dbt build), which has finished before the check op starts.
- Embedded (DuckDB): the slice is read into a frame and validated with GX's pandas datasource. Production
  (PostgreSQL): GX's SQL datasource validates it in the database. The checks are in the ``warehouse`` pool
  (DuckDB has one writer: a check must not read while a landing or dbt writes). GX is imported on the first
  check of a process (~3–5 s), then a check takes well under a second.
"""

import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from expectations import (
    DuckDBWarehouse,
    PostgresWarehouse,
    Suite,
    SuiteResult,
    TableRef,
    TenantFacts,
    default_suites,
    tenant_parameters,
    validate_table,
)
from orchestration.defs.ingestion import WAREHOUSE_POOL
from orchestration.settings import REPO_ROOT, Settings
from orchestration.tenants import Tenant, TenantRegistry
from orchestration.warehouse import connect, dataset_name

CHECK_NAME = "great_expectations"
MARTS_SCHEMA = "marts"  # dbt's shared schema of the tenant-sliced marts
SEVERITY = {"critical": dg.AssetCheckSeverity.ERROR, "warning": dg.AssetCheckSeverity.WARN}
MARKDOWN_ROWS = 20


def suite_asset_key(suite: Suite) -> dg.AssetKey:
    """The asset a suite guards: its path under expectations/suites (the translators' key for that table)."""
    return dg.AssetKey(list(suite.asset_path))


def suite_table(suite: Suite, tenant: str) -> TableRef:
    """Where the tenant's slice of the suite's table lives."""
    if suite.layer == "raw":
        return TableRef(dataset_name(suite.source, tenant), suite.table)
    return TableRef(MARTS_SCHEMA, suite.table, tenant)


def tenant_facts(tenant: Tenant) -> TenantFacts:
    overrides = tenant.settings.get("quality") or {}
    if not isinstance(overrides, dict):
        raise ValueError(f"tenant {tenant.slug!r}: settings.quality must be a mapping of parameter: value")
    return TenantFacts(slug=tenant.slug, currency=tenant.currency, timezone=tenant.timezone, overrides=overrides)


def run_suite(suite: Suite, tenant: Tenant, settings: Settings, *, now: datetime | None = None) -> SuiteResult:
    """Validate the tenant's slice of the suite's table in the warehouse of ``settings``' profile."""
    parameters = tenant_parameters(tenant_facts(tenant), now=now or datetime.now(UTC))
    ref = suite_table(suite, tenant.slug)
    if settings.profile == "embedded":
        with connect(settings, read_only=True) as con:
            return validate_table(suite, DuckDBWarehouse(con), ref, parameters)
    return validate_table(suite, PostgresWarehouse(settings.postgres.sqlalchemy_url()), ref, parameters)


def check_result(suite: Suite, tenant: str, result: SuiteResult) -> dg.AssetCheckResult:
    """The evaluation the UI shows: pass/fail, severity, and what failed with a few of the tenant's records."""
    failures = result.failures
    metadata = {
        "tenant": dg.MetadataValue.text(tenant),
        "suite": dg.MetadataValue.path(_relative(suite.path)),
        "table": dg.MetadataValue.text(result.table),
        "rows_checked": dg.MetadataValue.int(result.rows),
        "expectations": dg.MetadataValue.int(len(result.outcomes)),
        "failed_expectations": dg.MetadataValue.int(len(failures)),
        "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
    }
    if result.note:
        metadata["note"] = dg.MetadataValue.text(result.note)
    if failures:
        metadata["failures"] = dg.MetadataValue.md(_markdown(failures))
        metadata["failure_details"] = dg.MetadataValue.json([o.to_dict() for o in failures])
    return dg.AssetCheckResult(
        asset_key=suite_asset_key(suite),
        check_name=CHECK_NAME,
        passed=result.passed,
        severity=SEVERITY.get(result.severity or "", dg.AssetCheckSeverity.ERROR),
        description=f"tenant {tenant!r}: {result.summary()}"[:2000],
        metadata=metadata,
    )


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _markdown(failures) -> str:
    lines = ["| rule | severity | unexpected | sample records |", "| --- | --- | --- | --- |"]
    for o in failures[:MARKDOWN_ROWS]:
        count = (f"{o.unexpected_count} of {o.element_count}" if o.unexpected_count is not None
                 else f"observed {o.observed}" if o.observed is not None else (o.error or "failed"))
        samples = "<br>".join(", ".join(f"{k}={v}" for k, v in s.items()) for s in o.samples) or "—"
        rule = f"{o.rule}<br>*{o.description}*" if o.description else o.rule
        lines.append(f"| {_cell(rule)} | {o.severity} | {_cell(count)} | {_cell(samples)} |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def check_group(name: str, suites: Sequence[Suite], registry: TenantRegistry,
                partitions_by_key: dict[dg.AssetKey, dg.PartitionsDefinition | None],
                pool: str = WAREHOUSE_POOL) -> dg.AssetChecksDefinition:
    """The suites of one step's assets (a dlt source's tables, or the dbt marts) as one op: one GX import per
    step process instead of one per suite, and every suite reports even when another fails."""
    by_key = {suite_asset_key(s): s for s in suites}
    with warnings.catch_warnings():  # partitioned asset checks are a preview API in Dagster 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)
        specs = [dg.AssetCheckSpec(
            CHECK_NAME, asset=key, blocking=suite.blocking, partitions_def=partitions_by_key[key],
            description=f"Great Expectations suite {_relative(suite.path)}: {suite.description}",
            metadata={"suite": dg.MetadataValue.path(_relative(suite.path)),
                      "expectations": dg.MetadataValue.int(len(suite.expectations))},
        ) for key, suite in by_key.items()]

        @dg.multi_asset_check(specs=specs, name=name, can_subset=True, pool=pool,
                              description="Great Expectations suites (expectations/suites) on the tenant's slice")
        def _checks(context: dg.AssetCheckExecutionContext):
            tenant = registry.get(context.partition_key)
            settings = Settings.from_env()
            for check_key in sorted(context.selected_asset_check_keys):
                suite = by_key[check_key.asset_key]
                try:
                    evaluation = check_result(suite, tenant.slug, run_suite(suite, tenant, settings))
                except Exception as exc:  # this suite could not run: it fails (closed), naming tenant and suite
                    evaluation = error_result(suite, tenant.slug, exc, secret=settings.postgres.password)
                    context.log.error(evaluation.description)  # redacted; no traceback (it may hold the secret)
                    yield evaluation
                    continue
                if not evaluation.passed:
                    context.log.warning(evaluation.description)
                yield evaluation

    return _checks


def error_result(suite: Suite, tenant: str, exc: Exception, *, secret: str = "") -> dg.AssetCheckResult:
    """A suite that raised fails with ERROR (so a blocking one still blocks); the secret never reaches the UI."""
    message = f"{type(exc).__name__}: {exc}"
    if secret:
        message = message.replace(secret, "***")
    return dg.AssetCheckResult(
        asset_key=suite_asset_key(suite), check_name=CHECK_NAME, passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"tenant {tenant!r}: {suite.name} could not run: {message}"[:2000],
        metadata={"tenant": dg.MetadataValue.text(tenant), "suite": dg.MetadataValue.path(_relative(suite.path)),
                  "error": dg.MetadataValue.text(message[:2000])},
    )


def group_name(suite: Suite) -> str:
    """The op that runs a suite: one per dlt source (``gx_raw_<source>``), one for the marts (``gx_marts``)."""
    return f"gx_raw_{suite.source}" if suite.layer == "raw" else f"gx_{suite.layer}"


def quality_checks(registry: TenantRegistry, assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetChecksDefinition]:
    """The asset checks of every suite, on the given assets (raw landings from defs/ingestion, marts from
    defs/transformation), partitioned like them. A suite whose asset is not among them is an error (the key
    drifted)."""
    partitions_by_key = {key: a.partitions_def for a in assets for key in a.keys}
    groups: dict[str, list[Suite]] = {}
    for suite in default_suites():
        key = suite_asset_key(suite)
        if key not in partitions_by_key:
            raise ValueError(f"{suite.path}: no asset {key.to_user_string()} to check (renamed or removed?)")
        groups.setdefault(group_name(suite), []).append(suite)
    return [check_group(name, suites, registry, partitions_by_key) for name, suites in sorted(groups.items())]
