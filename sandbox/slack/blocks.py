"""What Slack checks in an incoming-webhook message before posting it: the payload's shape and Block Kit's limits.

``problem(payload)`` returns Slack's error string for a message Slack would refuse (``no_text``,
``invalid_blocks_format``, ``invalid_blocks``), or None for one it would post. The checks follow the Block Kit
reference for the blocks a webhook message uses: at most 50 blocks; ``header`` with a plain_text ≤ 150
characters; ``section`` with a text object of 1–3000 characters and/or 1–10 ``fields`` of ≤ 2000; ``context`` with
1–10 elements (text objects or images); ``divider``; ``image``; ``actions`` with 1–25 elements; ``block_id`` ≤ 255.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
TEXT_TYPES = {"plain_text", "mrkdwn"}


def _text(obj: Any, limit: int, *, plain_only: bool = False) -> bool:
    if not isinstance(obj, dict) or obj.get("type") not in ({"plain_text"} if plain_only else TEXT_TYPES):
        return False
    text = obj.get("text")
    return isinstance(text, str) and 1 <= len(text) <= limit


def _block(block: Any) -> bool:
    if not isinstance(block, dict):
        return False
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or len(block_id) > 255):
        return False
    kind = block.get("type")
    if kind == "header":
        return _text(block.get("text"), 150, plain_only=True)
    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            return False
        if text is not None and not _text(text, 3000):
            return False
        if fields is not None and not (isinstance(fields, list) and 1 <= len(fields) <= 10
                                       and all(_text(f, 2000) for f in fields)):
            return False
        return True
    if kind == "context":
        elements = block.get("elements")
        return (isinstance(elements, list) and 1 <= len(elements) <= 10
                and all(_text(e, 3000) or (isinstance(e, dict) and e.get("type") == "image") for e in elements))
    if kind == "divider":
        return True
    if kind == "image":
        return isinstance(block.get("image_url"), str) and isinstance(block.get("alt_text"), str)
    if kind == "actions":
        elements = block.get("elements")
        return isinstance(elements, list) and 1 <= len(elements) <= 25
    return False


def problem(payload: dict[str, Any]) -> str | None:
    """Slack's error for this message, or None when Slack would post it."""
    text, blocks, attachments = payload.get("text"), payload.get("blocks"), payload.get("attachments")
    if text is not None and not isinstance(text, str):
        return "invalid_payload"
    if blocks is not None:
        if not isinstance(blocks, list):
            return "invalid_blocks_format"
        if not blocks or len(blocks) > MAX_BLOCKS or not all(_block(b) for b in blocks):
            return "invalid_blocks"
    if not (text and text.strip()) and not blocks and not attachments:
        return "no_text"
    return None
