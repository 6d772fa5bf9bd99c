"""The QBO query language, the part the twin serves:

    SELECT * | COUNT(*) FROM <Entity> [WHERE <cond> [AND <cond>]…] [ORDERBY <field> [ASC|DESC][, …]]
        [STARTPOSITION n] [MAXRESULTS n]

``<cond>`` is ``<field> <op> <value>`` with ``=  <  >  <=  >=`` on ``Id``, ``MetaData.CreateTime``,
``MetaData.LastUpdatedTime`` (and ``TxnDate`` of Bill and Purchase); values are quoted (``'2025-03-01T00:00:00Z'``,
a time without offset is in the company's time zone) or bare numbers. Keywords and entity names are
case-insensitive. STARTPOSITION is 1-based (default 1); MAXRESULTS defaults to 100 and is capped at 1000, as QBO
caps it. Ties of ORDERBY are broken by Id, so paging is stable. Anything else is refused the way QBO refuses
it (``QueryParserError`` / ``QueryValidationError``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.quickbooks.entities import ENTITIES, Row

DEFAULT_MAX_RESULTS, MAX_RESULTS_CAP = 100, 1000
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
TIME_FIELDS = {"metadata.createtime": "created_at", "metadata.lastupdatedtime": "updated_at"}
TXN_ENTITIES = {"Bill", "Purchase"}
TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+)|(?P<op><=|>=|=|<|>)|(?P<punct>[*(),])"
                   r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))")


class QueryError(ValueError):
    """A query QBO would refuse: ``code`` 4000 (cannot parse) or 4001 (parsed, but not valid)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail

    @property
    def message(self) -> str:
        return "Error parsing query" if self.code == "4000" else "Invalid query"


@dataclass
class Query:
    entity: str
    count: bool = False
    where: list[tuple[str, str, Any]] = field(default_factory=list)  # (field, op, value)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def parse(text: str, zone: ZoneInfo) -> Query:
    tokens = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(kind: str | None = None, word: str | None = None) -> str:
        nonlocal pos
        token = peek()
        if token is None or (kind and token[0] != kind) or (word and token[1].upper() != word):
            found = "<EOF>" if token is None else token[1]
            raise QueryError("4000", f'QueryParserError: Encountered " {found} " at position {pos + 1}; '
                                     f"expected {word or kind}")
        pos += 1
        return token[1]

    def keyword(word: str) -> bool:
        token = peek()
        return token is not None and token[0] == "word" and token[1].upper() == word

    take("word", "SELECT")
    query = Query(entity="")
    if keyword("COUNT"):
        take("word", "COUNT"), take("punct", "("), take("punct", "*"), take("punct", ")")
        query.count = True
    else:
        take("punct", "*")
    take("word", "FROM")
    name = take("word")
    canonical = {e.lower(): e for e in ENTITIES}.get(name.lower())
    if canonical is None:
        raise QueryError("4001", f"QueryValidationError: Entity {name} is not supported by this service")
    query.entity = canonical
    if keyword("WHERE"):
        take("word", "WHERE")
        while True:
            field_name = _field(take("word"), canonical)
            op = take("op")
            token = peek()
            if token is None or token[0] not in ("string", "number"):
                take("string")
            raw = take(token[0])
            query.where.append((field_name, op, _value(field_name, raw, zone)))
            if not keyword("AND"):
                break
            take("word", "AND")
    if keyword("ORDERBY"):
        take("word", "ORDERBY")
        while True:
            field_name = _field(take("word"), canonical)
            descending = False
            if keyword("ASC") or keyword("DESC"):
                descending = take("word").upper() == "DESC"
            query.order.append((field_name, descending))
            if peek() != ("punct", ","):
                break
            take("punct", ",")
    if keyword("STARTPOSITION"):
        take("word", "STARTPOSITION")
        query.start = int(take("number"))
        if query.start < 1:
            raise QueryError("4001", "QueryValidationError: STARTPOSITION must be 1 or more")
    if keyword("MAXRESULTS"):
        take("word", "MAXRESULTS")
        query.max_results = min(int(take("number")), MAX_RESULTS_CAP)
    if peek() is not None:
        take("word", "<EOF>")
    return query


def execute(query: Query, rows: list[Row]) -> dict[str, Any]:
    """The ``QueryResponse`` of ``query`` over ``rows`` (an entity's rows in Id order)."""
    selected = [r for r in rows if all(OPERATORS[op](_get(r, f), v) for f, op, v in query.where)]
    if query.count:
        return {"totalCount": len(selected)}
    for field_name, descending in reversed(query.order or [("id", False)]):
        selected.sort(key=lambda r, f=field_name: (_get(r, f), r.id), reverse=descending)
    page = selected[query.start - 1:query.start - 1 + query.max_results] if query.max_results > 0 else []
    if not page:
        return {}
    return {query.entity: [r.body for r in page], "startPosition": query.start, "maxResults": len(page)}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError("4000", f'QueryParserError: Encountered " {text[pos:pos + 10]} " at character {pos + 1}')
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _field(name: str, entity: str) -> str:
    key = name.lower()
    if key in TIME_FIELDS or key == "id" or (key == "txndate" and entity in TXN_ENTITIES):
        return key
    raise QueryError("4001", f"QueryValidationError: property '{name}' is not queryable")


def _value(field_name: str, raw: str, zone: ZoneInfo) -> Any:
    text = raw[1:-1].replace("''", "'") if raw.startswith("'") else raw
    try:
        if field_name == "id":
            return int(text)
        if field_name == "txndate":
            return date.fromisoformat(text[:10])
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    except ValueError:
        raise QueryError("4001", f"QueryValidationError: value {raw} is not valid for property {field_name}") from None


def _get(row: Row, field_name: str) -> Any:
    if field_name == "id":
        return row.id
    if field_name == "txndate":
        return date.fromisoformat(row.body["TxnDate"])
    return getattr(row, TIME_FIELDS[field_name])
