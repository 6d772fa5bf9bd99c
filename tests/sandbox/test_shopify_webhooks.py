"""The Shopify twin's webhooks over real HTTP: subscriptions through the REST Admin API, signed deliveries of
every order and refund the clock passes (checked against the world frames), retries with the same webhook
id, redelivery, forged deliveries, and a delivery worker that never blocks the API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.shopify.webhooks import client_secret
from sandbox.world import ShopSpec, WorldSpec, build_world

SHOP, OTHER = "hookshop", "plainshop"
TOKEN = "shpat_sandbox_hookshop"
SECRET = "shpss_configured_secret_of_hookshop"
T0, T1 = datetime(2025, 2, 10, tzinfo=UTC), datetime(2025, 2, 25, tzinfo=UTC)
SPEC = WorldSpec(seed=21, start_date=date(2025, 1, 1), days=60, shops=[
    ShopSpec(handle=SHOP, name="Hook Shop", currency="USD", timezone="America/New_York", access_token=TOKEN,
             orders_per_day=6, n_products=10, presentment_currencies=["CAD"],
             channels={"shopify_webhooks": {"client_secret": SECRET}}),
    ShopSpec(handle=OTHER, name="Plain Shop", currency="EUR", timezone="Europe/Berlin",
             access_token="shpat_sandbox_plainshop", orders_per_day=3, n_products=6),
])


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class WebhookRecorder:
    """A real HTTP endpoint recording every webhook (raw body, headers); it can refuse the first ``fail_first``
    attempts of each webhook id with a 500, and hold requests until ``release()``."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[Received] = []
        self.attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder._released.wait(timeout=30)
                webhook_id = self.headers.get("X-Shopify-Webhook-Id", "")
                with recorder._lock:
                    recorder.attempts[webhook_id] += 1
                    status = 500 if recorder.attempts[webhook_id] <= recorder.fail_first else 200
                    recorder.received.append(Received(self.path, dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks"

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.status == 200]

    def wait_for(self, count: int, timeout_s: float = 20.0) -> list[Received]:
        """Poll (bounded) until ``count`` deliveries were accepted; fail with what came otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            accepted = self.accepted()
            if len(accepted) >= count:
                return accepted
            time.sleep(0.02)
        raise AssertionError(f"{len(self.accepted())} of {count} webhooks accepted within {timeout_s}s")

    def __enter__(self) -> WebhookRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


def verify(secret: str, body: bytes, header: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, header)


@pytest.fixture(scope="module")
def world():
    return build_world(SPEC)


@pytest.fixture
def server():
    with SandboxServer(SPEC, port=0) as running:
        requests.post(f"{running.base_url}/_sandbox/webhooks/config",
                      json={"retry_delays_s": [0.05, 0.1, 0.2], "timeout_s": 5}, timeout=5).raise_for_status()
        yield running


@pytest.fixture
def recorder():
    with WebhookRecorder() as running:
        yield running


def admin(server, shop: str = SHOP, token: str = TOKEN) -> tuple[str, dict[str, str]]:
    return f"{server.shop_url(shop)}/admin/api/2025-01", {"X-Shopify-Access-Token": token}


def subscribe(server, topic: str, address: str, shop: str = SHOP, token: str = TOKEN) -> requests.Response:
    base, headers = admin(server, shop, token)
    return requests.post(f"{base}/webhooks.json", headers=headers, timeout=5,
                         json={"webhook": {"topic": topic, "address": address, "format": "json"}})


def clock(server, moment: datetime) -> dict:
    response = requests.post(f"{server.base_url}/_sandbox/clock", json={"as_of": moment.isoformat()}, timeout=10)
    response.raise_for_status()
    return response.json()


def deliveries(server, shop: str = SHOP) -> list[dict]:
    return requests.get(f"{server.base_url}/_sandbox/webhooks/deliveries", params={"shop": shop},
                        timeout=5).json()["deliveries"]


def expected_events(world, start: datetime, stop: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Ground truth: the online orders created and the refunds made in (start, stop]."""
    shop = world.shop(SHOP)
    orders = shop.channel("online_store").filter(pl.col("created_at") > start, pl.col("created_at") <= stop)
    refunds = shop.refunds.filter(pl.col("created_at") > start, pl.col("created_at") <= stop)
    return orders, refunds


def cents(text: str) -> int:
    whole, _, fraction = text.partition(".")
    return int(whole) * 100 + int(fraction)


def test_subscriptions_follow_the_rest_admin_contract(server):
    base, headers = admin(server)
    created = subscribe(server, "orders/create", "https://hooks.example.com/orders")
    assert created.status_code == 201
    webhook = created.json()["webhook"]
    assert {"id", "address", "topic", "created_at", "updated_at", "format", "fields", "metafield_namespaces",
            "api_version"} <= webhook.keys()
    assert (webhook["topic"], webhook["format"], webhook["api_version"]) == ("orders/create", "json", "2025-01")
    assert webhook["created_at"].endswith(("-05:00", "-04:00"))  # the shop's time zone, like every REST time

    taken = subscribe(server, "orders/create", "https://hooks.example.com/orders")
    assert taken.status_code == 422
    assert taken.json() == {"errors": {"address": ["for this topic has already been taken"]}}
    unknown = subscribe(server, "orders/destroy", "https://hooks.example.com/orders")
    assert unknown.status_code == 422 and unknown.json()["errors"]["topic"][0].startswith("Invalid topic specified")
    blank = requests.post(f"{base}/webhooks.json", headers=headers, json={"webhook": {}}, timeout=5)
    assert blank.status_code == 422 and set(blank.json()["errors"]) == {"topic", "address"}
    assert subscribe(server, "orders/create", "x", token="shpat_wrong").status_code == 401
    assert subscribe(server, "orders/create", "https://a.example.com", shop="noshop").status_code == 404

    assert subscribe(server, "refunds/create", "https://hooks.example.com/refunds").status_code == 201
    listed = requests.get(f"{base}/webhooks.json", headers=headers, timeout=5).json()["webhooks"]
    assert [w["topic"] for w in listed] == ["orders/create", "refunds/create"]
    only = requests.get(f"{base}/webhooks.json", params={"topic": "refunds/create"}, headers=headers, timeout=5)
    assert [w["address"] for w in only.json()["webhooks"]] == ["https://hooks.example.com/refunds"]
    moved = requests.put(f"{base}/webhooks/{webhook['id']}.json", headers=headers, timeout=5,
                         json={"webhook": {"address": "https://hooks.example.com/v2"}})
    assert moved.status_code == 200 and moved.json()["webhook"]["address"] == "https://hooks.example.com/v2"
    assert requests.delete(f"{base}/webhooks/{webhook['id']}.json", headers=headers, timeout=5).status_code == 200
    assert requests.get(f"{base}/webhooks/count.json", headers=headers, timeout=5).json() == {"count": 1}
    assert requests.get(f"{base}/webhooks/{webhook['id']}.json", headers=headers, timeout=5).status_code == 404
    # the other shop's subscriptions are its own
    other_base, other_headers = admin(server, OTHER, "shpat_sandbox_plainshop")
    assert requests.get(f"{other_base}/webhooks.json", headers=other_headers, timeout=5).json() == {"webhooks": []}


def test_moving_the_clock_delivers_every_order_and_refund_signed(server, recorder, world):
    clock(server, T0)  # back in time: nothing to deliver, the trigger mark follows
    for topic in ("orders/create", "orders/paid", "orders/updated", "refunds/create"):
        assert subscribe(server, topic, recorder.url).status_code == 201
    assert subscribe(server, "orders/create", recorder.url + "/second").status_code == 201
    orders, refunds = expected_events(world, T0, T1)
    assert orders.height >= 10 and refunds.height >= 2, "the window must hold real traffic"

    queued = clock(server, T1)["webhooks_queued"]
    assert queued == 3 * orders.height + 2 * refunds.height
    got = recorder.wait_for(queued)
    assert len(got) == queued  # no retries were needed, nothing extra

    by_topic: dict[str, list] = {}
    for item in got:
        headers = item.headers
        assert verify(SECRET, item.body, headers["X-Shopify-Hmac-Sha256"])
        assert headers["X-Shopify-Shop-Domain"] == f"{SHOP}.myshopify.com"
        assert headers["X-Shopify-API-Version"] == "2025-01"
        triggered = datetime.fromisoformat(headers["X-Shopify-Triggered-At"].replace("Z", "+00:00"))
        assert abs((datetime.now(UTC) - triggered).total_seconds()) < 60
        by_topic.setdefault(headers["X-Shopify-Topic"], []).append(item)
    assert len({i.headers["X-Shopify-Webhook-Id"] for i in got}) == queued

    created = [json.loads(i.body) for i in by_topic["orders/create"] if i.path == "/hooks"]
    assert sorted(o["id"] for o in created) == sorted(orders["order_id"].to_list())
    assert sum(cents(o["total_price"]) for o in created) == orders["total_cents"].sum()
    assert sum(cents(o["total_discounts"]) for o in created) == orders["discount_cents"].sum()
    assert all(o["refunds"] == [] and o["financial_status"] == "paid" for o in created)
    sample = created[0]
    assert sample["admin_graphql_api_id"] == f"gid://shopify/Order/{sample['id']}"
    assert {"name", "created_at", "updated_at", "currency", "line_items", "total_price_set"} <= sample.keys()
    line_total = sum(cents(li["price"]) * li["quantity"] - cents(li["total_discount"]) for li in sample["line_items"])
    assert line_total == cents(sample["subtotal_price"])  # Shopify's subtotal is after discounts
    # one event to two subscriptions: one event id, two webhook ids
    second = {i.headers["X-Shopify-Event-Id"] for i in by_topic["orders/create"] if i.path == "/hooks/second"}
    first = {i.headers["X-Shopify-Event-Id"] for i in by_topic["orders/create"] if i.path == "/hooks"}
    assert first == second and len(first) == orders.height

    refund_bodies = [json.loads(i.body) for i in by_topic["refunds/create"]]
    assert sorted(r["id"] for r in refund_bodies) == sorted(refunds["refund_id"].to_list())
    refund_lines = world.shop(SHOP).refund_lines.filter(pl.col("refund_id").is_in(refunds["refund_id"].implode()))
    assert sum(cents(li["subtotal"]) + cents(li["total_tax"]) for r in refund_bodies
               for li in r["refund_line_items"]) == (refund_lines["subtotal_cents"] + refund_lines["tax_cents"]).sum()
    updated = [json.loads(i.body) for i in by_topic["orders/updated"]]
    assert sorted(o["id"] for o in updated) == sorted(refunds["order_id"].to_list())
    assert all(o["financial_status"] in ("partially_refunded", "refunded") for o in updated)
    assert all(any(r["id"] in set(refunds["refund_id"].to_list()) for r in o["refunds"]) for o in updated)


def test_the_default_client_secret_is_derived_and_deliver_control_replays_a_window(server, recorder, world):
    secret = client_secret(SPEC.shop(OTHER))
    assert secret.startswith("shpss_") and len(secret) == 38 and secret == client_secret(SPEC.shop(OTHER))
    clock(server, T1)
    assert subscribe(server, "orders/create", recorder.url, OTHER, "shpat_sandbox_plainshop").status_code == 201
    answer = requests.post(f"{server.base_url}/_sandbox/webhooks/deliver",
                           json={"shop": OTHER, "since": T0.isoformat()}, timeout=5).json()
    shop = world.shop(OTHER).channel("online_store")
    expected = shop.filter(pl.col("created_at") > T0, pl.col("created_at") <= T1)
    assert answer["queued"] == expected.height > 0
    got = recorder.wait_for(expected.height)
    assert all(verify(secret, i.body, i.headers["X-Shopify-Hmac-Sha256"]) for i in got)
    assert not any(verify(SECRET, i.body, i.headers["X-Shopify-Hmac-Sha256"]) for i in got)
    assert all(json.loads(i.body)["created_at"].endswith("+01:00") for i in got)  # Berlin in winter


def test_a_refused_delivery_is_retried_with_the_same_webhook_id(server, world):
    with WebhookRecorder(fail_first=2) as flaky:
        clock(server, T0)
        subscribe(server, "orders/create", flaky.url)
        queued = clock(server, T0 + timedelta(days=1))["webhooks_queued"]
        assert queued > 0
        flaky.wait_for(queued)
        attempts = Counter(r.headers["X-Shopify-Webhook-Id"] for r in flaky.received)
        assert set(attempts.values()) == {3}
        for webhook_id in attempts:
            copies = [r for r in flaky.received if r.headers["X-Shopify-Webhook-Id"] == webhook_id]
            assert len({(r.body, r.headers["X-Shopify-Hmac-Sha256"], r.headers["X-Shopify-Triggered-At"])
                        for r in copies}) == 1
        deadline = time.monotonic() + 5
        while any(d["state"] != "delivered" for d in deliveries(server)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert {tuple(a["status"] for a in d["attempts"]) for d in deliveries(server)} == {(500, 500, 200)}


def test_an_endpoint_that_never_answers_gives_up_after_the_retries(server):
    requests.post(f"{server.base_url}/_sandbox/webhooks/config", json={"retry_delays_s": [0.01, 0.01]}, timeout=5)
    clock(server, T0)
    subscribe(server, "orders/create", "http://127.0.0.1:9/closed")  # discard port: connection refused
    assert clock(server, T0 + timedelta(days=1))["webhooks_queued"] > 0
    deadline = time.monotonic() + 10
    while any(d["state"] == "pending" for d in deliveries(server)) and time.monotonic() < deadline:
        time.sleep(0.02)
    found = deliveries(server)
    assert found and all(d["state"] == "failed" and len(d["attempts"]) == 3 for d in found)


def test_redelivery_keeps_the_id_and_forgeries_are_what_they_claim(server, recorder):
    clock(server, T0)
    subscribe(server, "orders/create", recorder.url)
    queued = clock(server, T0 + timedelta(hours=12))["webhooks_queued"]
    first = recorder.wait_for(queued)[0]
    webhook_id = first.headers["X-Shopify-Webhook-Id"]
    requests.post(f"{server.base_url}/_sandbox/webhooks/redeliver", json={"delivery_id": webhook_id},
                  timeout=5).raise_for_status()
    again = recorder.wait_for(queued + 1)[-1]
    assert again.headers["X-Shopify-Webhook-Id"] == webhook_id and again.body == first.body
    assert again.headers["X-Shopify-Hmac-Sha256"] == first.headers["X-Shopify-Hmac-Sha256"]

    for kind in ("bad_hmac", "stale"):
        requests.post(f"{server.base_url}/_sandbox/webhooks/forge", json={"shop": SHOP, "kind": kind},
                      timeout=5).raise_for_status()
    bad, stale = recorder.wait_for(queued + 3)[-2:]
    assert not verify(SECRET, bad.body, bad.headers["X-Shopify-Hmac-Sha256"])
    assert verify(SECRET, stale.body, stale.headers["X-Shopify-Hmac-Sha256"])
    age = datetime.now(UTC) - datetime.fromisoformat(stale.headers["X-Shopify-Triggered-At"].replace("Z", "+00:00"))
    assert timedelta(seconds=590) < age < timedelta(seconds=660)
    assert requests.post(f"{server.base_url}/_sandbox/webhooks/forge", json={"shop": SHOP, "kind": "nonsense"},
                         timeout=5).status_code == 400


def test_deliveries_never_block_the_api(server, recorder):
    recorder.hold()  # the endpoint accepts connections but answers nothing until released
    clock(server, T0)
    subscribe(server, "orders/create", recorder.url)
    started = time.monotonic()
    assert clock(server, T0 + timedelta(days=2))["webhooks_queued"] > 1
    query = {"query": "{ orders(first: 5) { nodes { id } } }"}
    answer = requests.post(f"{server.shop_url(SHOP)}/admin/api/2025-01/graphql.json", json=query,
                           headers={"X-Shopify-Access-Token": TOKEN}, timeout=5)
    assert answer.status_code == 200 and len(answer.json()["data"]["orders"]["nodes"]) == 5
    assert time.monotonic() - started < 2.0  # while the worker is stuck on the held delivery
    assert requests.get(f"{server.base_url}/_sandbox/webhooks/deliveries", timeout=5).json()["in_queue"] > 1
    recorder.release()
    recorder.wait_for(2)
