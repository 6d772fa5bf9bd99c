"""``make demo``'s report-site step: one ``tenant_reports`` run per built tenant (export, then the offline Evidence
build; orchestration/defs/reports.py), then the acceptance checks of each published site in headless Chromium
(orchestration/sites/checks.py: every page renders without errors on a desktop and a phone, the headline equals
the warehouse's figure, no other tenant's name or canary anywhere in the build), which also write a screenshot of
every page to ``$OMNI_HOME/screenshots/<tenant>/<page>.png`` (and ``<page>.phone.png``).

A site whose build was skipped (nothing it shows changed) and whose screenshots were taken of that same content
is not browsed again: ``checked.json`` beside the screenshots records the content it was checked on.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import dagster as dg

from orchestration.defs.reports import REPORTS_JOB, SITE_KEY
from orchestration.run_failures import failure_summary
from orchestration.settings import Settings
from orchestration.sites.checks import check_published_site

VIEWPORTS = ("desktop", "phone")
CHECKED = "checked.json"


@dataclass(frozen=True)
class PublishedSite:
    tenant: str
    site_dir: Path | None
    pages: int
    built: bool  # False: the build was skipped, nothing it shows changed
    build_seconds: float
    headline: Decimal | None  # the summary's headline, equal to the warehouse's (checked)
    screenshots: int
    error: str  # the failed step or check, else ""


def publish_all(settings: Settings, defs: dg.Definitions, instance: dg.DagsterInstance, tenants: list[str],
                log_dir: Path, run_config: dict) -> list[PublishedSite]:
    job = defs.resolve_job_def(REPORTS_JOB)
    sites = []
    for tenant in tenants:
        started = time.monotonic()
        with (log_dir / f"demo-{tenant}-site.log").open("w") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(partition_key=tenant, instance=instance, raise_on_error=False,
                                            tags={"tenant": tenant, "trigger": "make demo"}, run_config=run_config)
        meta = next(({k: v.value for k, v in e.materialization.metadata.items()}
                     for e in result.get_asset_materialization_events() if e.materialization.asset_key == SITE_KEY),
                    None)
        if not result.success or meta is None:
            error = failure_summary(result)
            sites.append(PublishedSite(tenant, None, 0, False, 0.0, None, 0, error or "no site was published"))
        else:
            sites.append(_check(settings, tenant, meta))
        site = sites[-1]
        status = "FAILED" if site.error else ("built" if site.built else "unchanged")
        print(f"  {tenant:<12} {status} in {time.monotonic() - started:5.1f}s", flush=True)
    return sites


def _check(settings: Settings, tenant: str, meta: dict) -> PublishedSite:
    site_dir, pages = Path(meta["site_path"]), tuple(meta["pages"])
    shots = settings.home / "screenshots" / tenant
    stamp = shots / CHECKED
    previous = json.loads(stamp.read_text()) if stamp.exists() else {}
    base = dict(tenant=tenant, site_dir=site_dir, pages=len(pages), built=bool(meta["built"]),
                build_seconds=float(meta["build_seconds"]))
    if not meta["built"] and previous.get("content_hash") == meta["content_hash"]:
        return PublishedSite(**base, headline=Decimal(previous["headline"]), screenshots=previous["screenshots"],
                             error="")
    try:
        check = check_published_site(settings, tenant, site_dir, pages, screenshots=shots, viewports=VIEWPORTS)
    except AssertionError as exc:
        stamp.unlink(missing_ok=True)
        return PublishedSite(**base, headline=None, screenshots=0, error=str(exc).splitlines()[0])
    count = sum(1 for v in check.visits if v.screenshot)
    stamp.write_text(json.dumps({"content_hash": meta["content_hash"], "headline": str(check.headline_shown),
                                 "screenshots": count}))
    return PublishedSite(**base, headline=check.headline_shown, screenshots=count, error="")


def print_site_list(sites: list[PublishedSite], home: Path) -> None:
    print(f"\nReport sites (Evidence, one per tenant; screenshots of every page in {home / 'screenshots'}/<tenant>/)")
    header = f"{'tenant':<12}{'state':<11}{'pages':>6}{'build s':>9}{'headline (7 days net)':>24}{'shots':>7}  site"
    print(header + "\n" + "-" * len(header))
    for site in sites:
        if site.error:
            print(f"{site.tenant:<12}FAILED: {site.error}")
            continue
        state = "built" if site.built else "unchanged"
        print(f"{site.tenant:<12}{state:<11}{site.pages:>6}{site.build_seconds:>9.1f}{site.headline:>24,.2f}"
              f"{site.screenshots:>7}  {site.site_dir}")
