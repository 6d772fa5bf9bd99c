"""The Graph API client of the Meta ads source, its async report runner and the page → Arrow converter.

- Transport faults (HTTP 429/5xx, timeouts, dropped connections) are retried by ``sources.http.RetryingSession``.
- Meta's own errors come as HTTP 4xx with a JSON ``error`` body and are handled here by code:
  190 (OAuthException: expired or invalid token) → exchange the long-lived token once
  (``oauth/access_token?grant_type=fb_exchange_token``) and repeat the call; 4/17/32/613/8000x (throttling) →
  wait what ``x-business-use-case-usage`` says (``estimated_time_to_regain_access``, minutes), bounded, then
  repeat; 1/2 or ``is_transient`` → bounded backoff. Anything else raises :class:`MetaAPIError`.
- The access token travels in the ``Authorization`` header, never in a URL; no message raised or logged
  here contains a token or the app secret.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import requests

from sources.http import RetryingSession
from sources.money import MONEY, parse_decimal, round_money

from .settings import (
    EXPIRED_TOKEN_CODE,
    MAX_POLLS,
    MAX_THROTTLE_RETRIES,
    MAX_THROTTLE_WAIT_S,
    MAX_TRANSIENT_RETRIES,
    POLL_INITIAL_S,
    POLL_MAX_DELAY_S,
    THROTTLE_CODES,
    TRANSIENT_CODES,
)

log = logging.getLogger("sources.meta_ads")


class MetaAPIError(RuntimeError):
    """Meta refused a call in a way retrying does not fix; the message names the endpoint and the refusal."""


class MetaAuthError(MetaAPIError):
    """The access token was refused and could not be exchanged for a working one."""


class MetaRateLimitError(MetaAPIError):
    """Still throttled after the bounded number of waits."""


class MetaReportError(MetaAPIError):
    """An async report run failed or did not complete within the polling bound."""


@dataclass(frozen=True)
class GraphError:
    status: int
    code: int | None
    subcode: int | None
    type: str
    message: str
    transient: bool
    fbtrace_id: str | None

    @classmethod
    def of(cls, response: requests.Response, body: Any) -> GraphError:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(response.status_code, None, None, "", response.text[:200], False, None)
        return cls(response.status_code, _int(error.get("code")), _int(error.get("error_subcode")),
                   str(error.get("type", "")), str(error.get("message", "")), bool(error.get("is_transient")),
                   error.get("fbtrace_id"))

    def describe(self) -> str:
        sub = f"/{self.subcode}" if self.subcode is not None else ""
        trace = f", fbtrace_id {self.fbtrace_id}" if self.fbtrace_id else ""
        return f"HTTP {self.status} {self.type} {self.code}{sub}: {self.message}{trace}"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def regain_access_s(headers: requests.structures.CaseInsensitiveDict) -> float | None:
    """The longest ``estimated_time_to_regain_access`` (minutes → seconds) in ``x-business-use-case-usage``."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
        minutes = [float(entry.get("estimated_time_to_regain_access") or 0)
                   for entries in usage.values() for entry in entries]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes, default=0.0) * 60


class MetaGraphClient:
    """Calls one Graph API version with a long-lived token, exchanging it when Meta says it expired."""

    def __init__(
        self,
        base_url: str,
        api_version: str,
        access_token: str,
        *,
        app_id: str | None = None,
        app_secret: str | None = None,
        timeout_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        max_throttle_wait_s: float = MAX_THROTTLE_WAIT_S,
    ) -> None:
        self.root = f"{base_url.rstrip('/')}/{api_version}"
        self._long_lived = access_token
        self._token = access_token
        self._app_id, self._app_secret = app_id, app_secret
        self._sleep = sleep
        self._max_throttle_wait_s = max_throttle_wait_s
        self.session = RetryingSession(timeout_s=timeout_s, sleep=sleep)
        self.stats = {"calls": 0, "token_exchanges": 0, "throttled": 0, "throttle_waited_s": 0.0, "transient": 0}

    # --- one call -----------------------------------------------------------------------------------------
    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One Graph call (``path`` like ``act_123/insights``); returns the JSON body (floats as Decimal)."""
        exchanged = False
        throttled = transient = 0
        while True:
            response = self._send(method, path, params)
            body = _json(response)
            if response.ok and not (isinstance(body, dict) and "error" in body):
                return body
            error = GraphError.of(response, body)
            where = f"meta_ads: {method} /{path}"
            if error.code == EXPIRED_TOKEN_CODE:
                if exchanged or not self.can_exchange:
                    why = "after a fresh token exchange" if exchanged else "and no app_id/app_secret to exchange it"
                    raise MetaAuthError(f"{where}: access token refused ({error.describe()}) {why}")
                self.exchange_token()
                exchanged = True
                continue
            if error.code in THROTTLE_CODES:
                throttled += 1
                if throttled > MAX_THROTTLE_RETRIES:
                    raise MetaRateLimitError(f"{where}: still throttled after {MAX_THROTTLE_RETRIES} waits "
                                             f"({error.describe()})")
                self._wait_throttled(response, throttled, where)
                continue
            if (error.transient or error.code in TRANSIENT_CODES) and transient < MAX_TRANSIENT_RETRIES:
                transient += 1
                self.stats["transient"] += 1
                self._sleep(min(POLL_MAX_DELAY_S, 2.0 ** transient))
                continue
            raise MetaAPIError(f"{where} refused: {error.describe()}")

    def _send(self, method: str, path: str, params: dict[str, Any] | None) -> requests.Response:
        self.stats["calls"] += 1
        headers = {"Authorization": f"Bearer {self._token}"}
        url = f"{self.root}/{path}"
        if method == "POST":
            return self.session.post(url, data=params or {}, headers=headers)
        return self.session.get(url, params=params or {}, headers=headers)

    def _wait_throttled(self, response: requests.Response, attempt: int, where: str) -> None:
        estimated = regain_access_s(response.headers)
        wait = min(self._max_throttle_wait_s, max(estimated or 0.0, 2.0 ** attempt))
        self.stats["throttled"] += 1
        self.stats["throttle_waited_s"] += wait
        log.warning("%s: throttled by Meta, waiting %.0fs (attempt %d of %d)", where, wait, attempt,
                    MAX_THROTTLE_RETRIES)
        self._sleep(wait)

    # --- tokens -------------------------------------------------------------------------------------------
    @property
    def can_exchange(self) -> bool:
        return bool(self._app_id and self._app_secret)

    def exchange_token(self) -> None:
        """Exchange the long-lived token for a fresh one (``fb_exchange_token``); the new one is used from now."""
        params = {"grant_type": "fb_exchange_token", "client_id": self._app_id, "client_secret": self._app_secret,
                  "fb_exchange_token": self._long_lived}
        try:
            response = self.session.get(f"{self.root}/oauth/access_token", params=params)
        except requests.RequestException as exc:  # its text would carry the URL, secrets included
            raise MetaAuthError(f"meta_ads: GET /oauth/access_token failed: {type(exc).__name__}") from None
        body = _json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not response.ok or not token:
            raise MetaAuthError("meta_ads: GET /oauth/access_token refused the fb_exchange_token grant "
                                f"({GraphError.of(response, body).describe()})")
        self._token = token
        self.stats["token_exchanges"] += 1
        log.info("meta_ads: exchanged the long-lived token (expires in %ss)", body.get("expires_in"))

    # --- async report runs --------------------------------------------------------------------------------
    def run_report(self, account_id: str, params: dict[str, Any], *, page_size: int,
                   max_polls: int = MAX_POLLS) -> Iterator[list[dict[str, Any]]]:
        """Start an async Insights report for ``act_<account_id>``, poll it with bounded exponential backoff
        and yield its rows page by page (following ``paging.cursors.after``)."""
        window = json.loads(params["time_range"])
        what = f"act_{account_id} {window['since']}..{window['until']}"
        run_id = self.call("POST", f"act_{account_id}/insights", params).get("report_run_id")
        if not run_id:
            raise MetaReportError(f"meta_ads: POST /act_{account_id}/insights returned no report_run_id ({what})")
        delay, status = POLL_INITIAL_S, {}
        for poll in range(1, max_polls + 1):
            status = self.call("GET", str(run_id))
            state = status.get("async_status")
            if state == "Job Completed":
                break
            if state in ("Job Failed", "Job Skipped"):
                raise MetaReportError(f"meta_ads: report run {run_id} for {what} ended as {state!r}")
            if poll == max_polls:
                raise MetaReportError(f"meta_ads: report run {run_id} for {what} not complete after {max_polls} "
                                      f"polls (async_status {state!r}, "
                                      f"{status.get('async_percent_completion')} %)")
            self._sleep(delay)
            delay = min(POLL_MAX_DELAY_S, delay * 2)
        after = None
        while True:
            query: dict[str, Any] = {"limit": page_size}
            if after:
                query["after"] = after
            body = self.call("GET", f"{run_id}/insights", query)
            yield body.get("data") or []
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return


def _json(response: requests.Response) -> Any:
    try:
        return json.loads(response.text, parse_float=Decimal)
    except ValueError:
        return None


# --- rows → Arrow -------------------------------------------------------------------------------------------

S, INT = pa.string(), pa.int64()
INSIGHT_COLUMNS: dict[str, pa.DataType] = {
    "date_start": pa.date32(), "date_stop": pa.date32(), "account_id": S, "account_currency": S,
    "campaign_id": S, "campaign_name": S, "adset_id": S, "adset_name": S, "ad_id": S, "ad_name": S,
    "spend": MONEY, "impressions": INT, "clicks": INT, "conversions": INT, "conversion_value": MONEY,
    "conversion_action_type": S, "actions": S, "action_values": S,
}
PRIMARY_KEY = ("date_start", "ad_id")


def _action(entries: list[dict[str, Any]] | None, action_type: str) -> str | None:
    for entry in entries or ():
        if entry.get("action_type") == action_type:
            return str(entry.get("value"))
    return None


def insights_to_table(rows: list[dict[str, Any]], action_type: str) -> pa.Table:
    """One page of ad-level daily rows → an Arrow table. Conversions count only ``action_type`` (Meta lists
    the same purchases under several action types; summing them would count each purchase two or three times)."""
    records = []
    for row in rows:
        count = _action(row.get("actions"), action_type)
        value = _action(row.get("action_values"), action_type)
        records.append({
            "date_start": date.fromisoformat(row["date_start"]), "date_stop": date.fromisoformat(row["date_stop"]),
            "account_id": row.get("account_id"), "account_currency": row.get("account_currency"),
            "campaign_id": row.get("campaign_id"), "campaign_name": row.get("campaign_name"),
            "adset_id": row.get("adset_id"), "adset_name": row.get("adset_name"),
            "ad_id": row["ad_id"], "ad_name": row.get("ad_name"),
            "spend": parse_decimal(row.get("spend")) or Decimal("0.00"),
            "impressions": int(row.get("impressions") or 0), "clicks": int(row.get("clicks") or 0),
            "conversions": int(Decimal(count)) if count is not None else 0,
            "conversion_value": round_money(parse_decimal(value, max_places=6)) if value is not None
            else Decimal("0.00"),
            "conversion_action_type": action_type,
            "actions": json.dumps(row["actions"], default=str) if row.get("actions") else None,
            "action_values": json.dumps(row["action_values"], default=str) if row.get("action_values") else None,
        })
    arrays = [pa.array([r[name] for r in records], dtype) for name, dtype in INSIGHT_COLUMNS.items()]
    fields = [pa.field(n, t, nullable=n not in PRIMARY_KEY) for n, t in INSIGHT_COLUMNS.items()]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
