"""The README path, end to end: ``python -m orchestration.demo`` (what ``make demo`` runs) on a throwaway
home, twice. For every demo tenant and channel, orders, net revenue, refunds and channel fees in the marts, and
ad spend, must equal the sandbox world's own ground truth to the cent — truth computed from the world's records
here, independently of any dlt source. The demo's deliberately broken source fails alone and is reported; the
second run must change no row count."""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from mlflow.tracking import MlflowClient

from models_ml.catalogue import MODELS
from orchestration.demo import DELIBERATELY_BROKEN
from orchestration.tenants import load_registry
from sandbox.fx_rates import published_rates
from sandbox.meta_ads.truth import ad_spend_truth
from sandbox.truth import MARKETPLACES, daily_sales_truth, marketplace, sales_truth
from sandbox.world import WorldSpec, build_world
from sandbox.world.marketplace_returns import returns_truth, simulate_returns
from tests.support.dbt_manifest import fresh_manifest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_registry(home: Path) -> Path:
    """tenants.yaml as shipped, its sandbox on a free port (a developer's `make sandbox` may hold 8765), its
    relative drop folders under this home and its logos where they are (reports/branding/)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "tenants.yaml"
    path.write_text((REPO / "tenants.yaml").read_text().replace("127.0.0.1:8765", f"127.0.0.1:{free_port()}")
                    .replace("logo: reports/branding/", f"logo: {REPO}/reports/branding/"))
    return path


def run_demo(home: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **env_example(),
        "OMNI_PROFILE": "embedded",
        "OMNI_HOME": str(home),
        "OMNI_DUCKDB_PATH": str(home / "warehouse" / "omni.duckdb"),
        "OMNI_TENANTS_FILE": str(home / "tenants.yaml"),
        "DAGSTER_HOME": str(home / "dagster"),
        "PYTHONPATH": str(REPO),
    }
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    return subprocess.run([sys.executable, "-m", "orchestration.demo"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=1200)


def env_example() -> dict[str, str]:
    """The demo's environment as the Makefile gives it: every variable of .env.example."""
    values = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#") and key.strip():
            values[key.strip()] = value.strip()
    return values


def table_counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_name not like '\\_dlt%' escape '\\' "
            # dlt's *_staging schemas only hold the last merge batch
            "and table_schema not like '%\\_staging' escape '\\' order by 1"
        ).fetchall()
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in tables}


@pytest.mark.timeout(2400)  # two whole demo runs: models, alerts and report sites included (~13 min on 2 free cores)
def test_demo_reconciles_to_the_cent_and_is_idempotent(tmp_path):
    fresh_manifest()  # the demo's Dagster definitions read it
    home = tmp_path / "omni"
    demo_registry(home)
    first = run_demo(home)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    registry = load_registry(REPO / "tenants.yaml")
    for slug in registry.slugs:
        assert slug in first.stdout  # the per-tenant table is printed
    assert "Warehouse:" in first.stdout

    # the deliberately broken source failed alone, named, and was reported; nothing else failed
    for slug, source in DELIBERATELY_BROKEN:
        assert f"{slug}/{source}:" in first.stdout and "invalid_grant" in first.stdout
    assert "FAILED" not in first.stdout + first.stderr

    db = home / "warehouse" / "omni.duckdb"
    spec = WorldSpec.load(REPO / "sandbox" / "worlds" / "demo.yaml")
    world = build_world(spec)
    with duckdb.connect(str(db), read_only=True) as con:
        for slug in registry.slugs:
            shop = world.shop(slug)
            truth = sales_truth(spec, shop)  # every sales channel (the broken source is not one)
            warehouse = {channel: {"orders": n, "gross": gross, "discounts": discounts, "refunds": refunds,
                                   "net": net, "fees": fees}
                         for channel, n, gross, discounts, refunds, net, fees in con.execute("""
                select o.channel, count(*), sum(o.gross_amount), sum(o.discount_amount), sum(o.refund_amount),
                       sum(o.net_revenue),
                       coalesce((select sum(f.amount) from marts.fct_fees f
                                 where f.tenant_id = o.tenant_id and f.channel = o.channel), 0)
                from marts.fct_orders o where o.tenant_id = ? group by o.tenant_id, o.channel""", [slug]).fetchall()}
            assert warehouse == truth, slug
            # refunds dated by refund reconcile to the same cents as refunds carried on the orders
            for channel, refunds in con.execute("select channel, sum(refunded_amount) from marts.fct_refunds "
                                                "where tenant_id = ? group by channel", [slug]).fetchall():
                assert refunds == truth[channel]["refunds"], (slug, channel)
            # returns as the marketplaces report them (Amazon's report: the lines it fulfilled)
            for channel in MARKETPLACES:
                if channel in shop.spec.channels:
                    returns = simulate_returns(spec, marketplace(spec, shop, channel))
                    units = con.execute("select coalesce(sum(returned_quantity), 0) from marts.fct_returns "
                                        "where tenant_id = ? and channel = ?", [slug, channel]).fetchone()[0]
                    assert units == returns_truth(returns, fba_only=channel == "amazon")["units"], (slug, channel)
            assert_days_reconcile(con, slug, daily_sales_truth(spec, shop))
            spend = con.execute("select sum(spend) from marts.fct_ad_spend where tenant_id = ?", [slug]).fetchone()[0]
            assert spend == ad_spend_truth(spec, shop)["spend"], slug
            assert_spend_converts_at_the_published_rates(con, spec, slug)
            # the figures the demo printed are these figures
            total_net = sum(figures["net"] for figures in truth.values())
            assert f"{total_net:,.2f}" in first.stdout

    assert_models_are_per_tenant(db, home, registry.slugs, first.stdout)
    firings = assert_alerts_are_per_tenant(db, home, registry.slugs, first.stdout)
    assert_sites_hold_only_their_tenant(db, home, registry, first.stdout)
    assert {slug: state for slug, (state, *_) in site_lines(first.stdout).items()} == dict.fromkeys(registry.slugs,
                                                                                                   "built")

    counts, predictions = table_counts(db), prediction_digests(db)
    second = run_demo(home)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert table_counts(db) == counts
    # nothing changed, so no model retrained: every run is reused and every prediction is the same
    assert model_lines(second.stdout) == {(slug, spec.name): ("1", "reused") for slug in registry.slugs
                                          for spec in MODELS}
    assert prediction_digests(db) == predictions
    # nothing the sites show changed: no site is built or browsed again
    assert {slug: state for slug, (state, *_) in site_lines(second.stdout).items()} == dict.fromkeys(
        registry.slugs, "unchanged")
    # the same data fires the same alerts: none stored or delivered again
    assert alert_counts(second.stdout) == {slug: (n, 0) for slug, n in firings.items()}
    assert sum(1 for _ in (home / "alerts").glob("*.log")) == len(firings)
    for slug, n in firings.items():
        assert len((home / "alerts" / f"{slug}.log").read_text().splitlines()) == n, slug


def site_lines(stdout: str) -> dict[str, tuple[str, int, Decimal, int, Path]]:
    """The demo's report-site table: tenant -> (state, pages, headline, screenshots, site folder)."""
    found = re.findall(r"^(\w+) +(built|unchanged) +(\d+) +[\d.]+ +([\d,.-]+) +(\d+)  (\S+)$", stdout,
                       flags=re.MULTILINE)
    return {slug: (state, int(pages), Decimal(headline.replace(",", "")), int(shots), Path(site))
            for slug, state, pages, headline, shots, site in found}


def assert_sites_hold_only_their_tenant(db: Path, home: Path, registry, stdout: str) -> None:
    """Each demo tenant's site was built under the tenant's own folder, every page screenshotted on a desktop and
    a phone; its headline (net revenue of the last 7 complete days) is the warehouse's figure, computed here; its
    summary carries the week's generated insight and the tenant's own logo; no file of it holds another tenant's
    slug, name or best-selling SKUs (orchestration/sites/isolation.py)."""
    from orchestration.sites.insights import build_insights
    from orchestration.sites.isolation import assert_isolated, foreign_markers

    sites = site_lines(stdout)
    assert set(sites) == set(registry.slugs)
    with duckdb.connect(str(db), read_only=True) as con:
        for slug, (_, pages, headline, shots, site) in sites.items():
            assert site == home / "sites" / slug / "site" and (site / "index.html").exists(), slug
            assert pages == 8 and shots == 2 * pages, slug
            pngs = sorted(p.name for p in (home / "screenshots" / slug).glob("*.png"))
            assert len(pngs) == shots and "index.png" in pngs and "forecast.phone.png" in pngs, (slug, pngs)
            (net,) = con.execute("""
                with last as (select max(order_date) - 1 as day from marts.fct_orders where tenant_id = ?)
                select sum(net_revenue_reporting) from marts.fct_orders, last
                where tenant_id = ? and order_date between last.day - 6 and last.day""", [slug, slug]).fetchone()
            assert headline == net, slug
            summary = html.unescape((site / "index.html").read_text())
            assert f"{net:,.2f}" in summary, slug
            (week,) = [i for i in build_insights(con, slug) if i.kind == "wow_total"]
            assert week.sentence in summary, slug
            logo = REPO / "reports" / "branding" / f"{slug}.svg"
            assert (site / "brand" / "logo.svg").read_text() == logo.read_text(), slug
            foreign = foreign_markers(con, registry, slug)
            assert {m.kind for m in foreign} == {"slug", "name", "canary_sku"}, slug
            assert_isolated(site, foreign, slug)


def alert_counts(stdout: str) -> dict[str, tuple[int, int]]:
    """The demo's alert list: tenant -> (alerts, new in this run)."""
    found = re.findall(r"^(\w+): (\d+) alert\(s\), (\d+) new in this run", stdout, flags=re.MULTILINE)
    return {slug: (int(n), int(new)) for slug, n, new in found}


def assert_alerts_are_per_tenant(db: Path, home: Path, slugs: list[str], stdout: str) -> dict[str, int]:
    """Every demo tenant fired alerts, all new and delivered to its own local log (no webhook URL is set); each
    firing names only the tenant's own SKUs, and the list the demo printed is the table's."""
    counts = alert_counts(stdout)
    assert set(counts) == set(slugs)
    with duckdb.connect(str(db), read_only=True) as con:
        for slug in slugs:
            rows = con.execute("select rule, kind, subject, message, delivered_via from alerts.firings "
                               "where tenant_id = ?", [slug]).fetchall()
            assert rows and counts[slug] == (len(rows), len(rows)), slug
            assert {via for *_, via in rows} == {"log"}, slug
            own = {sku for (sku,) in con.execute("select sku from marts.dim_products where tenant_id = ?",
                                                 [slug]).fetchall()}
            for rule, kind, subject, message, _ in rows:
                if kind == "competitor_undercut":
                    assert subject in own, (slug, rule, subject)
                for other in set(slugs) - {slug}:
                    assert other not in message.lower(), (slug, rule)
            logged = [json.loads(line) for line in (home / "alerts" / f"{slug}.log").read_text().splitlines()]
            assert len(logged) == len(rows), slug
            assert {"competitor_undercut"} <= {kind for _, kind, *_ in rows}, slug
    return {slug: n for slug, (n, _) in counts.items()}


def model_lines(stdout: str) -> dict[tuple[str, str], tuple[str, str]]:
    """The demo's model table: (tenant, model) -> (version, state)."""
    names = {spec.name for spec in MODELS}
    rows = [line.split() for line in stdout.splitlines()]
    return {(row[0], row[1]): (row[2], row[3]) for row in rows if len(row) > 4 and row[1] in names}


def prediction_digests(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {spec.table: con.execute(f"select md5(string_agg(t::varchar, '|' order by t::varchar)) "
                                        f"from ml.{spec.table} t").fetchone()[0] for spec in MODELS}


def assert_models_are_per_tenant(db: Path, home: Path, slugs: list[str], stdout: str) -> None:
    """Every model trained for every tenant, version 1 registered under the tenant's own name; every prediction
    row names only the tenant's own SKUs, customers and lines; MLflow keeps each tenant's artifacts apart."""
    lines = model_lines(stdout)
    assert set(lines) == {(slug, spec.name) for slug in slugs for spec in MODELS}
    assert {version for version, _ in lines.values()} == {"1"}
    assert {state for _, state in lines.values()} <= {"promoted", "candidate"}  # candidate: lost to its baseline
    assert lines[("northwind", "demand_forecast")] == ("1", "promoted")
    own = {"sku": "select sku from marts.dim_products where tenant_id = ?",
           "customer_key": "select customer_key from marts.dim_customers where tenant_id = ?",
           "order_line_key": "select order_line_key from marts.fct_order_lines where tenant_id = ?"}
    with duckdb.connect(str(db), read_only=True) as con:
        for spec in MODELS:
            for slug in slugs:
                rows = con.execute(f"select count(*) from ml.{spec.table} where tenant_id = ?", [slug]).fetchone()[0]
                assert rows > 0, (spec.table, slug)
                for column, sql in own.items():
                    if column in spec.columns:
                        foreign = con.execute(f"select count(*) from ml.{spec.table} p where tenant_id = ? and "
                                              f"{column} not in ({sql})", [slug, slug]).fetchone()[0]
                        assert foreign == 0, (spec.table, slug, column)
    client = MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    registered = sorted(m.name for m in client.search_registered_models())
    assert registered == sorted(f"{slug}__{spec.name}" for slug in slugs for spec in MODELS)
    artifacts = home / "mlflow" / "artifacts"
    assert sorted(p.name for p in artifacts.iterdir()) == sorted(slugs)


def cents(value: int) -> Decimal:
    return Decimal(int(value)).scaleb(-2)


def assert_days_reconcile(con, slug: str, truth) -> None:
    """Per channel and local day, the channel cube (event-dated: orders and net sales on the order day, refunds
    on the refund day, fees on the posting day) equals the world's own day totals to the cent, and the sales
    cube's cells add up to the same day totals."""
    expected = {(r["channel"], r["date"]): (r["orders"], cents(r["net_sales"]), cents(r["refunds"]), cents(r["fees"]))
                for r in truth.iter_rows(named=True)}
    channel_cube = {(channel, day): (orders, net, refunds, fees) for channel, day, orders, net, refunds, fees in
                    con.execute("""select channel, date, orders, net_sales, refunds, channel_fees
                                   from marts.cube_channel_daily where tenant_id = ?
                                     and (orders <> 0 or net_sales <> 0 or refunds <> 0 or channel_fees <> 0)""",
                                [slug]).fetchall()}
    assert len(expected) > 300, slug
    assert channel_cube == expected, (slug, sorted(set(channel_cube.items()) ^ set(expected.items()))[:4])
    sales_cube = {(channel, day): (net, refunds, fees) for channel, day, net, refunds, fees in con.execute(
        """select channel, date, sum(net_sales), sum(refunds), sum(channel_fees) from marts.cube_sales_daily
           where tenant_id = ? group by channel, date
           having sum(net_sales) <> 0 or sum(refunds) <> 0 or sum(channel_fees) <> 0""", [slug]).fetchall()}
    assert sales_cube == {key: value[1:] for key, value in expected.items() if any(value[1:])}, slug


def assert_spend_converts_at_the_published_rates(con, spec, slug: str) -> None:
    """Every ad-day row in the reporting currency is its spend × the rate the rates twin published for the last
    business day on or before the ad day, rounded half away from zero to the cent (alpine: a USD ad account,
    EUR reporting)."""
    rows = con.execute("select date, currency, reporting_currency, spend, fx_rate, spend_reporting "
                       "from marts.fct_ad_spend where tenant_id = ? order by date, ad_day_key", [slug]).fetchall()
    assert rows, slug
    foreign = [r for r in rows if r[1] != r[2]]
    if slug == "alpine":
        assert foreign and len(foreign) == len(rows)  # the demo's foreign-currency fact
    for currency, reporting in {(r[1], r[2]) for r in foreign}:
        published = published_rates(spec, currency, reporting)
        days = sorted(published)
        for day, _, _, spend, fx_rate, spend_reporting in (r for r in foreign if r[1] == currency):
            rate = published[max(d for d in days if d <= day)]
            assert fx_rate == rate, (slug, day)
            assert spend_reporting == (spend * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), (slug, day)
    for _, currency, reporting, spend, fx_rate, spend_reporting in rows:
        if currency == reporting:
            assert (fx_rate, spend_reporting) == (1, spend)
