"""``make demo``: the whole platform end to end for the demo tenants, on the embedded default.

Starts the sandbox (the local twin of the channel APIs), drops each tenant's wholesale CSV files (with a few
malformed rows, to show quarantine), runs the ``tenant_refresh`` job once per tenant through Dagster (runs
are recorded in DAGSTER_HOME, so ``make dev`` shows them), stops the sandbox and prints a table per tenant.
Running it again changes no row count: every load merges on its keys and every mart replaces its slice.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

import dagster as dg

from orchestration.connectors.files import FilesSourceConfig
from orchestration.definitions import build_definitions
from orchestration.defs.automation import REFRESH_JOB
from orchestration.settings import REPO_ROOT, Settings
from orchestration.tenants import TenantRegistry, load_registry
from orchestration.warehouse import connect
from sandbox.files_drop import write_drop
from sandbox.server import SandboxServer
from sandbox.world import World, WorldSpec, build_world

DEMO_WORLD = REPO_ROOT / "sandbox" / "worlds" / "demo.yaml"
BAD_ROWS_PER_DROP = 3
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class TenantOutcome:
    slug: str
    ok: bool
    seconds: float
    error: str = ""


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


def refresh_all(settings: Settings, registry: TenantRegistry) -> list[TenantOutcome]:
    defs = build_definitions(settings)
    job = defs.resolve_job_def(REFRESH_JOB)
    instance = dg.DagsterInstance.get()
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for tenant in registry.tenants:
        started = time.monotonic()
        # the console gets one line per tenant; dbt's and Dagster's full output go to the tenant's log file
        # (and every event to the Dagster instance, where `make dev` shows it)
        with (log_dir / f"demo-{tenant.slug}.log").open("w") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(partition_key=tenant.slug, instance=instance, raise_on_error=False,
                                            tags={"tenant": tenant.slug, "trigger": "make demo"},
                                            run_config=QUIET)
        error = "" if result.success else _first_failure(result)
        outcomes.append(TenantOutcome(tenant.slug, result.success, time.monotonic() - started, error))
        print(f"  {tenant.slug:<12} {'ok' if result.success else 'FAILED'} in {time.monotonic() - started:5.1f}s"
              + (f": {error}" if error else ""), flush=True)
    return outcomes


def _first_failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            return f"step {event.step_key}: {event.step_failure_data.error.message.strip().splitlines()[0]}"
    return "run failed"


SUMMARY_SQL = """
select t.tenant_id, t.display_name, t.currency,
       (select count(*) from marts.fct_orders o where o.tenant_id = t.tenant_id) as orders,
       (select count(*) from marts.dim_customers c where c.tenant_id = t.tenant_id) as customers,
       (select coalesce(sum(o.gross_amount), 0) from marts.fct_orders o where o.tenant_id = t.tenant_id) as gross,
       (select coalesce(sum(o.net_revenue), 0) from marts.fct_orders o where o.tenant_id = t.tenant_id) as net
from marts.dim_tenants t
order by t.tenant_id
"""


def print_summary(settings: Settings, registry: TenantRegistry) -> None:
    with connect(settings) as con:
        rows = {r[0]: r for r in con.execute(SUMMARY_SQL).fetchall()}
        quarantined = {t.slug: _quarantined(con, t.slug) for t in registry.tenants}
    header = f"{'tenant':<12}{'name':<20}{'cur':<5}{'orders':>9}{'customers':>11}{'gross revenue':>17}" \
             f"{'net revenue':>17}{'quarantined':>13}"
    print("\n" + header + "\n" + "-" * len(header))
    for tenant in registry.tenants:
        row = rows.get(tenant.slug)
        if row is None:
            print(f"{tenant.slug:<12}(not built)")
            continue
        _, name, currency, orders, customers, gross, net = row
        print(f"{tenant.slug:<12}{name[:19]:<20}{currency:<5}{orders:>9,}{customers:>11,}"
              f"{_money(gross):>17}{_money(net):>17}{quarantined[tenant.slug]:>13}")
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


def main() -> int:
    settings = Settings.from_env()
    registry = load_registry(settings.tenants_file)
    spec = WorldSpec.load(DEMO_WORLD)
    started = time.monotonic()
    print(f"Building the sandbox world ({DEMO_WORLD.relative_to(REPO_ROOT)}) …", flush=True)
    world = build_world(spec)
    drop_files(world, registry)
    port = sandbox_port(registry)
    print(f"Serving it on 127.0.0.1:{port}; refreshing {len(registry.tenants)} tenants …", flush=True)
    with SandboxServer(spec, port=port):
        outcomes = refresh_all(settings, registry)
    print_summary(settings, registry)
    failed = [o for o in outcomes if not o.ok]
    print(f"\nDone in {time.monotonic() - started:.0f}s; {len(outcomes) - len(failed)} of {len(outcomes)} "
          "tenants refreshed.")
    for outcome in failed:
        print(f"FAILED tenant {outcome.slug}: {outcome.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
