"""Walmart's JSON on the wire: purchase orders (Orders API v3), reconciliation report rows, error bodies.

Field names and nesting are Walmart's own (``list.elements.order[].orderLines.orderLine[].charges.charge[]``…).
Money travels as JSON numbers, as Walmart sends it: :func:`amount` turns integer cents into the float whose
shortest representation is exactly the two-place decimal (a correctly rounded ``cents / 100``), so a client
parsing with ``parse_float=Decimal`` reads the exact amount back.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

from sandbox.walmart.index import CUSTOMER_ORDER_OFFSET, Line, MoneyEvent, Order, SettlementPeriod, from_ms

COUNTRY_ALPHA3 = {"US": "USA", "CA": "CAN", "MX": "MEX", "GB": "GBR", "DE": "DEU", "FR": "FRA", "JP": "JPN"}
CITIES = [("Bentonville", "AR", "72712"), ("Dallas", "TX", "75201"), ("Columbus", "OH", "43215"),
          ("Denver", "CO", "80202"), ("Atlanta", "GA", "30303"), ("Portland", "OR", "97201")]
DAY_MS = 86_400_000


def amount(cents: int) -> float:
    """A JSON number for integer cents (exact on the wire: see the module docstring)."""
    return int(cents) / 100


def money(cents: int, currency: str) -> dict[str, Any]:
    return {"currency": currency, "amount": amount(cents)}


def quantity(units: int) -> dict[str, str]:
    return {"unitOfMeasurement": "EACH", "amount": str(int(units))}


def purchase_order(order: Order) -> dict[str, Any]:
    """One element of ``list.elements.order`` (also the body of ``GET /v3/orders/{purchaseOrderId}``)."""
    city, state, postal = CITIES[order.order_id % len(CITIES)]
    ship_ms = order.shipped_ms or order.created_ms + DAY_MS
    all_wfs = bool(order.lines) and all(line.wfs for line in order.lines)
    return {
        "purchaseOrderId": str(order.order_id),
        "customerOrderId": str(order.customer_order_id),
        "customerEmailId": order.buyer_email,
        "orderType": "REGULAR",
        "orderDate": order.created_ms,
        "shippingInfo": {
            "phone": f"479555{order.order_id % 10_000:04d}",
            "estimatedDeliveryDate": ship_ms + 3 * DAY_MS,
            "estimatedShipDate": ship_ms,
            "methodCode": "Standard" if order.shipping_cents else "Value",
            "postalAddress": {
                "name": f"Walmart Customer {order.order_id % 100_000}",
                "address1": f"{100 + order.order_id % 900} Main Street",
                "address2": None,
                "city": city,
                "state": state,
                "postalCode": postal,
                "country": COUNTRY_ALPHA3.get(order.ship_country, order.ship_country),
                "addressType": "RESIDENTIAL",
            },
        },
        "orderLines": {"orderLine": [_order_line(order, line) for line in order.lines]},
        "shipNode": {"type": "WFSFulfilled" if all_wfs else "SellerFulfilled"},
    }


def _order_line(order: Order, line: Line) -> dict[str, Any]:
    cur = order.currency
    charges = [{"chargeType": "PRODUCT", "chargeName": "ItemPrice", "chargeAmount": money(line.gross_cents, cur),
                "tax": {"taxName": "Tax1", "taxAmount": money(line.tax_cents, cur)}}]
    if line.promo_cents:
        charges.append({"chargeType": "PRODUCT", "chargeName": "Discount",
                        "chargeAmount": money(-line.promo_cents, cur), "tax": None})
    if line.number == 1 and order.shipping_cents:
        charges.append({"chargeType": "SHIPPING", "chargeName": "Shipping",
                        "chargeAmount": money(order.shipping_cents, cur), "tax": None})
    refund, statuses = line.refund, []
    if order.shipped_ms is None:
        statuses.append({"status": "Acknowledged", "statusQuantity": quantity(line.quantity),
                         "cancellationReason": None, "trackingInfo": None})
    else:
        kept = line.quantity - (refund.quantity if refund else 0)
        if kept:
            statuses.append({"status": "Shipped", "statusQuantity": quantity(kept), "cancellationReason": None,
                             "trackingInfo": _tracking(order)})
        if refund:
            statuses.append({"status": "Refund", "statusQuantity": quantity(refund.quantity),
                             "cancellationReason": None, "trackingInfo": _tracking(order)})
    status_ms = max(order.created_ms, order.shipped_ms or 0, refund.at_ms if refund else 0)
    return {
        "lineNumber": str(line.number),
        "item": {"productName": line.product_name, "sku": line.sku},
        "charges": {"charge": charges},
        "orderLineQuantity": quantity(line.quantity),
        "statusDate": status_ms,
        "orderLineStatuses": {"orderLineStatus": statuses},
        "refund": None if refund is None else {
            "refundId": str(refund.refund_id),
            "refundComments": "Customer return",
            "refundCharges": {"refundCharge": [{
                "refundReason": "ItemNotAsDescribed",
                "charge": {"chargeType": "PRODUCT", "chargeName": "ItemPrice",
                           "chargeAmount": money(-refund.amount_cents, cur),
                           "tax": {"taxName": "Tax1", "taxAmount": money(-refund.tax_cents, cur)}},
            }]},
        },
        "fulfillment": {"fulfillmentOption": "S2H", "shipMethod": "STANDARD", "storeId": None,
                        "pickUpDateTime": order.shipped_ms or order.created_ms + DAY_MS, "pickUpBy": None,
                        "shippingProgramType": None},
    }


def _tracking(order: Order) -> dict[str, Any]:
    return {"shipDateTime": order.shipped_ms, "carrierName": {"otherCarrier": None, "carrier": "UPS"},
            "methodCode": "Standard", "trackingNumber": f"1Z{order.order_id:016d}",
            "trackingURL": f"https://www.walmart.com/tracking?tracking_id=1Z{order.order_id:016d}"}


# --- reconciliation report -----------------------------------------------------------------------------------

RECON_COLUMNS = (
    "Period Start Date", "Period End Date", "Total Payable", "Currency", "Transaction Key",
    "Transaction Posted Timestamp", "Transaction Type", "Transaction Description", "Customer Order #",
    "Customer Order line #", "Purchase Order #", "Purchase Order line #", "Amount", "Amount Type", "Ship Qty",
    "Commission Rate", "Transaction Reason Description", "Partner Item Id", "Partner Item Name",
    "Fulfillment Type",
)


def report_date_text(day: date) -> str:
    """Walmart's report date: MMDDYYYY."""
    return day.strftime("%m%d%Y")


def recon_rows(period: SettlementPeriod, events: list[MoneyEvent], currency: str, seller_id: int,
               referral_fee_bp: int, names: dict[str, str]) -> list[dict[str, Any]]:
    """The period's report: one row per money line (sale, commission, WFS fee, refund, commission refund),
    then the PaymentSummary row carrying the period, the currency and the total payable."""
    key = f"{period.report_date:%Y_%m_%d}_{seller_id}"
    rows = []
    for event in events:
        is_commission = event.amount_type == "Commission on Product"
        rows.append({
            "Period Start Date": "", "Period End Date": "", "Total Payable": "", "Currency": "",
            "Transaction Key": key,
            "Transaction Posted Timestamp": from_ms(event.at_ms).strftime("%m/%d/%Y"),
            "Transaction Type": event.transaction_type,
            "Transaction Description": "Purchase" if event.transaction_type == "Sale" else "Return Refund",
            "Customer Order #": str(CUSTOMER_ORDER_OFFSET + event.order_id),
            "Customer Order line #": str(event.line_number),
            "Purchase Order #": str(event.order_id),
            "Purchase Order line #": str(event.line_number),
            "Amount": amount(event.amount_cents),
            "Amount Type": event.amount_type,
            "Ship Qty": event.quantity,
            "Commission Rate": referral_fee_bp / 100 if is_commission else "",
            "Transaction Reason Description": "Customer Return" if event.transaction_type == "Refund" else "",
            "Partner Item Id": event.sku,
            "Partner Item Name": names.get(event.sku, event.sku),
            "Fulfillment Type": "WFS Fulfilled" if event.wfs else "Seller Fulfilled",
        })
    rows.append({
        **dict.fromkeys(RECON_COLUMNS, ""),
        "Period Start Date": period.start.strftime("%m/%d/%Y"),
        "Period End Date": period.end.strftime("%m/%d/%Y"),
        "Total Payable": amount(sum(e.amount_cents for e in events)),
        "Currency": currency,
        "Transaction Key": key,
        "Transaction Posted Timestamp": period.report_date.strftime("%m/%d/%Y"),
        "Transaction Type": "PaymentSummary",
        "Transaction Description": "Payment Summary",
    })
    return rows


# --- errors ---------------------------------------------------------------------------------------------------

def errors(code: str, field: str, description: str, info: str, *, severity: str = "ERROR",
           category: str = "DATA") -> dict[str, Any]:
    """Walmart's error body: ``{"errors": [{code, field, description, info, severity, category, …}]}``."""
    return {"errors": [{"code": code, "field": field, "description": description, "info": info,
                        "severity": severity, "category": category, "causes": [], "errorIdentifiers": {}}]}


def unauthorized() -> dict[str, Any]:
    return errors("UNAUTHORIZED.GMP_GATEWAY_API", "UNAUTHORIZED", "Unauthorized",
                  "Unauthorized token or token expired")


def seller_id_for(handle: str) -> int:
    """A stable numeric seller id (partnerId / sellerId in cursors and report keys)."""
    return 10_000_000 + int(hashlib.sha256(handle.encode()).hexdigest()[:8], 16) % 90_000_000


def iso_ms(ms: int) -> str:
    """An instant as Walmart writes it in cursors: 2019-09-17T18:47:03.703Z."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
