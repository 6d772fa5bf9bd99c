"""One Shopify Admin GraphQL request, answered as Shopify answers it: token auth, parsing and validation
against the SDL subset, the calculated cost checked against the shop's leaky bucket (THROTTLED,
MAX_COST_EXCEEDED), execution with graphql-core, and ``extensions.cost`` on every GraphQL answer."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from sandbox.shopify.connections import PageRequest, PagingError
from sandbox.shopify.cost import CostPlan, actual_cost, cost_plan, requested_cost
from sandbox.shopify.index import Rows, ShopIndex, ShopView
from sandbox.shopify.search import SearchSyntaxError, parse_search
from sandbox.shopify.throttle import DEFAULT_MAXIMUM_AVAILABLE, DEFAULT_RESTORE_RATE, LeakyBucket
from sandbox.world import World

RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


@cache
def schema() -> GraphQLSchema:
    return build_schema((Path(__file__).parent / "schema.graphql").read_text(encoding="utf-8"))


@dataclass(frozen=True, eq=False)
class Prepared:
    """A query parsed, validated and priced once, however many pages it is sent for."""

    document: DocumentNode | None
    errors: list[dict[str, Any]]

    @cached_property
    def plans(self) -> dict[str | None, tuple[OperationDefinitionNode, CostPlan]]:
        """Each operation and its cost plan, by name (the only one also under None)."""
        fragments = {d.name.value: d for d in self.document.definitions if isinstance(d, FragmentDefinitionNode)}
        operations = [d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)]
        plans = {op.name.value if op.name else None: (op, cost_plan(op.selection_set, fragments))
                 for op in operations}
        if len(operations) == 1:
            plans[None] = next(iter(plans.values()))
        return plans


@lru_cache(maxsize=256)
def prepare(query: str) -> Prepared:
    try:
        document = parse(query)
    except GraphQLError as exc:
        return Prepared(None, [exc.formatted])
    return Prepared(document, [e.formatted for e in validate(schema(), document)])


@dataclass
class Answer:
    """An HTTP answer of the twin: status, JSON body, extra headers, and its cost for the request log."""

    status: int
    body: dict[str, Any]
    cost: dict[str, Any] = field(default_factory=dict)  # requested / actual, for the request log
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def throttled(self) -> bool:
        errors = self.body.get("errors")
        return isinstance(errors, list) and any((e.get("extensions") or {}).get("code") == "THROTTLED"
                                                for e in errors)


class ShopifyTwin:
    """Serves every shop of a world as its Shopify Admin GraphQL API, at a movable clock."""

    def __init__(self, world: World, *, maximum_available: float = DEFAULT_MAXIMUM_AVAILABLE,
                 restore_rate: float = DEFAULT_RESTORE_RATE) -> None:
        self.world = world
        self.clock: datetime = world.spec.end
        self.indexes = {h: ShopIndex(world.shop(h)) for h in world.handles}
        self.buckets = {h: LeakyBucket(maximum_available, restore_rate) for h in world.handles}

    def authorized(self, handle: str, token: str | None) -> bool:
        expected = self.world.spec.shop(handle).access_token
        return token is not None and hmac.compare_digest(token.encode(), expected.encode())

    def requested_cost(self, payload: dict[str, Any]) -> int | None:
        """The calculated cost of a request's query (None when it cannot be computed)."""
        plan = self._plan(payload)
        return plan[1] if isinstance(plan, tuple) else None

    def throttled(self, handle: str, requested: int | None, status: dict[str, Any] | None = None) -> Answer:
        """Shopify's THROTTLED answer; ``status`` is the bucket's at the refusal (default: now)."""
        return self._cost_error(handle, requested, {"message": "Throttled", "extensions": {
            "code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}, status)

    def answer(self, handle: str, token: str | None, payload: dict[str, Any]) -> Answer:
        """Answer one GraphQL request (``payload``: query, variables, operationName) of shop ``handle``."""
        if not self.authorized(handle, token):
            return Answer(401, {"errors": INVALID_TOKEN})
        if not isinstance(payload.get("query"), str) or not isinstance(payload.get("variables") or {}, dict):
            return Answer(400, {"errors": {"query": "Required parameter missing or invalid"}})
        plan = self._plan(payload)
        if not isinstance(plan, tuple):
            return Answer(200, {"errors": plan, "extensions": {"cost": self._cost(handle, 0, 0)}})
        prepared, requested, cost = plan
        bucket = self.buckets[handle]
        if requested > bucket.maximum:
            return self._cost_error(handle, requested, {
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                           f"({bucket.maximum:.0f}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": bucket.maximum}})
        if not bucket.take(requested):
            return self.throttled(handle, requested)
        shop = self.indexes[handle]
        view = shop.at(min(self.clock, shop.world.as_of))
        result = execute(schema(), prepared.document, root_value=_root(view, shop.world.spec.timezone),
                         variable_values=payload.get("variables"), operation_name=payload.get("operationName"),
                         field_resolver=_resolve, is_awaitable=_never_awaitable)
        actual = actual_cost(cost, result.data)
        bucket.give_back(requested - actual)
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        body["extensions"] = {"cost": self._cost(handle, requested, actual)}
        return Answer(200, body, {"requested": requested, "actual": actual})

    def _plan(self, payload: dict[str, Any]) -> tuple[Prepared, int, CostPlan] | list[dict]:
        """(prepared query, requested cost, cost plan), or the errors that stop it before execution."""
        prepared = prepare(payload.get("query") or "")
        if prepared.errors:
            return prepared.errors
        planned = prepared.plans.get(payload.get("operationName"))
        if planned is None:
            return [{"message": "Must provide a valid operation (and operationName when there are several)"}]
        operation, cost = planned
        coerced = get_variable_values(schema(), operation.variable_definitions or [],
                                      payload.get("variables") or {})
        if isinstance(coerced, list):
            return [e.formatted for e in coerced]
        return prepared, requested_cost(cost, coerced), cost

    def _cost(self, handle: str, requested: int | None, actual: int | None,
              status: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"requestedQueryCost": requested, "actualQueryCost": actual,
                "throttleStatus": status or self.buckets[handle].status()}

    def _cost_error(self, handle: str, requested: int | None, error: dict[str, Any],
                    status: dict[str, Any] | None = None) -> Answer:
        return Answer(200, {"errors": [error], "extensions": {"cost": self._cost(handle, requested, None, status)}},
                      {"requested": requested, "actual": None})


def _resolve(source: dict[str, Any], info: Any, **arguments: Any) -> Any:
    """graphql-core's default resolver, for dict nodes only (every node the twin serves is a dict)."""
    value = source.get(info.field_name)
    return value(info, **arguments) if callable(value) else value


def _never_awaitable(value: Any) -> bool:
    return False  # the twin resolves synchronously: spare graphql-core its check of every value


def _root(view: ShopView, timezone: str) -> dict[str, Any]:
    def connection_field(rows: Rows):
        def resolve(info: Any, first: int | None = None, after: str | None = None, last: int | None = None,
                    before: str | None = None, reverse: bool = False, sortKey: str = "ID",
                    query: str | None = None) -> dict[str, Any]:
            try:
                request = PageRequest(first, after, last, before, reverse)
                return rows.page(request, sortKey, parse_search(query, timezone, rows.search_fields))
            except (PagingError, SearchSyntaxError) as exc:
                raise GraphQLError(str(exc)) from None
        return resolve

    return {"shop": view.shop, "orders": connection_field(view.orders),
            "customers": connection_field(view.customers), "products": connection_field(view.products)}
