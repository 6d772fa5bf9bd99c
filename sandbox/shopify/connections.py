"""Relay connections as Shopify serves them: sort keys, the search ``query`` filter and opaque cursors."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

MAX_PAGE = 250
SEARCH_TERM = re.compile(r"(\w+):(>=|<=|>|<)?\s*(?:'([^']*)'|\"([^\"]*)\"|(\S+))")
_OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "": np.equal,
}


class SearchSyntaxError(ValueError):
    pass


def encode_cursor(key: Sequence) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def decode_cursor(cursor: str) -> list:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as exc:
        raise SearchSyntaxError(f"Invalid cursor: {cursor!r}") from exc


def epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class Collection:
    """Nodes of one connection with the numeric columns its sort keys and search filter use."""

    nodes: list[dict]
    columns: dict[str, np.ndarray]  # e.g. id, updated_at, created_at (epoch seconds)

    def page(self, *, first: int | None, after: str | None, sort_key: str, reverse: bool, query: str | None) -> dict:
        first = 50 if first is None else first
        if not 0 < first <= MAX_PAGE:
            raise SearchSyntaxError(f"first must be between 1 and {MAX_PAGE}")
        index = np.flatnonzero(self._filter(query))
        sort_column = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at", "PROCESSED_AT": "created_at"}.get(
            sort_key, "id")
        keys = np.stack([self.columns[sort_column][index], self.columns["id"][index]], axis=1)
        order = np.lexsort((keys[:, 1], keys[:, 0]))
        if reverse:
            order = order[::-1]
        index, keys = index[order], keys[order]
        start = 0
        if after:
            m0, m1 = decode_cursor(after)
            if reverse:
                beyond = (keys[:, 0] < m0) | ((keys[:, 0] == m0) & (keys[:, 1] < m1))
            else:
                beyond = (keys[:, 0] > m0) | ((keys[:, 0] == m0) & (keys[:, 1] > m1))
            start = int(np.argmax(beyond)) if beyond.any() else len(keys)
        chosen = index[start:start + first]
        cursors = [encode_cursor([float(k[0]), int(k[1])]) for k in keys[start:start + first]]
        return connection([self.nodes[i] for i in chosen], cursors, has_next=start + first < len(index),
                          has_previous=start > 0)

    def _filter(self, query: str | None) -> np.ndarray:
        mask = np.ones(len(self.nodes), dtype=bool)
        if not query:
            return mask
        terms = [t for t in re.split(r"\s+AND\s+", query.strip()) if t]
        for term in terms:
            match = SEARCH_TERM.fullmatch(term.strip())
            if not match:
                raise SearchSyntaxError(f"Unsupported search term {term!r}")
            field, op, *values = match.groups()
            value = next(v for v in values if v is not None)
            if field not in ("updated_at", "created_at"):
                raise SearchSyntaxError(f"Unsupported search field {field!r}")
            mask &= _OPS[op or ""](self.columns[field], epoch(value))
        return mask


def connection(nodes: list[dict], cursors: list[str] | None = None, *, has_next: bool = False,
               has_previous: bool = False) -> dict:
    cursors = cursors if cursors is not None else [encode_cursor([i]) for i in range(len(nodes))]
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_previous,
                     "startCursor": cursors[0] if cursors else None, "endCursor": cursors[-1] if cursors else None},
    }


def nested(items: list[dict]) -> Callable[..., dict]:
    """A nested connection field (``lineItems(first:, after:)``): a callable graphql-core's resolver invokes."""

    def resolve(info, first: int | None = None, after: str | None = None) -> dict:
        start = decode_cursor(after)[0] + 1 if after else 0
        size = 50 if first is None else first
        chunk = items[start:start + size]
        return connection(chunk, [encode_cursor([start + i]) for i in range(len(chunk))],
                          has_next=start + size < len(items), has_previous=start > 0)

    return resolve


def listing(items: list[dict]) -> Callable[..., list[dict]]:
    """A list field with ``first`` (``refunds(first:)``)."""

    def resolve(info, first: int | None = None) -> list[dict]:
        return items if first is None else items[:first]

    return resolve
