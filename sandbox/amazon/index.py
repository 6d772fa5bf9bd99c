"""Each shop's Amazon channel as the SP-API shows it: built once per shop, viewed once per clock.

``AmazonShop`` holds the shop's simulated marketplace (``simulate_marketplace``, built once) and the stable
Amazon-style identifiers derived from the world's integer ids: ``AmazonOrderId`` in 3-7-7 form
(``113-4829301-7730516``), 14-digit ``OrderItemId`` and ``OrderAdjustmentItemId``. ``ShopView`` is the channel at
one clock, already rendered as the API's JSON objects and sorted for the window queries of the handlers.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from sandbox.amazon.options import MARKETPLACES, AmazonOptions
from sandbox.world.marketplace import ID_BASES, Marketplace, simulate_marketplace
from sandbox.world.marketplace_returns import simulate_returns
from sandbox.world.money import share
from sandbox.world.shop import ShopWorld
from sandbox.world.spec import WorldSpec

CHANNEL = "amazon"
ID_BASE = ID_BASES[CHANNEL]
_ORDER_MULTIPLIER = 7_919_113_357  # coprime with 10: n ↦ n × m mod 10¹⁴ is a bijection, so ids never collide
_ITEM_MULTIPLIER = 3_141_592_653
_ADJUSTMENT_MULTIPLIER = 2_718_281_829
_SPACE = 10**14
_OFFSET = 38_294_017_552_901  # so the first ids do not start with a run of zeros
VIEW_CACHE = 4  # clocks kept per shop


def iso(moment: datetime) -> str:
    """Amazon's timestamps: ISO 8601 in UTC with a Z, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def amount_text(cents: int) -> str:
    """Orders API money: decimal text with two places."""
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def amount_number(cents: int) -> float:
    """Finances API money (a JSON number): cents / 100 is the correctly rounded double of the decimal, so its
    shortest repr is the two-place decimal text itself (1234 → 12.34)."""
    return cents / 100


class AmazonShop:
    """One shop's Amazon seller account and its channel (the full world; views per clock are cached)."""

    def __init__(self, spec: WorldSpec, shop: ShopWorld, options: AmazonOptions) -> None:
        self.handle, self.options = shop.handle, options
        self.marketplace_id: str = options.marketplace_id  # type: ignore[assignment]
        _, self.sales_channel, self._prefixes = MARKETPLACES[self.marketplace_id]
        self.market: Marketplace = simulate_marketplace(spec, shop, CHANNEL, options)
        self.currency = self.market.currency
        self.timezone = shop.spec.timezone
        listings = self.market.listings
        self.asin = dict(zip(listings["sku"].to_list(), listings["external_id"].to_list(), strict=True))
        self.title = dict(zip(listings["sku"].to_list(), listings["title"].to_list(), strict=True))
        # the FBA customer returns report lists only Amazon-fulfilled lines
        self.fba_returns = simulate_returns(spec, self.market).filter(pl.col("fulfilled_by_marketplace"))
        self._views: OrderedDict[datetime, ShopView] = OrderedDict()
        self._lock = threading.Lock()

    def order_id(self, world_id: int) -> str:
        n = world_id - ID_BASE
        x = (n * _ORDER_MULTIPLIER + _OFFSET) % _SPACE
        return f"{self._prefixes[n % len(self._prefixes)]}-{x // 10**7:07d}-{x % 10**7:07d}"

    @staticmethod
    def item_id(world_line_id: int) -> str:
        return f"{((world_line_id - ID_BASE) * _ITEM_MULTIPLIER + _OFFSET) % _SPACE:014d}"

    @staticmethod
    def adjustment_id(world_refund_id: int) -> str:
        return f"{((world_refund_id - ID_BASE) * _ADJUSTMENT_MULTIPLIER + _OFFSET) % _SPACE:014d}"

    def fn_sku(self, sku: str) -> str:
        return "X00" + self.asin[sku][-7:]

    def view(self, clock: datetime) -> ShopView:
        """The channel as the API shows it at ``clock`` (cached for the last few clocks)."""
        clock = clock.astimezone(UTC)  # Marketplace.visible compares with UTC timestamps: an offset must not leak
        with self._lock:
            view = self._views.get(clock)
            if view is None:
                view = ShopView(self, self.market.visible(clock), clock)
                self._views[clock] = view
                while len(self._views) > VIEW_CACHE:
                    self._views.popitem(last=False)
            return view


@dataclass(frozen=True)
class Event:
    """One financial event: when it posted, a stable sort key, which list it belongs to, its JSON."""

    posted_at: datetime
    key: str
    kind: str  # ShipmentEventList | RefundEventList
    body: dict[str, Any]


class ShopView:
    """The channel at one clock, rendered once: orders (by LastUpdateDate and by PurchaseDate), order items per
    order, financial events by PostedDate, FBA inventory summaries."""

    def __init__(self, shop: AmazonShop, market: Marketplace, clock: datetime) -> None:
        self.shop, self.clock = shop, clock
        lines = market.lines.sort("order_id", "line_id")
        orders = market.orders.sort("order_id")
        self.items = self._items(lines, orders)
        self.orders = [self._order(row, self.items) for row in orders.iter_rows(named=True)]
        self.by_id = {o["AmazonOrderId"]: o for o in self.orders}
        self.by_updated = sorted(self.orders, key=lambda o: (o["LastUpdateDate"], o["AmazonOrderId"]))
        self.updated_keys = [o["LastUpdateDate"] for o in self.by_updated]
        self.by_created = sorted(self.orders, key=lambda o: (o["PurchaseDate"], o["AmazonOrderId"]))
        self.created_keys = [o["PurchaseDate"] for o in self.by_created]
        self.events = sorted([*self._shipment_events(lines, orders, market.fees),
                              *self._refund_events(lines, market.fees, market.refunds)],
                             key=lambda e: (e.posted_at, e.key))
        self.event_times = [e.posted_at for e in self.events]
        self.inventory = self._inventory(market.inventory_daily)

    # --- orders -------------------------------------------------------------------------------------------
    def _items(self, lines: pl.DataFrame, orders: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
        shop, cur = self.shop, self.shop.currency
        shipping = dict(zip(orders["order_id"].to_list(), orders["shipping_cents"].to_list(), strict=True))
        shipped = dict(zip(orders["order_id"].to_list(), orders["shipped_at"].is_not_null().to_list(), strict=True))
        out: dict[str, list[dict[str, Any]]] = {}
        for row in lines.iter_rows(named=True):
            oid = shop.order_id(row["order_id"])
            first = oid not in out
            q = row["quantity"]
            money = {
                "ItemPrice": q * row["unit_price_cents"], "ItemTax": row["tax_cents"],
                "PromotionDiscount": row["promo_cents"], "PromotionDiscountTax": 0,
                "ShippingPrice": shipping[row["order_id"]] if first else 0, "ShippingTax": 0,
                "ShippingDiscount": 0,
            }
            item = {
                "ASIN": shop.asin[row["sku"]],
                "SellerSKU": row["sku"],
                "OrderItemId": shop.item_id(row["line_id"]),
                "Title": shop.title[row["sku"]],
                "QuantityOrdered": q,
                "QuantityShipped": q if shipped[row["order_id"]] else 0,
                "ProductInfo": {"NumberOfItems": "1"},
                **{name: {"CurrencyCode": cur, "Amount": amount_text(c)} for name, c in money.items()},
                "PromotionIds": ["SANDBOX-DEAL"] if row["promo_cents"] else [],
                "IsGift": "false",
                "ConditionId": "New",
                "ConditionSubtypeId": "New",
                "IsTransparency": False,
                "SerialNumberRequired": False,
                "_by_amazon": row["fulfilled_by_marketplace"],
            }
            out.setdefault(oid, []).append(item)
        return out

    def _order(self, row: dict[str, Any], items: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        shop = self.shop
        oid = shop.order_id(row["order_id"])
        lines = items.get(oid, [])
        units = sum(i["QuantityOrdered"] for i in lines)
        shipped = row["shipped_at"] is not None
        afn = bool(lines) and lines[0]["_by_amazon"]
        created = row["created_at"]
        return {
            "AmazonOrderId": oid,
            "SellerOrderId": oid,
            "PurchaseDate": iso(created),
            "LastUpdateDate": iso(row["updated_at"]),
            "OrderStatus": "Shipped" if shipped else "Unshipped",
            "FulfillmentChannel": "AFN" if afn else "MFN",
            "SalesChannel": shop.sales_channel,
            "ShipServiceLevel": "Std Dom",
            "OrderTotal": {"CurrencyCode": row["currency"], "Amount": amount_text(row["total_cents"])},
            "NumberOfItemsShipped": units if shipped else 0,
            "NumberOfItemsUnshipped": 0 if shipped else units,
            "PaymentMethod": "Other",
            "PaymentMethodDetails": ["Standard"],
            "IsReplacementOrder": False,
            "MarketplaceId": shop.marketplace_id,
            "ShipmentServiceLevelCategory": "Standard",
            "OrderType": "StandardOrder",
            "IsBusinessOrder": False,
            "IsPrime": afn and row["shipping_cents"] == 0,
            "IsPremiumOrder": False,
            "IsGlobalExpressEnabled": False,
            "IsSoldByAB": False,
            "IsISPU": False,
            "IsAccessPointOrder": False,
            "ShippingAddress": {"CountryCode": row["ship_country"]},
            "BuyerInfo": {"BuyerEmail": row["buyer_email"]},
        }

    # --- finances -----------------------------------------------------------------------------------------
    def _money(self, cents: int) -> dict[str, Any]:
        return {"CurrencyCode": self.shop.currency, "CurrencyAmount": amount_number(cents)}

    def _shipment_events(self, lines: pl.DataFrame, orders: pl.DataFrame, fees: pl.DataFrame) -> list[Event]:
        """One ShipmentEvent per shipped order, posted when it shipped: item charges (Principal = the line's
        price, Tax, ShippingCharge on the first item), the deal as a negative promotion, fees negative."""
        shop = self.shop
        fee = {(r["line_id"], r["fee_type"]): r["amount_cents"] for r in fees.iter_rows(named=True)}
        shipped = orders.filter(pl.col("shipped_at").is_not_null())
        posted = dict(zip(shipped["order_id"].to_list(), shipped["shipped_at"].to_list(), strict=True))
        shipping = dict(zip(shipped["order_id"].to_list(), shipped["shipping_cents"].to_list(), strict=True))
        events: dict[int, dict[str, Any]] = {}
        for row in lines.filter(pl.col("order_id").is_in(list(posted))).iter_rows(named=True):
            world_order = row["order_id"]
            first = world_order not in events
            event = events.setdefault(world_order, {
                "AmazonOrderId": shop.order_id(world_order), "SellerOrderId": shop.order_id(world_order),
                "MarketplaceName": shop.sales_channel, "PostedDate": iso(posted[world_order]),
                "ShipmentItemList": [],
            })
            charges = [("Principal", row["quantity"] * row["unit_price_cents"]), ("Tax", row["tax_cents"])]
            if first and shipping[world_order]:
                charges += [("ShippingCharge", shipping[world_order]), ("ShippingTax", 0)]
            fees_of_line = [("Commission", fee.get((row["line_id"], "referral"), 0))]
            if (row["line_id"], "fulfillment") in fee:
                fees_of_line.append(("FBAPerUnitFulfillmentFee", fee[(row["line_id"], "fulfillment")]))
            item = {
                "SellerSKU": row["sku"],
                "OrderItemId": shop.item_id(row["line_id"]),
                "QuantityShipped": row["quantity"],
                "ItemChargeList": [{"ChargeType": t, "ChargeAmount": self._money(c)} for t, c in charges],
                "ItemFeeList": [{"FeeType": t, "FeeAmount": self._money(-c)} for t, c in fees_of_line],
                "PromotionList": ([{"PromotionType": "PromotionMetaDataDefinitionValue", "PromotionId":
                                    "SANDBOX-DEAL", "PromotionAmount": self._money(-row["promo_cents"])}]
                                  if row["promo_cents"] else []),
            }
            event["ShipmentItemList"].append(item)
        return [Event(posted[o], e["AmazonOrderId"], "ShipmentEventList", e) for o, e in events.items()]

    def _refund_events(self, lines: pl.DataFrame, fees: pl.DataFrame, refunds: pl.DataFrame) -> list[Event]:
        """One RefundEvent per refund: the returned share of the line's price (negative Principal) with the
        deal's share given back (positive promotion), so Principal + promotion = the refunded merchandise;
        the tax refunded; the referral fee given back (positive Commission) minus Amazon's refund
        administration fee (negative RefundCommission), whose difference is the world's fee refund."""
        shop = self.shop
        if refunds.is_empty():
            return []
        line = lines.select("line_id", "quantity", "unit_price_cents", "promo_cents", "sku")
        referral = fees.filter(pl.col("fee_type") == "referral").select("line_id", referral_cents="amount_cents")
        rows = (refunds.join(line, on="line_id", how="left", suffix="_line")
                .join(referral, on="line_id", how="left").with_columns(pl.col("referral_cents").fill_null(0)))
        back, qty = rows["quantity"].to_numpy(), rows["quantity_line"].to_numpy()
        promo_back = share(rows["promo_cents"].to_numpy(), back, qty)
        referral_back = share(rows["referral_cents"].to_numpy(), back, qty)
        admin = referral_back - rows["fee_refund_cents"].to_numpy()
        rows = rows.with_columns(promo_back=pl.Series(promo_back), referral_back=pl.Series(referral_back),
                                 admin=pl.Series(admin))
        events = []
        for r in rows.iter_rows(named=True):
            oid = shop.order_id(r["order_id"])
            item = {
                "SellerSKU": r["sku"],
                "OrderItemId": shop.item_id(r["line_id"]),
                "OrderAdjustmentItemId": shop.adjustment_id(r["refund_id"]),
                "QuantityShipped": r["quantity"],
                "ItemChargeAdjustmentList": [
                    {"ChargeType": "Principal", "ChargeAmount": self._money(-(r["amount_cents"] + r["promo_back"]))},
                    {"ChargeType": "Tax", "ChargeAmount": self._money(-r["tax_cents"])},
                ],
                "ItemFeeAdjustmentList": [
                    {"FeeType": "Commission", "FeeAmount": self._money(r["referral_back"])},
                    {"FeeType": "RefundCommission", "FeeAmount": self._money(-r["admin"])},
                ],
                "PromotionAdjustmentList": ([{"PromotionType": "PromotionMetaDataDefinitionValue", "PromotionId":
                                              "SANDBOX-DEAL", "PromotionAmount": self._money(r["promo_back"])}]
                                            if r["promo_back"] else []),
            }
            body = {"AmazonOrderId": oid, "SellerOrderId": oid, "MarketplaceName": shop.sales_channel,
                    "PostedDate": iso(r["created_at"]), "ShipmentItemAdjustmentList": [item]}
            events.append(Event(r["created_at"], f"{oid}/{item['OrderAdjustmentItemId']}", "RefundEventList", body))
        return events

    # --- FBA inventory ------------------------------------------------------------------------------------
    def _inventory(self, daily: pl.DataFrame) -> list[dict[str, Any]]:
        """The latest end-of-day stock of every listed SKU, as getInventorySummaries reports it now."""
        shop = self.shop
        if daily.is_empty():
            return []
        latest = daily.filter(pl.col("date") == pl.col("date").max().over("sku")).sort("sku")
        out = []
        for r in latest.iter_rows(named=True):
            fulfillable, inbound, reserved = int(r["fulfillable"]), int(r["inbound"]), int(r["reserved"])
            out.append({
                "asin": shop.asin[r["sku"]],
                "fnSku": shop.fn_sku(r["sku"]),
                "sellerSku": r["sku"],
                "condition": "NewItem",
                "inventoryDetails": {
                    "fulfillableQuantity": fulfillable,
                    "inboundWorkingQuantity": 0,
                    "inboundShippedQuantity": inbound,
                    "inboundReceivingQuantity": 0,
                    "reservedQuantity": {"totalReservedQuantity": reserved, "pendingCustomerOrderQuantity": reserved,
                                         "pendingTransshipmentQuantity": 0, "fcProcessingQuantity": 0},
                    "researchingQuantity": {"totalResearchingQuantity": 0, "researchingQuantityBreakdown": []},
                    "unfulfillableQuantity": {"totalUnfulfillableQuantity": 0, "customerDamagedQuantity": 0,
                                              "warehouseDamagedQuantity": 0, "distributorDamagedQuantity": 0,
                                              "carrierDamagedQuantity": 0, "defectiveQuantity": 0,
                                              "expiredQuantity": 0},
                },
                "lastUpdatedTime": iso(self.clock),
                "productName": shop.title[r["sku"]],
                "totalQuantity": fulfillable + inbound + reserved,
            })
        return out

    # --- window queries -----------------------------------------------------------------------------------
    def orders_between(self, field: str, after: str, before: str) -> list[dict[str, Any]]:
        """Orders whose ``field`` (LastUpdateDate | PurchaseDate) is in [after, before] (ISO texts compare
        as instants: all are UTC, whole seconds, with Z)."""
        rows, keys = (self.by_updated, self.updated_keys) if field == "LastUpdateDate" else \
            (self.by_created, self.created_keys)
        return rows[bisect.bisect_left(keys, after):bisect.bisect_right(keys, before)]

    def events_between(self, after: datetime, before: datetime) -> list[Event]:
        return self.events[bisect.bisect_left(self.event_times, after):bisect.bisect_right(self.event_times, before)]


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    """An order item without the twin's private fields."""
    return {k: v for k, v in item.items() if not k.startswith("_")}


__all__ = ["AmazonShop", "Event", "ShopView", "amount_number", "amount_text", "iso", "public_item"]
