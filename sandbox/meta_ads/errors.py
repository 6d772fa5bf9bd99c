"""Graph API error bodies: ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id", …}}``."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

RATE_LIMIT_DOCS = "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-insights"


def trace_id() -> str:
    return secrets.token_urlsafe(9)[:11]


def graph_error(status: int, message: str, code: int, *, type_: str = "OAuthException", subcode: int | None = None,
                headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    error["fbtrace_id"] = trace_id()
    return JSONResponse({"error": error}, status_code=status,
                        headers={"x-fb-trace-id": error["fbtrace_id"], **(headers or {})})


def invalid_parameter(message: str) -> JSONResponse:
    return graph_error(400, f"(#100) {message}", 100)


def unknown_object(node: str) -> JSONResponse:
    return graph_error(400, f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due "
                            "to missing permissions, or does not support this operation. Please read the Graph API "
                            "documentation at https://developers.facebook.com/docs/graph-api", 100,
                       type_="GraphMethodException", subcode=33)


def oauth_refused(state: str, *, via_header: bool) -> JSONResponse:
    """190 for a token that is missing or unknown; 190/463 for one that expired. Meta answers 400 when the token
    came as the ``access_token`` parameter and 401 with ``WWW-Authenticate`` when it came in a header."""
    now = datetime.now(UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
    if state == "missing":
        message, subcode = "An active access token must be used to query information about the current user.", None
    elif state == "expired":
        message = f"Error validating access token: Session has expired on {now}. The current time is {now}."
        subcode = 463
    else:
        message, subcode = "Invalid OAuth access token - Cannot parse access token", None
    status = 401 if via_header else 400
    headers = {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'} if via_header else None
    return graph_error(status, message, 190, subcode=subcode, headers=headers)


def business_use_case_usage(account_id: str, call_count: int, regain_minutes: int) -> str:
    """The ``x-business-use-case-usage`` header: per business object, its use case's usage in percent."""
    pct = max(0, min(100, call_count))
    return json.dumps({account_id: [{"type": "ads_insights", "call_count": pct, "total_cputime": pct // 3,
                                     "total_time": pct // 2, "estimated_time_to_regain_access": regain_minutes,
                                     "ads_api_access_tier": "standard_access"}]}, separators=(",", ":"))
