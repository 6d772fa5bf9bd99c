"""The canonical layout (sources/files/README.md): one file per entity, named by the entity's prefix
(``orders_2025-01.csv``), with the layout's own column names. Nothing to rewrite: columns are taken as written."""

from __future__ import annotations

import polars as pl

from sources.files.formats.base import FileFormat, canonical_frame
from sources.files.settings import ENTITIES


def entity_of(file_name: str) -> str | None:
    """The entity a canonical file holds, by its name's prefix (the longest matching prefix wins)."""
    matches = [e for e in ENTITIES.values() if file_name.startswith(e.prefix)]
    return max(matches, key=lambda e: len(e.prefix)).table if matches else None


class Canonical(FileFormat):
    name = "canonical"

    def __init__(self, header: list[str], entity: str) -> None:
        super().__init__(header)
        self.grain = entity

    @classmethod
    def matches(cls, header: list[str], file_name: str) -> bool:
        return entity_of(file_name) is not None

    def missing(self, entity: str) -> list[str]:
        return [c.name for c in ENTITIES[entity].columns if c.required and c.name not in self.header]

    def rows(self, entity: str, raw: pl.DataFrame) -> pl.DataFrame:
        return canonical_frame(entity, raw, {c.name: self.col(c.name) for c in ENTITIES[entity].columns})
