"""Google OAuth2 (refresh-token grant) and the GA4 Data API ``runReport`` client, and the page → Arrow converter.

Transport faults (HTTP 429 RESOURCE_EXHAUSTED, 5xx, timeouts, dropped connections) are retried by
``sources.http.RetryingSession`` with exponential backoff and jitter (GA4 sends no Retry-After; Google asks
for exponential backoff on quota errors). A 401 UNAUTHENTICATED (an access token that expired or was
revoked) makes the client refresh the token once and send the request again. Anything else the API refuses
(400 INVALID_ARGUMENT, 403 PERMISSION_DENIED, …) raises :class:`Ga4APIError` naming the endpoint and Google's
message. No secret (client secret, refresh or access token) ever appears in a log line or an exception.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import requests

from sources.http import RetryingSession
from sources.money import MoneyError, parse_decimal, round_money

from .settings import API_VERSION, COLUMN_OF, TOKEN_REFRESH_MARGIN_S, TRAFFIC_COLUMNS

log = logging.getLogger("sources.ga4")


class Ga4APIError(RuntimeError):
    """GA4 (or Google's token endpoint) refused a request in a way retrying cannot fix."""


class Ga4AuthError(Ga4APIError):
    """The OAuth client or refresh token was refused, or a fresh access token was still refused."""


def _google_message(response: requests.Response) -> str:
    """Google's ``error.status: error.message`` (or the OAuth ``error: error_description``), for an exception."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('status', error.get('code'))}: {error.get('message', '')}".strip()
    if isinstance(error, str):
        return f"{error}: {body.get('error_description', '')}".strip()
    return response.text[:300]


class GoogleOAuth2:
    """Access tokens from a refresh token (``grant_type=refresh_token``), refreshed before they expire."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, refresh_token: str,
                 session: requests.Session, clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self._client_id, self._client_secret, self._refresh_token = client_id, client_secret, refresh_token
        self._session, self._clock = session, clock
        self._token: str | None = None
        self._expires_at = 0.0
        self.refreshes = 0

    def access_token(self) -> str:
        if self._token is None or self._clock() >= self._expires_at - TOKEN_REFRESH_MARGIN_S:
            self._refresh()
        return self._token  # type: ignore[return-value]

    def invalidate(self) -> None:
        self._token = None

    def _refresh(self) -> None:
        response = self._session.post(self.token_url, data={
            "grant_type": "refresh_token", "client_id": self._client_id, "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        })
        if response.status_code != 200:
            raise Ga4AuthError(f"ga4: the token endpoint {self.token_url} refused to refresh the access token "
                               f"(HTTP {response.status_code} {_google_message(response)})")
        body = response.json()
        self._token = body["access_token"]
        self._expires_at = self._clock() + float(body.get("expires_in", 3599))
        self.refreshes += 1
        log.info("ga4: access token refreshed (expires in %ss)", body.get("expires_in"))


class Ga4DataClient:
    """``runReport`` calls for one property, paged with ``offset`` / ``limit``."""

    def __init__(self, api_base_url: str, property_id: str, oauth: GoogleOAuth2, session: requests.Session) -> None:
        self.property_id = property_id
        self.endpoint = f"{api_base_url.rstrip('/')}/{API_VERSION}/properties/{property_id}:runReport"
        self._oauth, self._session = oauth, session
        self.stats = {"reports": 0, "pages": 0, "unauthorized": 0}
        self.last_quota: dict[str, Any] | None = None

    def run_report(self, body: dict[str, Any]) -> dict[str, Any]:
        """One runReport answer; refreshes the access token once when it is refused as expired."""
        for attempt in (1, 2):
            self.stats["reports"] += 1
            response = self._session.post(self.endpoint, json=body,
                                          headers={"Authorization": f"Bearer {self._oauth.access_token()}"})
            if response.status_code == 401 and attempt == 1:
                self.stats["unauthorized"] += 1
                log.info("ga4: %s answered 401 UNAUTHENTICATED; refreshing the access token", self.endpoint)
                self._oauth.invalidate()
                continue
            if response.status_code == 401:
                raise Ga4AuthError(f"ga4: {self.endpoint} refused a freshly refreshed access token "
                                   f"(HTTP 401 {_google_message(response)})")
            if response.status_code != 200:
                raise Ga4APIError(f"ga4: {self.endpoint} refused the report request "
                                  f"(HTTP {response.status_code} {_google_message(response)})")
            answer = json.loads(response.content, parse_float=Decimal)
            self.last_quota = answer.get("propertyQuota") or self.last_quota
            return answer
        raise AssertionError("unreachable")

    def pages(self, body: dict[str, Any], page_size: int) -> Iterator[dict[str, Any]]:
        """Every page of the report: ``offset`` moves by the rows received until it reaches ``rowCount``."""
        offset = 0
        while True:
            answer = self.run_report({**body, "offset": offset, "limit": page_size})
            rows = answer.get("rows") or []
            total = int(answer.get("rowCount") or 0)  # proto3 JSON leaves a zero count out
            self.stats["pages"] += 1
            yield answer
            offset += len(rows)
            if not rows or offset >= total:
                return


def report_to_table(answer: dict[str, Any], property_id: str) -> pa.Table:
    """One runReport page → the ``traffic`` Arrow table (dates from ``YYYYMMDD``, counts as int64, revenue as
    exact decimal(18,2) rounded half away from zero from GA4's double-valued text)."""
    dimensions = [h["name"] for h in answer.get("dimensionHeaders", [])]
    metrics = [h["name"] for h in answer.get("metricHeaders", [])]
    columns: dict[str, list[Any]] = {name: [] for name in TRAFFIC_COLUMNS}
    currency = (answer.get("metadata") or {}).get("currencyCode")
    for row in answer.get("rows") or []:
        for name, cell in zip(dimensions, row["dimensionValues"], strict=True):
            value = cell.get("value")
            columns[COLUMN_OF[name]].append(_date(value) if name == "date" else value)
        for name, cell in zip(metrics, row["metricValues"], strict=True):
            value = cell.get("value")
            columns[COLUMN_OF[name]].append(_money(value) if name == "purchaseRevenue" else _count(value, name))
        columns["currency_code"].append(currency)
        columns["property_id"].append(property_id)
    key = {"date", "session_source", "session_medium", "session_campaign_name"}
    fields = [pa.field(n, t, nullable=n not in key) for n, t in TRAFFIC_COLUMNS.items()]
    return pa.Table.from_arrays([pa.array(columns[n], t) for n, t in TRAFFIC_COLUMNS.items()],
                                schema=pa.schema(fields))


def _date(value: str) -> date:
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


def _count(value: str | None, name: str) -> int:
    number = Decimal(value or "0")
    if number != number.to_integral_value():
        raise Ga4APIError(f"ga4: metric {name} came back as {value!r}, not a whole number")
    return int(number)


def _money(value: str | None) -> Decimal:
    try:
        amount = parse_decimal(value or "0", max_places=28)
    except MoneyError as exc:
        raise Ga4APIError(f"ga4: purchaseRevenue {value!r} is not a number") from exc
    return round_money(amount)


def make_session(timeout_s: float, max_attempts: int, backoff_s: float) -> RetryingSession:
    return RetryingSession(timeout_s=timeout_s, max_attempts=max_attempts, backoff_s=backoff_s)
