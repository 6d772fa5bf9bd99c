"""The shop's data as the GraphQL twin serves it: plain dicts with Shopify's field names, built once per
(shop, clock) from the world, money in ``MoneyBag`` form (shop and presentment currency)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import polars as pl

from sandbox.shopify.connections import Collection, listing, nested
from sandbox.world import ShopWorld


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def amount(cents: int) -> str:
    return str(Decimal(int(cents)).scaleb(-2))


def money(cents: int, currency: str) -> dict:
    return {"amount": amount(cents), "currencyCode": currency}


def money_bag(cents: int, shop_currency: str, presentment: str, fx_micro: int) -> dict:
    presented = (2 * int(cents) * fx_micro + 1_000_000) // 2_000_000  # half away from zero, as everywhere
    return {"shopMoney": money(cents, shop_currency), "presentmentMoney": money(presented, presentment)}


@dataclass
class ShopGraph:
    orders: Collection
    customers: Collection
    products: Collection


def _epochs(series: pl.Series) -> np.ndarray:
    return series.dt.epoch("s").to_numpy().astype(np.float64)


def build_graph(shop: ShopWorld) -> ShopGraph:
    currency = shop.spec.currency
    online = shop.channel("online_store")
    lines = shop.order_lines.join(online.select("order_id", "presentment_currency", "fx_rate_micro"),
                                  on="order_id").sort("line_id")
    line_nodes: dict[int, dict] = {}
    lines_by_order: dict[int, list[dict]] = {}
    for line in lines.iter_rows(named=True):
        bag = lambda cents, ln=line: money_bag(cents, currency, ln["presentment_currency"], ln["fx_rate_micro"])  # noqa: E731
        node = {
            "id": gid("LineItem", line["line_id"]),
            "sku": line["sku"],
            "quantity": line["quantity"],
            "variant": {"id": gid("ProductVariant", line["variant_id"])},
            "product": {"id": gid("Product", line["product_id"])},
            "originalUnitPriceSet": bag(line["unit_price_cents"]),
            "totalDiscountSet": bag(line["discount_cents"]),
            "taxLines": [{"title": "Sales tax", "rate": None, "priceSet": bag(line["tax_cents"])}],
        }
        line_nodes[line["line_id"]] = node
        lines_by_order.setdefault(line["order_id"], []).append(node)

    refund_lines = shop.refund_lines.join(shop.refunds.select("refund_id", "order_id"), on="refund_id").join(
        online.select("order_id", "presentment_currency", "fx_rate_micro"), on="order_id").sort("refund_line_id")
    rlines_by_refund: dict[int, list[dict]] = {}
    refunded_by_refund: dict[int, int] = {}
    fx_by_refund: dict[int, tuple[str, int]] = {}
    for rl in refund_lines.iter_rows(named=True):
        bag = lambda cents, r=rl: money_bag(cents, currency, r["presentment_currency"], r["fx_rate_micro"])  # noqa: E731
        rlines_by_refund.setdefault(rl["refund_id"], []).append({
            "id": gid("RefundLineItem", rl["refund_line_id"]),
            "quantity": rl["quantity"],
            "lineItem": line_nodes[rl["line_id"]],
            "subtotalSet": bag(rl["subtotal_cents"]),
            "totalTaxSet": bag(rl["tax_cents"]),
        })
        refunded_by_refund[rl["refund_id"]] = refunded_by_refund.get(rl["refund_id"], 0) + rl["subtotal_cents"] + \
            rl["tax_cents"]
        fx_by_refund[rl["refund_id"]] = (rl["presentment_currency"], rl["fx_rate_micro"])
    refunds_by_order: dict[int, list[dict]] = {}
    for refund in shop.refunds.sort("created_at", "refund_id").iter_rows(named=True):
        pres, fx = fx_by_refund.get(refund["refund_id"], (currency, 1_000_000))
        refunds_by_order.setdefault(refund["order_id"], []).append({
            "id": gid("Refund", refund["refund_id"]),
            "createdAt": iso(refund["created_at"]),
            "totalRefundedSet": money_bag(refunded_by_refund.get(refund["refund_id"], 0), currency, pres, fx),
            "refundLineItems": nested(rlines_by_refund.get(refund["refund_id"], [])),
        })

    order_nodes = []
    for o in online.iter_rows(named=True):
        bag = lambda cents, o=o: money_bag(cents, currency, o["presentment_currency"], o["fx_rate_micro"])  # noqa: E731
        order_nodes.append({
            "id": gid("Order", o["order_id"]),
            "legacyResourceId": str(o["order_id"]),
            "name": o["name"],
            "createdAt": iso(o["created_at"]),
            "updatedAt": iso(o["updated_at"]),
            "processedAt": iso(o["created_at"]),
            "cancelledAt": None,
            "currencyCode": currency,
            "presentmentCurrencyCode": o["presentment_currency"],
            "sourceName": "web",
            "customer": {"id": gid("Customer", o["customer_id"])},
            "subtotalPriceSet": bag(o["subtotal_cents"]),
            "totalDiscountsSet": bag(o["discount_cents"]),
            "totalTaxSet": bag(o["tax_cents"]),
            "totalShippingPriceSet": bag(o["shipping_cents"]),
            "totalPriceSet": bag(o["total_cents"]),
            "totalRefundedSet": bag(o["refunded_cents"]),
            "lineItems": nested(lines_by_order.get(o["order_id"], [])),
            "refunds": listing(refunds_by_order.get(o["order_id"], [])),
        })
    orders = Collection(order_nodes, {
        "id": online["order_id"].to_numpy().astype(np.float64),
        "updated_at": _epochs(online["updated_at"]),
        "created_at": _epochs(online["created_at"]),
    })

    spent = online.group_by("customer_id").agg(pl.len().alias("n"),
                                               (pl.col("total_cents") - pl.col("refunded_cents")).sum().alias("spent"))
    customers = (shop.customers.filter(pl.col("acquisition_channel") != "wholesale")
                 .join(spent, on="customer_id", how="left").sort("customer_id"))
    customer_nodes = [{
        "id": gid("Customer", c["customer_id"]),
        "email": c["email"],
        "firstName": c["first_name"],
        "lastName": c["last_name"],
        "createdAt": iso(c["created_at"]),
        "updatedAt": iso(c["updated_at"]),
        "numberOfOrders": str(c["n"] or 0),
        "amountSpent": money(c["spent"] or 0, currency),
        "defaultAddress": {"countryCodeV2": c["country_code"]},
    } for c in customers.iter_rows(named=True)]
    customer_collection = Collection(customer_nodes, {
        "id": customers["customer_id"].to_numpy().astype(np.float64),
        "updated_at": _epochs(customers["updated_at"]),
        "created_at": _epochs(customers["created_at"]),
    })

    variants_by_product: dict[int, list[dict]] = {}
    for v in shop.variants.sort("variant_id").iter_rows(named=True):
        variants_by_product.setdefault(v["product_id"], []).append({
            "id": gid("ProductVariant", v["variant_id"]),
            "sku": v["sku"],
            "title": v["title"],
            "price": amount(v["price_cents"]),
            "inventoryItem": {"unitCost": money(v["unit_cost_cents"], currency)},
        })
    products = shop.products.sort("product_id")
    product_nodes = [{
        "id": gid("Product", p["product_id"]),
        "title": p["title"],
        "productType": p["product_type"],
        "vendor": p["vendor"],
        "status": p["status"],
        "createdAt": iso(p["created_at"]),
        "updatedAt": iso(p["updated_at"]),
        "variants": nested(variants_by_product.get(p["product_id"], [])),
    } for p in products.iter_rows(named=True)]
    product_collection = Collection(product_nodes, {
        "id": products["product_id"].to_numpy().astype(np.float64),
        "updated_at": _epochs(products["updated_at"]),
        "created_at": _epochs(products["created_at"]),
    })
    return ShopGraph(orders, customer_collection, product_collection)
