"""Validating canonical rows (whatever format they came in): split good rows from bad ones.

Validation is vectorised (polars expressions over the text columns). Good rows become a typed Arrow table,
money built exactly from its text; each bad row becomes a quarantine record naming tenant, source, file,
line, entity, rule and the offending value (and the file column it came from, for native formats), and is
logged the same way.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from sources.files.formats.base import FORMAT_RULE, FileFormat
from sources.files.formats.text import blank_to_null
from sources.files.reading import LINE
from sources.files.settings import KINDS, Entity, TenantRule
from sources.money import MONEY, UNIT_PRICE

log = logging.getLogger("sources.files")
SOURCE = "files"
TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES = {"text": pa.string(), "timestamp": TIMESTAMP, "currency": pa.string(), "quantity": pa.int64(),
               "line_number": pa.int64(), "money": MONEY, "unit_price": UNIT_PRICE}
_INTEGER = r"^\+?\d+$"
_DECIMAL = r"^-?\d+(\.\d+)?$"


def parse_timestamp(column: pl.Expr) -> pl.Expr:
    """ISO 8601 with an offset (``Z`` or ``±hh:mm``) → UTC; anything else (including naive times) → null."""
    normalised = column.str.replace(r"Z$", "+00:00")
    return pl.coalesce(
        normalised.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_zone="UTC"),
        normalised.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC"),
    ).dt.cast_time_unit("us")


def _places(column: pl.Expr) -> pl.Expr:
    return column.str.extract(r"\.(\d+)$").str.len_chars().fill_null(0)


def _rule(entity: Entity, tenant_rules: tuple[TenantRule, ...] = (), duplicate: pl.Expr | None = None,
          format_rule: bool = False) -> pl.Expr:
    """The first rule each row breaks (``kind:column``; the layout's, then the format's own, then the
    tenant's), or null. ``duplicate`` marks rows whose key came earlier in the file (None: not checked)."""
    checks: list[pl.Expr] = []
    for col in entity.columns:
        value = pl.col(col.name)
        present = value.is_not_null()
        if col.required:
            checks.append(pl.when(value.is_null()).then(pl.lit(f"required:{col.name}")))
        if col.kind == "timestamp":
            checks.append(pl.when(present & parse_timestamp(value).is_null()).then(pl.lit(f"timestamp:{col.name}")))
        elif col.kind == "currency":
            checks.append(pl.when(present & ~value.str.contains(r"^[A-Z]{3}$")).then(pl.lit(f"currency:{col.name}")))
        elif col.kind in ("quantity", "line_number"):
            bad = ~value.str.contains(_INTEGER) | (value.str.strip_chars_start("+").cast(pl.Int64, strict=False) < 1)
            checks.append(pl.when(present & bad).then(pl.lit(f"{col.kind}:{col.name}")))
        elif col.kind in ("money", "unit_price"):
            max_places = 2 if col.kind == "money" else 4
            checks += [
                pl.when(present & ~value.str.contains(_DECIMAL)).then(pl.lit(f"number:{col.name}")),
                pl.when(present & value.str.starts_with("-")).then(pl.lit(f"negative:{col.name}")),
                pl.when(present & (_places(value) > max_places)).then(pl.lit(f"places:{col.name}")),
            ]
    if duplicate is not None:
        checks.append(pl.when(duplicate).then(pl.lit("duplicate_key:" + "+".join(entity.key))))
    if format_rule:
        checks.append(pl.col(FORMAT_RULE))
    checks += [pl.when(r.breaks()).then(pl.lit(r.code)) for r in tenant_rules if r.table == entity.table]
    return pl.coalesce(checks)


def reason(entity: Entity, rule: str, row: dict, tenant_rules: tuple[TenantRule, ...] = (),
           fmt: FileFormat | None = None) -> str:
    """A sentence a person can act on: which column (and which file column it came from), which value, what
    was expected."""
    own = fmt.reason(rule, row) if fmt is not None else None
    if own is not None:
        return own
    kind, column = rule.split(":", 1)
    origin = (fmt.origin.get(entity.table, {}) if fmt is not None else {}).get(column)
    named = f"{column} (file column {origin})" if origin and origin != column else column
    if kind == "tenant_rule":
        broken = next(r for r in tenant_rules if r.name == column)
        return broken.reason(row.get(broken.column))
    if kind == "required":
        return f"required column {named} is empty"
    if kind == "duplicate_key":
        key = ", ".join(f"{k}={row.get(k)!r}" for k in entity.key)
        return f"duplicate key ({key}) in this file: the first occurrence was kept"
    expected = KINDS[entity.column(column).kind][1]
    detail = {"negative": "is negative", "places": "has too many decimal places", "number": "is not a number"}
    return f"{named} {row.get(column)!r} {detail.get(kind, 'is not valid')}: expected {expected}"


class SeenKeys:
    """The keys of an entity met so far in one file (across its batches), for the duplicate-key rule."""

    def __init__(self, entity: Entity) -> None:
        self.key = pl.concat_str([pl.col(k) for k in entity.key], separator="\x1f")
        self.seen = pl.Series("k", [], pl.String)

    def duplicates(self) -> pl.Expr:
        return self.key.is_not_null() & (self.key.is_in(self.seen.implode()) | ~self.key.is_first_distinct())

    def add(self, frame: pl.DataFrame) -> None:
        keys = frame.select(self.key.alias("k"))["k"].drop_nulls().unique()
        self.seen = pl.concat([self.seen, keys])


def validate(tenant: str, entity: Entity, file: str, frame: pl.DataFrame, *,
             tenant_rules: tuple[TenantRule, ...] = (), fmt: FileFormat | None = None,
             seen: SeenKeys | None = None) -> tuple[pa.Table | None, list[dict]]:
    """Validate canonical text rows (``_line`` and maybe ``_format_rule`` beside them): (typed table of the
    good rows or None, quarantine records of the bad ones). Blank values count as missing."""
    frame = frame.with_columns([blank_to_null(pl.col(c.name)).alias(c.name)
                                for c in entity.columns])
    frame = frame.with_columns(_rule=_rule(entity, tenant_rules, seen.duplicates() if seen else None,
                                           FORMAT_RULE in frame.columns))
    if seen is not None:
        seen.add(frame)
    bad = frame.filter(pl.col("_rule").is_not_null())
    good = frame.filter(pl.col("_rule").is_null())

    records = []
    for row in bad.iter_rows(named=True):
        raw = {c.name: row[c.name] for c in entity.columns}
        record = quarantine_record(tenant, entity, file, row[LINE], row["_rule"],
                                   reason(entity, row["_rule"], raw, tenant_rules, fmt), raw)
        log.warning("tenant %s, source %s, file %s, line %d: rule %s: %s",
                    tenant, SOURCE, file, row[LINE], row["_rule"], record["reason"])
        records.append(record)
    return (typed(entity, good, file) if good.height else None), records


def file_record(tenant: str, entity: str, file: str, rule: str, why: str, raw: dict) -> dict:
    """A whole file refused (a header without a required column, a format we do not read): line 1."""
    log.error("tenant %s, source %s, file %s, line 1: rule %s: %s", tenant, SOURCE, file, rule, why)
    return {"tenant": tenant, "source": SOURCE, "file": file, "line": 1, "entity": entity, "rule": rule,
            "reason": why, "raw_record": json.dumps(raw, default=str), "quarantined_at": datetime.now(UTC)}


def typed(entity: Entity, good: pl.DataFrame, file: str) -> pa.Table:
    """Good rows → Arrow with the landing types; decimals are cast from their text, so exactly."""
    with_defaults = good.with_columns(
        [pl.col(c.name).fill_null(pl.lit(c.default)) for c in entity.columns if c.default is not None]
    )
    arrays, fields = [], []
    for col in entity.columns:
        values = with_defaults[col.name]
        dtype = ARROW_TYPES[col.kind]
        if col.kind == "timestamp":
            array = with_defaults.select(parse_timestamp(pl.col(col.name)))[col.name].to_arrow().cast(TIMESTAMP)
        elif col.kind in ("quantity", "line_number"):
            array = values.str.strip_chars_start("+").cast(pl.Int64).to_arrow()
        else:
            array = values.to_arrow().cast(pa.string()).cast(dtype)
        arrays.append(array)
        fields.append(pa.field(col.name, dtype, nullable=col.name not in entity.key))
    arrays += [pa.array([file] * with_defaults.height, pa.string()), with_defaults[LINE].cast(pl.Int64).to_arrow()]
    fields += [pa.field("_source_file", pa.string()), pa.field("_source_line", pa.int64())]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def quarantine_record(tenant: str, entity: Entity, file: str, line: int, rule: str, why: str, raw: dict) -> dict:
    return {"tenant": tenant, "source": SOURCE, "file": file, "line": int(line), "entity": entity.table,
            "rule": rule, "reason": why, "raw_record": json.dumps(raw, default=str),
            "quarantined_at": datetime.now(UTC)}


QUARANTINE_SCHEMA = pa.schema([
    pa.field("tenant", pa.string()), pa.field("source", pa.string()), pa.field("file", pa.string(), False),
    pa.field("line", pa.int64(), False), pa.field("entity", pa.string(), False), pa.field("rule", pa.string()),
    pa.field("reason", pa.string()), pa.field("raw_record", pa.string()),
    pa.field("quarantined_at", TIMESTAMP),
])


def quarantine_table(records: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(records, schema=QUARANTINE_SCHEMA)
