"""The one path from a file of a drop to an entity's rows: detect the format, read in batches, rewrite to the
canonical layout, validate, and hand over good rows (typed Arrow) and quarantine records, batch by batch.

Rows at the file's grain are validated and handed over batch by batch, so memory follows ``BATCH_ROWS``,
not the file. Derived rows (the orders of an export of line items) are reduced to one row per key within
each batch, kept (a row per key, few columns), reduced again at the end of the file and then validated.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import polars as pl
import pyarrow as pa

from sources.files.formats import ColumnMapping, FileFormat, detect
from sources.files.formats.text import MONEY
from sources.files.helpers import SOURCE, SeenKeys, file_record, validate
from sources.files.reading import LINE, batches, is_data_file, local_path, parse_header, read_head
from sources.files.settings import BATCH_ROWS, Entity, TenantRule

log = logging.getLogger("sources.files")
UNKNOWN_REPORTER = "orders"  # the one entity whose reader reports a file in no known format


def read_entity(tenant: str, entity: Entity, item, *, mappings: tuple[ColumnMapping, ...] = (),
                tenant_rules: tuple[TenantRule, ...] = ()) -> Iterator[tuple[pa.Table | None, list[dict]]]:
    """(good rows, quarantine records) of ``entity`` from one file item of dlt's filesystem resource."""
    file = item["relative_path"]
    if not is_data_file(item["file_name"]):
        return
    head = read_head(item)
    fmt = detect(head, item["file_name"], mappings)
    if fmt is None:
        if entity.table == UNKNOWN_REPORTER:
            header = parse_header(head)
            yield None, [file_record(tenant, "unknown", file, "format:unknown",
                                     "the header matches no format this source reads (canonical layout, Shopify "
                                     "orders export, Amazon All Orders Report, or one of the tenant's column "
                                     "mappings)", {"header": header})]
        return
    if not fmt.feeds(entity.table):
        return
    missing = fmt.missing(entity.table)
    if missing:
        yield None, [file_record(tenant, entity.table, file, "schema:missing_column",
                                 f"the header lacks required column(s) {', '.join(missing)}",
                                 {"header": fmt.header, "format": fmt.name})]
        return

    derived = entity.table != fmt.grain
    seen = None if derived else SeenKeys(entity)
    partial: list[pl.DataFrame] = []
    loaded = quarantined = 0
    with local_path(item, fmt.dialect.encoding) as path:
        for raw in batches(path, fmt.dialect, fmt.columns()):
            rows = fmt.rows(entity.table, raw)
            if derived:
                partial.append(reduce(rows, entity, fmt))
                continue
            good, bad = validate(tenant, entity, file, rows, tenant_rules=tenant_rules, fmt=fmt, seen=seen)
            loaded, quarantined = loaded + (good.num_rows if good is not None else 0), quarantined + len(bad)
            yield good, bad
    if partial:
        whole = reduce(pl.concat(partial), entity, fmt).sort(LINE)
        del partial
        for offset in range(0, whole.height, BATCH_ROWS):
            good, bad = validate(tenant, entity, file, whole.slice(offset, BATCH_ROWS), tenant_rules=tenant_rules,
                                 fmt=fmt)
            loaded, quarantined = loaded + (good.num_rows if good is not None else 0), quarantined + len(bad)
            yield good, bad
    log.info("tenant %s, source %s, file %s (%s), %s: %d rows loaded, %d quarantined", tenant, SOURCE, file,
             fmt.name, entity.table, loaded, quarantined)


def reduce(rows: pl.DataFrame, entity: Entity, fmt: FileFormat) -> pl.DataFrame:
    """One row per key: each column's first non-empty value, ``_line`` of the key's first row, and for the
    format's ``sums`` the exact sum (or, if any value is not money, the first such value as written, so the
    layout's rule refuses it). Rows without a key are dropped. Applying it twice gives the same result."""
    key = list(entity.key)
    rows = rows.filter(pl.any_horizontal([pl.col(k).is_not_null() for k in key]))
    sums = fmt.sums.get(entity.table, ())
    aggs = []
    for col in entity.columns:
        if col.name in key:
            continue
        value = pl.col(col.name)
        if col.name in sums:
            ok = value.is_null() | value.str.contains(MONEY)
            total = value.cast(pl.Decimal(38, 2), strict=False).sum().cast(pl.String)
            aggs.append(pl.when(ok.all()).then(total).otherwise(value.filter(~ok).first()).alias(col.name))
        else:
            aggs.append(value.drop_nulls().first().alias(col.name))
    aggs.append(pl.col(LINE).min())
    reduced = rows.group_by(key, maintain_order=True).agg(aggs)
    return reduced.select([c.name for c in entity.columns] + [LINE])
