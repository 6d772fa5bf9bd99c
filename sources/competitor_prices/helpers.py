"""The price-intelligence client (API key header, cursor pages) and the page → Arrow converter.

Transport faults — HTTP 429 from the account's rate limit (``Retry-After`` in whole seconds), 5xx, timeouts,
dropped connections — are retried by :class:`sources.http.RetryingSession`. What retrying cannot fix raises
:class:`CompetitorPricesError` naming the tenant and the source: a refused API key
(:class:`CompetitorPricesAuthError`, HTTP 401/403, never with the key in the text), any other refusal (400
``invalid_parameter`` with the parameter), a 5xx that outlasts the retries, and every offer that breaks the feed's
contract (named by SKU, competitor and day, with the rule it breaks). Prices are read from the JSON text as
exact Decimals (``sources.money.parse_decimal``); a float price is refused.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import requests

from sources.http import RetryingSession
from sources.money import MoneyError, parse_decimal

from .settings import API_KEY_HEADER, SCHEMA

log = logging.getLogger("sources.competitor_prices")

SOURCE = "competitor_prices"
ISO_CODE = re.compile(r"^[A-Z]{3}$")


class CompetitorPricesError(RuntimeError):
    """The API refused a request, or served an offer that breaks the feed's contract."""


class CompetitorPricesAuthError(CompetitorPricesError):
    """The API key was refused (HTTP 401/403)."""


def make_session(timeout_s: float, max_attempts: int, backoff_s: float,
                 sleep: Callable[[float], None] | None = None) -> RetryingSession:
    session = RetryingSession(timeout_s=timeout_s, max_attempts=max_attempts, backoff_s=backoff_s,
                              **({"sleep": sleep} if sleep is not None else {}))
    session.headers.update({"Accept": "application/json", "User-Agent": "omnianalytics-competitor-prices/1"})
    return session


class CompetitorPricesClient:
    """``GET {base_url}/account`` and the pages of ``GET {base_url}/offers`` of one account."""

    def __init__(self, base_url: str, api_key: str, session: requests.Session, *, tenant: str | None = None) -> None:
        if not api_key:
            raise CompetitorPricesAuthError(f"{_who(tenant)}: no API key given")
        self.base_url = base_url.rstrip("/")
        self.session = session
        self._headers = {API_KEY_HEADER: api_key}
        self.who = _who(tenant)
        self.pages = 0

    def _get(self, path: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        try:
            response = self.session.get(f"{self.base_url}/{path}", params=params, headers=self._headers)
        except requests.RequestException as exc:
            raise CompetitorPricesError(f"{self.who}: {what}: {type(exc).__name__}: {exc}") from exc
        body = _body(response)
        if response.status_code in (401, 403):
            raise CompetitorPricesAuthError(f"{self.who}: {what}: the API key was refused (HTTP "
                                            f"{response.status_code} {_reason(body)})")
        if response.status_code != 200:
            raise CompetitorPricesError(f"{self.who}: {what}: HTTP {response.status_code} {_reason(body)}")
        return body

    def account(self) -> dict[str, Any]:
        """The account: its currency, competitors and ``observed_through`` (the last day published, or None)."""
        return self._get("account", {}, "GET /account")

    def offer_pages(self, first: date, last: date, page_size: int) -> Iterator[list[dict[str, Any]]]:
        """Every offer observed in [first, last], page by page (``pagination.next_cursor`` until null)."""
        params: dict[str, Any] = {"observed_from": first.isoformat(), "observed_to": last.isoformat(),
                                  "limit": page_size}
        what = f"GET /offers {first}..{last}"
        while True:
            body = self._get("offers", params, what)
            self.pages += 1
            data = body.get("data")
            if not isinstance(data, list):
                raise CompetitorPricesError(f"{self.who}: {what}: page {self.pages} has no data list")
            yield data
            cursor = (body.get("pagination") or {}).get("next_cursor")
            if not cursor:
                return
            params = {"cursor": cursor, "limit": page_size}


def _who(tenant: str | None) -> str:
    return f"tenant {tenant!r}, source {SOURCE!r}" if tenant else f"source {SOURCE!r}"


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.text, parse_float=Decimal)
    except ValueError:
        return {"error": {"message": response.text[:200]}}
    return body if isinstance(body, dict) else {"error": {"message": str(body)[:200]}}


def _reason(body: dict[str, Any]) -> str:
    err = body.get("error")
    if isinstance(err, dict):
        parameter = f" (parameter {err['parameter']})" if err.get("parameter") else ""
        return f"{err.get('code', 'error')}: {err.get('message', '')}{parameter}"
    return str(body)[:200]


def offers_table(offers: list[dict[str, Any]], *, who: str, first: date, last: date) -> pa.Table:
    """One page of offers as an Arrow table with the landed columns (``settings.SCHEMA``), every value checked:
    a broken offer raises :class:`CompetitorPricesError` naming the offer and the rule."""
    columns: dict[str, list] = {name: [] for name in SCHEMA.names}
    for offer in offers:
        row = _offer(offer, who=who, first=first, last=last)
        for name in SCHEMA.names:
            columns[name].append(row[name])
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def _offer(offer: Any, *, who: str, first: date, last: date) -> dict[str, Any]:
    if not isinstance(offer, dict):
        raise CompetitorPricesError(f"{who}: offer {str(offer)[:80]!r} breaks rule 'an offer is a JSON object'")
    name = f"offer {offer.get('sku')!r} at {offer.get('competitor')!r} on {offer.get('observed_date')!r}"

    def broken(rule: str) -> CompetitorPricesError:
        return CompetitorPricesError(f"{who}: {name} breaks rule {rule!r}")

    sku, competitor = offer.get("sku"), offer.get("competitor")
    if not isinstance(sku, str) or not sku.strip():
        raise broken("sku is a non-empty text")
    if not isinstance(competitor, str) or not competitor.strip():
        raise broken("competitor is a non-empty text")
    try:
        observed = date.fromisoformat(str(offer.get("observed_date")))
    except ValueError:
        raise broken("observed_date is a date YYYY-MM-DD") from None
    if not first <= observed <= last:
        raise broken(f"observed_date within the requested {first}..{last}")
    if not isinstance(offer.get("price"), str):
        raise broken("price is decimal text such as \"12.30\", not a JSON number")
    try:
        price = parse_decimal(offer.get("price"))
    except MoneyError:
        price = None
    if price is None or price <= 0:
        raise broken("price is a positive amount with at most 2 decimals")
    currency = offer.get("currency")
    if not isinstance(currency, str) or not ISO_CODE.match(currency):
        raise broken("currency is an ISO 4217 code such as USD")
    in_stock = offer.get("in_stock")
    if in_stock is not None and not isinstance(in_stock, bool):
        raise broken("in_stock is true, false or null")
    return {"sku": sku.strip(), "competitor": competitor.strip(), "observed_date": observed, "price": price,
            "currency": currency, "in_stock": in_stock, "product_name": _text(offer.get("product_name")),
            "competitor_url": _text(offer.get("competitor_url"))}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
