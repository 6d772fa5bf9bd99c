"""The twin's rules without HTTP: calculated query cost, the leaky bucket, search syntax, paging arguments."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from graphql import parse

from sandbox.shopify.api import prepare
from sandbox.shopify.connections import PageRequest, PagingError, encode_cursor, window
from sandbox.shopify.cost import actual_cost, cost_plan, requested_cost
from sandbox.shopify.search import SearchSyntaxError, Term, matches, parse_search
from sandbox.shopify.throttle import LeakyBucket

ORDERS = """
query Orders($n: Int!) {
  shop { name }
  recent: orders(first: $n) {
    pageInfo { hasNextPage }
    edges { cursor node { ...order } }
  }
}
fragment order on Order {
  id
  totalPriceSet { shopMoney { amount } }
  lineItems(first: 5) { nodes { id ... on LineItem { quantity } } }
  refunds(first: 2) { id }
}
"""


def costs(data):
    operation, fragment = parse(ORDERS).definitions
    plan = cost_plan(operation.selection_set, {fragment.name.value: fragment})
    return requested_cost(plan, {"n": 10}), actual_cost(plan, data)


def test_requested_cost_assumes_full_pages_through_fragments_and_aliases():
    # shop 1; each order: itself 1 + totalPriceSet 2 + lineItems (2 + 5 × 1) + refunds 2 × 1 = 12
    assert costs(None)[0] == 1 + 2 + 10 * 12


def test_actual_cost_counts_what_came_back():
    order = {"id": "o", "totalPriceSet": {"shopMoney": {"amount": "1.00"}},
             "lineItems": {"nodes": [{"id": "l", "quantity": 1}]}, "refunds": []}
    data = {"shop": {"name": "x"}, "recent": {"pageInfo": {"hasNextPage": False},
                                              "edges": [{"cursor": "c", "node": order}] * 3}}
    assert costs(data)[1] == 1 + 2 + 3 * (1 + 2 + (2 + 1) + 0)


def test_a_query_is_parsed_and_validated_once():
    assert prepare(ORDERS) is prepare(ORDERS)
    assert prepare("{ orders(first: 1) { nodes { colour } } }").errors[0]["message"].startswith(
        "Cannot query field 'colour'")


def test_the_bucket_leaks_back_at_its_restore_rate():
    now = [100.0]
    bucket = LeakyBucket(1000, 50, clock=lambda: now[0])
    assert bucket.take(900) and not bucket.take(200)
    assert bucket.status() == {"maximumAvailable": 1000.0, "currentlyAvailable": 100, "restoreRate": 50.0}
    now[0] += 2.0
    assert bucket.status()["currentlyAvailable"] == 200 and bucket.take(200)
    bucket.give_back(150)
    now[0] += 100.0
    assert bucket.status()["currentlyAvailable"] == 1000  # never above the maximum
    assert bucket.drain()["currentlyAvailable"] == 0 and bucket.lowest == 0
    with pytest.raises(ValueError):
        bucket.configure(0, 10)


def test_search_terms_compare_times_and_ids():
    terms = parse_search("updated_at:>='2025-01-01T00:00:00Z' AND created_at:<2025-02-01 id:>5", "Europe/Berlin",
                         frozenset({"updated_at", "created_at", "id"}))
    berlin_february = datetime(2025, 2, 1, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    assert terms == [Term("updated_at", ">=", datetime(2025, 1, 1, tzinfo=UTC).timestamp()),
                     Term("created_at", "<", berlin_february), Term("id", ">", 5.0)]
    columns = {"updated_at": np.array([0, 1_800_000_000]), "created_at": np.array([0, 1_700_000_000]),
               "id": np.array([9, 9])}
    assert matches(terms, columns).tolist() == [False, True]
    assert matches([], columns) is None


@pytest.mark.parametrize("query, message", [
    ("colour:red", "Unsupported search field 'colour'"),
    ("updated_at:>yesterday", "not an ISO 8601"),
    ("updated_at:>2025-01-01 OR created_at:>2025-01-01", "Unsupported search"),
    ("id:>abc", "not a numeric id"),
])
def test_search_refuses_what_it_does_not_understand(query, message):
    with pytest.raises(SearchSyntaxError, match=message):
        parse_search(query, "UTC", frozenset({"updated_at", "created_at", "id"}))


@pytest.mark.parametrize("arguments, message", [
    ({}, "you must provide one of first or last"),
    ({"first": 1, "last": 1}, "only one of first or last"),
    ({"first": 251}, "between 0 and 250"),
])
def test_paging_arguments_are_checked(arguments, message):
    with pytest.raises(PagingError, match=message):
        PageRequest(**arguments)


def test_a_window_starts_after_its_cursor_even_among_equal_sort_values():
    keys, ids = np.array([1, 2, 2, 2, 3]), np.array([10, 20, 21, 22, 30])
    after = encode_cursor({"last_value": 2, "last_id": 21})
    assert window(keys, ids, PageRequest(first=2, after=after)) == (3, 5)
    assert window(keys, ids, PageRequest(last=2, before=after)) == (0, 2)
    with pytest.raises(PagingError, match="Invalid cursor"):
        window(keys, ids, PageRequest(first=1, after="not-a-cursor"))
