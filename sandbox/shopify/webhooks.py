"""Shopify webhooks, delivered: subscriptions per shop (REST Admin API), signed deliveries, retries, controls.

**Subscriptions** are made the real way, ``POST /<shop>/admin/api/<version>/webhooks.json`` with
``{"webhook": {"topic": "orders/create", "address": "...", "format": "json"}}`` (201 with the webhook; 422 with
Shopify's ``{"errors": {field: [...]}}`` for a blank or unknown topic, a blank or non-URL address, a non-JSON
format or a (topic, address) already taken), listed by ``GET webhooks.json`` (``?topic=&address=``), counted by
``GET webhooks/count.json``, read, changed and removed at ``webhooks/<id>.json`` (GET, PUT, DELETE). They need
the shop's access token, like every Admin API call.

**Events** come from the world as the sandbox clock moves forward (``POST /_sandbox/clock``): every online
order created in between gives ``orders/create`` and ``orders/paid``, every refund made in between gives
``refunds/create`` and ``orders/updated`` (the order as it is right after that refund). ``POST
/_sandbox/webhooks/deliver {"shop", "since"?}`` triggers a shop's events up to the clock on demand. Each event
goes to every subscription of its topic that exists when it is triggered.

**Deliveries** are POSTed by one background worker (never on an API request thread), with Shopify's headers:
``X-Shopify-Topic``, ``X-Shopify-Hmac-Sha256`` (base64 HMAC-SHA256 of the raw body, keyed with the app's
client secret), ``X-Shopify-Shop-Domain``, ``X-Shopify-API-Version``, ``X-Shopify-Webhook-Id`` (the delivery's
id, the same on every retry and redelivery), ``X-Shopify-Triggered-At`` (the wall-clock time the event was
triggered, unchanged on retries), ``X-Shopify-Event-Id`` (the same for every subscription of one event). The
body is the REST resource at the event's instant (``rest.py``), compact JSON. A delivery that is not answered
2xx within ``timeout_s`` is retried with exponential backoff — Shopify's 8 retries over 4 hours, compressed
here to seconds (``retry_delays_s``, settable by ``POST /_sandbox/webhooks/config``).

**The client secret** (the HMAC key) of a shop is ``channels: {shopify_webhooks: {client_secret: "..."}}`` in
the world spec, else a deterministic sandbox secret derived from the shop's handle and access token
(:func:`client_secret`; ``shpss_`` + 32 hex digits, the shape of a real one).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.shopify.api import INVALID_TOKEN
from sandbox.shopify.rest import RestOrders
from sandbox.world.spec import ShopSpec

if TYPE_CHECKING:
    from sandbox.server import Sandbox

log = logging.getLogger("sandbox.shopify.webhooks")

CHANNEL = "shopify_webhooks"
TOPICS = ("orders/create", "orders/paid", "orders/updated", "refunds/create")
EVENT_RANK = {"orders/create": 0, "orders/paid": 1, "refunds/create": 2, "orders/updated": 3}  # at one instant
ID_NAMESPACE = uuid.UUID("6f1d3a52-8f0e-4c59-9b7e-5e2c0a1d9b31")  # the sandbox's uuid5 namespace
FIRST_WEBHOOK_ID = 1_100_000_001
DEFAULT_RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # 8 retries, as Shopify (over 4 h there)
DEFAULT_TIMEOUT_S = 5.0  # Shopify gives an endpoint five seconds to answer
USER_AGENT = "Shopify-Captain-Hook"


class WebhookOptions(BaseModel):
    """A shop's ``channels: {shopify_webhooks: {...}}`` options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_secret: str | None = Field(default=None, min_length=16)  # the app's client secret (HMAC key)


def client_secret(shop: ShopSpec) -> str:
    """The HMAC key of ``shop``'s webhooks: its configured client secret, else the sandbox's derived one."""
    options = WebhookOptions.model_validate(shop.channels.get(CHANNEL) or {})
    if options.client_secret:
        return options.client_secret
    digest = hmac.new(b"omni-sandbox-webhooks", f"{shop.handle}:{shop.access_token}".encode(), hashlib.sha256)
    return "shpss_" + digest.hexdigest()[:32]


def sign(secret: str, body: bytes) -> str:
    """Shopify's ``X-Shopify-Hmac-Sha256``: base64 of HMAC-SHA256(body) keyed with the client secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _now() -> datetime:
    return datetime.now(UTC)


def _instant_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Subscription:
    id: int
    shop: str
    topic: str
    address: str
    api_version: str
    created_at: datetime
    updated_at: datetime
    format: str = "json"

    def rest(self, zone: Any) -> dict[str, Any]:
        return {"id": self.id, "address": self.address, "topic": self.topic,
                "created_at": self.created_at.astimezone(zone).isoformat(timespec="seconds"),
                "updated_at": self.updated_at.astimezone(zone).isoformat(timespec="seconds"),
                "format": self.format, "fields": [], "metafield_namespaces": [],
                "api_version": self.api_version, "private_metafield_namespaces": [],
                "admin_graphql_api_id": f"gid://shopify/WebhookSubscription/{self.id}"}


@dataclass(frozen=True)
class Event:
    """Something that happened in a shop: its topic, the resource (position in the shop's nodes) and when."""

    shop: str
    topic: str
    kind: str  # "order" or "refund": what ``position`` indexes
    position: int
    at: int  # world instant, epoch seconds

    def id(self, resource_id: int) -> str:
        return str(uuid.uuid5(ID_NAMESPACE, f"event/{self.shop}/{self.topic}/{resource_id}/{self.at}"))


@dataclass
class Attempt:
    at: str
    status: int | None
    error: str | None = None
    elapsed_ms: float = 0.0


@dataclass
class Delivery:
    """One message to one subscription's address, with every attempt made to deliver it."""

    id: str  # X-Shopify-Webhook-Id
    event_id: str
    shop: str
    topic: str
    address: str
    api_version: str
    subscription_id: int | None
    triggered_at: datetime
    body: bytes | None  # None until the worker first builds it (``build``), so no request thread pays for it
    hmac: str | None
    build: Callable[[], tuple[bytes, str]] | None = None
    retries: bool = True
    forged: str | None = None
    state: str = "pending"  # pending → delivered | failed
    attempts: list[Attempt] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                "X-Shopify-Topic": self.topic, "X-Shopify-Hmac-Sha256": self.hmac,
                "X-Shopify-Shop-Domain": f"{self.shop}.myshopify.com", "X-Shopify-API-Version": self.api_version,
                "X-Shopify-Webhook-Id": self.id, "X-Shopify-Triggered-At": _instant_text(self.triggered_at),
                "X-Shopify-Event-Id": self.event_id}

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "event_id": self.event_id, "shop": self.shop, "topic": self.topic,
                "address": self.address, "subscription_id": self.subscription_id, "state": self.state,
                "forged": self.forged, "triggered_at": _instant_text(self.triggered_at),
                "attempts": [a.__dict__ for a in self.attempts]}


class DeliveryWorker:
    """Sends deliveries from a queue ordered by due time, in its own thread; retries with backoff."""

    def __init__(self, retry_delays_s: tuple[float, ...] = DEFAULT_RETRY_DELAYS_S,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.retry_delays_s, self.timeout_s = tuple(retry_delays_s), timeout_s
        self._queue: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        self._busy = 0
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhook-delivery", daemon=True)
        self._thread.start()

    def submit(self, delivery: Delivery, delay_s: float = 0.0) -> None:
        with self._wake:
            heapq.heappush(self._queue, (time.monotonic() + delay_s, next(self._order), delivery))
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._queue) + self._busy

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout=self.timeout_s + 1)
        self._session.close()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._wake.wait(None if not self._queue else max(0.0, self._queue[0][0] - time.monotonic()))
                if self._closed:
                    return
                _, _, delivery = heapq.heappop(self._queue)
                self._busy += 1
            try:
                self._attempt(delivery)
            except Exception:  # a bug building one payload must not stop every later delivery
                log.exception("webhook %s %s could not be built", delivery.topic, delivery.id)
                delivery.state = "failed"
            finally:
                with self._wake:
                    self._busy -= 1

    def _attempt(self, delivery: Delivery) -> None:
        if delivery.body is None:
            delivery.body, delivery.hmac = delivery.build()
        started = time.perf_counter()
        attempt = Attempt(at=_instant_text(_now()), status=None)
        try:
            response = self._session.post(delivery.address, data=delivery.body, headers=delivery.headers(),
                                          timeout=self.timeout_s, allow_redirects=False)
            attempt.status = response.status_code
            response.close()
        except requests.RequestException as exc:
            attempt.error = type(exc).__name__
        attempt.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        delivery.attempts.append(attempt)
        if attempt.status is not None and 200 <= attempt.status < 300:
            delivery.state = "delivered"
        elif delivery.retries and len(delivery.attempts) <= len(self.retry_delays_s):
            delivery.state = "pending"
            self.submit(delivery, self.retry_delays_s[len(delivery.attempts) - 1])
        else:
            delivery.state = "failed"
        log.debug("webhook %s %s to %s: %s", delivery.topic, delivery.id, delivery.address,
                  attempt.status or attempt.error)


class ShopifyWebhooks:
    """Every shop's webhook subscriptions, the events the clock triggers and their deliveries."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        self.secrets = {s.handle: client_secret(s) for s in self.world.spec.shops}
        self.subscriptions: dict[str, list[Subscription]] = {h: [] for h in self.world.handles}
        self.deliveries: dict[str, Delivery] = {}
        self.triggered_through: dict[str, datetime] = {h: sandbox.clock for h in self.world.handles}
        self._ids = itertools.count(FIRST_WEBHOOK_ID)
        self._forged = itertools.count(1)
        self._rest: dict[str, RestOrders] = {}
        self._lock = threading.RLock()
        self.worker = DeliveryWorker()

    def close(self) -> None:
        self.worker.close()

    # -- the REST payloads of a shop (prepared once, on first use) --------------------------------------------
    def rest(self, shop: str) -> RestOrders:
        with self._lock:
            if shop not in self._rest:
                self._rest[shop] = RestOrders(self.world.shop(shop), self.sandbox.shopify.indexes[shop].nodes)
            return self._rest[shop]

    # -- events ---------------------------------------------------------------------------------------------
    def clock_moved(self, clock: datetime) -> int:
        """The sandbox clock is now ``clock``: trigger every shop's events since its last trigger (a clock
        moved back only rewinds: nothing is triggered). Returns the deliveries queued."""
        return sum(self.trigger(shop, until=clock) for shop in self.world.handles)

    def trigger(self, shop: str, *, until: datetime, since: datetime | None = None) -> int:
        """Queue a delivery per subscription for every event of ``shop`` in ``(since, until]`` (``since``
        defaults to the last instant triggered); the shop's trigger mark moves to ``until``."""
        with self._lock:
            start = since or self.triggered_through[shop]
            self.triggered_through[shop] = until
            subscriptions = list(self.subscriptions[shop])
        if until <= start or not subscriptions:
            return 0
        events = self.events(shop, int(start.timestamp()), int(until.timestamp()))
        triggered_at = _now()
        queued = 0
        for event in events:
            for subscription in subscriptions:
                if subscription.topic == event.topic:
                    self._queue(self._delivery(event, subscription, triggered_at))
                    queued += 1
        return queued

    def events(self, shop: str, start: int, stop: int) -> list[Event]:
        """The shop's events in ``(start, stop]`` (epoch seconds), in the order they happened."""
        rest = self.rest(shop)
        events = [Event(shop, topic, "order", i, int(rest.order_created[i]))
                  for i in rest.created_between(start, stop) for topic in ("orders/create", "orders/paid")]
        events += [Event(shop, topic, "refund", r, int(rest.refund_created[r]))
                   for r in rest.refunded_between(start, stop) for topic in ("refunds/create", "orders/updated")]
        return sorted(events, key=lambda e: (e.at, EVENT_RANK[e.topic], e.position))

    def payload(self, event: Event) -> tuple[int, dict[str, Any]]:
        """(resource id, REST body) of an event, as things stood right after it."""
        rest = self.rest(event.shop)
        if event.topic == "refunds/create":
            body = rest.refund(event.position)
            return body["id"], body
        order = event.position if event.kind == "order" else int(rest.nodes.refund_order[event.position])
        body = rest.order(order, event.at)
        return body["id"], body

    def resource_id(self, event: Event) -> int:
        nodes = self.rest(event.shop).nodes
        if event.topic == "refunds/create":
            return int(nodes.refund_ids[event.position])
        return int(nodes.order_ids[event.position if event.kind == "order" else nodes.refund_order[event.position]])

    def _delivery(self, event: Event, subscription: Subscription, triggered_at: datetime) -> Delivery:
        event_id = event.id(self.resource_id(event))
        webhook_id = str(uuid.uuid5(ID_NAMESPACE, f"delivery/{event_id}/{subscription.id}"))

        def build() -> tuple[bytes, str]:
            raw = json.dumps(self.payload(event)[1], separators=(",", ":"), ensure_ascii=False).encode()
            return raw, sign(self.secrets[event.shop], raw)

        return Delivery(webhook_id, event_id, event.shop, event.topic, subscription.address,
                        subscription.api_version, subscription.id, triggered_at, None, None, build)

    def _queue(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries[delivery.id] = delivery
        self.worker.submit(delivery)

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send a delivery again, unchanged (same webhook id, body, signature and triggered-at)."""
        with self._lock:
            delivery = self.deliveries[delivery_id]
            delivery.state = "pending"
        self.worker.submit(delivery)
        return delivery

    def forge(self, shop: str, kind: str, *, address: str | None = None, stale_s: float = 600.0,
              topic: str = "orders/create") -> Delivery:
        """A delivery for tests that a receiver must refuse: ``bad_hmac`` (signed with another key) or
        ``stale`` (correctly signed, triggered ``stale_s`` ago). Sent once, never retried."""
        if kind not in ("bad_hmac", "stale"):
            raise ValueError(f"unknown forgery {kind!r}; known: bad_hmac, stale")
        with self._lock:
            subscriptions = [s for s in self.subscriptions[shop] if s.topic == topic]
        if address is None:
            if not subscriptions:
                raise ValueError(f"shop {shop!r} has no {topic} subscription and no address was given")
            address = subscriptions[0].address
        rest = self.rest(shop)
        at = int(min(self.sandbox.clock, self.world.spec.end).timestamp())
        latest = rest.latest_created(at)
        if latest is None:
            raise ValueError(f"shop {shop!r} has no order yet at the clock")
        body = json.dumps(rest.order(latest, at), separators=(",", ":")).encode()
        number = next(self._forged)
        triggered_at = _now() - timedelta(seconds=stale_s if kind == "stale" else 0)
        key = "not-the-client-secret" if kind == "bad_hmac" else self.secrets[shop]
        delivery = Delivery(str(uuid.uuid5(ID_NAMESPACE, f"forged/{shop}/{number}")),
                            str(uuid.uuid5(ID_NAMESPACE, f"forged-event/{shop}/{number}")), shop, topic, address,
                            subscriptions[0].api_version if subscriptions else "2025-01",
                            subscriptions[0].id if subscriptions else None, triggered_at, body, sign(key, body),
                            retries=False, forged=kind)
        self._queue(delivery)
        return delivery

    # -- subscriptions --------------------------------------------------------------------------------------
    def create(self, shop: str, version: str, spec: dict[str, Any]) -> tuple[Subscription | None, dict]:
        """A new subscription, or Shopify's validation errors (``{field: [messages]}``)."""
        topic, address = str(spec.get("topic") or ""), str(spec.get("address") or "")
        errors = self._validate(shop, topic, address, spec.get("format", "json"))
        if errors:
            return None, errors
        now = _now()
        with self._lock:
            subscription = Subscription(next(self._ids), shop, topic, address, version, now, now)
            self.subscriptions[shop].append(subscription)
        return subscription, {}

    def update(self, shop: str, subscription: Subscription, spec: dict[str, Any]) -> dict:
        address = str(spec.get("address") or subscription.address)
        errors = self._validate(shop, subscription.topic, address, spec.get("format", subscription.format),
                                ignore=subscription.id)
        if not errors:
            with self._lock:
                subscription.address, subscription.updated_at = address, _now()
        return errors

    def find(self, shop: str, webhook_id: int) -> Subscription | None:
        with self._lock:
            return next((s for s in self.subscriptions[shop] if s.id == webhook_id), None)

    def delete(self, shop: str, webhook_id: int) -> bool:
        with self._lock:
            before = len(self.subscriptions[shop])
            self.subscriptions[shop] = [s for s in self.subscriptions[shop] if s.id != webhook_id]
            return len(self.subscriptions[shop]) < before

    def _validate(self, shop: str, topic: str, address: str, fmt: Any, ignore: int | None = None) -> dict:
        errors: dict[str, list[str]] = {}
        if not topic:
            errors.setdefault("topic", []).append("can't be blank")
        elif topic not in TOPICS:
            errors.setdefault("topic", []).append(
                f"Invalid topic specified: {topic}. Does it exist? Is there a missing access scope? "
                f"Topics allowed: {', '.join(TOPICS)}")
        if not address:
            errors.setdefault("address", []).append("can't be blank")
        else:
            parts = urlsplit(address)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.setdefault("address", []).append("is not a valid URL")
        if fmt != "json":
            errors.setdefault("format", []).append("is not included in the list")
        with self._lock:
            taken = any(s.topic == topic and s.address == address and s.id != ignore
                        for s in self.subscriptions[shop])
        if taken and not errors:
            errors["address"] = ["for this topic has already been taken"]
        return errors

    # -- HTTP -----------------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        prefix = "/{shop}/admin/api/{version}"
        return [
            Route(f"{prefix}/webhooks.json", self._collection, methods=["GET", "POST"]),
            Route(f"{prefix}/webhooks/count.json", self._count, methods=["GET"]),
            Route(prefix + "/webhooks/{webhook_id:int}.json", self._member, methods=["GET", "PUT", "DELETE"]),
            Route("/_sandbox/webhooks/deliver", self._deliver, methods=["POST"]),
            Route("/_sandbox/webhooks/redeliver", self._redeliver, methods=["POST"]),
            Route("/_sandbox/webhooks/forge", self._forge, methods=["POST"]),
            Route("/_sandbox/webhooks/config", self._config, methods=["POST"]),
            Route("/_sandbox/webhooks/deliveries", self._deliveries, methods=["GET"]),
        ]

    def _zone(self, shop: str) -> ZoneInfo:
        return ZoneInfo(self.world.spec.shop(shop).timezone)

    def _refused(self, request: Request) -> Response | None:
        """Shopify's answer to an unknown shop or API version (404) or a wrong access token (401)."""
        from sandbox.server import API_VERSION

        shop = request.path_params["shop"]
        if shop not in self.subscriptions or not API_VERSION.fullmatch(request.path_params["version"]):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if not self.sandbox.shopify.authorized(shop, request.headers.get("x-shopify-access-token")):
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
        return None

    async def _collection(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        shop, version = request.path_params["shop"], request.path_params["version"]
        if request.method == "GET":
            query = request.query_params
            with self._lock:
                found = [s for s in self.subscriptions[shop]
                         if query.get("topic", s.topic) == s.topic and query.get("address", s.address) == s.address]
            limit = min(int(query.get("limit", 50) or 50), 250)
            return JSONResponse({"webhooks": [s.rest(self._zone(shop)) for s in found[:limit]]})
        spec = await _webhook_body(request)
        if spec is None:
            return JSONResponse({"errors": {"webhook": "Required parameter missing or invalid"}}, status_code=400)
        subscription, errors = self.create(shop, version, spec)
        if errors:
            return JSONResponse({"errors": errors}, status_code=422)
        return JSONResponse({"webhook": subscription.rest(self._zone(shop))}, status_code=201)

    async def _count(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        shop = request.path_params["shop"]
        topic = request.query_params.get("topic")
        with self._lock:
            count = sum(1 for s in self.subscriptions[shop] if topic in (None, s.topic))
        return JSONResponse({"count": count})

    async def _member(self, request: Request) -> Response:
        if (refused := self._refused(request)) is not None:
            return refused
        shop, webhook_id = request.path_params["shop"], request.path_params["webhook_id"]
        subscription = self.find(shop, webhook_id)
        if subscription is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if request.method == "DELETE":
            self.delete(shop, webhook_id)
            return JSONResponse({})
        if request.method == "PUT":
            spec = await _webhook_body(request)
            if spec is None:
                return JSONResponse({"errors": {"webhook": "Required parameter missing or invalid"}},
                                    status_code=400)
            errors = self.update(shop, subscription, spec)
            if errors:
                return JSONResponse({"errors": errors}, status_code=422)
        return JSONResponse({"webhook": subscription.rest(self._zone(shop))})

    async def _deliver(self, request: Request) -> Response:
        body = await _json(request)
        shop = body.get("shop")
        if shop not in self.subscriptions:
            return JSONResponse({"error": f"unknown shop {shop!r}"}, status_code=404)
        try:
            since = _instant(body["since"]) if body.get("since") else None
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        queued = await run_in_threadpool(lambda: self.trigger(shop, until=self.sandbox.clock, since=since))
        return JSONResponse({"shop": shop, "queued": queued, "through": self.sandbox.clock.isoformat()})

    async def _redeliver(self, request: Request) -> Response:
        body = await _json(request)
        try:
            delivery = self.redeliver(str(body.get("delivery_id")))
        except KeyError:
            return JSONResponse({"error": f"unknown delivery {body.get('delivery_id')!r}"}, status_code=404)
        return JSONResponse({"queued": delivery.id})

    async def _forge(self, request: Request) -> Response:
        body = await _json(request)
        shop = body.get("shop")
        if shop not in self.subscriptions:
            return JSONResponse({"error": f"unknown shop {shop!r}"}, status_code=404)
        try:
            delivery = await run_in_threadpool(
                lambda: self.forge(shop, str(body.get("kind")), address=body.get("address"),
                                   stale_s=float(body.get("stale_s", 600)), topic=body.get("topic", "orders/create")))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"queued": delivery.id})

    async def _config(self, request: Request) -> Response:
        body = await _json(request)
        try:
            if "retry_delays_s" in body:
                delays = tuple(float(d) for d in body["retry_delays_s"])
                if any(d < 0 for d in delays):
                    raise ValueError("retry delays must be ≥ 0")
                self.worker.retry_delays_s = delays
            if "timeout_s" in body:
                timeout = float(body["timeout_s"])
                if timeout <= 0:
                    raise ValueError("timeout_s must be > 0")
                self.worker.timeout_s = timeout
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"retry_delays_s": list(self.worker.retry_delays_s), "timeout_s": self.worker.timeout_s})

    async def _deliveries(self, request: Request) -> Response:
        shop = request.query_params.get("shop")
        with self._lock:
            found = [d.summary() for d in self.deliveries.values() if shop in (None, d.shop)]
        return JSONResponse({"deliveries": found, "in_queue": self.worker.pending()})


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _webhook_body(request: Request) -> dict[str, Any] | None:
    spec = (await _json(request)).get("webhook")
    return spec if isinstance(spec, dict) else None


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
