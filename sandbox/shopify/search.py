"""The subset of Shopify's search syntax the twin understands, for a connection's ``query`` argument.

Terms ``field:value`` with an optional comparator (``>``, ``>=``, ``<``, ``<=``), joined by ``AND`` or plain
whitespace; values may be quoted. Fields: ``created_at``, ``updated_at``, ``processed_at`` (orders) and
``id``. A timestamp with ``Z`` or an offset is exact; a date or a time without offset is read in the shop's
time zone, as Shopify does. Anything else (OR, NOT, other fields) is refused with an error rather than
ignored, so a client never silently pages through everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

TERM = re.compile(r"""(?P<field>[a-z_]+):(?P<op>>=|<=|>|<)?\s*
                      (?:'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<bare>\S+))""", re.VERBOSE)
TIME_FIELDS = {"created_at": "created_at", "updated_at": "updated_at", "processed_at": "created_at"}
COMPARE: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "": np.equal}


class SearchSyntaxError(ValueError):
    """A ``query`` the twin does not understand."""


@dataclass(frozen=True)
class Term:
    column: str  # the connection column compared: created_at / updated_at (epoch seconds) or id
    op: str
    value: float


def parse_search(query: str | None, timezone: str, fields: frozenset[str]) -> list[Term]:
    """The terms of ``query`` (all must hold); ``fields`` are the search fields this connection accepts."""
    terms: list[Term] = []
    rest = (query or "").strip()
    while rest:
        match = TERM.match(rest)
        if match is None:
            raise SearchSyntaxError(f"Unsupported search syntax at {rest[:40]!r}: use field:[>|>=|<|<=]value "
                                    "terms joined by AND")
        field = match["field"]
        if field not in fields:
            raise SearchSyntaxError(f"Unsupported search field {field!r}; this connection accepts "
                                    f"{', '.join(sorted(fields))}")
        value = next(v for v in (match["single"], match["double"], match["bare"]) if v is not None)
        terms.append(_term(field, match["op"] or "", value, timezone))
        rest = rest[match.end():].lstrip()
        if rest.startswith("AND ") or rest == "AND":
            rest = rest[3:].lstrip()
    return terms


def _term(field: str, op: str, value: str, timezone: str) -> Term:
    if field == "id":
        if not value.isdigit():
            raise SearchSyntaxError(f"id:{value!r} is not a numeric id")
        return Term("id", op, float(value))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SearchSyntaxError(f"{field}:{value!r} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return Term(TIME_FIELDS[field], op, moment.timestamp())


def matches(terms: list[Term], columns: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Which rows satisfy every term (None: no terms, every row)."""
    mask = None
    for term in terms:
        hit = COMPARE[term.op](columns[term.column], term.value)
        mask = hit if mask is None else mask & hit
    return mask
