"""The canonical CSV layout of a tenant's file drop, as data: entities, columns, types, keys and rules.

Each column has a *kind* that fixes both its validation rule and the type it lands as. README.md renders
this as a table; change the layout here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sources.rules import TenantRule  # the one rule model, re-exported here for the files source

# kind → (rule code, what a valid value looks like)
KINDS = {
    "text": ("text", "any text"),
    "timestamp": ("timestamp", "an ISO 8601 timestamp with an offset, e.g. 2025-03-01T10:00:00Z"),
    "currency": ("currency", "an ISO 4217 code of three capital letters"),
    "quantity": ("quantity", "a whole number above 0"),
    "line_number": ("line_number", "a whole number from 1"),
    "money": ("money", "a decimal ≥ 0 with at most 2 places"),
    "unit_price": ("unit_price", "a decimal ≥ 0 with at most 4 places"),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = "text"
    required: bool = False
    default: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass(frozen=True)
class Entity:
    table: str
    prefix: str  # files named <prefix>*.csv or <prefix>*.csv.gz
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def file_glob(self) -> str:
        return f"{self.prefix}*.csv*"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


ENTITIES: dict[str, Entity] = {
    "orders": Entity(
        table="orders", prefix="orders",
        columns=(
            Column("order_id", required=True),
            Column("order_number"),
            Column("customer_id"),
            Column("ordered_at", "timestamp", required=True),
            Column("currency", "currency", required=True),
            Column("shipping_amount", "money", default="0.00"),
            Column("channel", default="wholesale"),
        ),
        key=("order_id",),
    ),
    "order_lines": Entity(
        table="order_lines", prefix="order_lines",
        columns=(
            Column("order_id", required=True),
            Column("line_number", "line_number", required=True),
            Column("sku", required=True),
            Column("quantity", "quantity", required=True),
            Column("unit_price", "unit_price", required=True),
            Column("discount_amount", "money", default="0.00"),
            Column("tax_amount", "money", default="0.00"),
        ),
        key=("order_id", "line_number"),
    ),
    "customers": Entity(
        table="customers", prefix="customers",
        columns=(
            Column("customer_id", required=True),
            Column("email"),
            Column("first_name"),
            Column("last_name"),
            Column("country_code"),
            Column("created_at", "timestamp"),
        ),
        key=("customer_id",),
    ),
    "products": Entity(
        table="products", prefix="products",
        columns=(
            Column("sku", required=True),
            Column("title"),
            Column("category"),
            Column("unit_cost", "unit_price"),
            Column("price", "unit_price"),
        ),
        key=("sku",),
    ),
}

def layout_rule(rule: dict | TenantRule) -> TenantRule:
    """A tenant rule (``sources/rules.py``, the one rule model) checked against this layout: its table (``entity``
    is accepted for ``table``, the files source's first spelling) must be an entity and its column one of the
    entity's columns."""
    if isinstance(rule, dict):
        fields = dict(rule)
        if "entity" in fields:
            fields.setdefault("table", fields.pop("entity"))
        rule = TenantRule.from_dict(fields)
    if rule.table not in ENTITIES:
        raise ValueError(f"rule {rule.name!r}: unknown entity {rule.table!r}")
    if rule.column not in {c.name for c in ENTITIES[rule.table].columns}:
        raise ValueError(f"rule {rule.name!r}: {rule.table} has no column {rule.column!r}")
    return rule


QUARANTINE_TABLE = "quarantine"
# entity is part of the key: one line of a native export (a Shopify line item row) can break a rule of its order
# and another of its line, and both records must survive the merge
QUARANTINE_KEY = ("file", "line", "entity")

# What the source lists in a drop (top level only): text tables, optionally gzipped. Anything else is left alone.
DATA_SUFFIXES = (".csv", ".tsv", ".txt")
BATCH_BYTES = 2 << 20  # file bytes read, validated and handed to dlt at a time: memory follows this, not the file
BATCH_ROWS = 50_000  # rows per validated batch of derived entities (the orders of an export of line items)
