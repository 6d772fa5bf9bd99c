"""The Shopify twin over real HTTP: auth, paging, search, what it serves, the clock, cost and throttling,
injected faults, and the ``serve`` command. Tests poll with a bound; they never sleep to wait."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
import requests

SHOP = "teashop"
REPO = Path(__file__).resolve().parents[2]
IDS = """query($first: Int, $last: Int, $after: String, $before: String, $sort: OrderSortKeys, $reverse: Boolean,
               $q: String) {
  orders(first: $first, last: $last, after: $after, before: $before, sortKey: $sort, reverse: $reverse, query: $q) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id updatedAt createdAt } }
  }
}"""
MONEY = "{ shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }"
ORDERS = f"""query($after: String) {{
  orders(first: 100, after: $after, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id legacyResourceId name createdAt updatedAt sourceName currencyCode presentmentCurrencyCode discountCodes
      customer {{ id }}
      subtotalPriceSet {MONEY} totalPriceSet {MONEY} totalRefundedSet {MONEY}
      lineItems(first: 10) {{ pageInfo {{ hasNextPage }} nodes {{ id sku quantity originalUnitPriceSet {MONEY}
                                                                 taxLines {{ rate priceSet {MONEY} }} }} }}
      refunds(first: 5) {{ id createdAt refundLineItems(first: 10) {{ nodes {{ quantity subtotalSet {MONEY} }} }} }}
    }}
  }}
}}"""


def every_order(client, *, first=97, **variables):
    """Page through the orders connection; returns the edges and the last answer."""
    edges, after = [], None
    while True:
        body = client.query(IDS, first=first, after=after, **variables)
        page = body["data"]["orders"]
        edges += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            return edges, body
        after = page["pageInfo"]["endCursor"]


def gid_ids(edges) -> list[int]:
    return [int(e["node"]["id"].rsplit("/", 1)[1]) for e in edges]


def online(shop) -> pl.DataFrame:
    return shop.channel("online_store")


def code(body) -> str | None:
    return ((body.get("errors") or [{}])[0].get("extensions") or {}).get("code")


# -- access --------------------------------------------------------------------------------------------------

def test_tokens_shops_and_versions_are_checked(client):
    for token in ("", "shpat_wrong"):
        refused = client.post(IDS, {"first": 1}, token=token)
        assert refused.status_code == 401
        assert refused.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    assert client.post(IDS, {"first": 1}, version="unstable").status_code == 200
    assert client.post(IDS, {"first": 1}, version="v1").status_code == 404
    client.shop = "nobody"
    assert client.post(IDS, {"first": 1}).status_code == 404


# -- paging --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sort, reverse", [("UPDATED_AT", False), ("ID", False), ("CREATED_AT", True)])
def test_paging_returns_every_order_exactly_once_in_order(client, shop, sort, reverse):
    edges, body = every_order(client, first=250, sort=sort, reverse=reverse)
    ids = gid_ids(edges)
    assert len(ids) == len(set(ids)) == online(shop).height
    column = {"UPDATED_AT": "updated_at", "ID": "order_id", "CREATED_AT": "created_at"}[sort]
    want = online(shop).sort([column, "order_id"], descending=reverse)["order_id"].to_list()
    assert ids == want
    assert len({e["cursor"] for e in edges}) == len(edges)


def test_paging_backwards_with_last_and_before(client, shop):
    edges, _ = every_order(client, first=250, sort="ID")
    page = client.query(IDS, last=5, before=edges[100]["cursor"], sort="ID")["data"]["orders"]
    assert [e["node"]["id"] for e in page["edges"]] == [e["node"]["id"] for e in edges[95:100]]
    assert page["pageInfo"]["hasPreviousPage"] and page["pageInfo"]["hasNextPage"]
    tail = client.query(IDS, last=3, sort="ID")["data"]["orders"]
    assert [e["node"]["id"] for e in tail["edges"]] == [e["node"]["id"] for e in edges[-3:]]


def test_cursors_stay_valid_across_requests_and_clock_moves(client, shop):
    client.control("POST", "clock", as_of="2025-06-01T00:00:00Z")
    first = client.query(IDS, first=20, sort="ID")["data"]["orders"]
    cursor = first["pageInfo"]["endCursor"]
    again = client.query(IDS, first=20, after=cursor, sort="ID")["data"]["orders"]
    assert again == client.query(IDS, first=20, after=cursor, sort="ID")["data"]["orders"]
    client.control("POST", "clock")  # back to the world's end: more orders exist, the cursor still holds
    later = client.query(IDS, first=20, after=cursor, sort="ID")["data"]["orders"]
    assert later["edges"][0]["node"]["id"] == again["edges"][0]["node"]["id"]


def test_nested_line_items_page_too(client, shop):
    lines = shop.order_lines.filter(pl.col("order_id").is_in(online(shop)["order_id"].implode()))
    busy = lines.group_by("order_id").len().filter(pl.col("len") >= 3).sort("order_id")["order_id"][0]
    query = """query($q: String, $n: Int, $after: String) { orders(first: 1, query: $q) { nodes {
                 lineItems(first: $n, after: $after) { pageInfo { hasNextPage endCursor } nodes { id } } } } }"""

    def items(n, after=None):
        return client.query(query, q=f"id:{busy}", n=n, after=after)["data"]["orders"]["nodes"][0]["lineItems"]

    first = items(1)
    rest = items(10, first["pageInfo"]["endCursor"])
    assert first["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    assert first["nodes"] + rest["nodes"] == items(10)["nodes"]


# -- search --------------------------------------------------------------------------------------------------

def test_search_filters_on_updated_and_created_at(client, shop):
    orders = online(shop)
    cut = orders["updated_at"].sort()[orders.height // 2]
    edges, _ = every_order(client, q=f"updated_at:>='{cut:%Y-%m-%dT%H:%M:%SZ}'", sort="UPDATED_AT")
    assert sorted(gid_ids(edges)) == sorted(orders.filter(pl.col("updated_at") >= cut)["order_id"].to_list())

    edges, _ = every_order(client, q="created_at:>=2025-03-01 AND created_at:<2025-04-01")  # Berlin dates
    local = orders["created_at"].dt.convert_time_zone("Europe/Berlin")
    assert len(edges) == orders.filter((local.dt.year() == 2025) & (local.dt.month() == 3)).height > 0

    refused = client.query(IDS, first=5, q="colour:red")
    assert refused["data"] is None and "Unsupported search field 'colour'" in refused["errors"][0]["message"]


# -- what is served ------------------------------------------------------------------------------------------

def test_orders_are_served_with_the_worlds_money(client, shop):
    nodes, after = [], None
    while True:
        page = client.query(ORDERS, after=after)["data"]["orders"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    orders = online(shop)
    assert len(nodes) == orders.height and {n["sourceName"] for n in nodes} == {"web"}

    def total(path) -> Decimal:
        return sum((Decimal(path(n)) for n in nodes), Decimal(0))

    assert total(lambda n: n["totalPriceSet"]["shopMoney"]["amount"]) == Decimal(orders["total_cents"].sum()) / 100
    assert total(lambda n: n["totalRefundedSet"]["shopMoney"]["amount"]) == Decimal(
        orders["refunded_cents"].sum()) / 100
    by_id = {n["legacyResourceId"]: n for n in nodes}
    for order in orders.sample(100, seed=2).iter_rows(named=True):
        node = by_id[str(order["order_id"])]
        assert node["presentmentCurrencyCode"] == order["presentment_currency"]
        assert Decimal(node["totalPriceSet"]["presentmentMoney"]["amount"]) * 100 == order["total_presentment_cents"]
        assert node["discountCodes"] == ([order["discount_code"]] if order["discount_code"] else [])
    lines = [line for n in nodes for line in n["lineItems"]["nodes"]]
    assert len(lines) == shop.order_lines.filter(pl.col("order_id").is_in(orders["order_id"].implode())).height
    assert {line["taxLines"][0]["rate"] for line in lines} == {0.19}
    assert sum(len(n["refunds"]) for n in nodes) == shop.refunds.height
    refunded = sum((Decimal(r["subtotalSet"]["shopMoney"]["amount"]) for n in nodes for refund in n["refunds"]
                    for r in refund["refundLineItems"]["nodes"]), Decimal(0))
    assert refunded == Decimal(shop.refund_lines["subtotal_cents"].sum()) / 100


def test_customers_and_products_are_served(client, shop):
    customers = client.query("""{ customers(first: 250, sortKey: ID) { pageInfo { hasNextPage }
        nodes { id numberOfOrders amountSpent { amount } defaultAddress { countryCodeV2 } } } }""")
    products = client.query("""{ products(first: 250) { nodes { id productType
        variants(first: 10) { nodes { sku price inventoryItem { unitCost { amount } } } } } } }""")
    nodes = products["data"]["products"]["nodes"]
    assert len(nodes) == shop.products.height
    skus = {v["sku"]: v for p in nodes for v in p["variants"]["nodes"]}
    assert len(skus) == shop.variants.height
    for variant in shop.variants.iter_rows(named=True):
        assert Decimal(skus[variant["sku"]]["price"]) * 100 == variant["price_cents"]
    first_page = customers["data"]["customers"]["nodes"]
    people = shop.customers.filter(pl.col("acquisition_channel") != "wholesale").sort("customer_id").head(250)
    assert [int(c["id"].rsplit("/", 1)[1]) for c in first_page] == people["customer_id"].to_list()
    orders_of = online(shop).group_by("customer_id").len()
    counts = dict(zip(orders_of["customer_id"], orders_of["len"], strict=True))
    assert [int(c["numberOfOrders"]) for c in first_page] == [counts.get(i, 0) for i in people["customer_id"]]


def test_the_clock_decides_what_exists(client, shop):
    as_of = datetime(2025, 5, 1, tzinfo=UTC)
    assert client.control("POST", "clock", as_of="2025-05-01T00:00:00Z")["clock"].startswith("2025-05-01")
    assert client.control("GET", "health")["clock"].startswith("2025-05-01")
    seen = shop.visible(as_of)
    edges, _ = every_order(client, first=250)
    assert len(edges) == online(seen).height
    refunded_later = shop.refunds.filter(pl.col("created_at") > as_of).join(
        online(seen).select("order_id"), on="order_id")["order_id"][0]
    query = (f'{{ orders(first: 1, query: "id:{refunded_later}") '
             '{ nodes { createdAt updatedAt refunds { id } } } }')
    before = client.query(query)["data"]["orders"]["nodes"][0]
    assert before["refunds"] == [] and before["updatedAt"] == before["createdAt"]
    client.control("POST", "clock")
    after = client.query(query)["data"]["orders"]["nodes"][0]
    assert after["refunds"] and after["updatedAt"] > after["createdAt"]


# -- cost and throttling -------------------------------------------------------------------------------------

def test_every_answer_reports_its_cost_and_the_bucket_is_charged_the_actual_cost(client):
    client.control("POST", "throttle", shop=SHOP, maximum_available=10_000, restore_rate=1)
    body = client.query(IDS, first=40, q="created_at:>=2026-02-04")
    cost = body["extensions"]["cost"]
    returned = len(body["data"]["orders"]["edges"])
    assert 0 < returned < 40
    assert cost["requestedQueryCost"] == 2 + 40 and cost["actualQueryCost"] == 2 + returned
    assert 10_000 - cost["actualQueryCost"] <= cost["throttleStatus"]["currentlyAvailable"] <= 10_000 - \
        cost["actualQueryCost"] + 2  # credited back the unused points; the bucket refills 1 a second


def test_a_tiny_bucket_throttles_like_shopify_and_refills(client):
    client.control("POST", "throttle", shop=SHOP, maximum_available=100, restore_rate=25)
    answers = [client.query(IDS, first=60) for _ in range(2)]
    assert code(answers[0]) is None and code(answers[1]) == "THROTTLED"
    throttled = answers[1]
    assert throttled["errors"][0] == {"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}
    cost = throttled["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 62 and cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["maximumAvailable"] == 100 and cost["throttleStatus"]["restoreRate"] == 25
    assert cost["throttleStatus"]["currentlyAvailable"] < 62
    deadline = time.monotonic() + 10
    while code(client.query(IDS, first=60)) == "THROTTLED":  # the bucket refills at 25 points a second
        assert time.monotonic() < deadline, "the bucket never refilled"
    assert client.stats()["throttled"] >= 1


def test_a_query_costlier_than_the_bucket_is_refused_outright(client):
    client.control("POST", "throttle", shop=SHOP, maximum_available=100, restore_rate=25)
    body = client.query(IDS, first=200)
    assert code(body) == "MAX_COST_EXCEEDED" and body["errors"][0]["extensions"]["cost"] == 202
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 100  # nothing charged


# -- faults --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, expect", [("http_500", 500), ("http_503", 503), ("throttle", "THROTTLED")])
def test_answering_faults_fire_exactly_count_times(client, kind, expect):
    client.control("POST", "faults", shop=SHOP, kind=kind, count=2, after=1)
    answers = [client.post(IDS, {"first": 1}) for _ in range(5)]
    outcome = [a.status_code if a.status_code != 200 else code(a.json()) or 200 for a in answers]
    assert outcome == [200, expect, expect, 200, 200]
    if kind == "http_503":
        assert answers[1].headers["Retry-After"] == "1"
    if kind == "throttle":
        assert answers[1].json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0
    stats = client.stats()
    assert stats["faults_fired_by_kind"] == {kind: 2} and stats["requests"] == 5


def test_a_timeout_fault_answers_too_late_for_an_impatient_client(client):
    client.control("POST", "faults", shop=SHOP, kind="timeout", count=1, delay_s=1.5)
    with pytest.raises(requests.ReadTimeout):
        client.post(IDS, {"first": 1}, timeout=0.3)
    assert client.post(IDS, {"first": 1}, timeout=10).status_code == 200
    assert client.stats()["faults_fired_by_kind"] == {"timeout": 1}


def test_a_hanging_request_is_released_when_faults_are_cleared(client):
    client.control("POST", "faults", shop=SHOP, kind="hang", count=1, delay_s=60)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(client.post, IDS, {"first": 1})
        deadline = time.monotonic() + 10
        while client.stats()["in_flight_hangs"] == 0:
            assert time.monotonic() < deadline and not pending.done()
        assert client.stats()["in_flight"] == 1
        client.control("DELETE", "faults")
        assert pending.result(timeout=10).status_code == 200
    stats = client.stats()
    assert stats["in_flight"] == 0 and stats["faults_fired_by_kind"] == {"hang": 1}


def test_bad_control_requests_are_refused(client):
    for body, status in (({"shop": "nobody", "kind": "http_500"}, 404), ({"shop": SHOP, "kind": "boom"}, 400),
                         ({"shop": SHOP, "kind": "http_500", "count": 0}, 400)):
        assert requests.post(f"{client.server.base_url}/_sandbox/faults", json=body, timeout=10).status_code == status
    refused = requests.post(f"{client.server.base_url}/_sandbox/clock", json={"as_of": "soon"}, timeout=10)
    assert refused.status_code == 400


# -- the command ---------------------------------------------------------------------------------------------

def test_the_serve_command_serves_until_terminated(tmp_path, spec):
    world_file = tmp_path / "world.yaml"
    world_file.write_text(spec.model_dump_json())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "sandbox", "serve", "--world", str(world_file), "--port",
                                str(port)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "the sandbox never became healthy"
            try:
                if requests.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert f"http://127.0.0.1:{port}" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
