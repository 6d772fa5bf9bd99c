"""The file formats a drop may hold, and which one a file is in, decided by its header (and name).

In order: the tenant's own column mappings (what the tenant declared wins), Shopify's orders export,
Amazon's flat-file All Orders Report, then the canonical layout (by the file's name prefix). A data file in
none of them is quarantined as one record (rule ``format:unknown``), naming its header.
"""

from __future__ import annotations

from sources.files.formats.amazon_flat_file import AmazonFlatFile
from sources.files.formats.base import FORMAT_RULE, FileFormat
from sources.files.formats.canonical import Canonical, entity_of
from sources.files.formats.mapped import ColumnMapping, Mapped
from sources.files.formats.shopify_export import ShopifyExport
from sources.files.reading import parse_header

NATIVE = (ShopifyExport, AmazonFlatFile)

__all__ = ["FORMAT_RULE", "ColumnMapping", "FileFormat", "detect"]


def detect(head: bytes, file_name: str, mappings: tuple[ColumnMapping, ...] = ()) -> FileFormat | None:
    """The format of a file that starts with ``head`` (its first bytes), or None when it is in none we read."""
    for mapping in mappings:
        own = parse_header(head, mapping.encoding, mapping.delimiter)
        if mapping.matches(own, file_name):
            return Mapped(own, mapping)
    header = parse_header(head)
    for native in NATIVE:
        if native.matches(header, file_name):
            return native(header)
    entity = entity_of(file_name)
    return Canonical(header, entity) if entity else None
