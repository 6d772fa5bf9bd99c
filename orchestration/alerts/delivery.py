"""Delivery: one Block Kit message per firing, to the tenant's Slack incoming webhook or to its local log.

The message: a ``header`` (the rule's title), a ``section`` with the firing's sentence and its numbers as
fields, a ``context`` naming the tenant, the rule and the time; ``text`` is the notification fallback. Slack's
limits are kept by construction (≤ 50 blocks, header ≤ 150 characters, section text ≤ 3000, ≤ 10 fields of ≤ 2000)
and checked again before sending (``check_limits``).

The URL comes from the environment variable the tenant's config names, read at delivery time. It is sent with
slack_sdk's ``WebhookClient`` and its retry handlers (429 with Retry-After, connection errors, 500/503), through a
logger that never logs the URL; errors are reported without it. With no URL set the message is appended as one
JSON line to ``$OMNI_HOME/alerts/<tenant>.log`` (each tenant its own file), so the demo works offline.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from orchestration.alerts.store import Firing

log = logging.getLogger("orchestration.alerts")

MAX_BLOCKS, MAX_HEADER, MAX_SECTION, MAX_FIELDS, MAX_FIELD, MAX_CONTEXT = 50, 150, 3000, 10, 2000, 10
SEVERITY_ICON = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}
TIMEOUT_S = 10

# slack_sdk logs the URL at debug level (and on retries whenever its logger's own level is NOTSET): a logger of
# its own, set above DEBUG, keeps it out of every log
_sdk_logger = logging.getLogger("orchestration.alerts.slack_sdk")
_sdk_logger.setLevel(logging.WARNING)


def escape(text: str) -> str:
    """Slack mrkdwn: &, < and > are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stamp(moment: datetime) -> str:
    return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M UTC")


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def mrkdwn(text: str, limit: int = MAX_SECTION) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def number(value: Decimal | None) -> str:
    """A stored figure (4 places) as people read it: 123.8900 -> 123.89, 0.1234 -> 0.1234, 10.0000 -> 10."""
    if value is None:
        return "-"
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return text if "." not in text or len(text.split(".")[1]) != 1 else text + "0"


def firing_message(firing: Firing, display_name: str, heading: str | None = None) -> dict[str, Any]:
    """The Block Kit payload of one firing: {"text": fallback, "blocks": [header, section, context]}."""
    icon = SEVERITY_ICON.get(firing.severity, ":bell:")
    title = heading or firing.rule.replace("_", " ").capitalize()
    fields = [mrkdwn(f"*Observed*\n{number(firing.observed)}", MAX_FIELD)]
    if firing.reference is not None:
        fields.append(mrkdwn(f"*Reference*\n{number(firing.reference)}", MAX_FIELD))
    fields.append(mrkdwn(f"*Subject*\n{escape(firing.subject)}", MAX_FIELD))
    fields.append(mrkdwn(f"*Severity*\n{firing.severity}", MAX_FIELD))
    blocks = [
        {"type": "header", "text": plain(f"{icon} {title}", MAX_HEADER)},
        {"type": "section", "text": mrkdwn(escape(firing.message)), "fields": fields[:MAX_FIELDS]},
        {"type": "context", "elements": [mrkdwn(
            f"*{escape(display_name)}* · rule `{firing.rule}` ({firing.kind}) · {stamp(firing.fired_at)} · "
            f"firing {firing.firing_id[:12]}")]},
    ]
    return {"text": clip(f"[{firing.severity}] {display_name}: {firing.message}", 3000), "blocks": blocks}


def check_limits(payload: dict[str, Any]) -> None:
    """Refuse a payload Slack would refuse (``invalid_blocks``) before sending it."""
    blocks = payload.get("blocks") or []
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"{len(blocks)} blocks: Slack takes at most {MAX_BLOCKS}")
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        limit = MAX_HEADER if block["type"] == "header" else MAX_SECTION
        if len(text) > limit:
            raise ValueError(f"a {block['type']} block's text has {len(text)} characters: at most {limit}")
        if len(block.get("fields") or []) > MAX_FIELDS:
            raise ValueError(f"a section has more than {MAX_FIELDS} fields")


@dataclass(frozen=True)
class Outcome:
    via: str | None  # 'slack' | 'log' | None (failed)
    at: datetime | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.via is not None


def retry_handlers() -> list:
    return [RateLimitErrorRetryHandler(max_retry_count=2), ConnectionErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=1)]


def send_slack(url: str, payload: dict[str, Any]) -> str | None:
    """POST the payload to the incoming webhook; None on Slack's ``200 ok``, else the reason (never the URL)."""
    try:
        check_limits(payload)
    except ValueError as exc:
        return f"not sent, Slack would answer invalid_blocks: {exc}"
    client = WebhookClient(url, timeout=TIMEOUT_S, logger=_sdk_logger, retry_handlers=retry_handlers())
    try:
        response = client.send_dict(payload)
    except Exception as exc:  # connection refused, timeout, …: after the handlers' retries
        return f"{type(exc).__name__}: {exc}".replace(url, "<webhook url>")
    if response.status_code == 200 and response.body == "ok":
        return None
    return f"HTTP {response.status_code}: {clip(str(response.body), 200)}".replace(url, "<webhook url>")


def log_path(home: Path, tenant: str) -> Path:
    return home / "alerts" / f"{tenant}.log"


def append_log(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")


def deliver(payload: dict[str, Any], *, tenant: str, url: str | None, home: Path, record: dict[str, Any],
            now: datetime | None = None) -> Outcome:
    """Send one message: to Slack when ``url`` is set, else as a JSON line (``record`` + the payload) to the
    tenant's log. Returns how it went; a failure is reported, never raised."""
    at = now or datetime.now(UTC)
    if url:
        error = send_slack(url, payload)
        if error:
            log.warning("tenant %s: slack delivery of %s failed: %s", tenant, record.get("firing_id") or "digest",
                        error)
            return Outcome(None, None, error)
        return Outcome("slack", at)
    append_log(log_path(home, tenant), {**record, "tenant_id": tenant, "logged_at": at.isoformat(),
                                         "payload": payload})
    return Outcome("log", at)
