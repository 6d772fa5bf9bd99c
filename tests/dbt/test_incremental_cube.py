"""cube_sales_daily really runs incrementally: after one new day of data, a build rebuilds that day only.

The warehouse is acme's hand-landed scenario (conftest.py). After a first build, one new day lands: on 10 July
2025 (New York) Bob places order #1005 (2 × SKU-A at 19.99, 15:00Z) and one unit of #1004's SKU-D line is
refunded (2.25 merchandise, 16:00Z). The next build must
- say which days it rebuilds (from 2025-07-10: the day of the first event the cube had not seen),
- leave every earlier cell physically untouched (DuckDB rowids unchanged) and byte-identical,
- insert exactly the new day's two cells, with hand-computed figures,
- and end where a full rebuild (--vars cube_rebuild) ends.
A build without new data rebuilds nothing. Timings are printed (speed targets live in `make bench`).
"""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pytest

from tests.dbt.conftest import TENANT_A, gid, land_warehouse, li, o, run_dbt, ts

D = Decimal
NEW_DAY = "2025-07-10"
CUBE = "model.omnianalytics.cube_sales_daily"


def cube_rows(db) -> dict[int, tuple]:
    """rowid -> the row, for the tenant's cells (DuckDB keeps a row's rowid until it is deleted)."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select rowid, * exclude (tenant_id) from marts.cube_sales_daily where tenant_id = ?",
                           [TENANT_A]).fetchall()
    return {row[0]: row[1:] for row in rows}


def land_new_day(db) -> None:
    """What the Shopify source lands on 10 July: a new order with its line, and #1004 updated by its refund."""
    with duckdb.connect(str(db)) as con:
        schema = f"raw_shopify__{TENANT_A}"
        con.execute(f"""insert into {schema}.orders values (?, 1005, '#1005', ?, ?, ?, null, 'USD', 'USD', 'web', ?,
                        39.98, 0.00, 3.55, 0.00, 43.53, 0.00, 43.53, '1754600000.1', 'orders-new')""",
                    [o(1005), ts(f"{NEW_DAY}T15:00:00Z"), ts(f"{NEW_DAY}T15:00:00Z"), ts(f"{NEW_DAY}T15:00:00Z"),
                     gid("Customer", 2)])
        con.execute(f"""insert into {schema}.order_line_items values (?, ?, ?, 'SKU-A', 2, ?, ?, 19.9900, 19.9900,
                        0.00, 3.55, '1754600000.1', 'lines-new')""",
                    [li(51), o(1005), ts(f"{NEW_DAY}T15:00:00Z"), gid("ProductVariant", 1), gid("Product", 1)])
        con.execute(f"update {schema}.orders set updated_at = ?, total_refunded_amount = 2.25 where id = ?",
                    [ts(f"{NEW_DAY}T16:00:00Z"), o(1004)])
        con.execute(f"insert into {schema}.refunds values (?, ?, ?, 2.25, '1754600000.1', 'refunds-new')",
                    [gid("Refund", 9), o(1004), ts(f"{NEW_DAY}T16:00:00Z")])
        con.execute(f"""insert into {schema}.refund_line_items values (?, ?, ?, ?, 1, 2.25, 0.00, '1754600000.1',
                        'refund-lines-new')""", [gid("RefundLineItem", 9), gid("Refund", 9), o(1004), li(41)])


def cube_timing(run) -> tuple[float, int | None]:
    result = next(r for r in run.results if r["unique_id"] == CUBE)
    return result["execution_time"], (result.get("adapter_response") or {}).get("rows_affected")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("incremental")
    db = workdir / "warehouse.duckdb"
    land_warehouse(db)

    def build(command: str = "build"):
        run = run_dbt(workdir, db, [command], TENANT_A, target="target")
        assert run.returncode == 0, run.output[-6000:]
        return run

    first = build()
    before = cube_rows(db)
    land_new_day(db)
    incremental = build()
    after = cube_rows(db)
    idle = build("run")  # tests ran on the incremental build; this one only needs the models
    after_idle = cube_rows(db)
    rebuild = run_dbt(workdir, db, ["run", "--vars", json.dumps({"tenant": TENANT_A, "cube_rebuild": True})],
                      None, target="target")
    assert rebuild.returncode == 0, rebuild.output[-6000:]
    return dict(db=db, first=first, before=before, incremental=incremental, after=after, idle=idle,
                after_idle=after_idle, rebuild=rebuild, after_rebuild=cube_rows(db))


def test_the_build_after_a_new_day_rebuilds_that_day_only(builds):
    assert f"cube_sales_daily for tenant acme: rebuilding days from {NEW_DAY}" in builds["incremental"].output
    before, after = builds["before"], builds["after"]
    with duckdb.connect(str(builds["db"]), read_only=True) as con:
        columns = [c[0] for c in con.execute("select * exclude (tenant_id) from marts.cube_sales_daily limit 0")
                   .description]
    date = columns.index("date")
    old_days = {rowid: row for rowid, row in after.items() if str(row[date]) < NEW_DAY}
    # every earlier cell is the very same physical row, unchanged
    assert old_days == before
    new_rows = [row for rowid, row in after.items() if rowid not in before]
    assert len(new_rows) == 2 and all(str(row[date]) == NEW_DAY for row in new_rows)
    time_s, rows_affected = cube_timing(builds["incremental"])
    first_s, first_rows = cube_timing(builds["first"])
    print(f"cube_sales_daily: first build {first_s:.2f}s ({first_rows} rows); incremental {time_s:.2f}s "
          f"({rows_affected} rows)")
    if rows_affected is not None and rows_affected >= 0:
        assert rows_affected == 2


def test_the_new_days_cells_hold_the_hand_computed_figures(builds):
    with duckdb.connect(str(builds["db"]), read_only=True) as con:
        rows = con.execute("""select sku, customer_segment, orders, units, net_sales, refunded_units, refunds, cogs,
                                     contribution_profit
                              from marts.cube_sales_daily where tenant_id = ? and date = ? order by sku""",
                           [TENANT_A, NEW_DAY]).fetchall()
    assert rows == [
        # Bob's second order: 2 × 19.99 = 39.98, COGS 2 × 7.50 (Shopify's unit cost of SKU-A) = 15.00
        ("SKU-A", "returning", 1, 2, D("39.98"), 0, D("0.00"), D("15.00"), D("24.98")),
        # the refund of #1004 (Ann's third order: returning), dated on the day it happened; SKU-D has no cost
        ("SKU-D", "returning", 0, 0, D("0.00"), 1, D("2.25"), D("0.00"), D("-2.25")),
    ]


def test_a_build_without_new_events_rebuilds_nothing(builds):
    assert "cube_sales_daily for tenant acme: no new events, nothing to rebuild" in builds["idle"].output
    assert builds["after_idle"] == builds["after"]


def test_incremental_builds_end_where_a_full_rebuild_ends(builds):
    incremental = sorted(builds["after"].values(), key=repr)
    rebuilt = sorted(builds["after_rebuild"].values(), key=repr)
    assert incremental == rebuilt
    assert len(rebuilt) > 10
    print(f"cube_sales_daily: full rebuild {cube_timing(builds['rebuild'])[0]:.2f}s")
