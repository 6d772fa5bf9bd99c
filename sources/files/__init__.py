"""A tenant's CSV file drop → dlt: orders, order lines, customers and products in the canonical layout.

Files are listed with dlt's own ``filesystem`` resource (fsspec: a local folder, ``file://``, ``sftp://``
and object stores), one file at a time. Every row is validated against the
layout in ``settings.py``: good rows merge on their key, bad rows go to the ``quarantine`` table (merged on
file + line) with the rule they broke. Re-running the same drop changes nothing.

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

from sources.files.helpers import quarantine_table, read_file
from sources.files.settings import ENTITIES, QUARANTINE_KEY, QUARANTINE_TABLE, Entity, TenantRule

__all__ = ["files_source", "ENTITIES"]


@dlt.source(name="files", max_table_nesting=0)
def files_source(
    tenant: str = dlt.config.value,
    bucket_url: str = dlt.config.value,
    credentials: Any = None,
    rules: list[dict] | None = None,
) -> list:
    """One resource per entity of the canonical layout; each also feeds the shared ``quarantine`` table.

    ``bucket_url`` is a local folder (``file://…``) or any fsspec URL such as ``sftp://host:22/drops/acme``;
    ``credentials`` are dlt's for that protocol (e.g. ``SFTPCredentials``), none for local folders (typed
    ``Any`` so dlt takes the object as given instead of resolving a union of every protocol's credentials).
    ``rules`` are the tenant's own checks (``TenantRule`` fields as dicts), quarantining what breaks them.
    """
    tenant_rules = tuple(TenantRule(**{k: tuple(v) if k == "allowed" else v for k, v in r.items()})
                         for r in rules or ())
    login = {} if credentials is None else {"credentials": credentials}  # local folders take none at all
    return [
        (filesystem(bucket_url=bucket_url, file_glob=entity.file_glob, **login)
         | _reader(tenant, entity, tenant_rules))
        .with_name(name)
        for name, entity in ENTITIES.items()
    ]


def _reader(tenant: str, entity: Entity, tenant_rules: tuple[TenantRule, ...]):
    quarantine_hints = dlt.mark.make_hints(table_name=QUARANTINE_TABLE, write_disposition="merge",
                                           primary_key=list(QUARANTINE_KEY))

    @dlt.transformer(name=f"read_{entity.table}", primary_key=list(entity.key), write_disposition="merge",
                     table_name=entity.table)
    def read(items: list[FileItemDict]) -> Iterator:
        for item in sorted(items, key=lambda i: i["relative_path"]):
            good, bad = read_file(tenant, entity, item["relative_path"], item.read_bytes(), tenant_rules)
            if good is not None:
                yield good
            if bad:
                yield dlt.mark.with_hints(quarantine_table(bad), quarantine_hints, create_table_variant=True)

    return read
