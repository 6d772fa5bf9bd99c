"""A tenant's own validation rules, for every source: split each page into good rows and quarantine records.

A rule names one column of one table of a source and what its values must be: ``allowed`` values (compared
as text, e.g. ``currency`` one of ``EUR``), a ``minimum`` and/or ``maximum`` (decimal text, compared exactly,
e.g. ``quantity`` at least ``0``) or a ``pattern`` (a regex searched in the text, anchor it with ``^…$`` for a
whole-value match). Empty (null) values pass every rule: a rule judges a value that is there.

The check is one polars expression per rule (``TenantRule.breaks``), vectorised over a page, whatever the
column's type: text, integers, ``decimal(18,2)`` money. The files source uses it on its text columns; every
other source gets it through ``with_tenant_rules``, which adds a step to each resource with rules: good rows
go on to the resource's own table, bad ones to a ``quarantine`` table of the same dataset, merged on (table,
record_key, rule) so a re-run never duplicates them. Each quarantined record is logged once as a WARNING.

Plain Python (no Dagster)::

    import dlt
    from sources.amazon import amazon_source
    from sources.rules import TenantRule, with_tenant_rules
    eur_only = TenantRule(name="eur_only", table="orders", column="order_total_currency_code", allowed=("EUR",))
    source = with_tenant_rules(amazon_source(...), [eur_only], tenant="alpine", source_name="amazon")
    dlt.pipeline("amazon__alpine", destination="duckdb", dataset_name="raw_amazon__alpine").run(source)
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import dlt
import polars as pl
import pyarrow as pa
from dlt.extract.items_transform import YieldMapItem
from dlt.extract.source import DltSource

log = logging.getLogger("sources.rules")

QUARANTINE_TABLE = "quarantine"
QUARANTINE_KEY = ("table", "record_key", "rule")  # one record per row and broken rule, stable across re-runs
QUARANTINE_SCHEMA = pa.schema([
    pa.field("tenant", pa.string()), pa.field("source", pa.string()),
    pa.field("table", pa.string(), False), pa.field("record_key", pa.string(), False),
    pa.field("rule", pa.string(), False), pa.field("reason", pa.string()), pa.field("raw_record", pa.string()),
    pa.field("quarantined_at", pa.timestamp("us", tz="UTC")),
])
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SCALE = 18  # bounds and values are compared as decimal(38, 18): exact for money, quantities and ids
_NUMBER = pl.Decimal(38, SCALE)


@dataclass(frozen=True)
class TenantRule:
    """A tenant's own rule on one column of one table: e.g. ``currency`` allowed ``[EUR]``, or ``quantity`` at
    least ``0``. A row breaking it is quarantined with rule ``tenant_rule:<name>``."""

    name: str
    table: str
    column: str
    allowed: tuple[str, ...] | None = None
    minimum: str | None = None  # decimal text, compared exactly
    maximum: str | None = None
    pattern: str | None = None

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"rule name {self.name!r} must match {NAME.pattern}")
        if (self.allowed, self.minimum, self.maximum, self.pattern) == (None, None, None, None):
            raise ValueError(f"rule {self.name!r} sets none of allowed, minimum, maximum, pattern")
        if self.allowed is not None:
            if not self.allowed:
                raise ValueError(f"rule {self.name!r}: allowed is an empty list")
            object.__setattr__(self, "allowed", tuple(str(v) for v in self.allowed))
        for bound in ("minimum", "maximum"):
            if getattr(self, bound) is not None:
                object.__setattr__(self, bound, _decimal_text(self.name, bound, getattr(self, bound)))
        if self.minimum is not None and self.maximum is not None and Decimal(self.minimum) > Decimal(self.maximum):
            raise ValueError(f"rule {self.name!r}: minimum {self.minimum} is above maximum {self.maximum}")
        if self.pattern is not None:
            try:
                pl.Series([], dtype=pl.String).str.contains(self.pattern)
            except pl.exceptions.PolarsError as exc:
                raise ValueError(f"rule {self.name!r}: pattern {self.pattern!r} is not a regex polars reads: "
                                 f"{str(exc).splitlines()[0]}") from None

    @property
    def code(self) -> str:
        """What the quarantine's ``rule`` column says: ``tenant_rule:<name>``."""
        return f"tenant_rule:{self.name}"

    def breaks(self) -> pl.Expr:
        """True where a present value of the column breaks this rule (the one check, for every source)."""
        value = pl.col(self.column)
        text = value.cast(pl.String)
        ok = pl.lit(True)
        if self.allowed is not None:
            ok &= text.is_in(list(self.allowed))
        if self.minimum is not None or self.maximum is not None:
            number = value.cast(_NUMBER, strict=False)  # not a number → null → breaks the rule
            if self.minimum is not None:
                ok &= number >= pl.lit(Decimal(self.minimum), _NUMBER)
            if self.maximum is not None:
                ok &= number <= pl.lit(Decimal(self.maximum), _NUMBER)
        if self.pattern is not None:
            ok &= text.str.contains(self.pattern)
        return value.is_not_null() & ~ok.fill_null(False)

    def describe(self) -> str:
        parts = []
        if self.allowed is not None:
            parts.append(f"one of {', '.join(self.allowed)}")
        if self.minimum is not None:
            parts.append(f"at least {self.minimum}")
        if self.maximum is not None:
            parts.append(f"at most {self.maximum}")
        if self.pattern is not None:
            parts.append(f"matching {self.pattern}")
        return " and ".join(parts)

    def reason(self, value: object) -> str:
        """A sentence a person can act on: the column, the value (as text) and what was expected."""
        return (f"{self.column} {as_text(value)!r} breaks the tenant's rule {self.name}: "
                f"expected {self.describe()}")

    @classmethod
    def from_dict(cls, rule: dict) -> TenantRule:
        """From registry fields (``allowed`` as a list)."""
        fields = dict(rule)
        if fields.get("allowed") is not None:
            fields["allowed"] = tuple(fields["allowed"])
        return cls(**fields)


def _decimal_text(rule: str, bound: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(f"rule {rule!r}: {bound} must be a number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"rule {rule!r}: {bound} {value!r} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"rule {rule!r}: {bound} {value!r} is not a finite number")
    if number.as_tuple().exponent < -SCALE:
        raise ValueError(f"rule {rule!r}: {bound} {value!r} has more than {SCALE} decimal places")
    if abs(number) >= Decimal(10) ** (38 - SCALE):
        raise ValueError(f"rule {rule!r}: {bound} {value!r} is too large")
    return str(value).strip()


def as_text(value: object) -> str | None:
    """A value as the quarantine writes it: money and other decimals as exact decimal text, times in ISO 8601."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_value(value: object) -> object:
    if isinstance(value, (Decimal, datetime, date, time)):
        return as_text(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot write {type(value).__name__} into a quarantine record")


def raw_json(row: dict) -> str:
    """The row as JSON text, money as decimal text (never a float)."""
    return json.dumps(row, default=_json_value, ensure_ascii=False)


def record_key(row: dict, primary_key: tuple[str, ...]) -> str:
    """The row's primary key as text: the value for a one-column key, a JSON list for a compound one, and a
    digest of the whole row for a table without a key (the same row gives the same key on every run)."""
    if not primary_key:
        return "sha256:" + hashlib.sha256(raw_json(row).encode()).hexdigest()[:32]
    if len(primary_key) == 1:
        return as_text(row.get(primary_key[0])) or ""
    return json.dumps([as_text(row.get(k)) for k in primary_key])


def check_columns(rules: Iterable[TenantRule], columns: Iterable[str], *, tenant: str, source: str,
                  resource: str) -> None:
    """A rule naming a column the table does not have fails loudly, naming the columns it does have."""
    have = set(columns)
    for rule in rules:
        if rule.column not in have:
            raise ValueError(
                f"tenant {tenant!r}, source {source!r}: rule {rule.name!r} names column {rule.column!r}, which "
                f"table {resource!r} does not have; its columns: {', '.join(sorted(have))}")


def quarantine_rows(table: pa.Table, rules: Iterable[TenantRule], *, tenant: str, source: str, resource: str,
                    primary_key: Iterable[str] = ()) -> tuple[pa.Table, pa.Table]:
    """Split one page: (the rows breaking none of the ``rules`` of ``resource``, same schema; one quarantine
    record per row and rule it breaks). ``primary_key`` names the columns of ``record_key``. Logs one WARNING
    per quarantine record (tenant, source, table, record key, rule, reason; values only of the rule's column
    and key, never secrets)."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    mine = [r for r in rules if r.table == resource]
    key = tuple(primary_key)
    if not mine or table.num_rows == 0:
        return table, QUARANTINE_SCHEMA.empty_table()
    check_columns(mine, table.column_names, tenant=tenant, source=source, resource=resource)
    used = sorted({r.column for r in mine}, key=table.column_names.index)
    frame = pl.from_arrow(table.select(used), rechunk=False)
    broken = frame.select([r.breaks().alias(f"_r{i}") for i, r in enumerate(mine)])
    any_broken = broken.select(pl.any_horizontal(pl.all()).alias("bad"))["bad"]
    if not any_broken.any():
        return table, QUARANTINE_SCHEMA.empty_table()

    now = datetime.now(UTC)
    records: dict[str, list] = {f.name: [] for f in QUARANTINE_SCHEMA}
    bad_index = any_broken.arg_true()
    bad_rows = table.take(pa.array(bad_index.to_list(), pa.int64())).to_pylist()
    bad_flags = broken[bad_index.to_list()].rows()
    for row, flags in zip(bad_rows, bad_flags, strict=True):
        row_key = record_key(row, key)
        raw = raw_json(row)
        for rule, is_broken in zip(mine, flags, strict=True):
            if not is_broken:
                continue
            why = rule.reason(row[rule.column])
            log.warning("tenant %s, source %s, table %s, record %s: rule %s: %s",
                        tenant, source, resource, row_key, rule.code, why)
            for name, value in (("tenant", tenant), ("source", source), ("table", resource),
                                ("record_key", row_key), ("rule", rule.code), ("reason", why),
                                ("raw_record", raw), ("quarantined_at", now)):
                records[name].append(value)
    good = table.filter((~any_broken).to_arrow())
    return good, pa.table(records, schema=QUARANTINE_SCHEMA)


class _QuarantineStep(YieldMapItem):
    """Runs after dlt's incremental step (affinity 1: the cursor sees every row, bad ones included, so they
    are not re-read for ever) and before ``add_limit`` (1.1)."""

    placement_affinity: ClassVar[float] = 1.05


def _primary_key(resource: Any, item: Any, meta: Any) -> tuple[str, ...]:
    """The resource's primary key columns as its hints give them for this page (none for a table without)."""
    columns = resource.compute_table_schema(item, meta).get("columns", {})
    return tuple(name for name, col in columns.items() if col.get("primary_key"))


def with_tenant_rules(source: DltSource, rules: Iterable[TenantRule], *, tenant: str,
                      source_name: str) -> DltSource:
    """Give every resource of ``source`` that has rules a step that lets good rows through to its own table and
    sends the bad ones to ``quarantine`` (merged on table + record_key + rule). Returns ``source`` itself.

    A rule naming a table the source does not land fails here, before anything is read; one naming a column the
    table's pages do not have fails at the first page. Pages must be Arrow tables (or record batches)."""
    rules = tuple(rules)
    if not rules:
        return source
    by_table: dict[str, list[TenantRule]] = {}
    for rule in rules:
        by_table.setdefault(rule.table, []).append(rule)
    tables = sorted(name for name, r in source.resources.items() if r.selected)
    unknown = sorted(set(by_table) - set(tables))
    if unknown:
        raise ValueError(f"tenant {tenant!r}, source {source_name!r}: rules name tables it does not land: "
                         f"{', '.join(unknown)}; its tables: {', '.join(tables)}")
    hints = dlt.mark.make_hints(table_name=QUARANTINE_TABLE, write_disposition="merge",
                                primary_key=list(QUARANTINE_KEY))
    for name, table_rules in by_table.items():
        resource = source.resources[name]
        resource.add_step(_QuarantineStep(_splitter(resource, table_rules, hints, tenant, source_name)))
    return source


def _splitter(resource: Any, rules: list[TenantRule], hints: Any, tenant: str, source_name: str):
    table_name = resource.table_name if isinstance(resource.table_name, str) else resource.name
    primary_key: list[tuple[str, ...]] = []  # resolved at the first page (hints are final by then)

    def split(item: Any, meta: Any = None) -> Iterator[Any]:
        if _elsewhere(meta, table_name):  # a page the resource sends to another table is not judged here
            yield item  # (an item yielded bare keeps the meta it came with)
            return
        if not isinstance(item, (pa.Table, pa.RecordBatch)):
            raise TypeError(f"tenant {tenant!r}, source {source_name!r}: tenant rules need Arrow pages, but "
                            f"{resource.name!r} yielded {type(item).__name__}")
        if not primary_key:
            primary_key.append(_primary_key(resource, item, meta))
        good, bad = quarantine_rows(item, rules, tenant=tenant, source=source_name, resource=resource.name,
                                    primary_key=primary_key[0])
        if good.num_rows:
            yield good
        if bad.num_rows:
            yield dlt.mark.with_hints(bad, hints, create_table_variant=True)

    return split


def _elsewhere(meta: Any, table_name: str) -> bool:
    """Whether an item's meta routes it to a table other than the resource's own (e.g. its own quarantine)."""
    if meta is None:
        return False
    target = getattr(meta, "table_name", None)
    if target is None and hasattr(meta, "hints"):
        target = (meta.hints or {}).get("table_name")
    return isinstance(target, str) and target != table_name
