"""The files source on real DuckDB: exact decimals, quarantine with reasons, idempotent re-runs, and a real
merchant's export (UCI Online Retail) mapped into the canonical layout."""

from __future__ import annotations

import csv
import gzip
import io
import os
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import pytest

from sources.files import files_source

TENANT = "acme"
SCHEMA = f"raw_files__{TENANT}"
# shared/ sits beside the clone (as in CI); OMNI_SHARED_DATA points elsewhere
RETAIL = Path(os.environ.get("OMNI_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) \
    / "online-retail"


def run(tmp_path: Path, drop: Path) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"files__{TENANT}",
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False),
        dataset_name=SCHEMA,
        pipelines_dir=str(tmp_path / "dlt"),
    )
    pipeline.run(files_source(tenant=TENANT, bucket_url=drop.as_uri()))


def query(tmp_path: Path, sql: str, *params) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def count(tmp_path: Path, table: str) -> int:
    return query(tmp_path, f"select count(*) from {SCHEMA}.{table}")[0][0]


def write(path: Path, header: list[str], rows: list[list[str]], *, gz: bool = False) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data) if gz else data)


ORDER_HEADER = ["order_id", "order_number", "customer_id", "ordered_at", "currency", "shipping_amount", "channel"]
LINE_HEADER = ["order_id", "line_number", "sku", "quantity", "unit_price", "discount_amount", "tax_amount"]


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    write(folder / "orders_2025-01.csv", ORDER_HEADER, [
        ["A-1", "1001", "C-1", "2025-01-05T03:00:00Z", "USD", "4.95", ""],
        ["A-2", "1002", "C-2", "2025-01-06T10:15:00+01:00", "USD", "", "retail"],
        ["A-3", "1003", "C-1", "05/01/2025", "USD", "0.00", ""],            # bad: date format
        ["A-4", "1004", "C-3", "2025-01-07T09:00:00Z", "usd", "0.00", ""],  # bad: currency
        ["A-1", "1001", "C-1", "2025-01-05T03:00:00Z", "USD", "4.95", ""],  # bad: duplicate key
    ])
    write(folder / "order_lines_2025-01.csv.gz", LINE_HEADER, [
        ["A-1", "1", "SKU-1", "3", "0.1000", "0.00", "0.03"],
        ["A-1", "2", "SKU-2", "1", "9999999999999.99", "0.01", "0.00"],
        ["A-2", "1", "SKU-1", "2", "19.995", "1.99", "2.60"],
        ["A-2", "2", "SKU-3", "-1", "5.00", "0.00", "0.00"],   # bad: quantity
        ["A-2", "3", "SKU-3", "1", "5.00", "0.125", "0.00"],   # bad: money places
        ["A-2", "4", "", "1", "5.00", "0.00", "0.00"],         # bad: required sku
    ], gz=True)
    write(folder / "products.csv", ["sku", "title", "category", "unit_cost", "price"], [
        ["SKU-1", "Tea", "Food", "0.0400", "0.10"], ["SKU-2", "Gold", "Luxury", "1.00", "9999999999999.99"]])
    return folder


def test_good_rows_land_exactly_and_bad_rows_are_quarantined(tmp_path, drop):
    run(tmp_path, drop)
    assert count(tmp_path, "orders") == 2 and count(tmp_path, "order_lines") == 3
    # exact decimals end to end: 3 × 0.1000 + 1 × 9,999,999,999,999.99 + 2 × 19.995
    total = query(tmp_path, f"select sum(quantity * unit_price), sum(discount_amount) from {SCHEMA}.order_lines")
    assert total == [(Decimal("0.3") + Decimal("9999999999999.99") + Decimal("39.99"), Decimal("2.00"))]
    a2 = query(tmp_path, f"select shipping_amount, channel from {SCHEMA}.orders where order_id = 'A-2'")
    assert a2 == [(Decimal("0.00"), "retail")]  # an empty amount takes its default
    types = dict(query(tmp_path, "select column_name, data_type from information_schema.columns "
                                 "where table_schema = ? and table_name = 'order_lines'", SCHEMA))
    assert types["unit_price"] == "DECIMAL(18,4)" and types["tax_amount"] == "DECIMAL(18,2)"
    assert types["quantity"] == "BIGINT"

    bad = query(tmp_path, f"select file, line, entity, rule, reason from {SCHEMA}.quarantine order by file, line")
    assert [(f, ln, r) for f, ln, _, r, _ in bad] == [
        ("order_lines_2025-01.csv.gz", 5, "quantity:quantity"),
        ("order_lines_2025-01.csv.gz", 6, "places:discount_amount"),
        ("order_lines_2025-01.csv.gz", 7, "required:sku"),
        ("orders_2025-01.csv", 4, "timestamp:ordered_at"),
        ("orders_2025-01.csv", 5, "currency:currency"),
        ("orders_2025-01.csv", 6, "duplicate_key:order_id"),
    ]
    assert "'05/01/2025'" in bad[3][4] and "'0.125'" in bad[1][4]


def test_rerun_changes_nothing_and_a_corrected_file_updates_by_key(tmp_path, drop):
    run(tmp_path, drop)
    before = {t: count(tmp_path, t) for t in ("orders", "order_lines", "products", "quarantine")}
    run(tmp_path, drop)
    assert {t: count(tmp_path, t) for t in before} == before

    write(drop / "orders_2025-01.csv", ORDER_HEADER, [
        ["A-1", "1001", "C-1", "2025-01-05T03:00:00Z", "USD", "5.95", ""],
        ["A-2", "1002", "C-2", "2025-01-06T10:15:00+01:00", "USD", "0.00", "retail"],
    ])
    run(tmp_path, drop)
    assert count(tmp_path, "orders") == 2
    assert query(tmp_path, f"select shipping_amount from {SCHEMA}.orders where order_id = 'A-1'") == [
        (Decimal("5.95"),)]


def test_missing_required_column_quarantines_the_file_and_the_rest_loads(tmp_path, drop, caplog):
    write(drop / "customers.csv", ["email", "first_name"], [["a@example.com", "Ann"]])
    run(tmp_path, drop)
    assert count(tmp_path, "orders") == 2
    rows = query(tmp_path, f"select line, rule, reason from {SCHEMA}.quarantine where file = 'customers.csv'")
    assert rows == [(1, "schema:missing_column", "the header lacks required column(s) customer_id")]
    assert "tenant acme, source files, file customers.csv, line 1: rule schema:missing_column" in caplog.text


def test_empty_drop_loads_nothing_and_fails_nothing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run(tmp_path, empty)


def _retail_to_canonical(day_files: list[Path], drop: Path) -> tuple[Decimal, int]:
    """A per-merchant column mapping, written here in the test: UCI invoices → canonical orders and lines.

    Returns Σ quantity × unit price over the lines that are valid in the canonical layout (quantity > 0,
    price ≥ 0), computed with Decimal from the raw text, and the number of cancellation lines."""
    orders, lines, expected, cancellations = {}, [], Decimal(0), 0
    for path in day_files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                invoice = row["InvoiceNo"]
                customer = row["CustomerID"].removesuffix(".0")
                orders.setdefault(invoice, [invoice, invoice, customer,
                                            row["InvoiceDate"].replace(" ", "T") + "+00:00", "GBP", "0.00", "retail"])
                number = sum(1 for ln in lines if ln[0] == invoice) + 1
                lines.append([invoice, str(number), row["StockCode"], row["Quantity"], row["UnitPrice"], "0.00",
                              "0.00"])
                if int(row["Quantity"]) > 0 and Decimal(row["UnitPrice"]) >= 0:
                    expected += int(row["Quantity"]) * Decimal(row["UnitPrice"])
                else:
                    cancellations += 1
    write(drop / "orders_retail.csv", ORDER_HEADER, list(orders.values()))
    write(drop / "order_lines_retail.csv", LINE_HEADER, lines)
    return expected, cancellations


def test_a_real_merchant_export_loads_to_the_penny(tmp_path):
    drop = tmp_path / "retail"
    drop.mkdir()
    days = [RETAIL / "2010-12-01.csv.gz", RETAIL / "2011-12-09.csv.gz"]
    expected, rejected = _retail_to_canonical(days, drop)
    run(tmp_path, drop)
    loaded = query(tmp_path, f"select sum(quantity * unit_price), count(*) from {SCHEMA}.order_lines")[0]
    assert loaded[0] == expected
    rules = dict(query(tmp_path, f"select rule, count(*) from {SCHEMA}.quarantine group by rule"))
    assert rules.get("quantity:quantity", 0) == rejected > 0  # cancellations (negative quantities) wait there
    assert set(rules) <= {"quantity:quantity"}


def test_tenant_rules_quarantine_what_breaks_them(tmp_path, drop):
    rules = [{"name": "usd_only", "entity": "orders", "column": "currency", "allowed": ["EUR"]},
             {"name": "no_bulk", "entity": "order_lines", "column": "quantity", "maximum": "2"}]
    pipeline = dlt.pipeline(
        pipeline_name=f"files__{TENANT}", dataset_name=SCHEMA, pipelines_dir=str(tmp_path / "dlt"),
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False))
    pipeline.run(files_source(tenant=TENANT, bucket_url=drop.as_uri(), rules=rules))
    # both otherwise good orders are in USD: nothing lands in orders (dbt reads an empty, typed relation then)
    assert query(tmp_path, "select count(*) from information_schema.tables where table_schema = ? "
                           "and table_name = 'orders'", SCHEMA) == [(0,)]
    assert count(tmp_path, "order_lines") == 2  # the line of 3 units breaks no_bulk
    rows = query(tmp_path, f"select line, rule, reason from {SCHEMA}.quarantine where rule like 'tenant_rule:%' "
                           "order by rule, line")
    assert [(line, rule) for line, rule, _ in rows] == [(2, "tenant_rule:no_bulk"), (2, "tenant_rule:usd_only"),
                                                        (3, "tenant_rule:usd_only")]
    assert rows[0][2] == "quantity '3' breaks the tenant's rule no_bulk: expected at most 2"
    with pytest.raises(ValueError, match="orders has no column 'colour'"):
        files_source(tenant=TENANT, bucket_url=drop.as_uri(),
                     rules=[{"name": "x", "entity": "orders", "column": "colour", "allowed": ["red"]}])
