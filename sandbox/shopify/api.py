"""One Shopify Admin GraphQL request, answered as Shopify answers it: token auth, validation, calculated cost
against the shop's leaky bucket (THROTTLED / MAX_COST_EXCEEDED), execution, ``extensions.cost``."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, build_schema, execute, parse, validate

from sandbox.shopify.connections import SearchSyntaxError
from sandbox.shopify.cost import actual_cost, requested_cost
from sandbox.shopify.graph import ShopGraph, build_graph
from sandbox.shopify.throttle import LeakyBucket
from sandbox.world import World

SCHEMA = build_schema((Path(__file__).parent / "schema.graphql").read_text())
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None


class ShopifyTwin:
    """Serves every shop of a world at the world's (movable) clock."""

    def __init__(self, world: World, *, maximum_available: float = 100_000, restore_rate: float = 50_000,
                 max_query_cost: float | None = None) -> None:
        self.world = world
        self.clock: datetime = world.spec.end
        self.max_query_cost = max_query_cost
        self.buckets = {h: LeakyBucket(maximum_available, restore_rate) for h in world.handles}
        self._graphs: dict[tuple[str, datetime], ShopGraph] = {}
        self._lock = threading.Lock()

    def graph(self, handle: str) -> ShopGraph:
        key = (handle, self.clock)
        with self._lock:
            if key not in self._graphs:
                self._graphs[key] = build_graph(self.world.shop(handle).visible(self.clock))
            return self._graphs[key]

    def authorized(self, handle: str, token: str | None) -> bool:
        return token is not None and token == self.world.spec.shop(handle).access_token

    def requested_cost(self, payload: dict[str, Any]) -> int | None:
        """The calculated cost of a request's query (None when it does not parse)."""
        try:
            document = parse(payload.get("query") or "")
        except GraphQLError:
            return None
        operation = next((d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None)
        return None if operation is None else requested_cost(operation, payload.get("variables") or {})

    def throttled(self, handle: str, requested: float | None = None) -> Answer:
        return Answer(200, {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}],
            "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                    "throttleStatus": self.buckets[handle].status()}},
        })

    def answer(self, handle: str, token: str | None, payload: dict[str, Any]) -> Answer:
        if not self.authorized(handle, token):
            return Answer(401, {"errors": INVALID_TOKEN})
        query, variables = payload.get("query"), payload.get("variables") or {}
        if not isinstance(query, str):
            return Answer(400, {"errors": {"query": "Required parameter missing or invalid"}})
        try:
            document = parse(query)
        except GraphQLError as exc:
            return Answer(200, {"errors": [exc.formatted]})
        errors = validate(SCHEMA, document)
        if errors:
            return Answer(200, {"errors": [e.formatted for e in errors]})
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        bucket = self.buckets[handle]
        requested = requested_cost(operation, variables)
        limit = self.max_query_cost or bucket.maximum
        if requested > limit:
            return Answer(200, {"errors": [{
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit ({limit:.0f}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": limit},
            }]})
        if not bucket.take(requested):
            return self.throttled(handle, requested)
        graph = self.graph(handle)
        result = execute(SCHEMA, document, root_value=_root(graph), variable_values=variables)
        actual = actual_cost(operation, result.data)
        bucket.give_back(requested - actual)
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        body["extensions"] = {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                                       "throttleStatus": bucket.status()}}
        return Answer(200, body)


def _root(graph: ShopGraph) -> dict[str, Any]:
    def field(collection):
        def resolve(info, first=None, after=None, last=None, before=None, sortKey="ID", reverse=False, query=None):
            if last is not None or before is not None:
                raise GraphQLError("The sandbox pages forward only: use first/after")
            try:
                return collection.page(first=first, after=after, sort_key=sortKey, reverse=reverse, query=query)
            except SearchSyntaxError as exc:
                raise GraphQLError(str(exc)) from exc
        return resolve

    return {"orders": field(graph.orders), "customers": field(graph.customers), "products": field(graph.products)}
