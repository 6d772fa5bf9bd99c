"""Per-tenant values of the suites' parameters (GX suite parameters, ``{$PARAMETER: name}`` in a suite).

Business rules differ by tenant only through parameters, never through separate suites:

- from the tenant registry: ``tenant_id``, ``tenant_currency`` (as a one-element list, for ``value_set``) and
  ``order_currencies`` (the tenant's currency plus ``extra_order_currencies``);
- from the run's clock: ``future_cutoff`` (now + ``FUTURE_SKEW``: an order after it is future-dated) and
  ``freshness_cutoff`` (the tenant's local today − ``freshness_max_age_days``: the latest order date must not
  be older);
- plausible ranges with defaults in ``suites/parameters.yaml`` (``max_unit_price``, ``max_order_total``,
  ``max_line_quantity``, ``earliest_order_time``, ``freshness_max_age_days``, ``extra_order_currencies``),
  which a tenant overrides under ``settings: {quality: {...}}`` in tenants.yaml (amounts in its currency).

References (referential integrity) are not parameters: the runner joins them in (expectations/runner.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from expectations.suites import SUITES_DIR

DEFAULTS_FILE = SUITES_DIR / "parameters.yaml"
FUTURE_SKEW = timedelta(hours=1)
DERIVED = {"tenant_id", "tenant_currency", "order_currencies", "future_cutoff", "freshness_cutoff"}
# the kind of every overridable parameter: how a value from YAML is read
KINDS: dict[str, str] = {
    "max_unit_price": "decimal",
    "max_order_total": "decimal",
    "max_line_quantity": "int",
    "freshness_max_age_days": "int",
    "earliest_order_time": "timestamp",
    "extra_order_currencies": "currencies",
}
# what a suite may name: the derived values and the ranges (the other two only feed derived values)
PARAMETER_NAMES = DERIVED | (set(KINDS) - {"freshness_max_age_days", "extra_order_currencies"})


class ParameterError(ValueError):
    """A parameter value is invalid; the message names the tenant (or the defaults file) and the parameter."""


@dataclass(frozen=True)
class TenantFacts:
    """What the suites need to know about a tenant (built from the registry by the caller)."""

    slug: str
    currency: str
    timezone: str
    overrides: Mapping[str, Any] = field(default_factory=dict)  # tenants.yaml settings.quality


def _read(name: str, value: Any, where: str) -> Any:
    kind = KINDS.get(name)
    if kind is None:
        raise ParameterError(f"{where}: unknown quality parameter {name!r}; known: {', '.join(sorted(KINDS))}")
    try:
        if kind == "decimal":
            if isinstance(value, float):
                raise ValueError("write amounts as quoted decimal text, not floats")
            amount = Decimal(str(value))
            if not amount.is_finite() or amount < 0:
                raise ValueError("expected a decimal ≥ 0")
            return amount
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("expected a whole number ≥ 0")
            return value
        if kind == "timestamp":
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            if moment.tzinfo is None:
                raise ValueError("expected a timestamp with an offset, e.g. 2000-01-01T00:00:00Z")
            return moment.astimezone(UTC)
        if not isinstance(value, list) or not all(isinstance(c, str) and len(c) == 3 and c.isupper() for c in value):
            raise ValueError("expected a list of ISO 4217 codes, e.g. [GBP]")
        return list(value)
    except (ValueError, InvalidOperation, TypeError) as exc:
        raise ParameterError(f"{where}: quality parameter {name}={value!r} is invalid: {exc}") from None


@cache
def defaults() -> Mapping[str, Any]:
    raw = yaml.safe_load(DEFAULTS_FILE.read_text()) or {}
    values = {name: _read(name, value, str(DEFAULTS_FILE)) for name, value in raw.items()}
    if missing := set(KINDS) - set(values):
        raise ParameterError(f"{DEFAULTS_FILE}: no default for {sorted(missing)}")
    return values


def tenant_parameters(tenant: TenantFacts, *, now: datetime | None = None) -> dict[str, Any]:
    """Every parameter's value for ``tenant`` at ``now`` (UTC; default the current time)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    where = f"tenant {tenant.slug!r} (settings.quality)"
    values = dict(defaults())
    values.update({name: _read(name, value, where) for name, value in (tenant.overrides or {}).items()})
    local_today: date = now.astimezone(ZoneInfo(tenant.timezone)).date()
    return {
        "tenant_id": tenant.slug,
        "tenant_currency": [tenant.currency],
        "order_currencies": [tenant.currency, *(c for c in values["extra_order_currencies"] if c != tenant.currency)],
        "future_cutoff": now + FUTURE_SKEW,
        "freshness_cutoff": local_today - timedelta(days=values["freshness_max_age_days"]),
        "max_unit_price": values["max_unit_price"],
        "max_order_total": values["max_order_total"],
        "max_line_quantity": values["max_line_quantity"],
        "earliest_order_time": values["earliest_order_time"],
    }
