"""``alerts.firings``: every firing stored once, deduplicated, with its delivery state (DuckDB and PostgreSQL).

One row per firing (contract #2 of issue 6): tenant_id, firing_id, rule, kind, severity, subject, fired_at (UTC),
message, observed, reference (decimal(18,4)), details (JSON text), delivered_via ('slack' | 'log', null while
undelivered), delivered_at; plus delivery_attempts and delivery_error, so a failed delivery is kept and retried
by the next evaluation instead of being lost.

**Deduplication.** ``firing_id`` is a stable hash of (tenant, rule, subject, window): the same observation
evaluated again is the same firing, and the primary key (tenant_id, firing_id) stores it once. **Cooldown.** A
new firing of a (tenant, rule, subject) is not stored while the last one is younger than the rule's cooldown,
whatever its window: a condition that persists day after day speaks again only once the cooldown is over.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from orchestration.alerts.rules import Finding
from orchestration.alerts.sql import execute, rows

SCHEMA = "alerts"
TABLE = f"{SCHEMA}.firings"
COLUMNS = ("tenant_id", "firing_id", "rule", "kind", "severity", "subject", "fired_at", "message", "observed",
           "reference", "details", "delivered_via", "delivered_at", "delivery_attempts", "delivery_error")
DDL = f"""
create table if not exists {TABLE} (
    tenant_id varchar not null,
    firing_id varchar not null,
    rule varchar not null,
    kind varchar not null,
    severity varchar not null,
    subject varchar not null,
    fired_at timestamp not null,
    message varchar not null,
    observed decimal(18, 4),
    reference decimal(18, 4),
    details varchar,
    delivered_via varchar,
    delivered_at timestamp,
    delivery_attempts integer not null default 0,
    delivery_error varchar,
    primary key (tenant_id, firing_id)
)"""


@dataclass(frozen=True)
class Firing:
    tenant_id: str
    firing_id: str
    rule: str
    kind: str
    severity: str
    subject: str
    fired_at: datetime  # naive UTC, as stored
    message: str
    observed: Decimal | None
    reference: Decimal | None
    details: str
    delivered_via: str | None = None
    delivered_at: datetime | None = None
    delivery_attempts: int = 0
    delivery_error: str | None = None


def utc(moment: datetime) -> datetime:
    """An instant as the table stores it: naive UTC (an aware one is converted, a naive one taken as UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def firing_id(tenant: str, rule: str, subject: str, window: str) -> str:
    return hashlib.sha256("\x1f".join((tenant, rule, subject, window)).encode()).hexdigest()[:32]


def ensure_table(con: Any) -> None:
    execute(con, f"create schema if not exists {SCHEMA}")
    execute(con, DDL)


@dataclass(frozen=True)
class Recorded:
    stored: list[Firing]
    duplicates: list[Finding]  # this window already fired
    cooling: list[Finding]  # the subject fired less than the cooldown ago


def record(con: Any, tenant: str, findings: list[Finding], now: datetime,
           cooldown_hours: dict[str, float]) -> Recorded:
    """Store the findings that are new and out of their cooldown; say what was held back and why."""
    now = utc(now)
    stored, duplicates, cooling = [], [], []
    for finding in findings:
        fid = firing_id(tenant, finding.rule, finding.subject, finding.window)
        if rows(con, f"select 1 from {TABLE} where tenant_id = ? and firing_id = ?", [tenant, fid]):
            duplicates.append(finding)
            continue
        last = rows(con, f"select max(fired_at) from {TABLE} where tenant_id = ? and rule = ? and subject = ?",
                    [tenant, finding.rule, finding.subject])[0][0]
        if last is not None and now - last < timedelta(hours=cooldown_hours[finding.rule]):
            cooling.append(finding)
            continue
        firing = Firing(tenant, fid, finding.rule, finding.kind, finding.severity, finding.subject, now,
                        finding.message, finding.observed, finding.reference,
                        json.dumps({"window": finding.window, **finding.details}, sort_keys=True, default=str))
        execute(con, f"insert into {TABLE} ({', '.join(COLUMNS[:11])}) values ({', '.join('?' * 11)}) "
                     "on conflict do nothing",
                [firing.tenant_id, firing.firing_id, firing.rule, firing.kind, firing.severity, firing.subject,
                 firing.fired_at, firing.message, firing.observed, firing.reference, firing.details])
        stored.append(firing)
    return Recorded(stored, duplicates, cooling)


def _select(con: Any, where: str, params: list[Any]) -> list[Firing]:
    found = rows(con, f"select {', '.join(COLUMNS)} from {TABLE} where tenant_id = ? and {where} "
                      "order by fired_at, rule, subject", params)
    return [Firing(*row) for row in found]


def undelivered(con: Any, tenant: str) -> list[Firing]:
    """The tenant's firings not delivered yet (new ones and earlier failures), oldest first (then by rule, subject)."""
    return _select(con, "delivered_at is null", [tenant])


def all_firings(con: Any, tenant: str) -> list[Firing]:
    """Every firing the tenant has stored, oldest first."""
    return _select(con, "true", [tenant])


def fired_between(con: Any, tenant: str, start: datetime, end: datetime) -> list[Firing]:
    """The tenant's firings with ``start <= fired_at < end``, oldest first."""
    return _select(con, "fired_at >= ? and fired_at < ?", [tenant, utc(start), utc(end)])


def mark_delivery(con: Any, tenant: str, fid: str, via: str | None, at: datetime | None,
                  error: str | None) -> None:
    """One delivery attempt's outcome: delivered (via, at) or failed (error; retried next evaluation)."""
    execute(con, f"update {TABLE} set delivered_via = ?, delivered_at = ?, delivery_error = ?, "
                 "delivery_attempts = delivery_attempts + 1 where tenant_id = ? and firing_id = ?",
            [via, utc(at) if at else None, error, tenant, fid])
