"""A tenant's own export, read through a column mapping declared in its files source config.

The mapping names, for the merchant's header names, the canonical column(s) each one fills —
``order_id`` fills that column in every entity that has it (orders and order lines), ``products.title``
only the one named — plus constants for what the file lacks (``defaults: {currency: GBP}``) and how the file
writes things: ``timestamp_format`` (strftime) and ``timezone`` (for times without an offset),
``decimal_separator`` / ``thousands_separator`` (``1.234,56``), ``delimiter``, ``encoding`` and ``float_ids``
(ids a spreadsheet wrote as ``17850.0``).

A file is read with a mapping when its name matches the mapping's ``files`` glob, or — without a glob —
when its header has every mapped column. It feeds ``entities`` (default: each entity whose required columns
are all mapped or defaulted — order lines number themselves by position when ``line_number`` is not mapped
— and that gets at least one column besides its key, so an id alone makes no record). The finest entity is
the file's grain (order_lines, then orders, customers, products); the others are derived per key.
"""

from __future__ import annotations

import codecs
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import polars as pl

from sources.files.formats.base import FileFormat, canonical_frame
from sources.files.formats.text import float_id, formatted_to_iso, localised_number
from sources.files.reading import Dialect
from sources.files.settings import ENTITIES

GRAIN_ORDER = ("order_lines", "orders", "customers", "products")
NUMERIC_KINDS = ("money", "unit_price", "quantity", "line_number")
ID_COLUMNS = ("order_id", "customer_id")


def _targets(target: str) -> list[tuple[str, str]]:
    """(entity, column) pairs a mapping target fills: ``products.title`` one, ``order_id`` every entity's."""
    if "." in target:
        entity, column = target.split(".", 1)
        if entity not in ENTITIES:
            raise ValueError(f"unknown entity {entity!r} in target {target!r}")
        if column not in {c.name for c in ENTITIES[entity].columns}:
            raise ValueError(f"{entity} has no column {column!r} (target {target!r})")
        return [(entity, column)]
    pairs = [(e, target) for e, ent in ENTITIES.items() if target in {c.name for c in ent.columns}]
    if not pairs:
        raise ValueError(f"no entity has a column {target!r}")
    return pairs


@dataclass(frozen=True)
class ColumnMapping:
    """One of a tenant's own export layouts (see the module docstring)."""

    name: str
    columns: Mapping[str, tuple[str, ...]]  # the file's header name → canonical target(s)
    files: str | None = None  # glob on the file name, e.g. "invoices_*.csv.gz"
    entities: tuple[str, ...] | None = None
    defaults: Mapping[str, str] = field(default_factory=dict)  # canonical target → constant text
    timestamp_format: str | None = None
    timezone: str | None = None
    decimal_separator: str = "."
    thousands_separator: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8"
    float_ids: bool = False

    def __post_init__(self) -> None:
        where = f"column mapping {self.name!r}"
        sources: dict[str, dict[str, str]] = {}
        for header, targets in self.columns.items():
            for target in (targets,) if isinstance(targets, str) else targets:
                try:
                    pairs = _targets(target)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
                for entity, column in pairs:
                    sources.setdefault(entity, {}).setdefault(column, header)
        constants: dict[str, dict[str, str]] = {}
        for target, value in self.defaults.items():
            try:
                pairs = _targets(target)
            except ValueError as exc:
                raise ValueError(f"{where}: defaults: {exc}") from None
            for entity, column in pairs:
                constants.setdefault(entity, {})[column] = str(value)
        object.__setattr__(self, "_sources", sources)
        object.__setattr__(self, "_constants", constants)
        if self.decimal_separator not in (".", ","):
            raise ValueError(f"{where}: decimal_separator must be '.' or ','")
        if self.thousands_separator is not None and (
                self.thousands_separator == self.decimal_separator
                or self.thousands_separator not in (",", ".", " ", "'", "\u00a0", "\u202f")):
            raise ValueError(f"{where}: thousands_separator must be one of , . ' or a space, not the decimal one")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (KeyError, ValueError):
                raise ValueError(f"{where}: unknown timezone {self.timezone!r} (an IANA name)") from None
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(f"{where}: unknown encoding {self.encoding!r}") from None
        if len(self.delimiter) != 1:
            raise ValueError(f"{where}: delimiter must be one character")
        chosen = self.entities if self.entities is not None else tuple(e for e in GRAIN_ORDER if self._fills(e))
        for entity in chosen:
            if entity not in ENTITIES:
                raise ValueError(f"{where}: unknown entity {entity!r}")
            lacking = [c for c in self._required(entity) if c not in self.available(entity)]
            if lacking:
                raise ValueError(f"{where}: {entity} needs {', '.join(lacking)} mapped or defaulted")
        if not chosen:
            raise ValueError(f"{where}: the mapping fills no entity (map at least the required columns of one)")
        object.__setattr__(self, "entities", tuple(e for e in GRAIN_ORDER if e in chosen))

    @classmethod
    def from_dict(cls, options: Mapping) -> ColumnMapping:
        values = dict(options)
        values["columns"] = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in values["columns"].items()}
        if values.get("entities") is not None:
            values["entities"] = tuple(values["entities"])
        return cls(**values)

    @staticmethod
    def _required(entity: str) -> list[str]:
        derivable = {"line_number"} if entity == "order_lines" else set()
        return [c.name for c in ENTITIES[entity].columns if c.required and c.name not in derivable]

    def available(self, entity: str) -> set[str]:
        return set(self._sources.get(entity, {})) | set(self._constants.get(entity, {}))

    def _fills(self, entity: str) -> bool:
        available = self.available(entity)
        key = set(ENTITIES[entity].key)
        return all(c in available for c in self._required(entity)) and bool(available - key)

    def source(self, entity: str, column: str) -> str | None:
        return self._sources.get(entity, {}).get(column)

    def constant(self, entity: str, column: str) -> str | None:
        return self._constants.get(entity, {}).get(column)

    def matches(self, header: list[str], file_name: str) -> bool:
        if self.files is not None:
            return fnmatch.fnmatch(file_name, self.files)
        return set(self.columns) <= set(header)


class Mapped(FileFormat):
    """A file read through a tenant's ``ColumnMapping``."""

    def __init__(self, header: list[str], mapping: ColumnMapping) -> None:
        super().__init__(header)
        self.mapping = mapping
        self.name = f"mapped:{mapping.name}"
        self.dialect = Dialect(separator=mapping.delimiter, encoding=mapping.encoding)
        self.grain, *derived = mapping.entities
        self.derived = tuple(derived)
        self.origin = {e: {c.name: mapping.source(e, c.name) for c in ENTITIES[e].columns
                           if mapping.source(e, c.name)} for e in mapping.entities}

    def missing(self, entity: str) -> list[str]:
        needed = [self.mapping.source(entity, c) for c in ColumnMapping._required(entity)]
        return [h for h in needed if h is not None and h not in self.header]

    def columns(self) -> list[str]:
        return list(self.mapping.columns)

    def rows(self, entity: str, raw: pl.DataFrame) -> pl.DataFrame:
        m = self.mapping
        values: dict[str, pl.Expr] = {}
        for col in ENTITIES[entity].columns:
            header, constant = m.source(entity, col.name), m.constant(entity, col.name)
            value = self.col(header) if header else pl.lit(None, pl.String)
            if constant is not None:
                value = value.fill_null(pl.lit(constant))
            if col.kind == "timestamp":
                value = formatted_to_iso(value, m.timestamp_format, m.timezone)
            elif col.kind in NUMERIC_KINDS:
                value = localised_number(value, m.decimal_separator, m.thousands_separator)
            if m.float_ids and col.name in ID_COLUMNS:
                value = float_id(value)
            values[col.name] = value
        if entity == "order_lines" and m.source(entity, "line_number") is None:
            raw = raw.with_columns(self.positions.assign(raw.select(values["order_id"].alias("o"))["o"]))
            values["line_number"] = pl.col("line_number")
        return canonical_frame(entity, raw, values)
