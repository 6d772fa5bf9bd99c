"""The Slack incoming-webhook twin (sandbox/slack) answers like hooks.slack.com, over real HTTP on loopback."""

from __future__ import annotations

import pytest
import requests

from sandbox.slack.receiver import SlackReceiver, hook_path

HEADER = {"type": "header", "text": {"type": "plain_text", "text": "Alert"}}


@pytest.fixture(scope="module")
def slack():
    with SlackReceiver(hooks=["acme"]) as receiver:
        yield receiver


def post(url: str, **kwargs) -> tuple[int, str, dict]:
    response = requests.post(url, timeout=5, **kwargs)
    return response.status_code, response.text, dict(response.headers)


def test_a_valid_message_is_ok_and_recorded(slack):
    before = len(slack.messages("acme"))
    message = {"text": "fallback", "blocks": [HEADER, {"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"},
                                                        "fields": [{"type": "mrkdwn", "text": "a"}]},
                                              {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}]}]}
    status, body, headers = post(slack.url("acme"), json=message)
    assert (status, body) == (200, "ok")
    assert slack.messages("acme")[before:] == [message]
    # Slack also takes the form-encoded payload= field
    assert post(slack.url("acme"), data={"payload": '{"text": "form"}'})[:2] == (200, "ok")
    assert slack.messages("acme")[-1] == {"text": "form"}


@pytest.mark.parametrize(("body", "error"), [
    ({"data": "not json"}, "invalid_payload"),
    ({"json": ["a", "list"]}, "invalid_payload"),
    ({"json": {}}, "no_text"),
    ({"json": {"text": "   "}}, "no_text"),
    ({"json": {"text": "x", "blocks": "nope"}}, "invalid_blocks_format"),
    ({"json": {"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]}},
     "invalid_blocks"),
    ({"json": {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}]}}, "invalid_blocks"),
    ({"json": {"blocks": [HEADER] * 51}}, "invalid_blocks"),
    ({"json": {"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "not plain"}}]}}, "invalid_blocks"),
    ({"json": {"blocks": [{"type": "banner"}]}}, "invalid_blocks"),
])
def test_slacks_documented_refusals(slack, body, error):
    before = len(slack.messages("acme"))
    assert post(slack.url("acme"), **body)[:2] == (400, error)
    assert len(slack.messages("acme")) == before


def test_an_unknown_hook_is_no_service(slack):
    assert post(f"{slack.base_url}/services/T0SANDBOX/BNOPE/secret", json={"text": "x"})[:2] == (404, "no_service")
    assert post(f"{slack.base_url}/services/elsewhere", json={"text": "x"})[:2] == (404, "no_service")
    assert slack.url("acme").endswith(hook_path("acme")) and hook_path("acme") != hook_path("globex")


def test_injected_faults_answer_like_slack(slack):
    slack.inject("acme", "http_429", count=2, retry_after_s=3)
    slack.inject("acme", "channel_is_archived")
    first, second = post(slack.url("acme"), json={"text": "x"}), post(slack.url("acme"), json={"text": "x"})
    assert [r[:2] for r in (first, second)] == [(429, "rate_limited")] * 2 and first[2]["retry-after"] == "3"
    assert post(slack.url("acme"), json={"text": "x"})[:2] == (410, "channel_is_archived")
    assert post(slack.url("acme"), json={"text": "x"})[:2] == (200, "ok")
    # the same controls over HTTP
    assert requests.post(f"{slack.base_url}/_slack/faults", json={"hook": "acme", "kind": "http_500"},
                         timeout=5).json() == {"queued": True}
    assert post(slack.url("acme"), json={"text": "x"})[:2] == (500, "rollup_error")
    assert requests.get(f"{slack.base_url}/_slack/messages", timeout=5).json()["acme"][-1] == {"text": "x"}
