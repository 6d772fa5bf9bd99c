"""The Shopify twin's contract over real HTTP: auth, paging, search, cost limits, faults, file drops."""

from __future__ import annotations

import csv

import requests

from sandbox.files_drop import write_drop

SHOP = "testshop"
TOKEN = "shpat_sandbox_testshop"
ORDERS = ("query($first: Int!, $after: String, $q: String) { orders(first: $first, after: $after, "
          "sortKey: UPDATED_AT, query: $q) { pageInfo { hasNextPage endCursor } nodes { id updatedAt } } }")


def post(sandbox, query, variables=None, token=TOKEN, shop=SHOP):
    return requests.post(f"{sandbox.shop_url(shop)}/admin/api/2025-01/graphql.json",
                         json={"query": query, "variables": variables or {}},
                         headers={"X-Shopify-Access-Token": token} if token else {}, timeout=30)


def all_orders(sandbox, search=None, first=37):
    ids, cursor = [], None
    while True:
        body = post(sandbox, ORDERS, {"first": first, "after": cursor, "q": search}).json()
        page = body["data"]["orders"]
        ids += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, body
        cursor = page["pageInfo"]["endCursor"]


def test_tokens_and_shops_are_checked(sandbox):
    assert post(sandbox, ORDERS, {"first": 1}, token=None).status_code == 401
    refused = post(sandbox, ORDERS, {"first": 1}, token="shpat_wrong")
    assert refused.status_code == 401 and "Invalid API key or access token" in refused.json()["errors"]
    assert post(sandbox, ORDERS, {"first": 1}, shop="nobody").status_code == 404


def test_paging_returns_every_online_order_once(sandbox, small_world):
    ids, body = all_orders(sandbox)
    online = small_world.shop(SHOP).channel("online_store")
    assert len(ids) == len(set(ids)) == online.height
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 37 * 1 and cost["actualQueryCost"] <= cost["requestedQueryCost"]
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}


def test_search_filters_on_updated_at(sandbox, small_world):
    online = small_world.shop(SHOP).channel("online_store")
    cut = online["updated_at"].sort()[online.height // 2]
    ids, _ = all_orders(sandbox, search=f"updated_at:>='{cut.strftime('%Y-%m-%dT%H:%M:%SZ')}'")
    assert len(ids) == online.filter(online["updated_at"] >= cut).height
    bad = post(sandbox, ORDERS, {"first": 5, "q": "colour:red"}).json()
    assert "Unsupported search field" in bad["errors"][0]["message"]


def test_cost_limits_answer_like_shopify(sandbox):
    requests.post(f"{sandbox.base_url}/_sandbox/throttle", json={"shop": SHOP, "maximum_available": 100,
                                                                  "restore_rate": 1}, timeout=10)
    too_big = post(sandbox, ORDERS, {"first": 200}).json()
    assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    statuses = [post(sandbox, ORDERS, {"first": 60}).json() for _ in range(3)]
    codes = [(s.get("errors") or [{}])[0].get("extensions", {}).get("code") for s in statuses]
    assert codes[0] is None and "THROTTLED" in codes
    throttled = statuses[codes.index("THROTTLED")]
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 62


def test_faults_fire_exactly_as_often_as_asked(sandbox):
    requests.post(f"{sandbox.base_url}/_sandbox/faults", json={"shop": SHOP, "kind": "http_500", "count": 2,
                                                               "after": 1}, timeout=10)
    statuses = [post(sandbox, ORDERS, {"first": 1}).status_code for _ in range(5)]
    assert statuses == [200, 500, 500, 200, 200]
    assert requests.get(f"{sandbox.base_url}/_sandbox/stats", timeout=10).json()[SHOP]["faults_fired"] == 2


def test_file_drop_layout_and_bad_rows(tmp_path, small_world):
    shop = small_world.shop(SHOP)
    files = write_drop(shop, tmp_path, bad_rows=4)
    names = {f.name for f in files}
    assert {"customers.csv", "products.csv"} <= names and any(n.startswith("orders_") for n in names)
    rows = [r for f in files if f.name.startswith("orders_") for r in csv.DictReader(f.open())]
    wholesale = shop.channel("wholesale")
    assert len(rows) == wholesale.height + 2  # two of the four bad rows are order rows
    lines = [r for f in files if f.name.startswith("order_lines_") for r in csv.DictReader(f.open())]
    assert len(lines) == shop.order_lines.filter(
        shop.order_lines["order_id"].is_in(wholesale["order_id"].implode())).height + 2
