"""The daily digest: ONE Block Kit message per tenant with its firings of the last 24 hours, or "no alerts".

A header, a summary line (how many firings, by severity), one section per firing (its sentence, rule and time),
and a context line. Slack takes at most 50 blocks per message: past ``MAX_LISTED`` firings the rest are counted
in one closing section instead of listed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from orchestration.alerts.delivery import SEVERITY_ICON, escape, mrkdwn, plain, stamp
from orchestration.alerts.store import Firing

PERIOD = timedelta(hours=24)
MAX_LISTED = 45  # header + summary + 45 firings + "and N more" + context = 49 blocks


def digest_message(firings: list[Firing], display_name: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The digest payload of the firings fired in ``[start, end)`` (UTC)."""
    period = f"{stamp(start)} to {stamp(end)}"
    if firings:
        severities = Counter(f.severity for f in firings)
        counts = ", ".join(f"{severities[s]} {s}" for s in ("critical", "warning", "info") if severities[s])
        summary = f"*{len(firings)} alert{'s' if len(firings) != 1 else ''}* in the last 24 hours ({counts})."
    else:
        summary = "*No alerts* in the last 24 hours."
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"Daily alert digest: {display_name}", 150)},
        {"type": "section", "text": mrkdwn(summary)},
    ]
    for firing in firings[:MAX_LISTED]:
        icon = SEVERITY_ICON.get(firing.severity, ":bell:")
        blocks.append({"type": "section", "text": mrkdwn(
            f"{icon} *{escape(firing.rule)}* · {escape(firing.subject)} · {stamp(firing.fired_at)}\n"
            f"{escape(firing.message)}")})
    if len(firings) > MAX_LISTED:
        blocks.append({"type": "section", "text": mrkdwn(f"…and {len(firings) - MAX_LISTED} more.")})
    blocks.append({"type": "context", "elements": [mrkdwn(f"*{escape(display_name)}* · {period}")]})
    text = (f"{display_name}: {len(firings)} alert(s) in the last 24 hours" if firings
            else f"{display_name}: no alerts in the last 24 hours")
    return {"text": text, "blocks": blocks}
