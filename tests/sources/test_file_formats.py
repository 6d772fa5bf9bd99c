"""Native export formats in a file drop: Shopify's orders export, Amazon's All Orders Report and a tenant's own
column mapping land in the canonical raw tables — exact money, stable keys, quarantine with reasons, bounded
memory on a 100k-row file — on real DuckDB through dlt."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import polars as pl
import pytest

from orchestration.connectors.files import FilesSourceConfig
from orchestration.tenants import TenantConfigError, load_registry
from sandbox.exports import ALL_ORDERS_COLUMNS, write_all_orders_report
from sandbox.files_drop import NOTE, SHOPIFY_EXPORT_COLUMNS, write_shopify_export
from sandbox.truth import revenue_truth
from sources.files import files_source

TENANT = "acme"
SCHEMA = f"raw_files__{TENANT}"
SHOP = "testshop"
REPO = Path(__file__).resolve().parents[2]
RETAIL = Path(os.environ.get("OMNI_SHARED_DATA", REPO.parent / "shared" / "data")) / "online-retail"


def run(tmp_path: Path, drop: Path, mappings: list[dict] | None = None) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"files__{TENANT}", dataset_name=SCHEMA, pipelines_dir=str(tmp_path / "dlt"),
        destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb"), enable_dataset_name_normalization=False))
    pipeline.run(files_source(tenant=TENANT, bucket_url=drop.as_uri(), mappings=mappings))


def query(tmp_path: Path, sql: str, *params) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def counts(tmp_path: Path) -> dict[str, int]:
    tables = {t for (t,) in query(tmp_path, "select table_name from information_schema.tables where table_schema = ?",
                                   SCHEMA)}
    return {t: query(tmp_path, f"select count(*) from {SCHEMA}.{t}")[0][0]
            for t in ("orders", "order_lines", "customers", "products", "quarantine") if t in tables}


def line_totals(tmp_path: Path) -> tuple:
    return query(tmp_path, f"select count(*), sum(quantity * unit_price), sum(discount_amount), sum(tax_amount) "
                           f"from {SCHEMA}.order_lines")[0]


def write_rows(path: Path, header: list[str], rows: list[dict], *, separator: str = ",", encoding: str = "utf-8",
               terminator: str = "\n") -> None:
    with path.open("w", newline="", encoding=encoding) as handle:
        if separator == "\t":  # Amazon's flat files: tabs, no quoting at all
            handle.writelines("\t".join(row) + terminator for row in [header, *([r[c] for c in header] for r in rows)])
            return
        writer = csv.DictWriter(handle, header, delimiter=separator, lineterminator=terminator)
        writer.writeheader()
        writer.writerows(rows)


# --- Shopify's orders export -------------------------------------------------------------------------------------

def test_a_shopify_export_lands_to_the_penny_and_reruns_change_nothing(tmp_path, small_world):
    shop = small_world.shop(SHOP)
    drop = tmp_path / "drop"
    export = write_shopify_export(shop, drop / "orders_export_1.csv", bom=True, crlf=True)  # a re-saved file
    truth = revenue_truth(shop, channel="online_store")
    run(tmp_path, drop)

    online = shop.channel("online_store")
    lines = shop.order_lines.filter(pl.col("order_id").is_in(online["order_id"].implode()))
    assert counts(tmp_path) == {"orders": truth["orders"], "order_lines": lines.height,
                                "customers": online["customer_id"].n_unique()}
    assert line_totals(tmp_path) == (lines.height, truth["gross"], truth["discounts"], truth["tax"])
    assert query(tmp_path, f"select channel, sum(shipping_amount), min(currency), max(currency) "
                           f"from {SCHEMA}.orders group by channel") == [("online_store", truth["shipping"], "USD",
                                                                           "USD")]
    # keys: the export's Name, lines numbered by position; the local time with its offset, in UTC
    first = online.sort("created_at", "order_id").row(0, named=True)
    assert query(tmp_path, f"select order_id, order_number, ordered_at from {SCHEMA}.orders "
                           "order by ordered_at, order_id limit 1") == [(first["name"], first["name"],
                                                                          first["created_at"])]
    assert query(tmp_path, f"select count(*) from {SCHEMA}.order_lines where line_number = 1") == [(truth["orders"],)]
    # a multi-line quoted note shifts the physical lines: _source_line is the line an editor shows
    with export.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader)
        starts, names = [], []
        while True:
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            starts.append(start)
            names.append(row[0])
    assert starts[-1] > len(starts) + 1  # the notes did span lines
    assert NOTE.count("\n") == 1
    last = query(tmp_path, f"select order_id, max(_source_line) from {SCHEMA}.order_lines group by order_id "
                           "order by 2 desc limit 1")
    assert last == [(names[-1], starts[-1])]

    before = counts(tmp_path)
    run(tmp_path, drop)
    assert counts(tmp_path) == before


def test_order_columns_on_every_row_land_the_same(tmp_path, small_world):
    shop = small_world.shop(SHOP)
    write_shopify_export(shop, tmp_path / "a" / "orders_export_1.csv")
    write_shopify_export(shop, tmp_path / "b" / "orders_export_1.csv", every_row=True)
    tables = {}
    for variant in ("a", "b"):
        run(tmp_path / variant, tmp_path / variant)
        # the multi-line notes repeat on every row of the second file, so only the physical lines differ
        tables[variant] = [query(tmp_path / variant, f"select * exclude (_source_line) from {SCHEMA}.{t} "
                                                     "order by all") for t in ("orders", "order_lines", "customers")]
    assert tables["a"] == tables["b"] and len(tables["a"][1]) > 1000


def shopify_row(**values: str) -> dict:
    return {c: "" for c in SHOPIFY_EXPORT_COLUMNS} | values


def test_shopify_export_mess_is_quarantined_with_the_file_columns_named(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    order = {"Email": "Ann@Example.com", "Currency": "EUR", "Created at": "2025-01-14 10:22:31 -0500",
             "Shipping": "4.90", "Taxes": "3.80", "Source": "pos", "Billing Name": "Ann van Dijk",
             "Billing Country": "NL"}
    line = {"Lineitem name": "Mug", "Lineitem sku": "MUG-1", "Lineitem price": "9.50", "Lineitem quantity": "2"}
    write_rows(drop / "orders_export_1.csv", SHOPIFY_EXPORT_COLUMNS, [
        shopify_row(Name="#1", **order, **line, **{"Lineitem discount": "1.00"}),
        shopify_row(Name="#1", Email="ann@example.com", **line | {"Lineitem quantity": "two"}),  # bad line
        shopify_row(Name="#1", Email="ann@example.com", **line | {"Lineitem sku": "TEA-1", "Lineitem price": "3"}),
        shopify_row(Name="#2", **order | {"Created at": "14/01/2025 10:22", "Email": ""}, **line),  # bad order
        shopify_row(Name="#3", **order | {"Source": "web", "Email": ""}, **line),  # no e-mail: no customer
    ], terminator="\r\n")
    run(tmp_path, drop)
    assert query(tmp_path, f"select order_id, channel, customer_id, ordered_at::varchar from {SCHEMA}.orders "
                           "order by 1") == [("#1", "retail", "ann@example.com", "2025-01-14 15:22:31+00"),
                                             ("#3", "online_store", None, "2025-01-14 15:22:31+00")]
    assert query(tmp_path, f"select order_id, line_number, sku, quantity, unit_price, discount_amount, tax_amount "
                           f"from {SCHEMA}.order_lines order by 1, 2") == [
        ("#1", 1, "MUG-1", 2, Decimal("9.5000"), Decimal("1.00"), Decimal("3.80")),
        ("#1", 3, "TEA-1", 2, Decimal("3.0000"), Decimal("0.00"), Decimal("0.00")),
        ("#2", 1, "MUG-1", 2, Decimal("9.5000"), Decimal("0.00"), Decimal("3.80")),  # waits for its order
        ("#3", 1, "MUG-1", 2, Decimal("9.5000"), Decimal("0.00"), Decimal("3.80"))]
    assert query(tmp_path, f"select customer_id, email, first_name, last_name, country_code from {SCHEMA}.customers"
                 ) == [("ann@example.com", "Ann@Example.com", "Ann", "van Dijk", "NL")]
    bad = query(tmp_path, f"select tenant, source, file, line, entity, rule, reason from {SCHEMA}.quarantine "
                          "order by line")
    assert bad == [
        (TENANT, "files", "orders_export_1.csv", 3, "order_lines", "quantity:quantity",
         "quantity (file column Lineitem quantity) 'two' is not valid: expected a whole number above 0"),
        (TENANT, "files", "orders_export_1.csv", 5, "orders", "timestamp:ordered_at",
         "ordered_at (file column Created at) '14/01/2025 10:22' is not valid: expected an ISO 8601 timestamp "
         "with an offset, e.g. 2025-03-01T10:00:00Z"),
    ]


# --- Amazon's All Orders Report ----------------------------------------------------------------------------------

def test_an_amazon_all_orders_report_lands_exactly_with_channel_amazon(tmp_path, small_world):
    shop = small_world.shop(SHOP)
    drop = tmp_path / "drop"
    write_all_orders_report(shop, drop / "50123018234.txt", channel="online_store")  # the world's orders as stand-in
    truth = revenue_truth(shop, channel="online_store")
    run(tmp_path, drop)
    online = shop.channel("online_store")
    lines = shop.order_lines.filter(pl.col("order_id").is_in(online["order_id"].implode()))
    assert counts(tmp_path) == {"orders": truth["orders"], "order_lines": lines.height}
    # item-price is the line total: unit prices derived exactly, Σ quantity × unit price is the world's gross
    assert line_totals(tmp_path) == (lines.height, truth["gross"], truth["discounts"], truth["tax"])
    assert query(tmp_path, f"select channel, count(*), sum(shipping_amount) from {SCHEMA}.orders group by 1") == [
        ("amazon", truth["orders"], truth["shipping"])]
    ids = query(tmp_path, f"select order_id from {SCHEMA}.orders")
    assert all(len(i) == 19 and i[3] == "-" and i[11] == "-" for (i,) in ids)
    before = counts(tmp_path)
    run(tmp_path, drop)
    assert counts(tmp_path) == before


def amazon_row(**values: str) -> dict:
    base = {"purchase-date": "2025-02-03T08:00:00Z", "last-updated-date": "2025-02-04T08:00:00+00:00",
            "order-status": "Shipped", "sales-channel": "Amazon.de", "currency": "EUR", "item-tax": "0.00",
            "shipping-price": "0.00", "quantity": "1"}
    return {c: "" for c in ALL_ORDERS_COLUMNS} | base | values


def test_amazon_report_mess(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    write_rows(drop / "all_orders.txt", ALL_ORDERS_COLUMNS, [
        amazon_row(**{"amazon-order-id": "302-1", "sku": "A", "product-name": 'Frame 12" oak', "quantity": "3",
                      "item-price": "29.97", "item-tax": "4.79", "shipping-price": "3.99",
                      "item-promotion-discount": "-2.00", "ship-promotion-discount": "-1.00"}),
        amazon_row(**{"amazon-order-id": "302-1", "sku": "B", "quantity": "3", "item-price": "10.00",  # 3.333…
                      "shipping-price": "1.01"}),
        amazon_row(**{"amazon-order-id": "302-1", "sku": "C", "quantity": "8", "item-price": "1.00"}),  # 0.125
        amazon_row(**{"amazon-order-id": "302-2", "sku": "A", "order-status": "Pending", "currency": "",
                      "item-price": "", "item-tax": "", "shipping-price": ""}),  # pending: not priced yet
        amazon_row(**{"amazon-order-id": "302-3", "sku": "A", "order-status": "Cancelled", "quantity": "0",
                      "item-price": "", "purchase-date": "2025-02-03T09:30:00.000+01:00"}),
    ], separator="\t", terminator="\r\n")
    run(tmp_path, drop)
    assert query(tmp_path, f"select order_id, ordered_at::varchar, currency, shipping_amount, channel "
                           f"from {SCHEMA}.orders order by 1") == [
        ("302-1", "2025-02-03 08:00:00+00", "EUR", Decimal("4.00"), "amazon"),  # 3.99 − 1.00 + 1.01
        ("302-3", "2025-02-03 08:30:00+00", "EUR", Decimal("0.00"), "amazon")]
    assert query(tmp_path, f"select order_id, line_number, sku, quantity, unit_price, discount_amount, tax_amount "
                           f"from {SCHEMA}.order_lines order by 1, 2") == [
        ("302-1", 1, "A", 3, Decimal("9.9900"), Decimal("2.00"), Decimal("4.79")),
        ("302-1", 3, "C", 8, Decimal("0.1250"), Decimal("0.00"), Decimal("0.00"))]
    bad = query(tmp_path, f"select line, entity, rule, reason from {SCHEMA}.quarantine order by line, entity")
    assert [b[:3] for b in bad] == [(3, "order_lines", "line_total:unit_price"),
                                    (5, "order_lines", "required:unit_price"), (5, "orders", "required:currency"),
                                    (6, "order_lines", "quantity:quantity")]
    assert bad[0][3] == ("item-price '10.00' is the line total and quantity '3' does not divide it to 4 decimal "
                         "places: not rounded, not landed")
    assert bad[1][3] == "required column unit_price (file column item-price ÷ quantity) is empty"


# --- a tenant's own column mapping -------------------------------------------------------------------------------

RETAIL_MAPPING = {
    "name": "uci_invoices", "files": "*.csv.gz",
    "columns": {"InvoiceNo": "order_id", "InvoiceDate": "ordered_at", "CustomerID": "customer_id",
                "StockCode": "sku", "Description": "products.title", "Quantity": "quantity",
                "UnitPrice": "unit_price"},
    "defaults": {"currency": "GBP", "channel": "retail"}, "timezone": "Europe/London", "float_ids": True,
}


def test_a_real_merchant_export_lands_through_its_column_mapping(tmp_path):
    drop = tmp_path / "retail"
    drop.mkdir()
    days = ["2010-12-01.csv.gz", "2011-06-01.csv.gz", "2011-12-09.csv.gz"]  # GMT, BST (+01:00), GMT
    expected, invoices, cancellations, first = Decimal(0), set(), 0, {}
    for day in days:
        (drop / day).write_bytes((RETAIL / day).read_bytes())
        with gzip.open(RETAIL / day, "rt", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                invoices.add(row["InvoiceNo"])
                first.setdefault(row["InvoiceNo"], row)
                if int(row["Quantity"]) > 0 and Decimal(row["UnitPrice"]) >= 0:
                    expected += int(row["Quantity"]) * Decimal(row["UnitPrice"])
                else:
                    cancellations += 1
    run(tmp_path, drop, mappings=[RETAIL_MAPPING])
    assert query(tmp_path, f"select sum(quantity * unit_price) from {SCHEMA}.order_lines") == [(expected,)]
    assert query(tmp_path, f"select count(*), min(currency), max(channel) from {SCHEMA}.orders") == [
        (len(invoices), "GBP", "retail")]
    rules = dict(query(tmp_path, f"select rule, count(*) from {SCHEMA}.quarantine group by rule"))
    assert sum(rules.values()) == cancellations > 0 and set(rules) <= {"quantity:quantity", "negative:unit_price"}
    summer = next(r for r in first.values() if r["InvoiceDate"].startswith("2011-06-01"))
    assert query(tmp_path, f"select ordered_at::varchar, customer_id from {SCHEMA}.orders where order_id = ?",
                 summer["InvoiceNo"]) == [(_utc_of_london(summer["InvoiceDate"]),
                                           summer["CustomerID"].removesuffix(".0") or None)]
    assert query(tmp_path, f"select count(*) from {SCHEMA}.products where title is not null")[0][0] > 1000
    assert "customers" not in counts(tmp_path)  # an id alone makes no customer record


def _utc_of_london(local: str) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Europe/London")).astimezone(ZoneInfo("UTC"))
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def test_a_european_export_with_its_own_separators_dates_and_encoding(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    header = ["Belegnr", "Datum", "Kunde", "Artikel", "Menge", "Einzelpreis", "Rabatt", "Versand"]
    rows = [
        {"Belegnr": "R-1", "Datum": "14.01.2025 10:22", "Kunde": "Müller", "Artikel": "KÄSE-1", "Menge": "1.200",
         "Einzelpreis": "1.234,5678", "Rabatt": "0,50", "Versand": "4,90"},
        {"Belegnr": "R-1", "Datum": "14.01.2025 10:22", "Kunde": "Müller", "Artikel": "BROT-2", "Menge": "2",
         "Einzelpreis": "3,10", "Rabatt": "", "Versand": "4,90"},
        {"Belegnr": "R-2", "Datum": "30.06.2025 23:59", "Kunde": "Šimek", "Artikel": "KÄSE-1", "Menge": "1",
         "Einzelpreis": "1,23,4", "Rabatt": "", "Versand": "0"},  # not a number in any locale
    ]
    write_rows(drop / "export_januar.csv", header, rows, separator=";", encoding="cp1252")
    mapping = {"name": "erp", "delimiter": ";", "encoding": "cp1252", "decimal_separator": ",",
               "thousands_separator": ".", "timestamp_format": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin",
               "columns": {"Belegnr": "order_id", "Datum": "ordered_at", "Kunde": "customer_id", "Artikel": "sku",
                           "Menge": "quantity", "Einzelpreis": "unit_price", "Rabatt": "discount_amount",
                           "Versand": "orders.shipping_amount"},
               "defaults": {"currency": "EUR"}}
    run(tmp_path, drop, mappings=[mapping])
    assert query(tmp_path, f"select order_id, customer_id, ordered_at::varchar, shipping_amount, channel "
                           f"from {SCHEMA}.orders order by 1") == [
        ("R-1", "Müller", "2025-01-14 09:22:00+00", Decimal("4.90"), "wholesale"),
        ("R-2", "Šimek", "2025-06-30 21:59:00+00", Decimal("0.00"), "wholesale")]
    assert query(tmp_path, f"select order_id, line_number, sku, quantity, unit_price, discount_amount "
                           f"from {SCHEMA}.order_lines order by 1, 2") == [
        ("R-1", 1, "KÄSE-1", 1200, Decimal("1234.5678"), Decimal("0.50")),
        ("R-1", 2, "BROT-2", 2, Decimal("3.1000"), Decimal("0.00"))]
    assert query(tmp_path, f"select line, rule, reason from {SCHEMA}.quarantine") == [
        (4, "number:unit_price", "unit_price (file column Einzelpreis) '1,23,4' is not a number: expected a "
                                 "decimal ≥ 0 with at most 4 places")]


def test_files_in_no_known_format_and_headers_lacking_columns_are_quarantined_whole(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "notes.md").write_text("not data\n")  # not a data file: left alone
    write_rows(drop / "stock_levels.csv", ["Sku", "OnHand"], [{"Sku": "A", "OnHand": "3"}])
    write_rows(drop / "invoices_2025.csv", ["InvoiceNo", "Qty"], [{"InvoiceNo": "1", "Qty": "1"}])
    mapping = {"name": "erp", "files": "invoices_*.csv", "defaults": {"currency": "EUR"},
               "columns": {"InvoiceNo": "order_id", "When": "ordered_at", "Qty": "quantity", "Sku": "sku",
                           "Price": "unit_price"}}
    run(tmp_path, drop, mappings=[mapping])
    rows = query(tmp_path, f"select file, line, entity, rule, reason, raw_record from {SCHEMA}.quarantine "
                           "order by file, entity")
    assert [r[:4] for r in rows] == [("invoices_2025.csv", 1, "order_lines", "schema:missing_column"),
                                     ("invoices_2025.csv", 1, "orders", "schema:missing_column"),
                                     ("stock_levels.csv", 1, "unknown", "format:unknown")]
    assert rows[0][4] == "the header lacks required column(s) Sku, Price"
    assert rows[1][4] == "the header lacks required column(s) When"
    assert json.loads(rows[2][5])["header"] == ["Sku", "OnHand"]


def test_column_mappings_are_validated_when_the_registry_loads(tmp_path):
    cfg = FilesSourceConfig(bucket_url="drops/acme", mappings=[RETAIL_MAPPING])
    assert cfg.mappings[0].columns["Description"] == "products.title"
    for change, words in [({"columns": {"InvoiceNo": "orders.colour"}}, "orders has no column 'colour'"),
                          ({"columns": {"InvoiceNo": "order_id"}, "files": None}, "fills no entity"),
                          ({"columns": {"InvoiceNo": "order_id"}, "entities": ["orders"]}, "orders needs ordered_at"),
                          ({"timezone": "Mars/Olympus"}, "unknown timezone"),
                          ({"thousands_separator": ".", "decimal_separator": "."}, "thousands_separator")]:
        entry = {"slug": TENANT, "display_name": "Acme", "currency": "GBP", "timezone": "Europe/London",
                 "sources": {"files": {"bucket_url": "drops/acme", "mappings": [RETAIL_MAPPING | change]}}}
        path = tmp_path / "tenants.yaml"
        path.write_text(json.dumps({"tenants": [entry]}))
        with pytest.raises(TenantConfigError, match=words):
            load_registry(path)
    entry["sources"]["files"]["mappings"] = [RETAIL_MAPPING]
    path.write_text(json.dumps({"tenants": [entry]}))
    assert load_registry(path).get(TENANT).sources["files"].mappings[0].float_ids is True


# --- a 100k-row export in bounded memory ---------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, tracemalloc, dlt
    from sources.files import files_source
    drop, wh, pipes = sys.argv[1:4]
    def hwm():
        return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) // 1024
    import polars, pyarrow, duckdb  # imported before the baseline: their code is not the file's data
    pipeline = dlt.pipeline("files__big", dataset_name="raw_files__big", pipelines_dir=pipes,
                            destination=dlt.destinations.duckdb(wh, enable_dataset_name_normalization=False))
    base = hwm()
    tracemalloc.start()
    pipeline.run(files_source(tenant="big", bucket_url=drop))
    print(base, hwm(), tracemalloc.get_traced_memory()[1] // (1 << 20))
""")


def test_a_100k_row_export_loads_exactly_in_bounded_memory(tmp_path):
    orders, per_order = 40_000, 3
    n = orders * per_order  # 120,000 line item rows, ~80 columns each
    i = pl.int_range(n, eager=True)
    order = i // per_order
    cents = 100 + (i * 7919) % 99_900  # 1.00 … 999.99
    qty = 1 + i % 4
    frame = pl.DataFrame({c: pl.Series(c, [None] * n, pl.String) for c in SHOPIFY_EXPORT_COLUMNS}).with_columns(
        Name=pl.format("#{}", order + 1001), Email=pl.format("c{}@example.com", order % 9_000),
        Currency=pl.lit("USD"), **{"Created at": pl.lit("2025-01-14 10:22:31 -0500"),
                                   "Lineitem name": pl.lit("Thing"), "Lineitem sku": pl.format("SKU-{}", i % 500),
                                   "Lineitem quantity": qty.cast(pl.String),
                                   "Lineitem price": pl.format("{}.{}", cents // 100,
                                                               (cents % 100).cast(pl.String).str.zfill(2)),
                                   "Lineitem discount": pl.lit("0.25"), "Taxes": pl.lit("1.07"),
                                   "Shipping": pl.lit("4.95"), "Billing Name": pl.lit("Ann Lee"),
                                   "Financial Status": pl.lit("paid"), "Source": pl.lit("web")})
    drop = tmp_path / "drop"
    drop.mkdir()
    path = drop / "orders_export_big.csv"
    frame.write_csv(path)
    size_mb = path.stat().st_size / 1e6
    expected_gross = Decimal(int((qty * cents).sum())).scaleb(-2)
    del frame

    child = subprocess.run([sys.executable, "-c", CHILD, drop.as_uri(), str(tmp_path / "wh.duckdb"),
                            str(tmp_path / "dlt")], capture_output=True, text=True, timeout=240,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert child.returncode == 0, child.stderr[-3000:]
    base, peak, python_peak = map(int, child.stdout.split()[-3:])
    print(f"{size_mb:.1f} MB file: RSS {base} → {peak} MB, Python heap peak {python_peak} MB")
    # the file is ~20 MB; as Python objects its 9.6M fields alone would take > 500 MB, and read whole by polars
    # (16 bytes per text cell, empty or not) its frame alone ~150 MB per entity read
    assert size_mb > 15 and python_peak < 64, (size_mb, python_peak)
    assert peak - base < 450, (base, peak)  # measured ~290 MB (dlt's own normalize/load included)
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        got = con.execute("select count(*), sum(quantity * unit_price), sum(discount_amount), sum(tax_amount) "
                          "from raw_files__big.order_lines").fetchone()
        assert got == (n, expected_gross, Decimal("0.25") * n, Decimal("1.07") * orders)
        assert con.execute("select count(*), sum(shipping_amount) from raw_files__big.orders").fetchone() == (
            orders, Decimal("4.95") * orders)
        assert con.execute("select count(*) from raw_files__big.customers").fetchone() == (9_000,)


def test_blocks_are_cut_at_record_boundaries_never_inside_a_quoted_field(tmp_path):
    from sources.files.reading import Dialect, batches

    rows = [f'{i},"note {i}\r\nsecond line, with a comma and ""quotes""",{i * 2}' for i in range(400)]
    path = tmp_path / "x.csv"
    path.write_bytes(("\ufeffid,note,twice\r\n" + "\r\n".join(rows[:200]) + "\r\n\r\n" + "\r\n".join(rows[200:]))
                     .encode())  # a BOM, CRLF, a blank line in the middle, no line end at the very end
    frames = list(batches(path, Dialect(), batch_bytes=1000))  # blocks far smaller than the file
    assert len(frames) > 10
    frame = pl.concat(frames)
    assert frame.columns == ["id", "note", "twice", "_line"]
    assert frame["id"].to_list() == [str(i) for i in range(400)]
    assert frame["note"][7] == 'note 7\r\nsecond line, with a comma and "quotes"'
    # two physical lines per record, the header on line 1, one blank line after record 199
    assert frame["_line"].to_list() == [2 + 2 * i + (i >= 200) for i in range(400)]
