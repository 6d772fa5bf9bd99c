"""One tenant's alert evaluation and its daily digest, end to end (what the Dagster asset and schedule call).

``run_alerts``: evaluate every enabled rule over the warehouse, store the new firings (deduplicated, cooldown
respected), then deliver every undelivered firing of the tenant (the new ones and any earlier failure) and record
each outcome. The warehouse connection is closed while messages are sent, so a slow webhook never holds the
embedded warehouse's single writer. A delivery interrupted between Slack's ``ok`` and its record is sent again
next time (at least once, never lost). A rule that cannot be evaluated does not stop the others: the run
reports it (``AlertRun.errors``, naming tenant and rule) after delivering the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from orchestration.alerts.delivery import Outcome, deliver, firing_message
from orchestration.alerts.digest import PERIOD, digest_message
from orchestration.alerts.rules import Finding, Scope
from orchestration.alerts.store import Firing, ensure_table, fired_between, mark_delivery, record, undelivered
from orchestration.settings import Settings
from orchestration.tenants import Tenant
from orchestration.warehouse import connect

log = logging.getLogger("orchestration.alerts")


class AlertRuleError(RuntimeError):
    """One or more rules of a tenant could not be evaluated; the message names tenant and rule."""


@dataclass
class AlertRun:
    tenant: str
    rules: int = 0
    findings: list[Finding] = field(default_factory=list)
    stored: list[Firing] = field(default_factory=list)
    duplicates: int = 0
    cooling: int = 0
    delivered: list[tuple[Firing, Outcome]] = field(default_factory=list)
    failed: list[tuple[Firing, Outcome]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def raise_for_errors(self) -> None:
        if self.errors:
            raise AlertRuleError("; ".join(self.errors))


def run_alerts(settings: Settings, tenant: Tenant, *, now: datetime | None = None,
               environ: Mapping[str, str] | None = None) -> AlertRun:
    """Evaluate, store and deliver one tenant's alerts (``now``: the evaluation instant, default the clock)."""
    config, slug = tenant.alerts, tenant.slug
    started = now or datetime.now(UTC)
    result = AlertRun(slug, rules=len(config.active_rules))
    scope = Scope(slug, tenant.currency)
    with connect(settings, read_only=False) as con:
        ensure_table(con)
        for rule in config.active_rules:
            try:
                result.findings.extend(rule.evaluate(con, scope))
            except Exception as exc:  # a missing table, a bad query: name tenant and rule, go on with the rest
                result.errors.append(f"tenant {slug!r}, rule {rule.name!r} ({rule.kind}): "
                                     f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        recorded = record(con, slug, result.findings, started, {r.name: config.cooldown_of(r) for r in config.rules})
        pending = undelivered(con, slug)
    result.stored, result.duplicates, result.cooling = recorded.stored, len(recorded.duplicates), len(recorded.cooling)

    headings = {r.name: r.heading for r in config.rules}
    url = config.webhook_url(environ)
    outcomes = []
    for firing in pending:
        payload = firing_message(firing, tenant.display_name, headings.get(firing.rule))
        outcome = deliver(payload, tenant=slug, url=url, home=settings.home, now=now,
                          record={"type": "firing", "firing_id": firing.firing_id, "rule": firing.rule,
                                  "kind": firing.kind, "severity": firing.severity, "subject": firing.subject,
                                  "fired_at": firing.fired_at.isoformat()})
        outcomes.append((firing, outcome))
        (result.delivered if outcome.delivered else result.failed).append((firing, outcome))
    if outcomes:
        with connect(settings, read_only=False) as con:
            for firing, outcome in outcomes:
                mark_delivery(con, slug, firing.firing_id, outcome.via, outcome.at, outcome.error)
    log.info("tenant %s: %d rule(s), %d finding(s), %d new firing(s), %d duplicate(s), %d in cooldown, "
             "%d delivered, %d failed", slug, result.rules, len(result.findings), len(result.stored),
             result.duplicates, result.cooling, len(result.delivered), len(result.failed))
    return result


def send_digest(settings: Settings, tenant: Tenant, *, now: datetime | None = None,
                environ: Mapping[str, str] | None = None) -> tuple[list[Firing], Outcome]:
    """Deliver the tenant's digest of the 24 hours before ``now``; returns the firings listed and the outcome."""
    end = now or datetime.now(UTC)
    start = end - PERIOD
    with connect(settings, read_only=False) as con:
        ensure_table(con)
        firings = fired_between(con, tenant.slug, start, end)
    payload = digest_message(firings, tenant.display_name, start, end)
    outcome = deliver(payload, tenant=tenant.slug, url=tenant.alerts.webhook_url(environ), home=settings.home,
                      now=now, record={"type": "digest", "period_start": start.isoformat(),
                                       "period_end": end.isoformat(), "firings": len(firings)})
    return firings, outcome
