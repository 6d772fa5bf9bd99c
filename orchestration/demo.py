"""``make demo``: the whole platform end to end for the demo tenants, on the embedded default.

Starts the sandbox (the local twin of the channel APIs), drops each tenant's wholesale CSV files (with a few
malformed rows, to show quarantine) or seeds its ERP database, runs the ``tenant_refresh`` job once per tenant
through Dagster (runs are recorded in DAGSTER_HOME, so ``make dev`` shows them; a tenant whose source failed gets
its dbt slice built on what did land), stops the sandbox, trains and scores every model per tenant (the
``tenant_ml`` job, orchestration/ml_summary.py), evaluates every tenant's alert rules (``tenant_alerts``,
orchestration/alerts_summary.py), builds, checks and screenshots every tenant's report site (``tenant_reports``,
orchestration/site_summary.py), prints a table per tenant and channel, the top lines of each report
(orchestration/report_preview.py), a line per model and tenant, the alerts fired and the sites built, and lists
the sources that failed. Running it again changes no row count: every load merges on its keys and every mart
replaces its slice.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

import dagster as dg

from orchestration.alerts_summary import evaluate_all, print_alert_list
from orchestration.connectors import CONNECTORS
from orchestration.connectors.files import FilesSourceConfig
from orchestration.connectors.sql_database import SqlDatabaseSourceConfig, resolved_url
from orchestration.definitions import build_definitions
from orchestration.defs.automation import REFRESH_JOB, TRANSFORM_JOB, tenant_keys
from orchestration.ml_summary import print_model_table, train_all
from orchestration.report_preview import print_report_previews
from orchestration.run_failures import failed_checks, step_failures
from orchestration.settings import REPO_ROOT, Settings
from orchestration.site_summary import print_site_list, publish_all
from orchestration.tenants import TenantRegistry, load_registry
from orchestration.warehouse import connect
from sandbox.databases import seed as seed_erp
from sandbox.files_drop import write_drop
from sandbox.server import SandboxServer
from sandbox.world import World, WorldSpec, build_world

DEMO_WORLD = REPO_ROOT / "sandbox" / "worlds" / "demo.yaml"
BAD_ROWS_PER_DROP = 3
# (tenant, source) pairs whose credential the demo world revokes, to show that a broken source fails alone
DELIBERATELY_BROKEN: set[tuple[str, str]] = {("alpine", "ga4")}  # .env.example: ALPINE_GA4_REFRESH_TOKEN
# failures are summarised at the end (and every event is in the Dagster instance): keep the console clean
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class TenantOutcome:
    slug: str
    ok: bool
    seconds: float
    failed_sources: dict[str, str] = field(default_factory=dict)  # source -> the error that names it
    error: str = ""  # a failure outside the sources (the dbt build, the registry, ...)


def sandbox_port(registry: TenantRegistry) -> int:
    """The sandbox serves where the registry's shops point (tenants.yaml: 127.0.0.1:8765)."""
    ports = {urlsplit(t.sources["shopify"].shop_url).port for t in registry.with_source("shopify")}
    if len(ports) != 1 or None in ports:
        raise SystemExit(f"the demo registry's shops must share one sandbox port, found {sorted(map(str, ports))}")
    return ports.pop()


def drop_files(world: World, registry: TenantRegistry) -> None:
    """Each tenant's wholesale channel arrives as CSV files in its drop folder."""
    for tenant in registry.with_source("files"):
        cfg = tenant.sources["files"]
        assert isinstance(cfg, FilesSourceConfig)
        write_drop(world.shop(tenant.slug), registry.resolve_path(cfg.bucket_url), bad_rows=BAD_ROWS_PER_DROP)


def seed_erp_databases(world: World, registry: TenantRegistry) -> None:
    """A tenant whose wholesale channel lives in its ERP database gets that database, seeded from the world
    (the demo's are SQLite files: nothing to run). Re-seeding writes the same rows, so a rerun lands nothing new."""
    for tenant in registry.with_source("sql_database"):
        cfg = tenant.sources["sql_database"]
        assert isinstance(cfg, SqlDatabaseSourceConfig)
        url = resolved_url(cfg, registry)
        if url.startswith("sqlite:"):
            seed_erp(url, world.shop(tenant.slug))


def refresh_all(settings: Settings, registry: TenantRegistry) -> list[TenantOutcome]:
    """One ``tenant_refresh`` run per tenant. A failed source fails its own step only; the tenant's dbt slice
    is then built by a ``tenant_transform`` run on what did land, so one broken source never blanks a tenant."""
    defs = build_definitions(settings)
    refresh, transform = defs.resolve_job_def(REFRESH_JOB), defs.resolve_job_def(TRANSFORM_JOB)
    instance = dg.DagsterInstance.get()
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for tenant in registry.tenants:
        started = time.monotonic()
        tags = {"tenant": tenant.slug, "trigger": "make demo"}
        # the console gets one line per tenant; dbt's and Dagster's full output go to the tenant's log file
        # (and every event to the Dagster instance, where `make dev` shows it)
        with (log_dir / f"demo-{tenant.slug}.log").open("w") as log, contextlib.redirect_stdout(log):
            # the tenant's own sources only, as the schedule selects them
            selection = tenant_keys(tenant, list(CONNECTORS), defs.resolve_asset_graph())
            result = refresh.execute_in_process(partition_key=tenant.slug, instance=instance, raise_on_error=False,
                                                asset_selection=selection, tags=tags, run_config=QUIET)
            failures, checks = step_failures(result), failed_checks(result)
            failed_sources = {_source_of(step): error for step, error in failures.items() if _source_of(step)}
            other = {step: error for step, error in failures.items() if not _source_of(step)}
            if failed_sources and not other:
                built = transform.execute_in_process(partition_key=tenant.slug, instance=instance,
                                                     raise_on_error=False, tags=tags, run_config=QUIET)
                other = step_failures(built)
        error = "; ".join(f"step {step}: {message}" for step, message in other.items())
        if error and checks:  # a blocking Great Expectations check stopped the build: say which rules failed
            error += " (" + "; ".join(checks) + ")"
        outcome = TenantOutcome(tenant.slug, not other, time.monotonic() - started, failed_sources, error)
        outcomes.append(outcome)
        status = "ok" if outcome.ok else "FAILED"
        detail = f"; {len(failed_sources)} source(s) failed: {', '.join(failed_sources)}" if failed_sources else ""
        print(f"  {tenant.slug:<12} {status} in {outcome.seconds:5.1f}s{detail}" + (f": {error}" if error else ""),
              flush=True)
    return outcomes


def _source_of(step_key: str) -> str | None:
    """The source a landing step belongs to (its multi-asset is ``raw_<source>``), else None (the platform's
    own ``raw__platform__tenants`` and the dbt step are not sources)."""
    is_source = step_key.startswith("raw_") and not step_key.startswith("raw__")
    return step_key.removeprefix("raw_") if is_source else None


SUMMARY_SQL = """
select t.tenant_id, t.display_name, t.currency,
       (select count(*) from marts.fct_orders o where o.tenant_id = t.tenant_id) as orders,
       (select count(*) from marts.dim_customers c where c.tenant_id = t.tenant_id) as customers,
       (select coalesce(sum(o.gross_amount), 0) from marts.fct_orders o where o.tenant_id = t.tenant_id) as gross,
       (select coalesce(sum(o.net_revenue), 0) from marts.fct_orders o where o.tenant_id = t.tenant_id) as net
from marts.dim_tenants t
order by t.tenant_id
"""


CHANNEL_SQL = """
with sales as (
    select tenant_id, channel, count(*) as orders, sum(net_revenue) as net, sum(refund_amount) as refunds
    from marts.fct_orders group by tenant_id, channel
),
fees as (select tenant_id, channel, sum(amount) as fees from marts.fct_fees group by tenant_id, channel)
select sales.tenant_id, sales.channel, sales.orders, sales.net, sales.refunds, coalesce(fees.fees, 0)
from sales left join fees on fees.tenant_id = sales.tenant_id and fees.channel = sales.channel
order by sales.tenant_id, sales.net desc
"""
AD_SPEND_SQL = "select tenant_id, sum(spend_reporting) from marts.fct_ad_spend group by tenant_id"


def print_summary(settings: Settings, registry: TenantRegistry) -> None:
    with connect(settings) as con:
        rows = {r[0]: r for r in con.execute(SUMMARY_SQL).fetchall()}
        channels: dict[str, list[tuple]] = {}
        for row in con.execute(CHANNEL_SQL).fetchall():
            channels.setdefault(row[0], []).append(row[1:])
        ad_spend = dict(con.execute(AD_SPEND_SQL).fetchall())
        quarantined = {t.slug: _quarantined(con, t.slug) for t in registry.tenants}
    header = f"{'tenant':<12}{'name':<20}{'cur':<5}{'orders':>9}{'customers':>11}{'gross revenue':>17}" \
             f"{'net revenue':>17}{'ad spend':>14}{'quarantined':>13}"
    print("\n" + header + "\n" + "-" * len(header))
    for tenant in registry.tenants:
        row = rows.get(tenant.slug)
        if row is None:
            print(f"{tenant.slug:<12}(not built)")
            continue
        _, name, currency, orders, customers, gross, net = row
        print(f"{tenant.slug:<12}{name[:19]:<20}{currency:<5}{orders:>9,}{customers:>11,}"
              f"{_money(gross):>17}{_money(net):>17}{_money(ad_spend.get(tenant.slug, 0)):>14}"
              f"{quarantined[tenant.slug]:>13}")
        for channel, n, channel_net, refunds, fees in channels.get(tenant.slug, []):
            print(f"{'':<12}  {channel:<18}{n:>9,} orders   net {_money(channel_net):>15}   refunds "
                  f"{_money(refunds):>13}   fees {_money(fees):>12}")
    print(f"\nWarehouse: {settings.duckdb_path if settings.profile == 'embedded' else settings.postgres.host} "
          f"({settings.profile} profile); Dagster runs in {dg.DagsterInstance.get().root_directory}")
    print("Open the Dagster UI on it with: make dev")


def _quarantined(con, tenant: str) -> int:
    try:
        return con.execute(f"select count(*) from raw_files__{tenant}.quarantine").fetchone()[0]
    except Exception:  # the tenant has no file drop, or nothing was ever quarantined
        return 0


def _money(value: Decimal) -> str:
    return f"{Decimal(value):,.2f}"


def report_failures(outcomes: list[TenantOutcome]) -> bool:
    """Print every failed source and tenant; True when all that failed was the demo's deliberate fault."""
    failed = [(o.slug, source, error) for o in outcomes for source, error in o.failed_sources.items()]
    broken = [o for o in outcomes if not o.ok]
    if failed:
        print(f"\nSources that failed ({len(failed)}); every other source and tenant completed:")
        for slug, source, error in failed:
            expected = " [deliberate: the demo revokes this credential]" if (slug, source) in DELIBERATELY_BROKEN \
                else ""
            print(f"  {slug}/{source}: {error}{expected}")
    for outcome in broken:
        print(f"FAILED tenant {outcome.slug}: {outcome.error}", file=sys.stderr)
    return not broken and {(s, src) for s, src, _ in failed} == DELIBERATELY_BROKEN


def main() -> int:
    settings = Settings.from_env()
    registry = load_registry(settings.tenants_file)
    spec = WorldSpec.load(DEMO_WORLD)
    started = time.monotonic()
    print(f"Building the sandbox world ({DEMO_WORLD.relative_to(REPO_ROOT)}) …", flush=True)
    world = build_world(spec)
    drop_files(world, registry)
    seed_erp_databases(world, registry)
    port = sandbox_port(registry)
    print(f"Serving it on 127.0.0.1:{port}; refreshing {len(registry.tenants)} tenants …", flush=True)
    with SandboxServer(spec, port=port):
        outcomes = refresh_all(settings, registry)
    built_tenants = [o.slug for o in outcomes if o.ok]
    print(f"Training and scoring the models of {len(built_tenants)} tenants (tenant_ml) …", flush=True)
    defs, instance, log_dir = build_definitions(settings), dg.DagsterInstance.get(), settings.home / "logs"
    models, models_failed = train_all(defs, instance, built_tenants, log_dir, QUIET)
    print(f"Evaluating the alert rules of {len(built_tenants)} tenants (tenant_alerts) …", flush=True)
    alerts = evaluate_all(settings, defs, instance, built_tenants, log_dir, QUIET)
    print(f"Building and checking the report sites of {len(built_tenants)} tenants (tenant_reports) …", flush=True)
    sites = publish_all(settings, defs, instance, built_tenants, log_dir, QUIET)
    print_summary(settings, registry)
    with connect(settings) as con:
        print_report_previews(con, built_tenants)
    print_model_table(models)
    print_alert_list(alerts, settings.home)
    print_site_list(sites, settings.home)
    as_expected = (report_failures(outcomes) and not models_failed and not any(a.error for a in alerts)
                   and not any(s.error for s in sites))
    for slug, steps in models_failed.items():
        print(f"FAILED models of tenant {slug}: {steps} (see {settings.home / 'logs'})", file=sys.stderr)
    built = sum(o.ok for o in outcomes)
    print(f"\nDone in {time.monotonic() - started:.0f}s; {built} of {len(outcomes)} tenants built.")
    return 0 if as_expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
