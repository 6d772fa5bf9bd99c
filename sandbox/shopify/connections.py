"""Relay connections as Shopify serves them: ``first``/``after``, ``last``/``before``, ``reverse``, opaque
cursors that stay valid across requests, and ``pageInfo``.

A top-level cursor holds the row's sort value and id (like Shopify's ``{"last_id", "last_value"}``), so a
page boundary never moves when rows are added elsewhere; a nested connection's cursor holds a position.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_PAGE = 250


class PagingError(ValueError):
    """Connection arguments Shopify would refuse."""


@dataclass(frozen=True)
class PageRequest:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    reverse: bool = False

    def __post_init__(self) -> None:
        if (self.first is None) == (self.last is None):
            raise PagingError("you must provide one of first or last" if self.first is None
                              else "you may provide only one of first or last")
        size = self.first if self.first is not None else self.last
        if not 0 <= size <= MAX_PAGE:
            raise PagingError(f"{'first' if self.first is not None else 'last'} must be between 0 and {MAX_PAGE}")


def encode_cursor(payload: dict[str, int]) -> str:
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, *keys: str) -> list[int]:
    try:
        payload = json.loads(base64.b64decode(cursor.encode(), validate=True))
        return [int(payload[k]) for k in keys]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise PagingError(f"Invalid cursor {cursor!r}") from None


def window(keys: np.ndarray, ids: np.ndarray, request: PageRequest) -> tuple[int, int]:
    """[start, stop) of the page within rows sorted ascending by (keys, ids); keys and ids (and the cursors'
    values) are negated by the caller for a reversed order."""
    sign = -1 if request.reverse else 1
    low, high = 0, len(keys)
    if request.after:
        value, row_id = decode_cursor(request.after, "last_value", "last_id")
        low = _rank(keys, ids, sign * value, sign * row_id, inclusive=True)
    if request.before:
        value, row_id = decode_cursor(request.before, "last_value", "last_id")
        high = max(low, _rank(keys, ids, sign * value, sign * row_id, inclusive=False))
    if request.first is not None:
        return low, min(low + request.first, high)
    return max(high - request.last, low), high


def _rank(keys: np.ndarray, ids: np.ndarray, key: int, row_id: int, *, inclusive: bool) -> int:
    """How many rows sort before (key, id) — or at it, if inclusive."""
    lo, hi = np.searchsorted(keys, key, "left"), np.searchsorted(keys, key, "right")
    return int(lo + np.searchsorted(ids[lo:hi], row_id, "right" if inclusive else "left"))


def connection(nodes: list[dict], cursors: list[str], *, has_next: bool, has_previous: bool) -> dict[str, Any]:
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_previous,
                     "startCursor": cursors[0] if cursors else None, "endCursor": cursors[-1] if cursors else None},
    }


def nested(items: list[dict]) -> Callable[..., dict[str, Any]]:
    """A nested connection field (``lineItems``, ``refundLineItems``, ``variants``) over a short list: a
    callable graphql-core's default resolver invokes with the field's arguments."""

    def resolve(info: Any, first: int | None = None, after: str | None = None, last: int | None = None,
                before: str | None = None, reverse: bool = False) -> dict[str, Any]:
        request = PageRequest(first, after, last, before, reverse)
        ordered = items[::-1] if request.reverse else items
        low, high = 0, len(ordered)
        if request.after:
            low = min(decode_cursor(request.after, "index")[0] + 1, high)
        if request.before:
            high = max(low, min(decode_cursor(request.before, "index")[0], high))
        if request.first is not None:
            start, stop = low, min(low + request.first, high)
        else:
            start, stop = max(high - request.last, low), high
        return connection(ordered[start:stop], [encode_cursor({"index": i}) for i in range(start, stop)],
                          has_next=stop < len(ordered), has_previous=start > 0)

    return resolve


def listing(items: list[dict]) -> Callable[..., list[dict]]:
    """A plain list field with ``first`` (``refunds(first:)``, ``taxLines(first:)``)."""

    def resolve(info: Any, first: int | None = None) -> list[dict]:
        return items if first is None else items[:first]

    return resolve
