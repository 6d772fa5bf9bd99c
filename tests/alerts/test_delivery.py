"""Store and deliver, over real HTTP: a Slack-compatible receiver on loopback (sandbox/slack) gets exactly one Block
Kit message per firing; a re-evaluation inside the cooldown sends nothing, one after it sends again; a 429 is
retried and delivers once; a refused delivery is kept and retried next evaluation; without a URL the message is
a JSON line in the tenant's own log; tenants never see each other's firings; the digest is one message."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from orchestration.alerts.delivery import log_path, send_slack
from orchestration.alerts.digest import digest_message
from orchestration.alerts.run import run_alerts, send_digest
from orchestration.alerts.store import Firing
from orchestration.tenants import load_registry
from sandbox.slack.receiver import SlackReceiver
from tests.alerts.conftest import STOCK_RULE, stock_world, tenant_entry, write_registry

T0 = datetime(2025, 3, 15, 6, 0, tzinfo=UTC)
SNAPSHOT = date(2025, 3, 14)
ENV = {"ACME_SLACK_WEBHOOK_URL": "", "GLOBEX_SLACK_WEBHOOK_URL": ""}


@pytest.fixture
def slack():
    with SlackReceiver(hooks=["acme", "globex"]) as receiver:
        yield receiver


@pytest.fixture
def tenants(tmp_path):
    alerts = {"slack_webhook_env": "ACME_SLACK_WEBHOOK_URL", "cooldown_hours": 24, "rules": [STOCK_RULE]}
    registry = load_registry(write_registry(
        tmp_path / "tenants.yaml", tenant_entry("acme", alerts, display_name="Acme Outdoor"),
        tenant_entry("globex", {**alerts, "slack_webhook_env": "GLOBEX_SLACK_WEBHOOK_URL"}, currency="EUR",
                     display_name="Globex Tea")))
    return registry.get("acme"), registry.get("globex")


def stored(duck, tenant: str) -> list[tuple]:
    return duck.query("select firing_id, subject, delivered_via, delivered_at, delivery_attempts, delivery_error "
                      "from alerts.firings where tenant_id = ? order by fired_at, subject", [tenant])


def firing_ids(messages: list[dict]) -> list[str]:
    """The firing id each message names in its context block (its first 12 characters)."""
    return [m["blocks"][2]["elements"][0]["text"].rsplit("firing ", 1)[1] for m in messages]


def test_one_block_kit_message_per_firing_and_the_cooldown(duck, slack, tenants):
    acme, _ = tenants
    env = {**ENV, "ACME_SLACK_WEBHOOK_URL": slack.url("acme")}
    stock_world(duck, "acme", SNAPSHOT, {"SKU-A": 60, "SKU-B": 12, "SKU-C": 500})

    first = run_alerts(duck.settings, acme, now=T0, environ=env)
    assert (len(first.stored), len(first.delivered), first.failed, first.errors) == (2, 2, [], [])
    messages = slack.messages("acme")
    assert len(messages) == 2
    for message, firing in zip(messages, first.stored, strict=True):
        assert [b["type"] for b in message["blocks"]] == ["header", "section", "context"]
        assert message["blocks"][0]["text"]["text"] == ":rotating_light: Top seller below its reorder point"
        assert message["blocks"][1]["text"]["text"] == firing.message and firing.message in message["text"]
        assert message["blocks"][2]["elements"][0]["text"].startswith(
            "*Acme Outdoor* · rule `top_seller_stock` (stock_below_safety) · 2025-03-15 06:00 UTC")
    assert [f["text"] for f in messages[0]["blocks"][1]["fields"]] == [
        "*Observed*\n60", "*Reference*\n78.704", "*Subject*\namazon/SKU-A", "*Severity*\ncritical"]
    assert firing_ids(messages) == [f.firing_id[:12] for f in first.stored]
    rows = stored(duck, "acme")
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        ("amazon/SKU-A", "slack", T0.replace(tzinfo=None), 1, None),
        ("amazon/SKU-B", "slack", T0.replace(tzinfo=None), 1, None)]

    # the same observation again, an hour later: the same firings, nothing stored or sent
    again = run_alerts(duck.settings, acme, now=T0 + timedelta(hours=1), environ=env)
    assert (len(again.stored), again.duplicates, len(again.delivered)) == (0, 2, 0)
    # the next day's snapshot, still inside the 24 h cooldown: new windows, held back
    stock_world(duck, "acme", SNAPSHOT + timedelta(days=1), {"SKU-A": 55, "SKU-B": 10, "SKU-C": 500})
    cooling = run_alerts(duck.settings, acme, now=T0 + timedelta(hours=20), environ=env)
    assert (len(cooling.stored), cooling.cooling, len(cooling.delivered)) == (0, 2, 0)
    assert len(slack.messages("acme")) == 2

    # past the cooldown the persisting condition speaks again, once per subject
    later = run_alerts(duck.settings, acme, now=T0 + timedelta(hours=25), environ=env)
    assert (len(later.stored), len(later.delivered)) == (2, 2)
    assert len(slack.messages("acme")) == 4
    assert firing_ids(slack.messages("acme")[2:]) == [f.firing_id[:12] for f in later.stored]
    assert "55 on hand" in slack.messages("acme")[2]["text"]
    assert len(stored(duck, "acme")) == 4


def test_a_429_is_retried_and_delivers_once_without_logging_the_url(duck, slack, tenants, caplog):
    acme, _ = tenants
    url = slack.url("acme")
    stock_world(duck, "acme", SNAPSHOT, {"SKU-A": 60})
    slack.inject("acme", "http_429", retry_after_s=0)
    with caplog.at_level(logging.DEBUG):
        result = run_alerts(duck.settings, acme, now=T0, environ={**ENV, "ACME_SLACK_WEBHOOK_URL": url})
    assert (len(result.delivered), result.failed) == (1, [])
    assert slack.refused("acme") == [(429, "rate_limited")]
    assert len(slack.messages("acme")) == 1
    assert [r[2:5] for r in stored(duck, "acme")] == [("slack", T0.replace(tzinfo=None), 1)]
    # the sending side's logs (ours, slack_sdk's at DEBUG) never hold the URL; the receiver's access log (Slack's
    # side) is not ours
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("uvicorn")]
    assert ours and not any(url.rsplit("/", 1)[1] in m for m in ours)


def test_a_refused_delivery_is_kept_and_retried_next_evaluation(duck, slack, tenants, caplog):
    acme, _ = tenants
    url = slack.url("acme")
    env = {**ENV, "ACME_SLACK_WEBHOOK_URL": url}
    stock_world(duck, "acme", SNAPSHOT, {"SKU-A": 60})
    slack.inject("acme", "channel_not_found")
    first = run_alerts(duck.settings, acme, now=T0, environ=env)
    assert (len(first.stored), first.delivered, len(first.failed)) == (1, [], 1)
    assert [r[2:] for r in stored(duck, "acme")] == [(None, None, 1, "HTTP 404: channel_not_found")]
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("uvicorn")]
    assert ours and not any(url.rsplit("/", 1)[1] in m for m in [*ours, first.failed[0][1].error])

    retry = run_alerts(duck.settings, acme, now=T0 + timedelta(hours=1), environ=env)
    assert (len(retry.stored), retry.duplicates, len(retry.delivered)) == (0, 1, 1)
    assert len(slack.messages("acme")) == 1
    assert [r[2:] for r in stored(duck, "acme")] == [("slack", (T0 + timedelta(hours=1)).replace(tzinfo=None),
                                                      2, None)]
    assert run_alerts(duck.settings, acme, now=T0 + timedelta(hours=2), environ=env).delivered == []


def test_without_a_url_each_firing_is_a_line_in_the_tenants_own_log(duck, slack, tenants):
    acme, _ = tenants
    stock_world(duck, "acme", SNAPSHOT, {"SKU-A": 60, "SKU-B": 12})
    result = run_alerts(duck.settings, acme, now=T0, environ=ENV)  # the variable is set but empty
    assert [o.via for _, o in result.delivered] == ["log", "log"]
    lines = [json.loads(line) for line in log_path(duck.settings.home, "acme").read_text().splitlines()]
    assert [(x["tenant_id"], x["type"], x["firing_id"], x["subject"]) for x in lines] == [
        ("acme", "firing", f.firing_id, f.subject) for f in result.stored]
    assert lines[0]["payload"]["blocks"][1]["text"]["text"] == result.stored[0].message
    assert [r[2] for r in stored(duck, "acme")] == ["log", "log"]
    assert slack.messages("acme") == [] and not log_path(duck.settings.home, "globex").exists()


def test_tenants_never_see_each_others_firings(duck, slack, tenants):
    acme, globex = tenants
    stock_world(duck, "acme", SNAPSHOT, {"SKU-A": 60})
    stock_world(duck, "globex", SNAPSHOT, {"GLX-TEA": 1, "GLX-POT": 2})
    env = {"ACME_SLACK_WEBHOOK_URL": slack.url("acme"), "GLOBEX_SLACK_WEBHOOK_URL": ""}
    a = run_alerts(duck.settings, acme, now=T0, environ=env)
    g = run_alerts(duck.settings, globex, now=T0, environ=env)
    assert [f.subject for f in a.stored] == ["amazon/SKU-A"]
    assert [f.subject for f in g.stored] == ["amazon/GLX-TEA", "amazon/GLX-POT"]
    acme_messages = json.dumps(slack.messages("acme"))
    assert "GLX" not in acme_messages and "Globex" not in acme_messages and "Acme Outdoor" in acme_messages
    assert slack.messages("globex") == []
    globex_log = log_path(duck.settings.home, "globex").read_text()
    assert "SKU-A" not in globex_log and "Acme" not in globex_log and globex_log.count("\n") == 2
    assert not log_path(duck.settings.home, "acme").exists()
    _, digest = send_digest(duck.settings, acme, now=T0 + timedelta(hours=1), environ=env)
    assert digest.via == "slack" and "GLX" not in json.dumps(slack.messages("acme")[-1])


def test_the_daily_digest_is_one_message(duck, slack, tenants):
    acme, _ = tenants
    env = {**ENV, "ACME_SLACK_WEBHOOK_URL": slack.url("acme")}
    stock_world(duck, "acme", SNAPSHOT, {"SKU-A": 60, "SKU-B": 12})
    fired = run_alerts(duck.settings, acme, now=T0, environ=env).stored
    listed, outcome = send_digest(duck.settings, acme, now=T0 + timedelta(hours=2), environ=env)
    assert [f.firing_id for f in listed] == [f.firing_id for f in fired] and outcome.via == "slack"
    digest = slack.messages("acme")[-1]
    assert len(slack.messages("acme")) == 3  # two firings, one digest
    assert digest["blocks"][0]["text"]["text"] == "Daily alert digest: Acme Outdoor"
    assert digest["blocks"][1]["text"]["text"] == "*2 alerts* in the last 24 hours (2 critical)."
    assert [fired[0].message in b["text"]["text"] for b in digest["blocks"][2:4]] == [True, False]
    assert digest["text"] == "Acme Outdoor: 2 alert(s) in the last 24 hours"

    # a day later nothing new fired: the digest says so, still as one message (to the log without a URL)
    listed, outcome = send_digest(duck.settings, acme, now=T0 + timedelta(hours=30), environ=ENV)
    assert (listed, outcome.via) == ([], "log")
    (line,) = log_path(duck.settings.home, "acme").read_text().splitlines()
    assert json.loads(line)["payload"]["blocks"][1]["text"]["text"] == "*No alerts* in the last 24 hours."


def test_a_long_digest_stays_within_slacks_limits(slack):
    firings = [Firing("acme", f"{i:032x}", "r", "threshold", "warning", f"sku-{i}", T0.replace(tzinfo=None),
                      "x" * 4000, Decimal(i), None, "{}") for i in range(60)]
    payload = digest_message(firings, "Acme Outdoor", T0 - timedelta(hours=24), T0)
    assert len(payload["blocks"]) == 49
    assert payload["blocks"][-2]["text"]["text"] == "…and 15 more."
    assert max(len(b["text"]["text"]) for b in payload["blocks"] if "text" in b) == 3000
    assert send_slack(slack.url("acme"), payload) is None and len(slack.messages("acme")) == 1
    too_many = {**payload, "blocks": payload["blocks"] * 2}
    assert send_slack(slack.url("acme"), too_many).startswith("not sent, Slack would answer invalid_blocks")


def test_firings_are_stored_once_on_both_profiles(warehouse, tenants):
    """alerts.firings is created if missing and deduplicates the same way on DuckDB and PostgreSQL."""
    acme, globex = tenants
    stock_world(warehouse, "acme", SNAPSHOT, {"SKU-A": 60})
    stock_world(warehouse, "globex", SNAPSHOT, {"GLX-TEA": 1})
    first = run_alerts(warehouse.settings, acme, now=T0, environ=ENV)
    run_alerts(warehouse.settings, globex, now=T0, environ=ENV)
    again = run_alerts(warehouse.settings, acme, now=T0 + timedelta(hours=1), environ=ENV)
    assert (len(first.stored), len(again.stored), again.duplicates) == (1, 0, 1)
    assert warehouse.query(
        "select tenant_id, rule, kind, severity, subject, fired_at, observed, reference, delivered_via, "
        "delivered_at, delivery_attempts from alerts.firings where tenant_id = ?", ["acme"]) == [
        ("acme", "top_seller_stock", "stock_below_safety", "critical", "amazon/SKU-A", T0.replace(tzinfo=None),
         Decimal("60.0000"), Decimal("78.7040"), "log", T0.replace(tzinfo=None), 1)]
    (details,) = warehouse.query("select details from alerts.firings where tenant_id = ?", ["acme"])[0]
    assert json.loads(details)["window"] == "2025-03-14" and json.loads(details)["safety_stock"] == "8.7040"
    assert warehouse.query("select count(*) from alerts.firings")[0][0] == 2
