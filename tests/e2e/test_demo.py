"""The README path, end to end: ``python -m orchestration.demo`` (what ``make demo`` runs) on a throwaway
home, twice. For every demo tenant and channel, orders, net revenue, refunds and channel fees in the marts, and
ad spend, must equal the sandbox world's own ground truth to the cent — truth computed from the world's records
here, independently of any dlt source. The demo's deliberately broken source fails alone and is reported; the
second run must change no row count."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.demo import DELIBERATELY_BROKEN
from orchestration.tenants import load_registry
from sandbox.meta_ads.truth import ad_spend_truth
from sandbox.truth import MARKETPLACES, marketplace, sales_truth
from sandbox.world import WorldSpec, build_world
from sandbox.world.marketplace_returns import returns_truth, simulate_returns

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_registry(home: Path) -> Path:
    """tenants.yaml as shipped, its sandbox on a free port (a developer's `make sandbox` may hold 8765) and its
    relative drop folders under this home."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "tenants.yaml"
    path.write_text((REPO / "tenants.yaml").read_text().replace("127.0.0.1:8765", f"127.0.0.1:{free_port()}"))
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
                          text=True, timeout=900)


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


def test_demo_reconciles_to_the_cent_and_is_idempotent(tmp_path):
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
            spend = con.execute("select sum(spend) from marts.fct_ad_spend where tenant_id = ?", [slug]).fetchone()[0]
            assert spend == ad_spend_truth(spec, shop)["spend"], slug
            # the figures the demo printed are these figures
            total_net = sum(figures["net"] for figures in truth.values())
            assert f"{total_net:,.2f}" in first.stdout

    counts = table_counts(db)
    second = run_demo(home)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert table_counts(db) == counts
