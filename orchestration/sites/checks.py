"""The acceptance checks of a published report site, reusable by the tests and the demo's end-to-end test:

* every page renders in headless Chromium without console or page errors, failed or external requests, or
  Evidence error boxes (orchestration/sites/browse.py);
* the headline number (net revenue of the last 7 complete days) shown on the summary equals the warehouse's
  figure, read here by its own SQL (``warehouse_headline``), not through the export;
* no file of the site holds another tenant's slug, name or canary SKU (orchestration/sites/isolation.py), while
  the tenant's own name is there (the scan can find what it looks for).

With ``screenshots=<folder>`` the browser pass also writes ``<page>.png`` (and ``<page>.phone.png`` per extra
viewport) there: ``make demo`` checks every tenant's site that way (orchestration/site_summary.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from orchestration.settings import Settings
from orchestration.sites.browse import PageVisit, check_site, parse_amount
from orchestration.sites.isolation import assert_isolated, foreign_markers, tenant_markers
from orchestration.tenants import TenantRegistry, load_registry
from orchestration.warehouse import PostgresConnection, connect


@dataclass(frozen=True)
class SiteCheck:
    tenant: str
    headline_shown: Decimal
    headline_warehouse: Decimal
    visits: tuple[PageVisit, ...]


def warehouse_headline(settings: Settings, tenant: str) -> Decimal:
    """Σ fct_orders.net_revenue_reporting over the 7 days ending the day before the tenant's latest order day."""
    with connect(settings) as con:
        mark = "%s" if isinstance(con, PostgresConnection) else "?"
        (latest,) = con.execute(f"select max(order_date) from marts.fct_orders where tenant_id = {mark}",
                                [tenant]).fetchone()
        as_of = latest - timedelta(days=1)
        (total,) = con.execute(
            f"select coalesce(sum(net_revenue_reporting), 0) from marts.fct_orders where tenant_id = {mark} "
            f"and order_date between {mark} and {mark}", [tenant, as_of - timedelta(days=6), as_of]).fetchone()
    return Decimal(total)


def check_published_site(settings: Settings, tenant: str, site_dir: Path, pages, *,
                         registry: TenantRegistry | None = None, screenshots: Path | None = None,
                         viewports: tuple[str, ...] = ("desktop",)) -> SiteCheck:
    """Run every check above on ``site_dir``; raise an AssertionError naming what failed."""
    registry = registry or load_registry(settings.tenants_file)
    with connect(settings) as con:
        foreign = foreign_markers(con, registry, tenant)
        own_names = [m for m in tenant_markers(con, registry, tenant) if m.kind == "name"]
    assert_isolated(site_dir, foreign, tenant)
    index = (Path(site_dir) / "index.html").read_text(errors="replace")
    missing = [m.value for m in own_names if m.value not in index and m.value.replace("&", "&amp;") not in index]
    if missing:
        raise AssertionError(f"tenant {tenant}: its own name {missing} is not on its summary page")

    visits = check_site(site_dir, pages, screenshots=screenshots, viewports=viewports)
    summary = next((v for v in visits if v.path == "/" and v.headline), None)
    if summary is None:
        raise AssertionError(f"tenant {tenant}: the summary page shows no headline number")
    shown, expected = parse_amount(summary.headline), warehouse_headline(settings, tenant)
    if shown != expected:
        raise AssertionError(f"tenant {tenant}: the summary's headline {summary.headline!r} is not the "
                             f"warehouse's net revenue of the last 7 complete days, {expected}")
    return SiteCheck(tenant, shown, expected, tuple(visits))
