"""One tenant's slice of the platform, run through Dagster exactly as a profile runs it.

``run_profile`` is the whole path in one call: a sandbox serving a small multi-channel world over real HTTP, a
tmp tenant registry naming it, ``OMNI_PROFILE`` + ``OMNI_PG_*`` (or ``OMNI_DUCKDB_PATH``) and ``DAGSTER_HOME``
in the environment, ``build_definitions(Settings.from_env())``, the tenant's asset selection (``tenant_keys``)
and ``execute_in_process``. Run as ``python -m tests.production.slice <root> <drops> <runs>`` it runs the
embedded profile in a process of its own (so both profiles can run at once) and prints a JSON summary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import requests
import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parents[2]

SHOP = "pgshop"
TIMEZONE = "America/New_York"
META_ACCOUNT, META_APP_ID = "120330000000077", "100000000000077"
META_SECRET, META_TOKEN = "sandbox_meta_app_secret_pgshop", "EAAsandboxPgshopSystemUserToken0"
QBO = {"realm_id": "9341453000000077", "client_id": "qbo_client_pgshop", "client_secret": "qbo_secret_pgshop",
       "refresh_token": "qbo_rt_sandbox_pgshop"}
GA4_PROPERTY = "310000077"

# The tenant's secrets as the registry names them, with the sandbox's fake values (world options below).
SECRETS = {
    "PGSHOP_SHOPIFY_TOKEN": "shpat_sandbox_pgshop",
    "PGSHOP_AMAZON_LWA_CLIENT_ID": "amzn1.application-oa2-client.sandbox",
    "PGSHOP_AMAZON_LWA_CLIENT_SECRET": "amzn1.oa2-cs.v1.sandbox",
    "PGSHOP_AMAZON_REFRESH_TOKEN": f"Atzr|sandbox-{SHOP}",
    "PGSHOP_WALMART_CLIENT_ID": f"wm_client_{SHOP}",
    "PGSHOP_WALMART_CLIENT_SECRET": f"wm_secret_{SHOP}",
    "PGSHOP_META_ACCESS_TOKEN": META_TOKEN,
    "PGSHOP_META_APP_ID": META_APP_ID,
    "PGSHOP_META_APP_SECRET": META_SECRET,
    "PGSHOP_GA4_CLIENT_SECRET": f"GOCSPX-sandbox-{SHOP}",
    "PGSHOP_GA4_REFRESH_TOKEN": f"1//sandbox-{SHOP}",
    "PGSHOP_QBO_CLIENT_ID": QBO["client_id"],
    "PGSHOP_QBO_CLIENT_SECRET": QBO["client_secret"],
    "PGSHOP_QBO_REFRESH_TOKEN": QBO["refresh_token"],
}


def world_spec():
    """One shop trading on its online store, wholesale (CSV drops), Amazon and Walmart, with Meta ads, GA4 and
    QuickBooks: every mart gets rows."""
    from sandbox.world import ShopSpec, WorldSpec

    return WorldSpec(seed=77, start_date=date(2025, 1, 1), days=60, shops=[
        ShopSpec(handle=SHOP, name="PG Shop", currency="USD", timezone=TIMEZONE,
                 access_token=SECRETS["PGSHOP_SHOPIFY_TOKEN"], orders_per_day=5, wholesale_orders_per_week=2,
                 n_products=10, presentment_currencies=["CAD"],
                 channels={
                     "amazon": {"orders_per_day": 3, "deal_share": 0.25, "return_rate": 0.15},
                     # daily payouts: every fee is in a closed reconciliation report by the world's end
                     "walmart": {"orders_per_day": 2, "referral_fee_bp": 1500, "fulfilled_share": 0.3,
                                 "fulfillment_fee_cents": 345, "settlement_period_days": 1},
                     "meta_ads": {"account_id": META_ACCOUNT, "daily_budget": "120.00", "app_id": META_APP_ID,
                                  "app_secret": META_SECRET, "access_token": META_TOKEN},
                     "ga4": {"property_id": GA4_PROPERTY},
                     "quickbooks": QBO,
                 }),
    ])


def registry_entry(base_url: str, drops: Path) -> dict:
    """The tenant's registry entry, every source pointed at the sandbox at ``base_url``."""
    return {
        "slug": SHOP, "display_name": "PG Shop", "currency": "USD", "timezone": TIMEZONE,
        "sources": {
            "shopify": {"shop_url": f"{base_url}/{SHOP}", "page_size": 100,
                        "secrets": {"access_token": "PGSHOP_SHOPIFY_TOKEN"}},
            "files": {"bucket_url": str(drops)},
            "amazon": {"marketplace_id": "ATVPDKIKX0DER", "endpoint": f"{base_url}/amazon/sp",
                       "lwa_token_url": f"{base_url}/amazon/auth/o2/token", "start_date": "2024-12-01T00:00:00Z",
                       "secrets": {"client_id": "PGSHOP_AMAZON_LWA_CLIENT_ID",
                                   "client_secret": "PGSHOP_AMAZON_LWA_CLIENT_SECRET",
                                   "refresh_token": "PGSHOP_AMAZON_REFRESH_TOKEN"}},
            "walmart": {"base_url": f"{base_url}/walmart",
                        "secrets": {"client_id": "PGSHOP_WALMART_CLIENT_ID",
                                    "client_secret": "PGSHOP_WALMART_CLIENT_SECRET"}},
            "meta_ads": {"account_id": f"act_{META_ACCOUNT}", "base_url": f"{base_url}/meta",
                         "secrets": {"access_token": "PGSHOP_META_ACCESS_TOKEN", "app_id": "PGSHOP_META_APP_ID",
                                     "app_secret": "PGSHOP_META_APP_SECRET"}},
            "ga4": {"property_id": GA4_PROPERTY, "client_id": f"sandbox-{SHOP}.apps.googleusercontent.com",
                    "api_base_url": f"{base_url}/ga4", "token_url": f"{base_url}/ga4/token",
                    "secrets": {"client_secret": "PGSHOP_GA4_CLIENT_SECRET",
                                "refresh_token": "PGSHOP_GA4_REFRESH_TOKEN"}},
            "quickbooks": {"realm_id": QBO["realm_id"], "base_url": f"{base_url}/quickbooks",
                           "token_url": f"{base_url}/quickbooks/oauth2/v1/tokens/bearer",
                           "secrets": {"client_id": "PGSHOP_QBO_CLIENT_ID", "client_secret": "PGSHOP_QBO_CLIENT_SECRET",
                                       "refresh_token": "PGSHOP_QBO_REFRESH_TOKEN"}},
            "fx_rates": {"base_url": f"{base_url}/fx/v1", "currencies": ["CAD"], "start_date": "2024-12-01"},
        },
    }


def profile_env(profile: str, home: Path, registry: Path, pg: sa.URL | None = None) -> dict[str, str]:
    """The environment one profile runs with: the one switch, its warehouse and an isolated home."""
    env = {"OMNI_PROFILE": profile, "OMNI_HOME": str(home), "OMNI_TENANTS_FILE": str(registry),
           "OMNI_DUCKDB_PATH": str(home / "warehouse" / "omni.duckdb"),
           "DAGSTER_HOME": str(dagster_home(home, profile)), **SECRETS}
    if pg is not None:
        env |= {"OMNI_PG_HOST": pg.host, "OMNI_PG_PORT": str(pg.port), "OMNI_PG_USER": pg.username,
                "OMNI_PG_PASSWORD": pg.password or "", "OMNI_PG_DATABASE": pg.database}
    return env


@dataclass
class SliceRun:
    """The materializations of the tenant's slice, in order, with their wall-clock seconds."""

    results: list[dg.ExecuteInProcessResult]
    seconds: list[float]
    instance: dg.DagsterInstance
    env: dict[str, str]


def run_slice(env: dict[str, str], *, runs: int = 1, between: Callable[[], None] | None = None) -> SliceRun:
    """The tenant's slice through Dagster ``runs`` times under ``env`` (set for the duration, DAGSTER_HOME
    included: the instance is the one that home configures, as ``dagster dev``/the daemon would load it).
    ``between`` is called after each successful run but the last (e.g. to snapshot row counts)."""
    from orchestration.connectors import CONNECTORS
    from orchestration.definitions import build_definitions
    from orchestration.defs.automation import REFRESH_JOB, tenant_keys
    from orchestration.settings import Settings
    from orchestration.tenants import load_registry

    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        instance = dg.DagsterInstance.get()
        settings = Settings.from_env()
        defs = build_definitions(settings)
        job = defs.resolve_job_def(REFRESH_JOB)
        keys = tenant_keys(load_registry(settings.tenants_file).get(SHOP), list(CONNECTORS),
                           defs.resolve_asset_graph())
        out = SliceRun([], [], instance, env)
        for n in range(runs):
            start = time.perf_counter()
            result = job.execute_in_process(partition_key=SHOP, instance=instance, asset_selection=keys,
                                            raise_on_error=False)
            out.results.append(result)
            out.seconds.append(time.perf_counter() - start)
            if not result.success:
                break
            if between is not None and n < runs - 1:
                between()
        return out


def dagster_home(home: Path, profile: str) -> Path:
    """``$OMNI_HOME/dagster`` with its dagster.yaml made by the Makefile's own rule for ``profile``."""
    target = home / "dagster" / "dagster.yaml"
    subprocess.run(["make", "-s", str(target), f"OMNI_PROFILE={profile}", f"OMNI_HOME={home}"], cwd=REPO,
                   check=True, capture_output=True, text=True, timeout=60)
    return target.parent


def failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """The failed steps of a run with their error messages (empty when the run succeeded)."""
    out = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            out.append(f"{event.step_key}: {error.message if error else '?'}"[:4000])
    return out


@dataclass
class SliceSummary:
    """What a slice's runs did, as plain data (it crosses a process boundary as JSON)."""

    success: list[bool]
    failures: list[list[str]]
    checks: list[int]
    failed_checks: list[list[str]]  # "<asset>:<check>:<severity>" of each check that did not pass
    seconds: list[float]
    run_storage: str

    @classmethod
    def of(cls, run: SliceRun) -> SliceSummary:
        evaluations = [r.get_asset_check_evaluations() for r in run.results]
        return cls([r.success for r in run.results], [failures(r) for r in run.results],
                   [len(e) for e in evaluations], [[not_passed(c) for c in e if not c.passed] for e in evaluations],
                   [round(s, 1) for s in run.seconds], type(run.instance.run_storage).__name__)


def not_passed(check: dg.AssetCheckEvaluation) -> str:
    return f"{check.asset_key.to_user_string()}:{check.check_name}:{check.severity.value}"


# The sandbox worlds end on fixed dates in the past: the marts' freshness expectation (expectations/, a warning
# that never blocks) says so on every run of a slice, and it is the only check that may not pass.
STALE_WORLD = "marts/fct_orders:great_expectations:WARN"


def run_profile(profile: str, root: Path, drops: Path, *, pg: sa.URL | None = None, runs: int = 1,
                between: Callable[[], None] | None = None) -> SliceRun:
    """The slice on ``profile`` under ``root``, against a sandbox of its own (each profile's sources see the same
    untouched APIs: tokens, rotations, report runs)."""
    from sandbox.server import SandboxServer

    with SandboxServer(world_spec(), port=0) as server:
        # Meta's async report runs complete at their first status read (the twin's test control): no waiting
        requests.post(f"{server.base_url}/_sandbox/meta_ads/jobs", timeout=10,
                      json={"shop": SHOP, "outcome": "complete", "polls": 1, "count": 50}).raise_for_status()
        registry = root / f"tenants_{profile}.yaml"
        registry.write_text(yaml.safe_dump({"tenants": [registry_entry(server.base_url, drops)]}))
        return run_slice(profile_env(profile, root / profile, registry, pg), runs=runs, between=between)


def start_embedded(root: Path, drops: Path, log: Path) -> subprocess.Popen:
    """The embedded profile's slice in a process of its own (its environment is its own); see ``main``."""
    return subprocess.Popen([sys.executable, "-m", "tests.production.slice", str(root), str(drops), "1"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)


def finish_embedded(process: subprocess.Popen, log: Path, timeout_s: float = 600) -> SliceSummary:
    out, _ = process.communicate(timeout=timeout_s)
    lines = [line for line in out.splitlines() if line.startswith("SLICE ")]
    assert process.returncode == 0 and lines, f"embedded slice process failed:\n{log.read_text()[-4000:]}"
    return SliceSummary(**json.loads(lines[-1].removeprefix("SLICE ")))


def main(argv: list[str]) -> None:
    root, drops, runs = Path(argv[0]), Path(argv[1]), int(argv[2])
    summary = SliceSummary.of(run_profile("embedded", root, drops, runs=runs))
    print("SLICE " + json.dumps(asdict(summary)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
