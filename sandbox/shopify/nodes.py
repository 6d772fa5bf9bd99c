"""A shop's records as Shopify-shaped nodes, for the whole world (clock-independent).

Prepared once per shop, vectorised: ids, GIDs, ISO timestamps, and decimal texts of every amount in the
shop currency and at the order's presentment rate. Node dicts are assembled when served (cheap next to
executing the query), so memory stays bounded. The clock-dependent fields (an order's ``updatedAt``,
refunds and ``totalRefundedSet``; a customer's ``updatedAt``, orders and amount spent) are added per view
by ``index.ShopIndex``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from sandbox.shopify.connections import listing, nested
from sandbox.world import ShopWorld
from sandbox.world.currencies import currency
from sandbox.world.money import MICRO, cents_text, convert

Node = dict[str, Any]
Texts = tuple[list[str], list[str]]  # amounts in the shop currency, and at the order's presentment rate


def gids(kind: str, ids: pl.Series | np.ndarray) -> list[str]:
    return [f"gid://shopify/{kind}/{i}" for i in np.asarray(ids).tolist()]


def iso_texts(timestamps: pl.Series) -> list[str]:
    return timestamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_list()


def money(amount: str, currency_code: str) -> Node:
    return {"amount": amount, "currencyCode": currency_code}


def money_bag(shop_amount: str, shop_currency: str, presented: str, presentment_currency: str) -> Node:
    return {"shopMoney": money(shop_amount, shop_currency), "presentmentMoney": money(presented, presentment_currency)}


class ShopNodes:
    """The nodes of one shop's online orders (with line items and refunds), customers and products."""

    def __init__(self, world: ShopWorld) -> None:
        self.currency = world.spec.currency
        self.tax = currency(world.spec.currency)
        self._prepare_orders(world)
        self._prepare_customers(world)
        self._prepare_products(world)

    def amounts(self, cents: pl.Series, rate_micro: np.ndarray) -> Texts:
        """Decimal texts of amounts in the shop currency and converted at each row's presentment rate."""
        return cents_text(cents).to_list(), cents_text(convert(cents.to_numpy(), rate_micro)).to_list()

    def bag(self, texts: Texts, row: int, order: int) -> Node:
        """The ``MoneyBag`` of amount ``row`` of ``texts``, presented in the currency of order ``order``."""
        return money_bag(texts[0][row], self.currency, texts[1][row], self.order_presentment[order])

    # -- orders, line items, refunds -------------------------------------------------------------------------

    def _prepare_orders(self, world: ShopWorld) -> None:
        orders = world.channel("online_store").sort("order_id")
        self.order_ids = orders["order_id"].to_numpy()
        self.order_rate = (orders["fx_rate"] * MICRO).cast(pl.Int64).to_numpy()
        self.order_presentment = orders["presentment_currency"].to_list()
        self.order_text = {
            "id": gids("Order", self.order_ids), "legacy": [str(i) for i in self.order_ids.tolist()],
            "name": orders["name"].to_list(), "created": iso_texts(orders["created_at"]),
            "customer": gids("Customer", orders["customer_id"]),
            "codes": [[] if c is None else [c] for c in orders["discount_code"].to_list()],
        }
        self.order_money = {column: self.amounts(orders[column], self.order_rate)
                            for column in ("subtotal_cents", "discount_cents", "shipping_cents", "tax_cents",
                                           "total_cents")}

        lines = (world.order_lines.filter(pl.col("order_id").is_in(orders["order_id"].implode()))
                 .sort("order_id", "line_id"))
        line_order = np.searchsorted(self.order_ids, lines["order_id"].to_numpy())
        self.line_start = np.searchsorted(line_order, np.arange(len(self.order_ids) + 1))
        self.line_ids = lines["line_id"].to_numpy()
        line_rate = self.order_rate[line_order]
        self.line_order = line_order
        self.line_text = {"id": gids("LineItem", self.line_ids), "sku": lines["sku"].to_list(),
                          "variant": gids("ProductVariant", lines["variant_id"]),
                          "product": gids("Product", lines["product_id"])}
        self.line_quantity = lines["quantity"].to_list()
        self.line_money = {
            "unit_price": (cents_text(lines["unit_price_cents"]).to_list(),
                           cents_text(lines["unit_price_presentment_cents"]).to_list()),
            "discount": self.amounts(lines["discount_cents"], line_rate),
            "tax": self.amounts(lines["tax_cents"], line_rate),
        }

        refunds = world.refunds.sort("refund_id")
        self.refund_ids = refunds["refund_id"].to_numpy()
        refund_order = np.searchsorted(self.order_ids, refunds["order_id"].to_numpy())
        self.refund_order = refund_order
        self.refund_text = {"id": gids("Refund", self.refund_ids), "created": iso_texts(refunds["created_at"])}
        self.refunds_of_order: dict[int, list[int]] = {}  # refund ids follow creation: each list is chronological
        for r, order in enumerate(refund_order.tolist()):
            self.refunds_of_order.setdefault(order, []).append(r)

        refund_lines = world.refund_lines.sort("refund_id", "refund_line_id")
        rl_refund = np.searchsorted(self.refund_ids, refund_lines["refund_id"].to_numpy())
        rl_rate = self.order_rate[refund_order[rl_refund]]
        self.refund_line_start = np.searchsorted(rl_refund, np.arange(len(self.refund_ids) + 1))
        self.refund_line_text = {"id": gids("RefundLineItem", refund_lines["refund_line_id"]),
                                 "line": np.searchsorted(self.line_ids, refund_lines["line_id"].to_numpy()).tolist()}
        self.refund_line_quantity = refund_lines["quantity"].to_list()
        self.refund_line_money = {"subtotal": self.amounts(refund_lines["subtotal_cents"], rl_rate),
                                  "tax": self.amounts(refund_lines["tax_cents"], rl_rate)}
        amount = (refund_lines["subtotal_cents"] + refund_lines["tax_cents"]).to_numpy()
        refund_total = np.zeros(len(self.refund_ids), dtype=np.int64)
        np.add.at(refund_total, rl_refund, amount)
        self.refund_money = self.amounts(pl.Series(refund_total), self.order_rate[refund_order])

    def order(self, i: int) -> Node:
        """Order ``i`` (position in ``order_ids``) without its clock-dependent fields."""
        text, bag = self.order_text, self.order_money
        return {
            "id": text["id"][i], "legacyResourceId": text["legacy"][i], "name": text["name"][i],
            "createdAt": text["created"][i], "processedAt": text["created"][i], "cancelledAt": None,
            "currencyCode": self.currency, "presentmentCurrencyCode": self.order_presentment[i],
            "sourceName": "web", "discountCodes": text["codes"][i], "customer": {"id": text["customer"][i]},
            "subtotalPriceSet": self.bag(bag["subtotal_cents"], i, i),
            "totalDiscountsSet": self.bag(bag["discount_cents"], i, i),
            "totalTaxSet": self.bag(bag["tax_cents"], i, i),
            "totalShippingPriceSet": self.bag(bag["shipping_cents"], i, i),
            "totalPriceSet": self.bag(bag["total_cents"], i, i),
            "lineItems": nested([self._line(j) for j in range(self.line_start[i], self.line_start[i + 1])]),
        }

    def _line(self, j: int) -> Node:
        order = int(self.line_order[j])
        text, bag = self.line_text, self.line_money
        return {
            "id": text["id"][j], "sku": text["sku"][j], "quantity": self.line_quantity[j],
            "variant": {"id": text["variant"][j]}, "product": {"id": text["product"][j]},
            "originalUnitPriceSet": self.bag(bag["unit_price"], j, order),
            "totalDiscountSet": self.bag(bag["discount"], j, order),
            "taxLines": listing([{"title": self.tax.tax_title, "rate": self.tax.tax_ppm / 1e6,
                                  "ratePercentage": self.tax.tax_ppm / 1e4,
                                  "priceSet": self.bag(bag["tax"], j, order)}]),
        }

    def refund(self, r: int) -> Node:
        """Refund ``r`` (position in ``refund_ids``) with its refund line items."""
        order = int(self.refund_order[r])
        text, bag = self.refund_line_text, self.refund_line_money
        lines = [{"id": text["id"][k], "quantity": self.refund_line_quantity[k],
                  "lineItem": self._line(text["line"][k]),
                  "subtotalSet": self.bag(bag["subtotal"], k, order),
                  "totalTaxSet": self.bag(bag["tax"], k, order)}
                 for k in range(self.refund_line_start[r], self.refund_line_start[r + 1])]
        return {"id": self.refund_text["id"][r], "createdAt": self.refund_text["created"][r],
                "totalRefundedSet": self.bag(self.refund_money, r, order), "refundLineItems": nested(lines)}

    # -- customers -------------------------------------------------------------------------------------------

    def _prepare_customers(self, world: ShopWorld) -> None:
        customers = world.customers.filter(pl.col("acquisition_channel") != "wholesale").sort("customer_id")
        self.customer_ids = customers["customer_id"].to_numpy()
        self.customer_text = {
            "id": gids("Customer", self.customer_ids), "email": customers["email"].to_list(),
            "first": customers["first_name"].to_list(), "last": customers["last_name"].to_list(),
            "created": iso_texts(customers["created_at"]), "country": customers["country_code"].to_list(),
        }

    def customer(self, i: int) -> Node:
        """Customer ``i`` (position in ``customer_ids``) without its clock-dependent fields."""
        text = self.customer_text
        return {"id": text["id"][i], "email": text["email"][i], "firstName": text["first"][i],
                "lastName": text["last"][i], "createdAt": text["created"][i],
                "defaultAddress": {"countryCodeV2": text["country"][i]}}

    # -- products and variants -------------------------------------------------------------------------------

    def _prepare_products(self, world: ShopWorld) -> None:
        products = world.products.sort("product_id")
        self.product_ids = products["product_id"].to_numpy()
        self.product_text = {
            "id": gids("Product", self.product_ids), "title": products["title"].to_list(),
            "type": products["product_type"].to_list(), "vendor": products["vendor"].to_list(),
            "status": products["status"].to_list(), "created": iso_texts(products["created_at"]),
            "updated": iso_texts(products["updated_at"]),
        }
        variants = world.variants.sort("product_id", "variant_id")
        self.variant_start = np.searchsorted(variants["product_id"].to_numpy(),
                                             np.r_[self.product_ids, np.iinfo(np.int64).max])
        self.variant_text = {
            "id": gids("ProductVariant", variants["variant_id"]), "sku": variants["sku"].to_list(),
            "title": variants["title"].to_list(), "price": cents_text(variants["price_cents"]).to_list(),
            "item": gids("InventoryItem", variants["variant_id"]),
            "cost": cents_text(variants["unit_cost_cents"]).to_list(),
        }

    def product(self, i: int) -> Node:
        """Product ``i`` (position in ``product_ids``) with its variants."""
        text, v = self.product_text, self.variant_text
        variants = [{"id": v["id"][k], "sku": v["sku"][k], "title": v["title"][k], "price": v["price"][k],
                     "inventoryItem": {"id": v["item"][k], "unitCost": money(v["cost"][k], self.currency)}}
                    for k in range(self.variant_start[i], self.variant_start[i + 1])]
        return {"id": text["id"][i], "title": text["title"][i], "productType": text["type"][i],
                "vendor": text["vendor"][i], "status": text["status"][i], "createdAt": text["created"][i],
                "updatedAt": text["updated"][i], "variants": nested(variants)}
