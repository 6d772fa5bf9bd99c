"""Shopify's calculated query cost, from the query's syntax tree.

Scalars and enums cost 0, an object 1, a connection 2 plus ``first`` (or ``last``) times the cost of one
node, a list field with ``first`` that many times its element (without it, one). The *requested* cost
assumes every page is full; the *actual* cost counts what came back. The bucket is debited the requested
cost before execution and credited the difference after. Fragments (inline or named) count as if their
fields were written in place.

A query is turned into a ``CostPlan`` once (clients send the same query for every page); pricing a
request or an answer then only walks the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    value_from_ast_untyped,
)
from graphql.pyutils import Undefined

CONNECTION_FIELDS = frozenset({"nodes", "edges", "pageInfo"})
Fragments = Mapping[str, FragmentDefinitionNode]


@dataclass(frozen=True)
class CostField:
    """An object-valued field of the query: what it costs depends on its size and its children."""

    key: str  # where its value is in the answer (alias or name)
    field: FieldNode  # for its ``first`` / ``last`` arguments
    connection: bool
    sized: bool  # has a ``first`` / ``last`` argument: every returned item counts
    children: tuple[CostField, ...]  # a connection's node fields, or the field's own object fields


CostPlan = tuple[CostField, ...]


def cost_plan(selection_set: SelectionSetNode | None, fragments: Fragments) -> CostPlan:
    plan = []
    for field in fields_of(selection_set, fragments):
        if field.selection_set is None or field.name.value.startswith("__"):
            continue  # scalars, enums and introspection are free
        connection = any(f.name.value in CONNECTION_FIELDS for f in fields_of(field.selection_set, fragments))
        children = _node_selection(field, fragments) if connection else field.selection_set
        sized = any(a.name.value in ("first", "last") for a in field.arguments or ())
        plan.append(CostField(field.alias.value if field.alias else field.name.value, field, connection, sized,
                              cost_plan(children, fragments)))
    return tuple(plan)


def fields_of(selection_set: SelectionSetNode | None, fragments: Fragments) -> list[FieldNode]:
    """The fields selected, with fragments expanded in place."""
    found: list[FieldNode] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += fields_of(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            found += fields_of(fragments[selection.name.value].selection_set, fragments)
    return found


def _node_selection(field: FieldNode, fragments: Fragments) -> SelectionSetNode:
    """What is asked of each node of a connection, through ``nodes`` or ``edges { node }``."""
    selections = []
    for child in fields_of(field.selection_set, fragments):
        if child.name.value == "nodes" and child.selection_set:
            selections += child.selection_set.selections
        elif child.name.value == "edges":
            selections += [s for edge in fields_of(child.selection_set, fragments)
                           if edge.name.value == "node" and edge.selection_set for s in edge.selection_set.selections]
    return SelectionSetNode(selections=tuple(selections))


def _size(field: FieldNode, variables: Mapping[str, Any]) -> int | None:
    for name in ("first", "last"):
        for argument in field.arguments or ():
            if argument.name.value == name:
                value = value_from_ast_untyped(argument.value, variables)
                if value is not None and value is not Undefined:  # a variable not given is Undefined
                    return int(value)
    return None


def requested_cost(plan: CostPlan, variables: Mapping[str, Any]) -> int:
    total = 0
    for f in plan:
        size = _size(f.field, variables)
        if f.connection:
            total += 2 + (size or 0) * (1 + requested_cost(f.children, variables))
        else:
            total += (size if size is not None else 1) * (1 + requested_cost(f.children, variables))
    return total


def actual_cost(plan: CostPlan, data: Mapping[str, Any] | None) -> int:
    total = 0
    for f in plan:
        value = (data or {}).get(f.key)
        if value is None:
            continue
        if f.connection:
            nodes = value.get("nodes")
            if nodes is None:
                nodes = [edge["node"] for edge in value.get("edges") or ()]
            total += 2 + sum(1 + actual_cost(f.children, node) for node in nodes)
        else:
            items = value if isinstance(value, list) else [value]
            total += sum(1 + actual_cost(f.children, item) for item in (items if f.sized else items[:1]))
    return total
