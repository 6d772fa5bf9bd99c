"""The per-tenant webhook spool: accepted deliveries on disk, durably and exactly once per webhook id.

Layout under ``$OMNI_HOME/webhooks/<tenant>/``::

    events/<received_ns:020d>-<webhook_id>.json   one accepted delivery (headers that matter + raw body)
    ids/<webhook_id>                              a hard link to that file: the dedup index
    tmp/                                          files being written

Landing writes ``tmp/``, fsyncs, claims ``ids/<webhook_id>`` with ``os.link`` (atomic and exclusive: a second
delivery of the same id finds it taken and lands nothing), renames into ``events/`` and fsyncs both folders.
A crash between claim and rename leaves a claimed file in ``tmp/`` that :meth:`TenantSpool.recover` moves on
(it runs when the receiver starts), so an event that was answered 200 is never lost and never doubled.

Nothing here touches the warehouse: DuckDB has one writer and Dagster holds it during runs. The Dagster
sensor (``orchestration/defs/webhooks.py``) reads ``events/`` in name order (= arrival order) after its
cursor and prunes what it has already turned into runs once older than the retention, which is also how
long a webhook id is remembered for dedup.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.settings import Settings
from orchestration.webhooks.verify import WEBHOOK_ID

DEFAULT_RETENTION_S = 72 * 3600  # beyond Shopify's retry window (8 retries over 4 hours)


def spool_root(settings: Settings) -> Path:
    return settings.home / "webhooks"


@dataclass(frozen=True, order=True)
class SpoolEntry:
    received_ns: int
    webhook_id: str
    path: Path

    def read(self) -> dict[str, Any]:
        return json.loads(self.path.read_text(encoding="utf-8"))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TenantSpool:
    """One tenant's spool folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.events, self.ids, self.tmp = root / "events", root / "ids", root / "tmp"

    def _ensure(self) -> None:
        for folder in (self.events, self.ids, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)

    def seen(self, webhook_id: str) -> bool:
        return (self.ids / webhook_id).exists()

    def land(self, webhook_id: str, record: dict[str, Any]) -> bool:
        """Store one accepted delivery; False (and nothing stored) when its webhook id was already landed."""
        if not WEBHOOK_ID.match(webhook_id):
            raise ValueError(f"unsafe webhook id {webhook_id!r}")
        self._ensure()
        if self.seen(webhook_id):
            return False
        received_ns = time.time_ns()
        data = json.dumps({**record, "webhook_id": webhook_id, "received_ns": received_ns}).encode()
        tmp = self.tmp / f"{received_ns:020d}-{webhook_id}.{secrets.token_hex(4)}"
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, self.ids / webhook_id)  # the exclusive claim: fails if a twin delivery got here first
        except FileExistsError:
            tmp.unlink()
            return False
        os.rename(tmp, self.events / f"{received_ns:020d}-{webhook_id}.json")
        _fsync_dir(self.ids)
        _fsync_dir(self.events)
        return True

    def entries(self, after_ns: int = 0, before_ns: int | None = None) -> list[SpoolEntry]:
        """Landed events received after ``after_ns`` (and before ``before_ns``), oldest first."""
        return [e for e in self._scan()
                if e.received_ns > after_ns and (before_ns is None or e.received_ns < before_ns)]

    def _scan(self) -> list[SpoolEntry]:
        if not self.events.is_dir():
            return []
        found = []
        for path in self.events.glob("*.json"):
            stamp, _, webhook_id = path.stem.partition("-")
            if stamp.isdigit() and webhook_id:
                found.append(SpoolEntry(int(stamp), webhook_id, path))
        return sorted(found)

    def prune(self, upto_ns: int, older_than_ns: int) -> int:
        """Forget events at or before ``upto_ns`` (already turned into runs) received before ``older_than_ns``:
        their file and their dedup entry. Returns how many were removed."""
        removed = 0
        for entry in self._scan():
            if entry.received_ns <= upto_ns and entry.received_ns < older_than_ns:
                (self.ids / entry.webhook_id).unlink(missing_ok=True)
                entry.path.unlink(missing_ok=True)
                removed += 1
        return removed

    def recover(self) -> int:
        """After a crash: claimed files still in ``tmp/`` go on to ``events/``; unclaimed ones are dropped
        (their delivery was never answered 200, so Shopify retries it). Returns how many were recovered."""
        if not self.tmp.is_dir():
            return 0
        recovered = 0
        for path in sorted(self.tmp.iterdir()):
            name = path.name.rsplit(".", 1)[0]
            webhook_id = name.partition("-")[2]
            claim = self.ids / webhook_id
            if webhook_id and claim.exists() and os.path.samefile(claim, path):
                os.rename(path, self.events / f"{name}.json")
                recovered += 1
            else:
                path.unlink()
        if recovered:
            _fsync_dir(self.events)
        return recovered


class Spool:
    """Every tenant's spool under one root (``$OMNI_HOME/webhooks``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def tenant(self, slug: str) -> TenantSpool:
        return TenantSpool(self.root / slug)

    def tenants(self) -> Iterator[str]:
        if self.root.is_dir():
            yield from sorted(p.name for p in self.root.iterdir() if p.is_dir())
