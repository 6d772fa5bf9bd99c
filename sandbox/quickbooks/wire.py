"""QuickBooks Online on the wire: JSON whose amounts are exact numbers, QBO's timestamps, and its error bodies.

QBO sends amounts as JSON numbers (``"TotalAmt": 1234.5``, ``"UnitPrice": 275``): they are rendered here from
integer cents as exact decimal text, never through a float. Timestamps carry the company's UTC offset
(``2025-03-01T09:12:44-05:00``), the answer's ``time`` the server's (Intuit's are Pacific time, milliseconds).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response

PACIFIC = ZoneInfo("America/Los_Angeles")


def amount(cents: int) -> Decimal:
    """Integer cents → the exact amount, trailing zeros dropped as QBO prints them (275, 12.5, 12.34)."""
    value = Decimal(int(cents)).scaleb(-2)
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def dumps(value: Any) -> str:
    """JSON text in which ``Decimal`` values are bare numbers (exact), everything else as ``json.dumps``."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


class QboJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def company_time(moment: datetime, zone: ZoneInfo) -> str:
    """An instant as QBO's MetaData shows it: the company's local time with its offset, whole seconds."""
    return moment.astimezone(zone).replace(microsecond=0).isoformat()


def server_time(now: datetime | None = None) -> str:
    """The ``time`` of an answer: the server's clock, Pacific, with milliseconds."""
    moment = (now or datetime.now(UTC)).astimezone(PACIFIC)
    return moment.isoformat(timespec="milliseconds")


def fault(errors: list[tuple[str, str, str]], kind: str, status: int,
          headers: dict[str, str] | None = None) -> Response:
    """QBO's API error body: ``{"Fault": {"Error": [{"Message", "Detail", "code"}], "type"}, "time"}``."""
    body = {"Fault": {"Error": [{"Message": m, "Detail": d, "code": c} for m, d, c in errors], "type": kind},
            "time": server_time()}
    return QboJSON(body, status_code=status, headers=headers)


def authentication_fault(detail: str) -> Response:
    """401 as the QBO gateway answers a missing, invalid or expired bearer token (lower-case ``fault``)."""
    body = {"warnings": None, "intuitObject": None,
            "fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                 "detail": detail, "code": "3200", "element": None}], "type": "AUTHENTICATION"},
            "report": None, "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
            "syncErrorResponse": None, "requestId": None, "time": int(datetime.now(UTC).timestamp() * 1000),
            "status": None, "cdcresponse": []}
    return QboJSON(body, status_code=401,
                   headers={"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})


def authorization_fault() -> Response:
    """403: a valid token that is not authorised for this company (realm)."""
    return fault([("message=AuthorizationFailed; errorCode=003100; statusCode=403", "", "3100")], "SERVICE", 403)


def throttle_fault() -> Response:
    """429 as QBO answers over 500 requests a minute per realm (it sends no Retry-After)."""
    return fault([("message=ThrottleExceeded; errorCode=003001; statusCode=429",
                   "The request limit was reached.  Try again later", "3001")], "SERVICE", 429)
