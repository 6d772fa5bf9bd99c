"""Acceptance: one tenant's real Evidence site, built offline from the hand-made two-tenant warehouse (world.py),
served on 127.0.0.1 and opened in Debian's headless Chromium.

Every page renders without errors (desktop; the summary on a phone too), the headline number equals the
warehouse's figure read by SQL (200.50, computed by hand in world.py), the site carries the tenant's own
branding and data, and no file of the build holds the other tenant's slug, name or canary SKU — although the
other tenant sits in the same warehouse with its own forecast and an alert naming its SKU. A second build with
nothing changed is skipped. Costs one Evidence build (~1.5 min, ~3 GB) plus ~30 s of browsing: marked ``e2e``.
Needs ``make reports-install`` (reports/node_modules) and /usr/bin/chromium; fails, never skips, without them.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from orchestration.sites.browse import CHROMIUM
from orchestration.sites.build import REPORTS_DIR, build_site
from orchestration.sites.checks import check_published_site, warehouse_headline
from orchestration.warehouse import connect
from tests.sites import world
from tests.sites.conftest import write_registry

pytestmark = pytest.mark.e2e

LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="#1f6f4a"/>'
        '<!-- ACME-LOGO-MARK --></svg>')


@pytest.fixture
def acme_world(tmp_path):
    from tests.sites.conftest import build_duckdb_world

    settings = build_duckdb_world(tmp_path)
    (tmp_path / "acme-logo.svg").write_text(LOGO)
    write_registry(settings.tenants_file, acme_branding={"title": "Acme Outdoor Reports", "logo": "acme-logo.svg",
                                                         "primary_color": "#1f6f4a", "accent_color": "#d9a441"})
    return settings


def test_one_tenants_site_builds_offline_renders_and_holds_only_its_data(acme_world, tmp_path):
    if not (REPORTS_DIR / "node_modules" / "@evidence-dev" / "evidence" / "cli.js").exists():
        pytest.fail("Evidence is not installed: run `make reports-install` (npm ci in reports/)", pytrace=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make browser)", pytrace=False)

    start = time.monotonic()
    site = build_site(acme_world, world.ACME, log=lambda _: None)
    build_seconds = time.monotonic() - start
    assert site.built and (site.site_dir / "index.html").exists()
    assert site.pages == ("/", "/alerts/", "/channel-profitability/", "/cohorts/", "/forecast/", "/inventory/",
                          "/ltv-cac/", "/returns/")

    shots = tmp_path / "screenshots"
    check = check_published_site(acme_world, world.ACME, site.site_dir, site.pages, screenshots=shots)
    check_published_site(acme_world, world.ACME, site.site_dir, ("/",), viewports=("phone",))
    assert check.headline_shown == check.headline_warehouse == world.ACME_NET_REVENUE_7D == Decimal("200.50")
    assert warehouse_headline(acme_world, world.ACME) == Decimal("200.50")
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        f"{p.strip('/') or 'index'}.png" for p in site.pages)

    text = {v.path: v.text for v in check.visits}
    assert "Acme Outdoor Reports" in text["/"]  # the branding's title, not only the display name
    assert "$200.50" in text["/"] and "vs prior 7 days" in text["/"]
    assert "Net revenue rose 33.7% week over week" in text["/"]  # the generated insight, with its numbers
    assert f"{world.ACME_SKU} has 5 days of cover left." in text["/alerts/"]
    assert "An old firing" not in text["/alerts/"]  # older than 30 days
    assert world.ACME_SKU in text["/inventory/"] and "Forecast units" in text["/forecast/"]
    logo = site.site_dir / "brand" / "logo.svg"
    assert "ACME-LOGO-MARK" in logo.read_text()
    assert "#1f6f4a" in "".join(p.read_text(errors="replace") for p in (site.site_dir / "_app").rglob("*.css"))

    # the other tenant is in the same warehouse, and its markers are real values there
    with connect(acme_world) as con:
        rival = con.execute("select count(*) from alerts.firings where message like ?",
                            [f"%{world.RIVAL_SKU}%"]).fetchone()[0]
    assert rival == 1

    start = time.monotonic()
    again = build_site(acme_world, world.ACME, log=lambda _: None)
    assert not again.built and time.monotonic() - start < 15
    print(f"\nEvidence site of {world.ACME}: built in {build_seconds:.0f}s, steps {site.steps}")
