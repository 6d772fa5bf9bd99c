"""The Walmart Marketplace API twin: OAuth client-credentials token, Orders v3 with Walmart's cursor, and the
reconciliation (settlement) report, served from each shop's simulated Walmart channel.

Base URL ``{sandbox}/walmart`` stands for ``https://marketplace.walmartapis.com``:

- ``POST /walmart/v3/token`` — HTTP Basic ``client_id:client_secret``, form ``grant_type=client_credentials``
  → ``{"access_token", "token_type": "Bearer", "expires_in": 900}``.
- ``GET /walmart/v3/orders`` — ``createdStartDate``/``createdEndDate``/``lastModifiedStartDate``/
  ``lastModifiedEndDate``/``purchaseOrderId``/``sku``/``limit`` (≤ 200); the next page is the ``meta.nextCursor``
  query string appended to the path (or passed as ``?nextCursor=<it>``).
- ``GET /walmart/v3/orders/{purchaseOrderId}``.
- ``GET /walmart/v3/returns`` — ``returnCreationStartDate``/``returnCreationEndDate``/
  ``returnLastModifiedStartDate``/``returnLastModifiedEndDate``/``status``/``returnOrderId``/``customerOrderId``/
  ``limit`` (≤ 200) → ``{"meta": {totalCount, limit, nextCursor}, "returnOrders": [...]}``, newest first; the
  next page is ``meta.nextCursor`` (a query string) appended to the path (or ``?nextCursor=<it>``).
- ``GET /walmart/v3/report/reconreport/availableReconFiles``, ``…/reconFileJson?reportDate=&offset=&noOfRecords=``
  and ``…/reconFile?reportDate=`` (a ZIP holding the CSV).

Every API call needs ``WM_SEC.ACCESS_TOKEN``, ``WM_SVC.NAME`` and ``WM_QOS.CORRELATION_ID``. See README.md.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import threading
import zipfile
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.common.tokens import TokenStore
from sandbox.common.twin import RestTwin
from sandbox.walmart import wire
from sandbox.walmart.index import Snapshot, epoch_ms, settlement_periods
from sandbox.walmart.options import WalmartOptions, client_id_for, client_secret_for, walmart_options
from sandbox.walmart.returns import STATUSES, WalmartReturns
from sandbox.walmart.throttle import LIMITS, WalmartRateLimits
from sandbox.world.marketplace import Marketplace, simulate_marketplace
from sandbox.world.marketplace_returns import simulate_returns

TOKEN_TTL_S = 900
MAX_LIMIT, DEFAULT_LIMIT = 200, 10
MAX_RECORDS = 1000
SNAPSHOTS_KEPT = 4
DATE_PARAMS = ("createdStartDate", "createdEndDate", "lastModifiedStartDate", "lastModifiedEndDate")
RETURN_DATE_PARAMS = ("returnCreationStartDate", "returnCreationEndDate", "returnLastModifiedStartDate",
                      "returnLastModifiedEndDate")
RETURN_FILTERS = ("status", "returnOrderId", "customerOrderId", "returnType", "isWFSEnabled", "replacementInfo",
                  *RETURN_DATE_PARAMS)


class BadRequest(Exception):
    def __init__(self, field: str, description: str, api: str = "GMP_ORDER_API") -> None:
        super().__init__(description)
        self.field, self.description, self.api = field, description, api


class WalmartTwin(RestTwin):
    api = "walmart"

    def __init__(self, sandbox) -> None:
        super().__init__(sandbox)
        self.tokens = TokenStore(TOKEN_TTL_S, prefix="wm_sandbox_")
        self.ratelimits = WalmartRateLimits(LIMITS)
        self._options = {shop: walmart_options(self.options(shop)) for shop in self.shops}
        self._credentials = {(client_id_for(s, o), client_secret_for(s, o)): s for s, o in self._options.items()}
        self._markets: dict[str, Marketplace] = {}
        self._names: dict[str, dict[str, str]] = {}
        self._returns: dict[str, WalmartReturns] = {}
        self._snapshots: OrderedDict[tuple[str, datetime], Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    # --- routes -----------------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return [
            Route("/walmart/v3/token", self._token, methods=["POST"]),
            Route("/walmart/v3/orders", self._api("orders", self._orders), methods=["GET"]),
            Route("/walmart/v3/orders/{purchaseOrderId}", self._api("orders", self._order), methods=["GET"]),
            Route("/walmart/v3/returns", self._api("returns", self._return_orders), methods=["GET"]),
            Route("/walmart/v3/report/reconreport/availableReconFiles", self._api("reports", self._recon_dates),
                  methods=["GET"]),
            Route("/walmart/v3/report/reconreport/reconFileJson", self._api("reports", self._recon_json),
                  methods=["GET"]),
            Route("/walmart/v3/report/reconreport/reconFile", self._api("reports", self._recon_zip),
                  methods=["GET"]),
        ]

    # --- data -------------------------------------------------------------------------------------------------
    def market(self, shop: str) -> Marketplace:
        """The shop's Walmart channel, simulated once and cached."""
        with self._lock:
            if shop not in self._markets:
                world = self.sandbox.world
                shop_world = world.shop(shop)
                self._markets[shop] = simulate_marketplace(world.spec, shop_world, self.api, self._options[shop])
                self._names[shop] = _product_names(shop_world)
            return self._markets[shop]

    def returns(self, shop: str) -> WalmartReturns:
        """The shop's Walmart return orders (from the world's returns of the channel), built once."""
        market = self.market(shop)
        with self._lock:
            if shop not in self._returns:
                frame = simulate_returns(self.sandbox.world.spec, market)
                self._returns[shop] = WalmartReturns(market, frame, self._names[shop])
            return self._returns[shop]

    def snapshot(self, shop: str, as_of: datetime) -> Snapshot:
        """The shop's channel as visible at ``as_of`` (never later than the sandbox clock), indexed once."""
        market = self.market(shop)
        as_of = min(as_of, self.sandbox.clock, market.as_of)
        key = (shop, as_of)
        with self._lock:
            if key in self._snapshots:
                self._snapshots.move_to_end(key)
                return self._snapshots[key]
        snap = Snapshot(market.visible(as_of), self._names[shop])
        with self._lock:
            self._snapshots[key] = snap
            while len(self._snapshots) > SNAPSHOTS_KEPT:
                self._snapshots.popitem(last=False)
        return snap

    # --- Walmart's answers ------------------------------------------------------------------------------------
    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        codes = {500: "SYSTEM_ERROR.GMP_GATEWAY_API", 503: "SERVICE_UNAVAILABLE.GMP_GATEWAY_API",
                 429: "REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API"}
        code = codes.get(status, f"HTTP_{status}.GMP_GATEWAY_API")
        body = wire.errors(code, code.split(".")[0], message, message, category="SYSTEM")
        return JSONResponse(body, status_code=status, headers=headers)

    def throttled_response(self, shop: str, retry_after_s: float) -> Response:
        body = wire.errors("REQUEST_THRESHOLD_VIOLATED.GMP_GATEWAY_API", "REQUEST_THRESHOLD_VIOLATED",
                           "Request Threshold Violated", "Request Threshold Violated", category="REQUEST")
        replenish = int((datetime.now(UTC).timestamp() + max(retry_after_s, 0.001)) * 1000)
        return JSONResponse(body, status_code=429, headers={"x-current-token-count": "0",
                                                            "x-next-replenish-time": str(replenish)})

    @staticmethod
    def _bad_request(err: BadRequest) -> Response:
        return JSONResponse(wire.errors(f"INVALID_REQUEST_PARAM.{err.api}", err.field, err.description,
                                        "One or more request parameters are invalid", category="REQUEST"),
                            status_code=400)

    @staticmethod
    def _missing_header(request: Request) -> Response | None:
        for header in ("WM_SVC.NAME", "WM_QOS.CORRELATION_ID"):
            if not (request.headers.get(header) or "").strip():
                return JSONResponse(wire.errors("MISSING_REQUIRED_HEADER.GMP_GATEWAY_API", header,
                                                f"Required header {header} is missing",
                                                f"Request header {header} is mandatory", category="REQUEST"),
                                    status_code=400)
        return None

    # --- token ------------------------------------------------------------------------------------------------
    async def _token(self, request: Request) -> Response:
        missing = self._missing_header(request)
        if missing is not None:
            return missing
        shop = self._shop_of_basic(request.headers.get("authorization"))
        if shop is None:
            return JSONResponse(wire.errors("UNAUTHORIZED.GMP_GATEWAY_API", "UNAUTHORIZED", "Unauthorized",
                                            "Invalid client credentials"), status_code=401)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        grant_type = (form.get("grant_type") or [None])[-1]

        def answer() -> Response:
            limited = self.rate_limited(shop, "token")
            if limited is not None:
                return limited
            if grant_type != "client_credentials":
                return JSONResponse(wire.errors("INVALID_REQUEST_PARAM.GMP_GATEWAY_API", "grant_type",
                                                "grant_type must be client_credentials",
                                                "Unsupported grant type", category="REQUEST"), status_code=400)
            token, expires_in = self.tokens.issue(shop)
            return self._json(shop, "token", {"access_token": token, "token_type": "Bearer",
                                              "expires_in": expires_in})

        return await self.guarded(shop, answer)

    def _shop_of_basic(self, authorization: str | None) -> str | None:
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return self._credentials.get((client_id, secret))

    # --- every API call ---------------------------------------------------------------------------------------
    def _api(self, operation: str, handler):
        """Wrap a handler: required headers, the access token (which names the seller), faults, rate limit."""

        async def endpoint(request: Request) -> Response:
            missing = self._missing_header(request)
            if missing is not None:
                return missing
            token = request.headers.get("WM_SEC.ACCESS_TOKEN")
            shop, _ = self.tokens.check(token)
            if shop is None:
                return JSONResponse(wire.unauthorized(), status_code=401)

            def answer() -> Response:
                if self.tokens.check(token)[1] != "ok":  # expired (perhaps by an injected fault just now)
                    return JSONResponse(wire.unauthorized(), status_code=401)
                limited = self.rate_limited(shop, operation)
                if limited is not None:
                    return limited
                try:
                    return handler(request, shop, operation)
                except BadRequest as err:
                    return self._bad_request(err)

            return await self.guarded(shop, answer)

        return endpoint

    def _json(self, shop: str, operation: str, body: Any, status: int = 200) -> Response:
        headers = self.ratelimits.bucket(shop, operation).headers()
        return JSONResponse(body, status_code=status, headers=headers)

    # --- orders -----------------------------------------------------------------------------------------------
    def _orders(self, request: Request, shop: str, operation: str) -> Response:
        params = _order_params(request)
        limit = _int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _int_param(params, "poIndex", 0, 0, None)
        as_of = _snapshot_instant(params.get("cursor")) or self.sandbox.clock
        snap = self.snapshot(shop, as_of)
        bounds = {name: _instant_ms(params[name], name) for name in DATE_PARAMS if params.get(name)}
        if not any(k in bounds for k in ("createdStartDate", "lastModifiedStartDate")) \
                and not params.get("purchaseOrderId"):
            bounds["createdStartDate"] = epoch_ms(snap.as_of - timedelta(days=7))  # Walmart's default window
        purchase_order = params.get("purchaseOrderId")
        orders = snap.select(
            created=(bounds.get("createdStartDate"), bounds.get("createdEndDate")),
            modified=(bounds.get("lastModifiedStartDate"), bounds.get("lastModifiedEndDate")),
            purchase_order_id=int(purchase_order) if purchase_order and purchase_order.isdigit() else None,
            sku=params.get("sku"),
        )
        if purchase_order and not purchase_order.isdigit():
            orders = []
        if not orders:
            return self._json(shop, operation, wire.errors(
                "CONTENT_NOT_FOUND.GMP_ORDER_API", "createdStartDate",
                "No Orders found for the given search criteria", "Requested content could not be found.",
                severity="INFO", category="REQUEST"), status=404)
        page = orders[offset:offset + limit]
        next_cursor = None
        if offset + limit < len(orders):
            seller = wire.seller_id_for(shop)
            carried = {k: v for k, v in params.items()
                       if k in ("sku", "purchaseOrderId", "customerOrderId", "status", *DATE_PARAMS)}
            carried.setdefault("createdEndDate", wire.iso_ms(epoch_ms(snap.as_of)))
            next_cursor = "?" + urlencode({
                "limit": limit, "hasMoreElements": "true", "soIndex": len(orders), "poIndex": offset + limit,
                "partnerId": seller, "sellerId": seller, "cursor": _opaque_cursor(snap.as_of), **carried,
            })
        body = {"list": {"meta": {"totalCount": len(orders), "limit": limit, "nextCursor": next_cursor},
                         "elements": {"order": [wire.purchase_order(o) for o in page]}}}
        return self._json(shop, operation, body)

    def _order(self, request: Request, shop: str, operation: str) -> Response:
        po = request.path_params["purchaseOrderId"]
        snap = self.snapshot(shop, self.sandbox.clock)
        found = snap.select(created=(None, None), modified=(None, None),
                            purchase_order_id=int(po)) if po.isdigit() else []
        if not found:
            return self._json(shop, operation, wire.errors(
                "CONTENT_NOT_FOUND.GMP_ORDER_API", "purchaseOrderId", f"PO {po} not found",
                "Requested content could not be found.", severity="INFO", category="REQUEST"), status=404)
        return self._json(shop, operation, {"order": wire.purchase_order(found[0])})

    # --- returns ----------------------------------------------------------------------------------------------
    def _return_orders(self, request: Request, shop: str, operation: str) -> Response:
        params = _order_params(request)
        limit = _int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, "GMP_RETURNS_API")
        offset = _int_param(params, "offset", 0, 0, None, "GMP_RETURNS_API")
        pinned = _snapshot_instant(params.get("cursor"))
        as_of = min(pinned or self.sandbox.clock, self.sandbox.clock, self.market(shop).as_of)
        bounds = {name: _instant_ms(params[name], name) for name in RETURN_DATE_PARAMS if params.get(name)}
        status = params.get("status") or None
        if status is not None and status not in STATUSES:
            raise BadRequest("status", f"status must be one of {', '.join(STATUSES)}", "GMP_RETURNS_API")
        returns = self.returns(shop)
        found = [] if params.get("returnType") in ("REPLACEMENT", "PREORDER") else returns.select(
            as_of,
            created=(bounds.get("returnCreationStartDate"), bounds.get("returnCreationEndDate")),
            modified=(bounds.get("returnLastModifiedStartDate"), bounds.get("returnLastModifiedEndDate")),
            status=status, return_order_id=params.get("returnOrderId") or None,
            customer_order_id=params.get("customerOrderId") or None)
        page = found[offset:offset + limit]
        next_cursor = None
        if offset + limit < len(found):
            carried = {k: v for k, v in params.items() if k in RETURN_FILTERS}
            next_cursor = "?" + urlencode({"sellerId": wire.seller_id_for(shop), "limit": limit,
                                           "offset": offset + limit, "cursor": _opaque_cursor(as_of), **carried})
        body = {"meta": {"totalCount": len(found), "limit": limit, "nextCursor": next_cursor},
                "returnOrders": [returns.render(rec, as_of) for rec in page]}
        return self._json(shop, operation, body)

    # --- reconciliation report --------------------------------------------------------------------------------
    def _periods(self, shop: str):
        return settlement_periods(self.sandbox.world.spec.start_date, self._options[shop].settlement_period_days,
                                  self.sandbox.clock)

    def _recon_dates(self, request: Request, shop: str, operation: str) -> Response:
        _report_version(request)
        dates = [wire.report_date_text(p.report_date) for p in reversed(self._periods(shop))]
        return self._json(shop, operation, {"availableApReportDates": dates})

    def _report(self, request: Request, shop: str) -> list[dict[str, Any]]:
        text = request.query_params.get("reportDate")
        if not text:
            raise BadRequest("reportDate", "Required parameter 'reportDate' is not present", "GMP_REPORTS_API")
        period = next((p for p in self._periods(shop) if wire.report_date_text(p.report_date) == text), None)
        if period is None:
            raise LookupError(text)
        snap = self.snapshot(shop, self.sandbox.clock)
        low = epoch_ms(datetime.combine(period.start, datetime.min.time(), UTC))
        high = epoch_ms(datetime.combine(period.report_date, datetime.min.time(), UTC))
        events = [e for e in snap.events if low <= e.at_ms < high]
        return wire.recon_rows(period, events, snap.currency, wire.seller_id_for(shop),
                               self._options[shop].referral_fee_bp, self._names[shop])

    def _no_report(self, shop: str, operation: str, text: str) -> Response:
        return self._json(shop, operation, wire.errors(
            "CONTENT_NOT_FOUND.GMP_REPORTS_API", "reportDate", f"No recon report for reportDate {text}",
            "Requested content could not be found.", category="REQUEST"), status=404)

    def _recon_json(self, request: Request, shop: str, operation: str) -> Response:
        params = dict(request.query_params)
        for required in ("reportDate", "offset", "noOfRecords"):
            if required not in params:
                raise BadRequest(required, f"Required parameter '{required}' is not present", "GMP_REPORTS_API")
        offset = _int_param(params, "offset", 0, 0, None, "GMP_REPORTS_API")
        count = _int_param(params, "noOfRecords", MAX_RECORDS, 1, MAX_RECORDS, "GMP_REPORTS_API")
        try:
            rows = self._report(request, shop)
        except LookupError:
            return self._no_report(shop, operation, params["reportDate"])
        page = rows[offset:offset + count]
        next_offset = offset + count if offset + count < len(rows) else -1
        return self._json(shop, operation, {"reportData": page, "nextOffset": next_offset,
                                            "totalRecords": len(rows),
                                            "description": f"Reconciliation report {params['reportDate']}"})

    def _recon_zip(self, request: Request, shop: str, operation: str) -> Response:
        _report_version(request)
        try:
            rows = self._report(request, shop)
        except LookupError:
            return self._no_report(shop, operation, request.query_params.get("reportDate", ""))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=wire.RECON_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{request.query_params['reportDate']}_ReconReport.csv", text.getvalue())
        headers = {**self.ratelimits.bucket(shop, operation).headers(),
                   "Content-Disposition": f"attachment; filename={request.query_params['reportDate']}.zip"}
        return Response(archive.getvalue(), media_type="application/octet-stream", headers=headers)


# --- request parsing --------------------------------------------------------------------------------------------

def _order_params(request: Request) -> dict[str, str]:
    """The query, with a cursor passed as ``?nextCursor=<query string>`` unwrapped to its parameters."""
    params = dict(request.query_params)
    wrapped = params.pop("nextCursor", None)
    if wrapped:
        params.update({k: v[-1] for k, v in parse_qs(wrapped.lstrip("?"), keep_blank_values=True).items()})
    return params


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int | None,
               api: str = "GMP_ORDER_API") -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        bound = f" between {low} and {high}" if high is not None else f" at least {low}"
        raise BadRequest(name, f"{name} must be an integer{bound}", api)
    return int(text)


def _instant_ms(text: str, name: str) -> int:
    """'2020-03-16' (midnight UTC) or '2020-03-16T10:30:15Z' / '…15.155Z' / with an offset → epoch ms."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(name, f"{name} must be an ISO 8601 date or timestamp (UTC), got {text!r}") from None
    return epoch_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _opaque_cursor(as_of: datetime) -> str:
    return base64.urlsafe_b64encode(json.dumps({"asOf": epoch_ms(as_of)}).encode()).decode().rstrip("=")


def _snapshot_instant(cursor: str | None) -> datetime | None:
    """The instant a paged query is pinned to (so every page comes from the same snapshot)."""
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromtimestamp(int(data["asOf"]) / 1000, tz=UTC)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest("nextCursor", "nextCursor is invalid or expired") from None


def _report_version(request: Request) -> None:
    version = request.query_params.get("reportVersion", "v1")
    if version != "v1":
        raise BadRequest("reportVersion", f"INVALID_REPORT_VERSION: {version}", "GMP_REPORTS_API")


def _product_names(shop_world) -> dict[str, str]:
    """SKU → Walmart's productName: the product title, plus the variant title unless it is the default."""
    titles = dict(zip(shop_world.products["product_id"].to_list(), shop_world.products["title"].to_list(),
                      strict=True))
    names = {}
    for sku, product_id, variant in shop_world.variants.select("sku", "product_id", "title").iter_rows():
        base = titles.get(product_id, sku)
        names[sku] = base if variant in (None, "", "Default Title") else f"{base} - {variant}"
    return names


__all__ = ["WalmartTwin", "WalmartOptions"]
