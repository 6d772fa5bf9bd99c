"""What a file format is to the source: which entities a file feeds and how its rows become canonical rows.

A format adapter only *rewrites*: from a batch of the file's rows (every value text) it selects, renames and
rewrites columns into the canonical layout's text (``settings.ENTITIES``). Validation, typing, quarantine and
landing are the one shared path (``sources/files/reader.py``), whatever the format.

Each file has a **grain**: the entity that has one row per file row (the line items of an orders export). The
other entities it feeds are *derived*: one row per key, from the key's first row (first non-empty value of
each column) or, for the columns a format names in ``sums``, the exact sum over the key's rows. A derived row
without a key is skipped (the grain row reports what is wrong with it).
"""

from __future__ import annotations

import polars as pl

from sources.files.formats.text import blank_to_null
from sources.files.reading import LINE, Dialect
from sources.files.settings import ENTITIES

FORMAT_RULE = "_format_rule"  # an adapter's own rule code for a row (e.g. line_total:unit_price), or null


class LinePositions:
    """Line numbers by position: the n-th row of an order in the file is its line n (across batches)."""

    def __init__(self) -> None:
        self._seen = pl.DataFrame(schema={"_order": pl.String, "_count": pl.Int64})

    def assign(self, order_ids: pl.Series) -> pl.Series:
        frame = pl.DataFrame({"_order": order_ids})
        before = frame.join(self._seen, on="_order", how="left", maintain_order="left")["_count"].fill_null(0)
        position = frame.select(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("_order").alias("_p"))["_p"]
        counts = frame.group_by("_order").len("_count").with_columns(pl.col("_count").cast(pl.Int64))
        self._seen = (pl.concat([self._seen, counts]).group_by("_order").agg(pl.col("_count").sum()))
        return (before + position).alias("line_number")


class FileFormat:
    """A native file format. Subclasses set ``name``, ``dialect``, ``grain`` and implement ``rows``."""

    name: str = "?"
    dialect: Dialect = Dialect()
    grain: str = "order_lines"
    derived: tuple[str, ...] = ()
    sums: dict[str, tuple[str, ...]] = {}
    # entity → canonical column → where it comes from in the file (named in quarantine reasons)
    origin: dict[str, dict[str, str]] = {}
    required_columns: tuple[str, ...] = ()  # file columns the format cannot do without

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.positions = LinePositions()

    @classmethod
    def matches(cls, header: list[str], file_name: str) -> bool:
        return set(cls.required_columns) <= set(header)

    def feeds(self, entity: str) -> bool:
        return entity == self.grain or entity in self.derived

    def missing(self, entity: str) -> list[str]:
        """File columns this entity needs that the header lacks (the file is then one quarantine record)."""
        return [c for c in self.required_columns if c not in self.header]

    def columns(self) -> list[str] | None:
        """The file columns worth keeping (None: all of them)."""
        return None

    def rows(self, entity: str, raw: pl.DataFrame) -> pl.DataFrame:
        """Canonical text columns of ``entity`` (+ ``_line``, optionally ``_format_rule``) for one batch."""
        raise NotImplementedError

    def reason(self, rule: str, row: dict) -> str | None:
        """A sentence for one of the format's own rules."""
        return None

    def col(self, name: str) -> pl.Expr:
        """A file column as text with blanks as null, or a null column if the header lacks it."""
        if name in self.header:
            return blank_to_null(pl.col(name))
        return pl.lit(None, pl.String)


def canonical_frame(entity: str, raw: pl.DataFrame, values: dict[str, pl.Expr],
                    extra: dict[str, pl.Expr] | None = None) -> pl.DataFrame:
    """Select ``values`` (canonical column → expression) in the layout's order, plus ``_line`` and ``extra``."""
    names = [c.name for c in ENTITIES[entity].columns]
    exprs = [values.get(n, pl.lit(None, pl.String)).cast(pl.String).alias(n) for n in names]
    exprs += [pl.col(LINE)] + [e.alias(k) for k, e in (extra or {}).items()]
    return raw.select(exprs)
