"""The ``alerts:`` block of tenants.yaml: the demo tenants' rules load typed; bad rules fail naming tenant and field;
the webhook URL is read from the environment only when asked."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from orchestration.alerts.rules import BelowBaselineRule, StockBelowSafetyRule
from orchestration.tenants import TenantConfigError, load_registry
from tests.alerts.conftest import tenant_entry, write_registry

REPO = Path(__file__).resolve().parents[2]


def test_the_demo_tenants_have_one_rule_of_each_kind_between_them():
    registry = load_registry(REPO / "tenants.yaml")
    kinds = {rule.kind for t in registry.tenants for rule in t.alerts.rules}
    assert kinds == {"threshold", "change_over_window", "below_baseline", "stock_below_safety",
                     "competitor_undercut"}
    northwind = registry.get("northwind").alerts
    assert northwind.slack_webhook_env == "NORTHWIND_SLACK_WEBHOOK_URL"
    stock = next(r for r in northwind.rules if isinstance(r, StockBelowSafetyRule))
    assert (stock.top_n, stock.lead_time_days, stock.service_level) == (10, 14, Decimal("0.95"))
    drop = next(r for r in northwind.rules if isinstance(r, BelowBaselineRule))
    assert (drop.metric, drop.tolerance_pct) == ("conversion_rate", Decimal("0.15"))
    # every variable a tenant names is listed in .env.example, empty (the demo delivers to the local log)
    listed = dict(line.split("=", 1) for line in (REPO / ".env.example").read_text().splitlines()
                  if "=" in line and not line.startswith("#"))
    assert {listed[t.alerts.slack_webhook_env] for t in registry.tenants} == {""}


def test_a_tenant_without_alerts_has_no_rules(tmp_path):
    entry = tenant_entry("acme", {})
    del entry["alerts"]
    acme = load_registry(write_registry(tmp_path / "t.yaml", entry)).get("acme").alerts
    assert acme.rules == () and acme.webhook_url({"X": "y"}) is None


@pytest.mark.parametrize(("alerts", "field", "words"), [
    ({"rules": [{"name": "x", "kind": "threshold", "metric": "cac", "op": "above", "value": 3}]},
     "alerts.rules.0.threshold.metric", "unknown metric 'cac'"),
    ({"rules": [{"name": "x", "kind": "forecast_miss"}]}, "alerts.rules.0", "does not match any of the expected tags"),
    ({"rules": [{"name": "x", "kind": "competitor_undercut", "min_undercut_pct": "1.5"}]},
     "alerts.rules.0.competitor_undercut.min_undercut_pct", "less than 1"),
    ({"rules": [{"name": "x", "kind": "stock_below_safety", "interval": 90}]},
     "alerts.rules.0.stock_below_safety.interval", "Input should be 80 or 95"),
    ({"rules": [{"name": "x", "kind": "competitor_undercut"}, {"name": "x", "kind": "competitor_undercut"}]},
     "alerts.rules", "rule name 'x' is used twice"),
    ({"slack_webhook_env": "https://hooks.slack.com/services/T/B/x"}, "alerts.slack_webhook_env", "pattern"),
    ({"digest_hour": 24}, "alerts.digest_hour", "less than or equal to 23"),
    ({"rule": []}, "alerts.rule", "Extra inputs are not permitted"),
])
def test_bad_rules_name_tenant_and_field(tmp_path, alerts, field, words):
    with pytest.raises(TenantConfigError) as error:
        load_registry(write_registry(tmp_path / "t.yaml", tenant_entry("acme", alerts)))
    message = str(error.value)
    assert f"tenant 'acme', field {field}" in message and words in message, message


def test_the_webhook_url_comes_from_the_named_variable_at_delivery_time(tmp_path, monkeypatch):
    acme = load_registry(write_registry(tmp_path / "t.yaml", tenant_entry(
        "acme", {"slack_webhook_env": "ACME_SLACK_WEBHOOK_URL"}))).get("acme").alerts
    monkeypatch.delenv("ACME_SLACK_WEBHOOK_URL", raising=False)
    assert acme.webhook_url() is None
    monkeypatch.setenv("ACME_SLACK_WEBHOOK_URL", "  ")
    assert acme.webhook_url() is None
    monkeypatch.setenv("ACME_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/services/T/B/s")
    assert acme.webhook_url() == "http://127.0.0.1:9/services/T/B/s"
