"""``make bench`` (second table): what one new day costs the sales cube, against rebuilding it whole.

A Shopify shop of about 100k orders (the same world as bench_shopify_import) is served by the sandbox with its
clock at the end of the day before the world's last; the real dlt source lands it, the tenant is built with
`dbt build` as the orchestration runs it. The clock then moves one day on, the source lands that day
incrementally, and the tenant is built again: cube_sales_daily must rebuild that day only. Printed: the cube's
rows, the rows the incremental build wrote (the new day's cells; every other day's rows keep their DuckDB
rowid), and the cube model's time on the first build, the incremental build and a full rebuild
(`--vars '{cube_rebuild: true}'`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt
import duckdb
import requests

from sources.shopify import shopify_source
from tests.benchmarks.bench_shopify_import import SHOP, wait_for, world_file

REPO = Path(__file__).resolve().parents[2]
DBT = REPO / ".venv" / "bin" / "dbt"
CUBE = "model.omnianalytics.cube_sales_daily"
DAYS = 730
LAST_DAY = datetime(2024, 11, 1, tzinfo=UTC) + timedelta(days=DAYS - 1)  # the world's last local day


def register_tenant(db: Path) -> None:
    """The registry row the platform asset lands (raw_platform.tenants) for the bench shop."""
    with duckdb.connect(str(db)) as con:
        con.execute("create schema if not exists raw_platform")
        con.execute("""create table if not exists raw_platform.tenants (tenant_id text, display_name text,
                       currency text, timezone text, plan_tier text, data_retention_days bigint,
                       updated_at timestamp with time zone)""")
        con.execute("insert into raw_platform.tenants values (?, 'Bench Shop', 'USD', 'America/New_York', "
                    "'enterprise', 1825, now())", [SHOP])


def dbt_build(folder: Path, db: Path, extra_vars: dict | None = None, command: str = "build") -> tuple[float, float]:
    """(wall seconds of the whole invocation, seconds of the cube model)."""
    env = {**os.environ, "OMNI_PROFILE": "embedded", "OMNI_DUCKDB_PATH": str(db),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    args = [str(DBT), command, "--project-dir", str(REPO / "dbt_project"), "--profiles-dir",
            str(REPO / "dbt_project"), "--target-path", str(folder / "target"), "--log-path", str(folder / "logs"),
            "--vars", json.dumps({"tenant": SHOP, **(extra_vars or {})})]
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO / "dbt_project", env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"dbt {command} failed:\n{proc.stdout[-4000:]}")
    results = json.loads((folder / "target" / "run_results.json").read_text())["results"]
    return wall, next(r["execution_time"] for r in results if r["unique_id"] == CUBE)


def cube_rows(db: Path) -> dict[int, tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0]: r[1:] for r in con.execute("select rowid, date, cube_key from marts.cube_sales_daily").fetchall()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000, help="approximate online orders in the shop")
    parser.add_argument("--port", type=int, default=8798)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = world_file(folder, orders_per_day=args.orders / DAYS / 0.97, days=DAYS)
        base = f"http://127.0.0.1:{args.port}"
        server = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--world", str(spec), "--port",
                                   str(args.port)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        db = folder / "wh.duckdb"
        try:
            wait_for(f"{base}/_sandbox/health")
            pipeline = dlt.pipeline(
                pipeline_name=f"shopify__{SHOP}", dataset_name=f"raw_shopify__{SHOP}",
                pipelines_dir=str(folder / "dlt"),
                destination=dlt.destinations.duckdb(str(db), enable_dataset_name_normalization=False))

            def land(as_of: datetime | None) -> None:
                body = {"as_of": as_of.isoformat()} if as_of else {}  # {}: the world's end
                requests.post(f"{base}/_sandbox/clock", json=body, timeout=60).raise_for_status()
                pipeline.run(shopify_source(shop_url=f"{base}/{SHOP}", access_token="shpat_sandbox_bench"))

            # midnight in New York (EDT: 04:00Z) at the end of the day before the world's last day
            land(LAST_DAY.replace(hour=4))
            register_tenant(db)
            first_wall, first_cube = dbt_build(folder, db)
            before = cube_rows(db)
            land(None)
            next_wall, next_cube = dbt_build(folder, db)
            after = cube_rows(db)
            rebuild_wall, rebuild_cube = dbt_build(folder, db, {"cube_rebuild": True}, command="run")
        finally:
            server.terminate()
            server.wait(timeout=30)
    written = {rowid: row for rowid, row in after.items() if rowid not in before}
    untouched = sum(1 for rowid, row in before.items() if after.get(rowid) == row)
    days_written = sorted({str(row[0]) for row in written.values()})
    print(f"\nSales cube (cube_sales_daily): one new day against a full rebuild, ~{args.orders // 1000}k orders")
    print(f"{'metric':<44}{'value':>16}")
    print("-" * 60)
    print(f"{'cube rows after the new day':<44}{len(after):>16,}")
    print(f"{'rows written by the incremental build':<44}{len(written):>16,}")
    print(f"{'days written':<44}{', '.join(days_written):>16}")
    print(f"{'earlier rows left untouched (same rowid)':<44}{untouched:>16,}")
    print(f"{'cube model: first build (s)':<44}{first_cube:>16.2f}")
    print(f"{'cube model: incremental, one new day (s)':<44}{next_cube:>16.2f}")
    print(f"{'cube model: full rebuild (s)':<44}{rebuild_cube:>16.2f}")
    print(f"{'dbt build, first (s)':<44}{first_wall:>16.1f}")
    print(f"{'dbt build, after one new day (s)':<44}{next_wall:>16.1f}")
    print(f"{'dbt run, full cube rebuild (s)':<44}{rebuild_wall:>16.1f}")


if __name__ == "__main__":
    main()
