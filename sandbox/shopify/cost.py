"""Shopify's calculated query cost.

Scalars and enums cost 0, an object 1, a connection 2 plus ``first`` times the cost of one node, a list with
``first`` that many times its element. The *requested* cost assumes every page is full; the *actual* cost
counts what was returned. The bucket is debited the requested cost and refunded the difference.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, OperationDefinitionNode, SelectionSetNode, ValueNode, value_from_ast_untyped

CONNECTION_FIELDS = {"nodes", "edges"}
DEFAULT_FIRST = 50


def _arg(field: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for argument in field.arguments or ():
        if argument.name.value == name:
            value: ValueNode = argument.value
            return value_from_ast_untyped(value, variables)
    return None


def _fields(selection_set: SelectionSetNode | None) -> list[FieldNode]:
    return [s for s in (selection_set.selections if selection_set else ()) if isinstance(s, FieldNode)]


def _is_connection(field: FieldNode) -> bool:
    return any(f.name.value in CONNECTION_FIELDS for f in _fields(field.selection_set))


def _node_selection(field: FieldNode) -> list[FieldNode]:
    """The fields asked of each node of a connection (through ``nodes`` or ``edges.node``)."""
    selected = []
    for child in _fields(field.selection_set):
        if child.name.value == "nodes":
            selected += _fields(child.selection_set)
        elif child.name.value == "edges":
            for edge_field in _fields(child.selection_set):
                if edge_field.name.value == "node":
                    selected += _fields(edge_field.selection_set)
    return selected


def requested_cost(operation: OperationDefinitionNode, variables: dict[str, Any]) -> int:
    return _cost(_fields(operation.selection_set), variables)


def _cost(fields: list[FieldNode], variables: dict[str, Any]) -> int:
    total = 0
    for field in fields:
        if field.selection_set is None or field.name.value.startswith("__"):
            continue
        first = _arg(field, "first", variables)
        if _is_connection(field):
            total += 2 + (first or DEFAULT_FIRST) * (1 + _cost(_node_selection(field), variables))
        elif first is not None:
            total += first * (1 + _cost(_fields(field.selection_set), variables))
        else:
            total += 1 + _cost(_fields(field.selection_set), variables)
    return total


def actual_cost(operation: OperationDefinitionNode, data: dict[str, Any] | None) -> int:
    return _actual(_fields(operation.selection_set), data or {})


def _actual(fields: list[FieldNode], data: dict[str, Any]) -> int:
    total = 0
    for field in fields:
        if field.selection_set is None or field.name.value.startswith("__"):
            continue
        value = data.get(field.alias.value if field.alias else field.name.value)
        if value is None:
            continue
        if _is_connection(field):
            nodes = value.get("nodes")
            if nodes is None:
                nodes = [edge["node"] for edge in value.get("edges", [])]
            total += 2 + sum(1 + _actual(_node_selection(field), n) for n in nodes)
        elif isinstance(value, list):
            total += sum(1 + _actual(_fields(field.selection_set), item) for item in value)
        else:
            total += 1 + _actual(_fields(field.selection_set), value)
    return total
