"""The webhook receiver over real HTTP, fed by the sandbox's real deliveries: forged and stale deliveries are
refused with one log line, a replay lands once, tenants never see each other's events; and the spool's
durability (exclusive claim, crash recovery, retention) on its own."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
import requests
import yaml

from orchestration.tenants import load_registry
from orchestration.webhooks.server import ReceiverServer
from orchestration.webhooks.spool import Spool
from orchestration.webhooks.subscribe import TOPICS, subscribe_all
from orchestration.webhooks.verify import shop_domain, signature, staleness, triggered_at
from sandbox.server import SandboxServer
from sandbox.shopify.webhooks import client_secret
from sandbox.world import ShopSpec, WorldSpec, build_world

A, B = "alpha", "bravo"
T0 = datetime(2025, 1, 20, tzinfo=UTC)
SPEC = WorldSpec(seed=5, start_date=date(2025, 1, 1), days=30, shops=[
    ShopSpec(handle=A, name="Alpha", currency="USD", timezone="America/Chicago", access_token="shpat_alpha",
             orders_per_day=5, n_products=6,
             channels={"shopify_webhooks": {"client_secret": "shpss_alpha_secret_0001"}}),
    ShopSpec(handle=B, name="Bravo", currency="GBP", timezone="Europe/London", access_token="shpat_bravo",
             orders_per_day=4, n_products=6),
])
ENV = {A: "ALPHA_SHOPIFY_WEBHOOK_SECRET", B: "BRAVO_SHOPIFY_WEBHOOK_SECRET"}


@pytest.fixture(scope="module")
def world():
    return build_world(SPEC)


@pytest.fixture
def sandbox():
    with SandboxServer(SPEC, port=0) as server:
        requests.post(f"{server.base_url}/_sandbox/webhooks/config", json={"retry_delays_s": []},
                      timeout=5).raise_for_status()  # one attempt each: the test reads every outcome
        yield server


@pytest.fixture
def receiver(sandbox, tmp_path, monkeypatch):
    tenants = [{"slug": slug, "display_name": slug.title(), "currency": "USD", "timezone": "UTC",
                "sources": {"shopify": {"shop_url": sandbox.shop_url(slug),
                                        "secrets": {"access_token": f"{slug.upper()}_SHOPIFY_TOKEN",
                                                    "webhook_secret": ENV[slug]}}}} for slug in (A, B)]
    tenants.append({"slug": "nohooks", "display_name": "No Hooks", "currency": "USD", "timezone": "UTC",
                    "sources": {"shopify": {"shop_url": "https://nohooks.myshopify.com",
                                            "secrets": {"access_token": "NOHOOKS_SHOPIFY_TOKEN"}}}})
    registry_file = tmp_path / "tenants.yaml"
    registry_file.write_text(yaml.safe_dump({"tenants": tenants}))
    for slug in (A, B):
        monkeypatch.setenv(ENV[slug], client_secret(SPEC.shop(slug)))
    with ReceiverServer(load_registry(registry_file), Spool(tmp_path / "webhooks"), port=0) as server:
        yield server


def control(sandbox, name: str, **body) -> dict:
    response = requests.post(f"{sandbox.base_url}/_sandbox/webhooks/{name}", json=body, timeout=5)
    response.raise_for_status()
    return response.json()


def subscribe(sandbox, shop: str, address: str, topic: str = "orders/create") -> None:
    response = requests.post(f"{sandbox.shop_url(shop)}/admin/api/2025-01/webhooks.json", timeout=5,
                             headers={"X-Shopify-Access-Token": SPEC.shop(shop).access_token},
                             json={"webhook": {"topic": topic, "address": address, "format": "json"}})
    assert response.status_code == 201, response.text


def move_clock(sandbox, moment: datetime) -> int:
    response = requests.post(f"{sandbox.base_url}/_sandbox/clock", json={"as_of": moment.isoformat()}, timeout=5)
    return response.json()["webhooks_queued"]


def settled(sandbox, shop: str, count: int, timeout_s: float = 15.0) -> list[dict]:
    """The shop's deliveries once ``count`` of them have finished (bounded poll)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = requests.get(f"{sandbox.base_url}/_sandbox/webhooks/deliveries", params={"shop": shop},
                             timeout=5).json()["deliveries"]
        done = [d for d in found if d["state"] != "pending"]
        if len(done) >= count:
            return done
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} deliveries of {shop} finished within {timeout_s}s")


def statuses(delivery: dict) -> list[int | None]:
    return [a["status"] for a in delivery["attempts"]]


def rejections(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "orchestration.webhooks" and r.levelno == logging.WARNING]


def test_real_deliveries_land_once_per_tenant_and_a_replay_lands_nothing(sandbox, receiver, world, tmp_path):
    move_clock(sandbox, T0)
    subscribe(sandbox, A, receiver.url(A))
    subscribe(sandbox, A, receiver.url(A), "refunds/create")
    subscribe(sandbox, B, receiver.url(B))
    until = T0 + timedelta(days=3)
    queued = move_clock(sandbox, until)
    orders = {s: world.shop(s).channel("online_store").filter(pl.col("created_at") > T0,
                                                              pl.col("created_at") <= until).height for s in (A, B)}
    refunds = world.shop(A).refunds.filter(pl.col("created_at") > T0, pl.col("created_at") <= until).height
    assert queued == orders[A] + refunds + orders[B] and orders[A] > 5 and orders[B] > 5
    done = settled(sandbox, A, orders[A] + refunds) + settled(sandbox, B, orders[B])
    assert {tuple(statuses(d)) for d in done} == {(200,)}

    spool = Spool(tmp_path / "webhooks")
    landed = {s: spool.tenant(s).entries() for s in (A, B)}
    assert len(landed[A]) == orders[A] + refunds and len(landed[B]) == orders[B]
    assert {e.webhook_id for e in landed[A]} == {d["id"] for d in done if d["shop"] == A}
    record = landed[B][0].read()
    assert record["topic"] == "orders/create" and record["shop_domain"] == f"{B}.myshopify.com"
    assert signature(client_secret(SPEC.shop(B)), record["body"].encode()) == record["hmac"]  # kept verbatim
    assert '"currency":"GBP"' in record["body"]

    # a replay: the same webhook id again is answered 200 and lands nothing
    replayed = landed[A][0].webhook_id
    control(sandbox, "redeliver", delivery_id=replayed)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        again = next(d for d in settled(sandbox, A, orders[A] + refunds) if d["id"] == replayed)
        if len(again["attempts"]) == 2:
            break
        time.sleep(0.02)
    assert statuses(again) == [200, 200]
    assert spool.tenant(A).entries() == landed[A]


def test_a_forged_signature_is_refused_with_one_log_line(sandbox, receiver, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="orchestration.webhooks")
    move_clock(sandbox, T0)
    subscribe(sandbox, A, receiver.url(A))
    forged = control(sandbox, "forge", shop=A, kind="bad_hmac")["queued"]
    (delivery,) = settled(sandbox, A, 1)
    assert statuses(delivery) == [401]
    assert Spool(tmp_path / "webhooks").tenant(A).entries() == []
    (line,) = rejections(caplog)
    assert line == (f"shopify webhook rejected: tenant={A} topic=orders/create webhook_id={forged} "
                    "reason=HMAC signature does not match the raw body under this tenant's secret")
    secret = os.environ[ENV[A]]
    assert all(secret not in r.getMessage() and '"line_items"' not in r.getMessage() for r in caplog.records)


def test_a_stale_delivery_is_refused(sandbox, receiver, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="orchestration.webhooks")
    move_clock(sandbox, T0)
    subscribe(sandbox, B, receiver.url(B))
    forged = control(sandbox, "forge", shop=B, kind="stale", stale_s=900)["queued"]
    (delivery,) = settled(sandbox, B, 1)
    assert statuses(delivery) == [400]
    assert Spool(tmp_path / "webhooks").tenant(B).entries() == []
    (line,) = rejections(caplog)
    assert line.startswith(f"shopify webhook rejected: tenant={B} topic=orders/create webhook_id={forged} "
                           "reason=stale: triggered 9")
    assert line.endswith("s ago, older than the 300s window")


def test_a_tenant_never_receives_another_tenants_delivery(sandbox, receiver, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="orchestration.webhooks")
    move_clock(sandbox, T0)
    subscribe(sandbox, A, receiver.url(B))  # alpha's deliveries, signed with alpha's secret, to bravo's path
    queued = move_clock(sandbox, T0 + timedelta(days=1))
    assert queued > 0
    assert {tuple(statuses(d)) for d in settled(sandbox, A, queued)} == {(401,)}
    spool = Spool(tmp_path / "webhooks")
    assert spool.tenant(A).entries() == [] and spool.tenant(B).entries() == []
    assert len(rejections(caplog)) == queued and all(f"tenant={B} " in line for line in rejections(caplog))


def test_every_other_refusal_names_its_reason(receiver, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="orchestration.webhooks")
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "abc"}
    for tenant in ("nohooks", "unknown"):
        assert requests.post(receiver.url(tenant), data=b"{}", headers=headers, timeout=5).status_code == 404
    monkeypatch.delenv(ENV[A])
    answer = requests.post(receiver.url(A), data=b"{}", headers=headers, timeout=5)
    assert answer.status_code == 503 and ENV[A] in answer.json()["error"]
    monkeypatch.setenv(ENV[A], "shpss_alpha_secret_0001")
    body = b'{"id":1}'
    signed = {**headers, "X-Shopify-Hmac-Sha256": signature("shpss_alpha_secret_0001", body),
              "X-Shopify-Shop-Domain": f"{B}.myshopify.com",
              "X-Shopify-Triggered-At": datetime.now(UTC).isoformat()}
    assert requests.post(receiver.url(A), data=body, headers=signed, timeout=5).status_code == 401  # wrong shop
    assert requests.post(receiver.url(A), data=body + b" ", headers={**signed, "X-Shopify-Shop-Domain":
                         f"{A}.myshopify.com"}, timeout=5).status_code == 401  # one byte changed
    ok = {**signed, "X-Shopify-Shop-Domain": f"{A}.myshopify.com", "X-Shopify-Webhook-Id": "../../etc"}
    assert requests.post(receiver.url(A), data=body, headers=ok, timeout=5).status_code == 400
    assert len(rejections(caplog)) == 6  # one line per refusal


def test_freshness_and_domain_rules():
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert triggered_at("2025-03-01T11:58:00.123456789Z") == datetime(2025, 3, 1, 11, 58, 0, 123456, tzinfo=UTC)
    assert staleness("2025-03-01T11:58:00.123456789Z", now, 300) is None
    assert staleness("2025-03-01T11:54:59Z", now, 300).startswith("stale: triggered 301s ago")
    assert staleness("2025-03-01T12:06:00+00:00", now, 300).startswith("triggered 360s in the future")
    assert staleness("yesterday", now, 300) == "missing or unreadable X-Shopify-Triggered-At"
    assert shop_domain("https://Acme.myshopify.com") == "acme.myshopify.com"
    assert shop_domain("http://127.0.0.1:8765/northwind") == "northwind.myshopify.com"


def test_the_spool_claims_each_id_once_and_recovers_after_a_crash(tmp_path):
    spool = Spool(tmp_path).tenant("acme")
    outcomes: list[bool] = []
    barrier = threading.Barrier(8)

    def land() -> None:
        barrier.wait()
        outcomes.append(spool.land("same-id", {"body": "{}"}))

    threads = [threading.Thread(target=land) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False] * 7 + [True]
    assert [e.webhook_id for e in spool.entries()] == ["same-id"] and list(spool.tmp.iterdir()) == []

    # a crash after the claim, before the rename: the claimed file is recovered, an unclaimed one dropped
    claimed, unclaimed = spool.tmp / f"{time.time_ns():020d}-crashed.ab12", spool.tmp / "00000000000000000001-x.cd34"
    claimed.write_text('{"body": "{}"}')
    unclaimed.write_text("{}")
    os.link(claimed, spool.ids / "crashed")
    assert spool.recover() == 1
    assert [e.webhook_id for e in spool.entries()] == ["same-id", "crashed"] and list(spool.tmp.iterdir()) == []
    assert spool.land("crashed", {"body": "{}"}) is False

    # retention: only what the cursor covers and is old enough goes, with its dedup entry
    first, second = spool.entries()
    assert spool.prune(upto_ns=first.received_ns, older_than_ns=time.time_ns()) == 1
    assert spool.entries() == [second] and not (spool.ids / "same-id").exists()
    assert spool.prune(upto_ns=second.received_ns, older_than_ns=second.received_ns) == 0
    with pytest.raises(ValueError):
        spool.land("../escape", {})


def test_subscribe_registers_every_webhook_tenant_once(sandbox, receiver, monkeypatch):
    for slug in (A, B):
        monkeypatch.setenv(f"{slug.upper()}_SHOPIFY_TOKEN", SPEC.shop(slug).access_token)
    first = subscribe_all(receiver.registry, receiver.base_url)
    assert [(s.tenant, s.created) for s in first] == [(A, True)] * 3 + [(B, True)] * 3  # nohooks is skipped
    again = subscribe_all(receiver.registry, receiver.base_url)
    assert not any(s.created for s in again)
    listed = requests.get(f"{sandbox.shop_url(B)}/admin/api/2025-01/webhooks.json", timeout=5,
                          headers={"X-Shopify-Access-Token": SPEC.shop(B).access_token}).json()["webhooks"]
    assert sorted(w["topic"] for w in listed) == sorted(TOPICS)
    assert {w["address"] for w in listed} == {receiver.url(B)}
