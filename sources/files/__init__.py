"""A tenant's file drop → dlt: orders, order lines, customers and products in the canonical layout.

Files are listed with dlt's own ``filesystem`` resource (fsspec: a local folder, ``file://``, ``sftp://``
and object stores), one file at a time, and each is read in the format its header shows (``formats/``): the
canonical layout, Shopify's orders export, Amazon's flat-file All Orders Report, or one of the tenant's own
column mappings. Every row is rewritten to the layout in ``settings.py`` and validated there: good rows
merge on their key, bad rows go to the ``quarantine`` table (merged on file + line + entity) with the rule
they broke. Files are read in batches (bounded memory). Re-running the same drop changes nothing.

Run by dlt alone::

    import dlt
    from sources.files import files_source
    pipeline = dlt.pipeline("files__northwind", destination="duckdb", dataset_name="raw_files__northwind")
    pipeline.run(files_source(tenant="northwind", bucket_url="file:///srv/drops/northwind"))
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources.filesystem import FileItemDict, filesystem

from sources.files.formats import ColumnMapping
from sources.files.helpers import quarantine_table
from sources.files.reader import read_entity
from sources.files.settings import ENTITIES, QUARANTINE_KEY, QUARANTINE_TABLE, Entity, TenantRule, layout_rule

__all__ = ["files_source", "ENTITIES"]


@dlt.source(name="files", max_table_nesting=0)
def files_source(
    tenant: str = dlt.config.value,
    bucket_url: str = dlt.config.value,
    credentials: Any = None,
    rules: list[dict] | None = None,
    mappings: list[dict] | None = None,
) -> list:
    """One resource per entity of the canonical layout; each also feeds the shared ``quarantine`` table.

    ``bucket_url`` is a local folder (``file://…``) or any fsspec URL such as ``sftp://host:22/drops/acme``;
    ``credentials`` are dlt's for that protocol (e.g. ``SFTPCredentials``), none for local folders (typed
    ``Any`` so dlt takes the object as given instead of resolving a union of every protocol's credentials).
    ``rules`` are the tenant's own checks (``sources.rules.TenantRule`` fields as dicts, ``entity`` accepted
    for ``table``), checked with the layout's rules and quarantining what breaks them.
    ``mappings`` are the tenant's own export layouts (``ColumnMapping`` fields as dicts; README "Column
    mappings").
    """
    tenant_rules = tuple(layout_rule(r) for r in rules or ())
    column_mappings = tuple(ColumnMapping.from_dict(m) for m in mappings or ())
    login = {} if credentials is None else {"credentials": credentials}  # local folders take none at all
    return [
        (filesystem(bucket_url=bucket_url, file_glob="*", **login)
         | _reader(tenant, entity, tenant_rules, column_mappings))
        .with_name(name)
        for name, entity in ENTITIES.items()
    ]


def _reader(tenant: str, entity: Entity, tenant_rules: tuple[TenantRule, ...],
            mappings: tuple[ColumnMapping, ...]):
    quarantine_hints = dlt.mark.make_hints(table_name=QUARANTINE_TABLE, write_disposition="merge",
                                           primary_key=list(QUARANTINE_KEY))

    @dlt.transformer(name=f"read_{entity.table}", primary_key=list(entity.key), write_disposition="merge",
                     table_name=entity.table)
    def read(items: list[FileItemDict]) -> Iterator:
        for item in sorted(items, key=lambda i: i["relative_path"]):
            for good, bad in read_entity(tenant, entity, item, mappings=mappings, tenant_rules=tenant_rules):
                if good is not None:
                    yield good
                if bad:
                    yield dlt.mark.with_hints(quarantine_table(bad), quarantine_hints, create_table_variant=True)

    return read
