"""A shop's orders and refunds as Shopify's REST Admin API (and its webhooks) serialize them.

Webhook payloads are the REST resource, not the GraphQL node: integer ``id`` beside ``admin_graphql_api_id``,
snake_case fields, timestamps in the shop's time zone with their offset (``2025-03-01T09:12:44-05:00``),
money as decimal text (``"12.30"``) with ``*_set`` bags in the shop and presentment currencies. Built from the
same prepared nodes the GraphQL twin serves (``ShopNodes``), so both APIs agree to the cent, and at a given
instant: an order carries only the refunds made by then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from sandbox.shopify.nodes import Node, ShopNodes
from sandbox.world import ShopWorld


def legacy_id(gid: str) -> int:
    """``gid://shopify/Order/5500000001`` → ``5500000001``."""
    return int(gid.rsplit("/", 1)[1])


def price_set(bag: Node) -> Node:
    """A GraphQL ``MoneyBag`` as REST's ``*_set`` object."""
    shop, presented = bag["shopMoney"], bag["presentmentMoney"]
    return {"shop_money": {"amount": shop["amount"], "currency_code": shop["currencyCode"]},
            "presentment_money": {"amount": presented["amount"], "currency_code": presented["currencyCode"]}}


class RestOrders:
    """One shop's online orders and refunds as REST JSON, at any instant (epoch seconds)."""

    def __init__(self, world: ShopWorld, nodes: ShopNodes) -> None:
        self.nodes = nodes
        self.zone = ZoneInfo(world.spec.timezone)
        orders = world.channel("online_store").sort("order_id")
        self.order_created = orders["created_at"].dt.epoch("s").to_numpy()  # aligned with nodes.order_ids
        self.order_customer_email = dict(zip(
            world.customers["customer_id"].to_list(), world.customers["email"].to_list(), strict=True))
        self.order_customer = orders["customer_id"].to_list()
        refunds = world.refunds.sort("refund_id")
        self.refund_created = refunds["created_at"].dt.epoch("s").to_numpy()  # aligned with nodes.refund_ids

    def local(self, epoch: int) -> str:
        return datetime.fromtimestamp(int(epoch), UTC).astimezone(self.zone).isoformat()

    # -- what happened between two instants ----------------------------------------------------------------
    def created_between(self, start: int, stop: int) -> list[int]:
        """Positions of the orders created in ``(start, stop]``, in creation order."""
        hits = np.flatnonzero((self.order_created > start) & (self.order_created <= stop))
        return hits[np.argsort(self.order_created[hits], kind="stable")].tolist()

    def refunded_between(self, start: int, stop: int) -> list[int]:
        """Positions of the refunds made in ``(start, stop]``, in time order."""
        hits = np.flatnonzero((self.refund_created > start) & (self.refund_created <= stop))
        return hits[np.argsort(self.refund_created[hits], kind="stable")].tolist()

    def order_position(self, order_id: int) -> int:
        position = int(np.searchsorted(self.nodes.order_ids, order_id))
        if position >= len(self.nodes.order_ids) or int(self.nodes.order_ids[position]) != order_id:
            raise KeyError(f"no online order {order_id}")
        return position

    def latest_created(self, at: int) -> int | None:
        """The position of the newest order created by ``at`` (None when there is none yet)."""
        seen = np.flatnonzero(self.order_created <= at)
        return int(seen[np.argmax(self.order_created[seen])]) if len(seen) else None

    # -- payloads -------------------------------------------------------------------------------------------
    def order(self, i: int, at: int) -> dict[str, Any]:
        """Order ``i`` as the REST API (and the ``orders/*`` webhooks) show it at instant ``at``."""
        node = self.nodes.order(i)
        refunds = [r for r in self.nodes.refunds_of_order.get(i, ()) if self.refund_created[r] <= at]
        updated = max([int(self.order_created[i]), *(int(self.refund_created[r]) for r in refunds)])
        refunded = sum(int(_cents(self.nodes.refund(r)["totalRefundedSet"]["shopMoney"]["amount"])) for r in refunds)
        total_cents = _cents(node["totalPriceSet"]["shopMoney"]["amount"])
        status = "paid" if not refunded else ("refunded" if refunded >= total_cents else "partially_refunded")
        customer_id = legacy_id(node["customer"]["id"])
        return {
            "id": legacy_id(node["id"]),
            "admin_graphql_api_id": node["id"],
            "name": node["name"],
            "order_number": int(node["name"].lstrip("#")),
            "email": self.order_customer_email.get(customer_id),
            "created_at": self.local(self.order_created[i]),
            "updated_at": self.local(updated),
            "processed_at": self.local(self.order_created[i]),
            "cancelled_at": None,
            "closed_at": None,
            "currency": node["currencyCode"],
            "presentment_currency": node["presentmentCurrencyCode"],
            "source_name": node["sourceName"],
            "financial_status": status,
            "taxes_included": False,
            "subtotal_price": node["subtotalPriceSet"]["shopMoney"]["amount"],
            "subtotal_price_set": price_set(node["subtotalPriceSet"]),
            "total_discounts": node["totalDiscountsSet"]["shopMoney"]["amount"],
            "total_discounts_set": price_set(node["totalDiscountsSet"]),
            "total_tax": node["totalTaxSet"]["shopMoney"]["amount"],
            "total_tax_set": price_set(node["totalTaxSet"]),
            "total_shipping_price_set": price_set(node["totalShippingPriceSet"]),
            "total_price": node["totalPriceSet"]["shopMoney"]["amount"],
            "total_price_set": price_set(node["totalPriceSet"]),
            "discount_codes": [{"code": code, "amount": node["totalDiscountsSet"]["shopMoney"]["amount"],
                                "type": "percentage"} for code in node["discountCodes"]],
            "customer": {"id": customer_id, "admin_graphql_api_id": node["customer"]["id"],
                         "email": self.order_customer_email.get(customer_id)},
            "line_items": [self._line(line) for line in _items(node["lineItems"])],
            "refunds": [self.refund(r) for r in refunds],
        }

    def refund(self, r: int) -> dict[str, Any]:
        """Refund ``r`` as the REST API (and the ``refunds/create`` webhook) show it."""
        node = self.nodes.refund(r)
        order_gid = self.nodes.order_text["id"][int(self.nodes.refund_order[r])]
        created = self.local(self.refund_created[r])
        amount = node["totalRefundedSet"]["shopMoney"]
        return {
            "id": legacy_id(node["id"]),
            "admin_graphql_api_id": node["id"],
            "order_id": legacy_id(order_gid),
            "created_at": created,
            "processed_at": created,
            "note": None,
            "restock": True,
            "refund_line_items": [{
                "id": legacy_id(line["id"]),
                "line_item_id": legacy_id(line["lineItem"]["id"]),
                "quantity": line["quantity"],
                "restock_type": "return",
                "subtotal": line["subtotalSet"]["shopMoney"]["amount"],
                "subtotal_set": price_set(line["subtotalSet"]),
                "total_tax": line["totalTaxSet"]["shopMoney"]["amount"],
                "total_tax_set": price_set(line["totalTaxSet"]),
                "line_item": self._line(line["lineItem"]),
            } for line in _items(node["refundLineItems"])],
            "transactions": [{"order_id": legacy_id(order_gid), "kind": "refund", "status": "success",
                              "gateway": "shopify_payments", "amount": amount["amount"],
                              "currency": amount["currencyCode"], "created_at": created,
                              "processed_at": created}],
        }

    @staticmethod
    def _line(line: Node) -> dict[str, Any]:
        unit = line["originalUnitPriceSet"]
        return {
            "id": legacy_id(line["id"]),
            "admin_graphql_api_id": line["id"],
            "variant_id": legacy_id(line["variant"]["id"]),
            "product_id": legacy_id(line["product"]["id"]),
            "sku": line["sku"],
            "quantity": line["quantity"],
            "price": unit["shopMoney"]["amount"],
            "price_set": price_set(unit),
            "total_discount": line["totalDiscountSet"]["shopMoney"]["amount"],
            "total_discount_set": price_set(line["totalDiscountSet"]),
            "taxable": True,
            "tax_lines": [{"title": tax["title"], "rate": tax["rate"], "price": tax["priceSet"]["shopMoney"]["amount"],
                           "price_set": price_set(tax["priceSet"])} for tax in _items(line["taxLines"])],
        }


def _cents(text: str) -> int:
    """``"12.30"`` → 1230 (the twin always writes two places)."""
    whole, _, fraction = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((fraction + "00")[:2]))


def _items(field: Any) -> list[Node]:
    """The items of a node's list or nested-connection field (callables resolved as graphql-core would)."""
    value = field(None, first=250) if callable(field) else field
    return value["nodes"] if isinstance(value, dict) else list(value)
