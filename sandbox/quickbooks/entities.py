"""The books at a clock → QBO v3 entities (Item, Vendor, Bill, Purchase, Preferences), as JSON-ready dicts.

Field names, nesting and types are QBO's (minor version 75): ``Id``/``SyncToken`` strings, refs as
``{"value", "name"}``, ``MetaData {CreateTime, LastUpdatedTime}``, amounts as exact numbers (``wire.amount``).
Each entity is returned with its sort keys (``Row``) so the query engine can filter and order without parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from sandbox.quickbooks.wire import amount, company_time
from sandbox.quickbooks.world import (
    ACCOUNTS_PAYABLE,
    COST_OF_GOODS,
    INVENTORY_ASSET,
    SALES_INCOME,
    Books,
)
from sandbox.world.currencies import currency

CURRENCY_NAMES = {"USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling",
                  "CAD": "Canadian Dollar", "CHF": "Swiss Franc", "AUD": "Australian Dollar",
                  "NZD": "New Zealand Dollar", "SEK": "Swedish Krona", "DKK": "Danish Krone",
                  "NOK": "Norwegian Krone", "PLN": "Polish Zloty"}
ENTITIES = ("Item", "Vendor", "Bill", "Purchase", "Preferences")


@dataclass(frozen=True)
class Row:
    """One entity and what a query filters and orders it by."""

    id: int
    created_at: datetime
    updated_at: datetime
    body: dict[str, Any]


def render(books: Books, item_qty: dict[int, int]) -> dict[str, list[Row]]:
    """Every entity of the books (already taken at a clock), in Id order."""
    zone = ZoneInfo(books.timezone)
    money = {"value": books.currency, "name": CURRENCY_NAMES.get(books.currency, currency(books.currency).code)}
    vendor_names = dict(zip(books.vendors["vendor_id"].to_list(), books.vendors["display_name"].to_list(),
                            strict=True))
    item_names = dict(zip(books.items["item_id"].to_list(), books.items["name"].to_list(), strict=True))

    def meta(row: dict[str, Any]) -> dict[str, str]:
        return {"CreateTime": company_time(row["created_at"], zone),
                "LastUpdatedTime": company_time(row["updated_at"], zone)}

    def wrap(row: dict[str, Any], key: str, body: dict[str, Any]) -> Row:
        body = {**body, "domain": "QBO", "sparse": False, "Id": str(row[key]), "SyncToken": str(row["sync_token"]),
                "MetaData": meta(row)}
        return Row(row[key], row["created_at"], row["updated_at"], body)

    vendors = [wrap(v, "vendor_id", {
        "Balance": amount(0), "Vendor1099": False, "CurrencyRef": money, "DisplayName": v["display_name"],
        "CompanyName": v["display_name"], "PrintOnCheckName": v["display_name"], "Active": True,
    }) for v in books.vendors.iter_rows(named=True)]

    items = [wrap(i, "item_id", {
        "Name": i["name"], "Sku": i["sku"], "Active": True, "FullyQualifiedName": i["name"], "Taxable": True,
        "UnitPrice": amount(i["unit_price_cents"]), "Type": "Inventory",
        "IncomeAccountRef": _ref(SALES_INCOME), "PurchaseCost": amount(i["purchase_cost_cents"]),
        "ExpenseAccountRef": _ref(COST_OF_GOODS), "AssetAccountRef": _ref(INVENTORY_ASSET),
        "PrefVendorRef": {"value": str(i["vendor_id"]), "name": vendor_names.get(i["vendor_id"], "")},
        "TrackQtyOnHand": True, "QtyOnHand": item_qty.get(i["item_id"], 0),
        "InvStartDate": i["created_at"].astimezone(zone).date().isoformat(),
    }) for i in books.items.iter_rows(named=True)]

    bill_lines = _grouped(books.bill_lines, "txn_id")
    bills = [wrap(b, "txn_id", {
        "DueDate": b["due_date"].isoformat(), "Balance": amount(b["balance_cents"]), "DocNumber": b["doc_number"],
        "TxnDate": b["txn_date"].isoformat(), "CurrencyRef": money, "SalesTermRef": {"value": "3"},
        "APAccountRef": _ref(ACCOUNTS_PAYABLE),
        "VendorRef": {"value": str(b["vendor_id"]), "name": vendor_names[b["vendor_id"]]},
        "TotalAmt": amount(b["total_cents"]), "LinkedTxn": [],
        "Line": [{
            "Id": str(line["line_id"]), "LineNum": line["line_id"], "Description": item_names.get(line["item_id"]),
            "Amount": amount(line["amount_cents"]), "DetailType": "ItemBasedExpenseLineDetail",
            "ItemBasedExpenseLineDetail": {
                "BillableStatus": "NotBillable",
                "ItemRef": {"value": str(line["item_id"]), "name": item_names.get(line["item_id"], "")},
                "UnitPrice": amount(line["unit_cost_cents"]), "Qty": line["qty"], "TaxCodeRef": {"value": "NON"},
            },
        } for line in bill_lines.get(b["txn_id"], [])],
    }) for b in books.bills.iter_rows(named=True)]

    purchase_lines = _grouped(books.purchase_lines, "txn_id")
    purchases = [wrap(p, "txn_id", {
        "AccountRef": {"value": p["account_id"], "name": p["account_name"]}, "PaymentType": p["payment_type"],
        "EntityRef": {"value": str(p["vendor_id"]), "name": vendor_names[p["vendor_id"]], "type": "Vendor"},
        "Credit": False, "TotalAmt": amount(p["total_cents"]), "PurchaseEx": {"any": []},
        "TxnDate": p["txn_date"].isoformat(), "CurrencyRef": money, "PrivateNote": p["private_note"],
        "Line": [{
            "Id": str(line["line_id"]), "Description": line["description"], "Amount": amount(line["amount_cents"]),
            "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {
                "AccountRef": {"value": line["account_id"], "name": line["account_name"]},
                "BillableStatus": "NotBillable", "TaxCodeRef": {"value": "NON"},
            },
        } for line in purchase_lines.get(p["txn_id"], [])],
    }) for p in books.purchases.iter_rows(named=True)]

    return {"Item": items, "Vendor": vendors, "Bill": bills, "Purchase": purchases,
            "Preferences": [_preferences(books, items, vendors)]}


def _preferences(books: Books, items: list[Row], vendors: list[Row]) -> Row:
    """The company's Preferences: its home currency (the shop currency; multicurrency off)."""
    first = min([*(r.created_at for r in vendors), *(r.created_at for r in items)])
    zone = ZoneInfo(books.timezone)
    stamp = company_time(first, zone)
    body = {"CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": books.currency}},
            "domain": "QBO", "sparse": False, "Id": "1", "SyncToken": "0",
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}}
    return Row(1, first, first, body)


def _ref(account: tuple[str, str]) -> dict[str, str]:
    return {"value": account[0], "name": account[1]}


def _grouped(frame: pl.DataFrame, key: str) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for row in frame.iter_rows(named=True):
        out.setdefault(row[key], []).append(row)
    return out
