"""The Amazon twin over HTTP: Login with Amazon's token endpoint and the SP-API operations the platform reads.

- ``POST /amazon/auth/o2/token`` (form: grant_type=refresh_token, refresh_token, client_id, client_secret) →
  ``{"access_token": "Atza|…", "refresh_token", "token_type": "bearer", "expires_in": 3600}``; LWA's own
  errors (``{"error": "invalid_grant" | "invalid_client" | "unsupported_grant_type", "error_description"}``).
- Under ``/amazon/sp`` (where the real host is ``https://sellingpartnerapi-na.amazon.com``), with the header
  ``x-amz-access-token``: ``GET /orders/v0/orders``, ``GET /orders/v0/orders/{orderId}/orderItems``,
  ``GET /finances/v0/financialEvents``, ``GET /fba/inventory/v1/summaries``, and the Reports API 2021-06-30
  (``POST /reports/2021-06-30/reports``, ``GET /reports/2021-06-30/reports/{reportId}``,
  ``GET /reports/2021-06-30/documents/{reportDocumentId}``; see ``reports.py``).
- ``GET /amazon/report-documents/{reportDocumentId}?X-Amz-…``: a report document's bytes (stands for the
  pre-signed S3 URL; no SP-API header).
- ``POST|DELETE /_sandbox/amazon/reports``: test control — how the shop's next reports run
  (``{"shop", "outcome": "DONE"|"FATAL", "polls": 2, "count": 1}``).

The access token identifies the seller (= the shop). Every operation has its own token bucket per seller
(``getOrders``, ``getOrderItems``, ``listFinancialEvents``, ``getInventorySummaries``); every answer carries
``x-amzn-RequestId`` and the operation's ``x-amzn-RateLimit-Limit``; a request over the limit gets 429
``QuotaExceeded``. Errors are SP-API's ``{"errors": [{"code", "message", "details"?}]}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import polars as pl
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.amazon.index import AmazonShop, ShopView, iso, public_item
from sandbox.amazon.options import AmazonOptions
from sandbox.amazon.reports import (
    RETURNS_REPORT,
    ReportBook,
    ReportPlan,
    check_signature,
    returns_flat_file,
    signed_query,
)
from sandbox.common.ratelimit import RateLimits
from sandbox.common.tokens import TokenStore
from sandbox.common.twin import RestTwin

TOKEN_TTL_S = 3600
# The real usage plans (requests per second, burst), from the SP-API models.
REAL_RATE_LIMITS: dict[str, tuple[float, float]] = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "listFinancialEvents": (0.5, 30),
    "getInventorySummaries": (2.0, 2),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}
# The twin's defaults are roomier so the demo's two years land in seconds (POST /_sandbox/ratelimit resizes them).
DEMO_RATE_LIMITS: dict[str, tuple[float, float]] = {
    "getOrders": (100.0, 100),
    "getOrderItems": (1000.0, 1000),
    "listFinancialEvents": (100.0, 100),
    "getInventorySummaries": (100.0, 100),
    "createReport": (100.0, 100),
    "getReport": (100.0, 100),
    "getReportDocument": (100.0, 100),
}
REPORT_OPERATIONS = frozenset({"createReport", "getReport", "getReportDocument"})  # need no orders view
MAX_ORDERS_PAGE, MAX_EVENTS_PAGE, ITEMS_PAGE, INVENTORY_PAGE = 100, 100, 30, 50
FINANCES_MAX_SPAN = timedelta(days=180)  # a wider PostedAfter/PostedBefore range returns no events (as Amazon's)
LATEST_BEFORE = timedelta(minutes=2)  # *Before must be at least 2 minutes before now; that is also the default
ERROR_CODES = {400: "InvalidInput", 403: "Unauthorized", 404: "NotFound", 429: "QuotaExceeded",
               500: "InternalFailure", 503: "ServiceUnavailable"}
DENIED = "Access to requested resource is denied."
EXPIRED = "The access token you provided has expired."
INVALID = "The access token you provided is revoked, malformed or invalid."
QUOTA = "You exceeded your quota for the requested resource."


class InvalidInput(ValueError):
    """A request parameter SP-API would refuse with 400 InvalidInput."""


class AmazonTwin(RestTwin):
    api = "amazon"

    def __init__(self, sandbox) -> None:
        super().__init__(sandbox)
        self.tokens = TokenStore(TOKEN_TTL_S, "Atza|")
        self.ratelimits = RateLimits(DEMO_RATE_LIMITS)
        for handle in self.shops:  # created up front: RateLimits.configure(shop=…) only resizes existing buckets
            for operation in DEMO_RATE_LIMITS:
                self.ratelimits.bucket(handle, operation)
        self._accounts = {h: AmazonOptions.for_shop(h, sandbox.world.spec.shop(h).currency, self.options(h))
                          for h in self.shops}
        self._by_refresh_token = {o.refresh_token: h for h, o in self._accounts.items()}
        self._built: dict[str, AmazonShop] = {}
        self._build_lock = threading.Lock()
        self._local = threading.local()  # the operation being answered, for throttled_response
        self._calls: Counter[tuple[str, str]] = Counter()
        self._calls_lock = threading.Lock()
        self.reports = ReportBook()

    # --- plumbing -------------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        sp = "/amazon/sp"
        return [
            Route("/amazon/auth/o2/token", self.token, methods=["POST"]),
            Route(f"{sp}/orders/v0/orders", self._endpoint("getOrders", self.get_orders)),
            Route(f"{sp}/orders/v0/orders/{{order_id}}/orderItems", self._endpoint("getOrderItems",
                                                                                  self.get_order_items)),
            Route(f"{sp}/finances/v0/financialEvents", self._endpoint("listFinancialEvents",
                                                                      self.list_financial_events)),
            Route(f"{sp}/fba/inventory/v1/summaries", self._endpoint("getInventorySummaries",
                                                                    self.get_inventory_summaries)),
            Route(f"{sp}/reports/2021-06-30/reports", self._endpoint("createReport", self.create_report),
                  methods=["POST"]),
            Route(f"{sp}/reports/2021-06-30/reports/{{report_id}}", self._endpoint("getReport", self.get_report)),
            Route(f"{sp}/reports/2021-06-30/documents/{{document_id}}",
                  self._endpoint("getReportDocument", self.get_report_document)),
            Route("/amazon/report-documents/{document_id}", self.download_document),
            Route("/_sandbox/amazon/reports", self._reports_control, methods=["POST", "DELETE"]),
        ]

    def stats(self) -> dict[str, Any]:
        """RestTwin's counters plus the requests per seller and operation."""
        with self._calls_lock:
            by_op: dict[str, dict[str, int]] = {}
            for (shop, op), n in self._calls.items():
                by_op.setdefault(shop, {})[op] = n
        return {**super().stats(), "requests_by_operation": by_op, "reports": self.reports.stats()}

    def shop(self, handle: str) -> AmazonShop:
        """The shop's Amazon channel, simulated once on first use."""
        with self._build_lock:
            if handle not in self._built:
                self._built[handle] = AmazonShop(self.sandbox.world.spec, self.sandbox.world.shop(handle),
                                                 self._accounts[handle])
            return self._built[handle]

    def account(self, handle: str) -> AmazonOptions:
        return self._accounts[handle]

    def _headers(self, operation: str | None, shop: str | None) -> dict[str, str]:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if operation is not None and shop is not None:
            headers["x-amzn-RateLimit-Limit"] = f"{self.ratelimits.bucket(shop, operation).rate:g}"
        return headers

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None,
                       details: str | None = None) -> Response:
        error: dict[str, Any] = {"code": ERROR_CODES.get(status, str(status)), "message": message}
        if details is not None:
            error["details"] = details
        op, shop = getattr(self._local, "operation", None), getattr(self._local, "shop", None)
        merged = {**self._headers(op if status != 403 else None, shop), **(headers or {})}
        return JSONResponse({"errors": [error]}, status_code=status, headers=merged)

    def throttled_response(self, shop: str, retry_after_s: float) -> Response:
        """SP-API's 429: QuotaExceeded with the operation's rate header (no Retry-After: Amazon sends none).
        An injected ``throttle`` fault empties the bucket, as a real burst would."""
        op = getattr(self._local, "operation", None)
        if op is not None:
            self.ratelimits.bucket(shop, op).drain()
        return self.error_response(429, QUOTA)

    def _endpoint(self, operation: str, handler: Callable[[AmazonShop, ShopView, Request], dict[str, Any]]):
        async def endpoint(request: Request) -> Response:
            if request.method == "POST":
                await request.body()  # read here (the handler runs in a worker thread); cached on the request
            token = request.headers.get("x-amz-access-token")
            shop, status = self.tokens.check(token)
            if shop is None:
                return self.error_response(403, DENIED, details=INVALID if token else
                                           "The request has no x-amz-access-token header.")
            return await run_in_threadpool(self._serve, shop, operation, token, handler, request)
        return endpoint

    def _serve(self, shop: str, operation: str, token: str,
               handler: Callable[[AmazonShop, ShopView, Request], dict[str, Any]], request: Request) -> Response:
        """In a worker thread: fault injection (RestTwin._guarded), then token, quota and the handler."""
        self._local.operation, self._local.shop = operation, shop
        with self._calls_lock:
            self._calls[(shop, operation)] += 1

        def answer() -> Response:
            if self.tokens.check(token)[1] != "ok":  # an expire_token fault may just have expired it
                return self.error_response(403, DENIED, details=EXPIRED)
            refused = self.rate_limited(shop, operation)
            if refused is not None:
                return refused
            try:
                account = self.shop(shop)
                view = None if operation in REPORT_OPERATIONS else account.view(self.sandbox.clock)
                body = handler(account, view, request)  # type: ignore[arg-type]
            except InvalidInput as exc:
                return self.error_response(400, str(exc))
            except LookupError as exc:
                return self.error_response(404, str(exc).strip("'\""))
            status = 202 if operation == "createReport" else 200
            return JSONResponse(body, status_code=status, headers=self._headers(operation, shop))

        try:
            return self._guarded(shop, answer)
        finally:
            self._local.operation = self._local.shop = None

    # --- Login with Amazon ----------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        form = await _form(request)
        grant, refresh = form.get("grant_type"), form.get("refresh_token")
        if grant != "refresh_token":
            return _lwa_error(400, "unsupported_grant_type", "The authorization grant type is not supported by "
                                                             "the authorization server.")
        shop = self._by_refresh_token.get(str(refresh)) if refresh else None
        if shop is None:
            return _lwa_error(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
        account = self._accounts[shop]
        if form.get("client_id") != account.client_id or form.get("client_secret") != account.client_secret:
            return _lwa_error(401, "invalid_client", "Client authentication failed")

        def issue() -> Response:
            access, ttl = self.tokens.issue(shop)
            return JSONResponse({"access_token": access, "refresh_token": account.refresh_token,
                                 "token_type": "bearer", "expires_in": ttl})
        return await self.guarded(shop, issue)

    # --- Orders v0 ------------------------------------------------------------------------------------------
    def get_orders(self, shop: AmazonShop, view: ShopView, request: Request) -> dict[str, Any]:
        q = request.query_params
        _marketplace(shop, q.get("MarketplaceIds"))
        token = q.get("NextToken")
        if token:
            state = _untoken(token, "getOrders")
            field, after, before, size, offset = (state["field"], state["after"], state["before"], state["size"],
                                                  state["offset"])
        else:
            created, updated = q.get("CreatedAfter"), q.get("LastUpdatedAfter")
            if bool(created) == bool(updated):
                raise InvalidInput("Exactly one of CreatedAfter and LastUpdatedAfter must be specified.")
            field = "PurchaseDate" if created else "LastUpdateDate"
            name = "Created" if created else "LastUpdated"
            after = iso(_instant(created or updated, f"{name}After"))
            before = iso(self._before(q.get(f"{name}Before"), f"{name}Before"))
            if before < after:
                raise InvalidInput(f"{name}Before must be on or after {name}After.")
            size = _page_size(q.get("MaxResultsPerPage"), MAX_ORDERS_PAGE)
            offset = 0
        matching = view.orders_between(field, after, before)
        page = matching[offset:offset + size]
        payload: dict[str, Any] = {"Orders": page}
        if offset + size < len(matching):
            payload["NextToken"] = _token("getOrders", field=field, after=after, before=before, size=size,
                                          offset=offset + size)
        payload["CreatedBefore" if field == "PurchaseDate" else "LastUpdatedBefore"] = before
        return {"payload": payload}

    def get_order_items(self, shop: AmazonShop, view: ShopView, request: Request) -> dict[str, Any]:
        order_id = request.path_params["order_id"]
        if order_id not in view.by_id:
            raise LookupError(f"Invalid AmazonOrderId {order_id}")
        token = request.query_params.get("NextToken")
        offset = _untoken(token, "getOrderItems")["offset"] if token else 0
        items = view.items.get(order_id, [])
        payload: dict[str, Any] = {"AmazonOrderId": order_id,
                                   "OrderItems": [public_item(i) for i in items[offset:offset + ITEMS_PAGE]]}
        if offset + ITEMS_PAGE < len(items):
            payload["NextToken"] = _token("getOrderItems", offset=offset + ITEMS_PAGE)
        return {"payload": payload}

    # --- Finances v0 ----------------------------------------------------------------------------------------
    def list_financial_events(self, shop: AmazonShop, view: ShopView, request: Request) -> dict[str, Any]:
        q = request.query_params
        token = q.get("NextToken")
        if token:
            state = _untoken(token, "listFinancialEvents")
            after, before, size, offset = (_instant(state["after"], "PostedAfter"),
                                           _instant(state["before"], "PostedBefore"), state["size"], state["offset"])
        else:
            if not q.get("PostedAfter"):
                raise InvalidInput("PostedAfter is required when no NextToken is given.")
            after = _instant(q["PostedAfter"], "PostedAfter")
            before = self._before(q.get("PostedBefore"), "PostedBefore")
            if before < after:
                raise InvalidInput("PostedBefore must be on or after PostedAfter.")
            size, offset = _page_size(q.get("MaxResultsPerPage"), MAX_EVENTS_PAGE), 0
        events = [] if before - after > FINANCES_MAX_SPAN else view.events_between(after, before)
        page = events[offset:offset + size]
        lists: dict[str, list[dict[str, Any]]] = {
            "ShipmentEventList": [], "ShipmentSettleEventList": [], "RefundEventList": [],
            "GuaranteeClaimEventList": [], "ChargebackEventList": [], "AdjustmentEventList": [],
            "ServiceFeeEventList": [],
        }
        for event in page:
            lists[event.kind].append(event.body)
        payload: dict[str, Any] = {"FinancialEvents": lists}
        if offset + size < len(events):
            payload["NextToken"] = _token("listFinancialEvents", after=iso(after), before=iso(before), size=size,
                                          offset=offset + size)
        return {"payload": payload}

    # --- FBA Inventory v1 -----------------------------------------------------------------------------------
    def get_inventory_summaries(self, shop: AmazonShop, view: ShopView, request: Request) -> dict[str, Any]:
        q = request.query_params
        if q.get("granularityType") != "Marketplace":
            raise InvalidInput("granularityType must be Marketplace.")
        if q.get("granularityId") != shop.marketplace_id:
            raise InvalidInput(f"Invalid granularityId {q.get('granularityId')!r} for this seller.")
        _marketplace(shop, q.get("marketplaceIds"))
        details = (q.get("details") or "false").lower() == "true"
        token = q.get("nextToken")
        offset = _untoken(token, "getInventorySummaries")["offset"] if token else 0
        summaries = view.inventory[offset:offset + INVENTORY_PAGE]
        if not details:
            summaries = [{k: v for k, v in s.items() if k != "inventoryDetails"} for s in summaries]
        body: dict[str, Any] = {"payload": {"granularity": {"granularityType": "Marketplace",
                                                            "granularityId": shop.marketplace_id},
                                            "inventorySummaries": summaries}}
        if offset + INVENTORY_PAGE < len(view.inventory):
            body["pagination"] = {"nextToken": _token("getInventorySummaries", offset=offset + INVENTORY_PAGE)}
        return body

    # --- Reports 2021-06-30 -----------------------------------------------------------------------------------
    def create_report(self, shop: AmazonShop, view: None, request: Request) -> dict[str, Any]:
        """createReport: the report is cut now (the sandbox clock) from the FBA returns of its date range."""
        try:
            spec = json.loads(request._body or b"{}")  # noqa: SLF001 (read by the async endpoint)
        except ValueError:
            raise InvalidInput("The request body is not valid JSON.") from None
        if not isinstance(spec, dict):
            raise InvalidInput("The request body must be a CreateReportSpecification object.")
        report_type = spec.get("reportType")
        if not report_type:
            raise InvalidInput("reportType is required.")
        if report_type != RETURNS_REPORT:
            raise InvalidInput(f"Report type {report_type} is not supported by the sandbox (only {RETURNS_REPORT}).")
        ids = spec.get("marketplaceIds")
        if not isinstance(ids, list) or not ids or not all(isinstance(m, str) for m in ids):
            raise InvalidInput("marketplaceIds is required: a list of 1 to 25 marketplace ids.")
        _marketplace(shop, ",".join(ids))
        now = self.sandbox.clock.astimezone(UTC)
        start = _instant(spec["dataStartTime"], "dataStartTime") if spec.get("dataStartTime") else now
        end = _instant(spec["dataEndTime"], "dataEndTime") if spec.get("dataEndTime") else now
        for name, moment in (("dataStartTime", start), ("dataEndTime", end)):
            if moment > now:
                raise InvalidInput(f"{name} must be prior to or equal to the current date and time.")
        if end < start:
            raise InvalidInput("dataEndTime must be on or after dataStartTime.")
        rows = shop.fba_returns.filter((pl.col("returned_at") >= start) & (pl.col("returned_at") <= end)
                                       & (pl.col("returned_at") <= now))
        content = None if rows.is_empty() else returns_flat_file(rows, shop.order_id, shop.asin, shop.fn_sku,
                                                                 shop.title)
        job = self.reports.create(shop.handle, report_type, ids, start, end, now, content)
        return {"reportId": job.report_id}

    def get_report(self, shop: AmazonShop, view: None, request: Request) -> dict[str, Any]:
        return self.reports.poll(shop.handle, request.path_params["report_id"])

    def get_report_document(self, shop: AmazonShop, view: None, request: Request) -> dict[str, Any]:
        document_id = request.path_params["document_id"]
        self.reports.document(shop.handle, document_id)  # 404 unless it is this seller's
        base = str(request.base_url).rstrip("/")
        return {"reportDocumentId": document_id, "compressionAlgorithm": "GZIP",
                "url": f"{base}/amazon/report-documents/{document_id}?{signed_query(document_id)}"}

    async def download_document(self, request: Request) -> Response:
        """The pre-signed URL's answer: the GZIP bytes, or S3's XML AccessDenied / NoSuchKey."""
        document_id = request.path_params["document_id"]
        q = request.query_params
        refused = check_signature(document_id, q.get("X-Amz-Date"), q.get("X-Amz-Signature"))
        content = self.reports.download(document_id)
        if refused is None and content is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        if refused is not None:
            return _s3_error(403, "AccessDenied", refused)
        return Response(content, media_type="application/octet-stream",
                        headers={"x-amz-request-id": uuid.uuid4().hex[:16].upper()})

    async def _reports_control(self, request: Request) -> Response:
        """Test control: ``{"shop", "outcome": "DONE"|"FATAL", "polls": 2, "count": 1}``; DELETE clears plans."""
        if request.method == "DELETE":
            self.reports.clear_plans()
            return JSONResponse({"cleared": True})
        try:
            body = await request.json()
            if not isinstance(body, dict) or body.get("shop") not in self.shops:
                return JSONResponse({"error": f"unknown amazon shop {body.get('shop')!r}"}, status_code=404)
            plan = ReportPlan(outcome=str(body.get("outcome", "DONE")), polls=int(body.get("polls", 2)))
            self.reports.queue(body["shop"], plan, int(body.get("count", 1)))
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"queued": True})

    # --- helpers --------------------------------------------------------------------------------------------
    def _before(self, text: str | None, name: str) -> datetime:
        """A *Before parameter: at least two minutes before now (the sandbox clock); default now − 2 minutes."""
        latest = self.sandbox.clock - LATEST_BEFORE
        if text is None:
            return latest
        moment = _instant(text, name)
        if moment > latest:
            raise InvalidInput(f"{name} must be at least two minutes before the time of the request.")
        return moment


async def _form(request: Request) -> dict[str, str]:
    """The token request's fields: LWA takes application/x-www-form-urlencoded (and JSON)."""
    body = (await request.body()).decode("utf-8", "replace")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _s3_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


def _lwa_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _instant(text: str | None, name: str) -> datetime:
    if not text:
        raise InvalidInput(f"{name} is required.")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} {text!r} is not an ISO 8601 date.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _marketplace(shop: AmazonShop, value: str | None) -> None:
    ids = [m for m in (value or "").split(",") if m]
    if not ids:
        raise InvalidInput("MarketplaceIds is required.")
    if shop.marketplace_id not in ids or len(ids) > 1 and any(m != shop.marketplace_id for m in ids):
        raise InvalidInput(f"Invalid MarketplaceIds: the seller is not registered in {', '.join(ids)}.")


def _page_size(value: str | None, maximum: int) -> int:
    if value is None:
        return maximum
    try:
        size = int(value)
    except ValueError:
        raise InvalidInput(f"MaxResultsPerPage {value!r} is not a number.") from None
    if not 1 <= size <= maximum:
        raise InvalidInput(f"MaxResultsPerPage must be between 1 and {maximum}.")
    return size


def _token(operation: str, **state: Any) -> str:
    """An opaque page token carrying the query it continues (SP-API ignores other criteria with a NextToken)."""
    return base64.urlsafe_b64encode(json.dumps({"op": operation, **state}).encode()).decode()


def _untoken(token: str, operation: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError):
        raise InvalidInput("Invalid NextToken.") from None
    if not isinstance(state, dict) or state.get("op") != operation:
        raise InvalidInput("Invalid NextToken.")
    return state
