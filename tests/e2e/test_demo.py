"""The README path, end to end: ``python -m orchestration.demo`` (what ``make demo`` runs) on a throwaway
home, twice. For every demo tenant, net revenue in ``fct_orders`` must equal the sandbox world's own ground
truth to the cent — truth computed from the world's records here, independently of any dlt source — and the
second run must change no row count."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.tenants import load_registry
from sandbox.truth import revenue_truth
from sandbox.world import WorldSpec, build_world

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
        "OMNI_PROFILE": "embedded",
        "OMNI_HOME": str(home),
        "OMNI_DUCKDB_PATH": str(home / "warehouse" / "omni.duckdb"),
        "OMNI_TENANTS_FILE": str(home / "tenants.yaml"),
        "DAGSTER_HOME": str(home / "dagster"),
        "NORTHWIND_SHOPIFY_TOKEN": "shpat_sandbox_northwind",
        "ALPINE_SHOPIFY_TOKEN": "shpat_sandbox_alpine",
        "KUMO_SHOPIFY_TOKEN": "shpat_sandbox_kumo",
        "PYTHONPATH": str(REPO),
    }
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    return subprocess.run([sys.executable, "-m", "orchestration.demo"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)


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

    db = home / "warehouse" / "omni.duckdb"
    world = build_world(WorldSpec.load(REPO / "sandbox" / "worlds" / "demo.yaml"))
    with duckdb.connect(str(db), read_only=True) as con:
        for slug in registry.slugs:
            truth = revenue_truth(world.shop(slug))
            orders, gross, net = con.execute(
                "select count(*), sum(gross_amount), sum(net_revenue) from marts.fct_orders where tenant_id = ?",
                [slug]).fetchone()
            assert (orders, gross, net) == (truth["orders"], truth["gross"], truth["net"]), slug
            # the figures the demo printed are these figures
            assert f"{net:,.2f}" in first.stdout

    counts = table_counts(db)
    second = run_demo(home)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert table_counts(db) == counts
