"""``make bench``: a 100k-order Shopify import through the real API path, printed as a table.

The sandbox (a 100k-order shop) runs in its own process; this process runs the dlt Shopify source into a
throwaway DuckDB, exactly as production would against Shopify, and reports rows/s and peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dlt
import duckdb
import requests
import yaml

from sources.shopify import shopify_source

REPO = Path(__file__).resolve().parents[2]
SHOP = "benchshop"


def world_file(folder: Path, orders_per_day: float, days: int) -> Path:
    path = folder / "bench-world.yaml"
    path.write_text(yaml.safe_dump({
        "seed": 42, "start_date": "2024-11-01", "days": days,
        "shops": [{"handle": SHOP, "name": "Bench Shop", "currency": "USD", "timezone": "America/New_York",
                   "access_token": "shpat_sandbox_bench", "orders_per_day": orders_per_day,
                   "wholesale_orders_per_week": 0, "n_products": 200}],
    }))
    return path


def wait_for(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000, help="approximate online orders in the shop")
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    days = 730
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # online orders average orders_per_day, less the few purchases a stockout loses (about 2 %)
        spec = world_file(folder, orders_per_day=args.orders / days / 0.97, days=days)
        server = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--world", str(spec), "--port",
                                   str(args.port)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(f"http://127.0.0.1:{args.port}/_sandbox/health")
            baseline = peak_rss_mb()
            pipeline = dlt.pipeline(
                pipeline_name=f"shopify__{SHOP}", dataset_name=f"raw_shopify__{SHOP}",
                pipelines_dir=str(folder / "dlt"),
                destination=dlt.destinations.duckdb(str(folder / "wh.duckdb"), enable_dataset_name_normalization=False))
            started = time.perf_counter()
            pipeline.run(shopify_source(shop_url=f"http://127.0.0.1:{args.port}/{SHOP}",
                                        access_token="shpat_sandbox_bench"))
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        with duckdb.connect(str(folder / "wh.duckdb"), read_only=True) as con:
            counts = {t: con.execute(f"select count(*) from raw_shopify__{SHOP}.{t}").fetchone()[0]
                      for t in ("orders", "order_line_items", "refunds", "refund_line_items", "customers",
                                "products", "product_variants")}
    rows = sum(counts.values())
    print("\nShopify import through the GraphQL API path (sandbox twin in its own process) → DuckDB")
    print(f"{'metric':<34}{'value':>16}")
    print("-" * 50)
    for table, n in counts.items():
        print(f"{'rows: ' + table:<34}{n:>16,}")
    print(f"{'rows total':<34}{rows:>16,}")
    print(f"{'wall time (s)':<34}{elapsed:>16.1f}")
    print(f"{'orders / s':<34}{counts['orders'] / elapsed:>16,.0f}")
    print(f"{'rows / s':<34}{rows / elapsed:>16,.0f}")
    print(f"{'peak RSS of the loader (MB)':<34}{peak_rss_mb():>16,.0f}")
    print(f"{'  of which before loading (MB)':<34}{baseline:>16,.0f}")


if __name__ == "__main__":
    main()
