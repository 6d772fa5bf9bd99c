"""A tenant's ``alerts:`` block in tenants.yaml, validated when the registry loads (errors name tenant and field).

```yaml
alerts:
  slack_webhook_env: NORTHWIND_SLACK_WEBHOOK_URL   # the variable holding the incoming-webhook URL (never the URL)
  cooldown_hours: 24                               # per (rule, subject); a rule may set its own
  digest_hour: 8                                   # local hour of the daily digest
  rules:
    - {name: cac_spike, kind: change_over_window, metric: blended_cac, window_days: 7, min_change_pct: "0.20"}
```

Without the block a tenant has no rules and no digest. With no ``slack_webhook_env``, or the variable unset or
empty when a run delivers, messages go to ``$OMNI_HOME/alerts/<tenant>.log`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestration.alerts.rules import Rule

ENV_NAME = r"^[A-Z][A-Z0-9_]*$"


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slack_webhook_env: str | None = Field(default=None, pattern=ENV_NAME)
    cooldown_hours: float = Field(default=24, ge=0)
    digest: bool = True
    digest_hour: int = Field(default=8, ge=0, le=23)
    rules: tuple[Rule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
        return rules

    @property
    def active_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]

    def cooldown_of(self, rule: Rule) -> float:
        return self.cooldown_hours if rule.cooldown_hours is None else rule.cooldown_hours

    def webhook_url(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The incoming-webhook URL from the environment at delivery time; None sends to the local log."""
        if not self.slack_webhook_env:
            return None
        value = (os.environ if environ is None else environ).get(self.slack_webhook_env, "").strip()
        return value or None
