"""A shop's QuickBooks Online company ("books"), derived deterministically from its ShopWorld.

- **Items** (Type Inventory): one per variant SKU, ``UnitPrice`` = the variant's price, ``PurchaseCost`` = its
  unit cost. A share of the items gets a new purchase cost once during the world (a supplier's price list
  changes): a second version of the item whose ``LastUpdatedTime`` is the change. Bills after it use the new cost.
- **Vendors**: the suppliers of the stock (the product's brand, or a contract manufacturer for the house brand)
  and the payees of the operating expenses (landlord, payroll, software, packaging, postage, bank).
- **Bills**: one per supplier and stock-receipt day (``inventory_daily.units_received`` × the purchase cost in
  force that day, one ItemBasedExpenseLineDetail line per SKU), Net 30; paid around the due date, which is a
  second version (``Balance`` 0, ``LastUpdatedTime`` the payment) when it falls inside the world.
- **Purchases**: operating expenses paid by card, cheque or bank (rent, payroll, software, packaging, postage,
  bank fees, a mixed multi-line supplies order), AccountBasedExpenseLineDetail lines. Some are edited once after
  entry (recategorised, or the amount corrected): a second version.

Every table keeps all versions (``sync_token`` 0, 1); what an API sees at a clock is the last version created by
then (``at_clock``). Money is integer cents of the shop currency; timestamps UTC. Randomness: the shop's own
streams ``quickbooks/<process>``, so the rest of the world is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from sandbox.world.currencies import currency
from sandbox.world.money import basis_points
from sandbox.world.shop import ShopWorld
from sandbox.world.spec import WorldSpec, shop_rng

API = "quickbooks"
INVENTORY_ASSET = ("81", "Inventory Asset")
COST_OF_GOODS = ("80", "Cost of Goods Sold")
SALES_INCOME = ("79", "Sales of Product Income")
ACCOUNTS_PAYABLE = ("33", "Accounts Payable (A/P)")
CHECKING = ("35", "Business Checking")
CREDIT_CARD = ("41", "Company Credit Card")
EXPENSE_ACCOUNTS = {  # name → QBO Account Id (a made-up but stable chart of accounts)
    "Rent & Lease": "7", "Payroll Expenses": "8", "Software & Subscriptions": "9", "Packaging Supplies": "10",
    "Postage & Delivery": "11", "Office Supplies": "12", "Bank Charges & Fees": "13", "Shipping Supplies": "14",
}
CONTRACT_MANUFACTURERS = ("Crestline Manufacturing", "Bluewater Contract Goods", "Ironbark Makers")
VENDOR_ID_BASE, ITEM_ID_BASE, TXN_ID_BASE = 1, 1, 100


class QuickBooksOptions(BaseModel):
    """A shop's ``channels: {quickbooks: {...}}``: its company (realm) and the sandbox-only OAuth app credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    realm_id: str = Field(pattern=r"^[0-9]{6,20}$")  # the QBO company id, digits (e.g. "9341453012345678")
    client_id: str = Field(min_length=8)  # the Intuit app's client id (sandbox fake)
    client_secret: str = Field(min_length=8)  # … and secret (sandbox fake)
    refresh_token: str = Field(min_length=8)  # the refresh token the tenant was connected with (sandbox fake)
    cost_change_share: float = Field(default=0.3, ge=0, le=1)  # of items whose purchase cost changes once
    purchase_edit_share: float = Field(default=0.15, ge=0, le=1)  # of purchases edited once after entry
    opex_scale: float = Field(default=1.0, gt=0)  # scales every operating expense


@dataclass(frozen=True)
class Books:
    """One shop's QuickBooks company: every version of every entity (see the module docstring)."""

    realm_id: str
    currency: str
    timezone: str
    vendors: pl.DataFrame  # vendor_id, display_name, kind, created_at, updated_at, sync_token
    items: pl.DataFrame  # item_id, variant_id, sku, name, unit_price_cents, purchase_cost_cents, vendor_id, …
    bills: pl.DataFrame  # txn_id, doc_number, txn_date, due_date, vendor_id, total_cents, balance_cents, …
    bill_lines: pl.DataFrame  # txn_id, line_id, item_id, qty, unit_cost_cents, amount_cents
    purchases: pl.DataFrame  # txn_id, sync_token, txn_date, vendor_id, payment_type, total_cents, note, …
    purchase_lines: pl.DataFrame  # txn_id, sync_token, line_id, account_name, description, amount_cents

    def at_clock(self, as_of: datetime) -> Books:
        """The company as the API sees it at ``as_of``: entities created by then, each in its latest version."""
        def latest(frame: pl.DataFrame, key: str) -> pl.DataFrame:
            return (frame.filter(pl.col("updated_at") <= as_of).sort(key, "sync_token")
                    .group_by(key, maintain_order=True).last())

        purchases = latest(self.purchases, "txn_id")
        bills = latest(self.bills, "txn_id")
        versions = purchases.select("txn_id", "sync_token")
        return Books(
            realm_id=self.realm_id, currency=self.currency, timezone=self.timezone,
            vendors=latest(self.vendors, "vendor_id"),
            items=latest(self.items, "item_id"),
            bills=bills,
            bill_lines=self.bill_lines.filter(pl.col("txn_id").is_in(bills["txn_id"].implode())),
            purchases=purchases,
            purchase_lines=self.purchase_lines.join(versions, on=["txn_id", "sync_token"], how="semi"),
        )


def options_of(shop: ShopWorld) -> QuickBooksOptions:
    return QuickBooksOptions.model_validate(shop.spec.channels.get(API) or {})


def build_books(spec: WorldSpec, shop: ShopWorld) -> Books:
    """The shop's QuickBooks company from its world frames (deterministic: same spec, same books)."""
    options = options_of(shop)

    def rng(stream: str) -> np.random.Generator:
        return shop_rng(spec.seed, shop.handle, f"{API}/{stream}")

    local = _LocalTime(spec.start_date, ZoneInfo(shop.spec.timezone))
    horizon = shop.as_of
    vendors, supplier_of = _vendors(shop, local, rng("vendors"))
    items = _items(shop, supplier_of, local, options.cost_change_share, horizon, rng("items"))
    bills, bill_lines = _bills(shop, items, local, horizon, rng("bills"))
    purchases, purchase_lines = _purchases(spec, shop, vendors, local, options, horizon, rng("purchases"))
    bills, purchases = _number_transactions(bills, purchases)
    bill_lines = bill_lines.join(bills.filter(pl.col("sync_token") == 0).select("bill_key", "txn_id"), on="bill_key")
    purchase_lines = purchase_lines.join(purchases.filter(pl.col("sync_token") == 0).select("purchase_key", "txn_id"),
                                         on="purchase_key")
    return Books(
        realm_id=options.realm_id, currency=shop.spec.currency, timezone=shop.spec.timezone,
        vendors=vendors, items=items,
        bills=bills.drop("bill_key"), bill_lines=bill_lines.drop("bill_key").sort("txn_id", "line_id"),
        purchases=purchases.drop("purchase_key"),
        purchase_lines=purchase_lines.drop("purchase_key").sort("txn_id", "sync_token", "line_id"),
    )


@dataclass(frozen=True)
class _LocalTime:
    """Local wall-clock times of the shop → UTC instants."""

    start: date
    zone: ZoneInfo

    def at(self, day: date, seconds: int) -> datetime:
        moment = datetime(day.year, day.month, day.day, tzinfo=self.zone) + timedelta(seconds=int(seconds))
        return moment.astimezone(UTC)

    def day(self, index: int) -> date:
        return self.start + timedelta(days=int(index))


def _vendors(shop: ShopWorld, local: _LocalTime, rng: np.random.Generator) -> tuple[pl.DataFrame, dict[str, int]]:
    """Suppliers (by product brand) then expense payees; created before the world starts."""
    brands = sorted(set(shop.products["vendor"].to_list()))
    manufacturer = CONTRACT_MANUFACTURERS[int(rng.integers(0, len(CONTRACT_MANUFACTURERS)))]
    supplier_names = sorted({manufacturer if b == shop.spec.name else b for b in brands})
    names = [*supplier_names, *PAYEES]
    kinds = ["supplier"] * len(supplier_names) + ["payee"] * len(PAYEES)
    created = [local.at(local.day(-int(rng.integers(30, 500))), int(rng.integers(9 * 3600, 17 * 3600)))
               for _ in names]
    vendors = pl.DataFrame({
        "vendor_id": VENDOR_ID_BASE + np.arange(len(names)),
        "display_name": names,
        "kind": kinds,
        "sync_token": pl.Series([0] * len(names), dtype=pl.Int64),
        "created_at": pl.Series(created, dtype=pl.Datetime("us", "UTC")),
    }).with_columns(updated_at=pl.col("created_at"))
    ids = dict(zip(names, vendors["vendor_id"].to_list(), strict=True))
    supplier_of = {b: ids[manufacturer if b == shop.spec.name else b] for b in brands}
    return vendors, supplier_of


def _items(shop: ShopWorld, supplier_of: dict[str, int], local: _LocalTime, change_share: float,
           horizon: datetime, rng: np.random.Generator) -> pl.DataFrame:
    """One Inventory item per variant (version 0), and a version 1 for those whose purchase cost changes."""
    variants = shop.variants.join(shop.products.select("product_id", "title", "vendor", "created_at"),
                                  on="product_id", how="left", suffix="_product", maintain_order="left")
    names = [title if v == "Default Title" else f"{title} - {v}"
             for title, v in zip(variants["title_product"].to_list(), variants["title"].to_list(), strict=True)]
    base = pl.DataFrame({
        "item_id": ITEM_ID_BASE + np.arange(variants.height),
        "variant_id": variants["variant_id"],
        "sku": variants["sku"],
        "name": names,
        "unit_price_cents": variants["price_cents"],
        "purchase_cost_cents": variants["unit_cost_cents"],
        "vendor_id": [supplier_of[v] for v in variants["vendor"].to_list()],
        "sync_token": pl.Series([0] * variants.height, dtype=pl.Int64),
        "created_at": variants["created_at"],
    }).with_columns(updated_at=pl.col("created_at"))

    n = base.height
    changes = rng.uniform(size=n) < change_share
    change_bp = 10_000 + rng.integers(-800, 1801, size=n)
    change_bp = np.where(change_bp == 10_000, 10_500, change_bp)
    world_days = (horizon.date() - local.start).days
    rows = []
    for i in np.flatnonzero(changes):
        created = base["created_at"][int(i)]
        first_day = max(1, (created.astimezone(local.zone).date() - local.start).days + 2)
        if first_day >= world_days - 2:
            continue
        day = local.day(int(rng.integers(first_day, world_days - 1)))
        when = local.at(day, int(rng.integers(7 * 3600, 9 * 3600)))  # before the day's bills are entered
        if when >= horizon:
            continue
        new_cost = int(basis_points(np.array([base["purchase_cost_cents"][int(i)]]), int(change_bp[i]))[0])
        rows.append({**base.row(int(i), named=True), "purchase_cost_cents": new_cost, "sync_token": 1,
                     "updated_at": when})
    changed = pl.DataFrame(rows, schema=base.schema) if rows else base.clear()
    return pl.concat([base, changed]).sort("item_id", "sync_token")


def _bills(shop: ShopWorld, items: pl.DataFrame, local: _LocalTime, horizon: datetime,
           rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One bill per supplier and receipt day; paid (a second version) around the due date."""
    received = shop.inventory_daily.filter(pl.col("units_received") > 0).select("date", "variant_id", "units_received")
    # the cost in force on each receipt day: the latest item version whose change happened before that day's end
    versions = items.select("variant_id", "item_id", "vendor_id", "purchase_cost_cents", "updated_at", "sync_token")
    day_end = {d: local.at(d, 86_399) for d in received["date"].unique().to_list()}
    received = received.with_columns(day_end=pl.col("date").replace_strict(day_end, return_dtype=versions["updated_at"]
                                                                             .dtype))
    priced = (received.join(versions, on="variant_id", how="inner")
              .filter(pl.col("updated_at") <= pl.col("day_end"))
              .sort("date", "variant_id", "sync_token")
              .group_by("date", "variant_id", maintain_order=True).last()
              .with_columns(amount_cents=pl.col("units_received") * pl.col("purchase_cost_cents")))
    lines = (priced.sort("date", "vendor_id", "item_id")
             .with_columns(bill_key=pl.struct("date", "vendor_id").rank("dense").cast(pl.Int64))
             .with_columns(line_id=pl.int_range(1, pl.len() + 1).over("bill_key")))
    headers = (lines.group_by("bill_key", maintain_order=True)
               .agg(pl.col("date").first().alias("txn_date"), pl.col("vendor_id").first(),
                    pl.col("amount_cents").sum().alias("total_cents")))
    n = headers.height
    entered = rng.integers(10 * 3600, 17 * 3600, size=n)
    early = rng.integers(0, 6, size=n)
    paid_second = rng.integers(9 * 3600, 16 * 3600, size=n)
    doc = rng.integers(10_000, 99_999, size=n)
    txn_dates = headers["txn_date"].to_list()
    created = [min(local.at(d, s), horizon - timedelta(seconds=1)) for d, s in zip(txn_dates, entered, strict=True)]
    due = [d + timedelta(days=30) for d in txn_dates]
    paid = [local.at(d - timedelta(days=int(e)), int(s)) for d, e, s in zip(due, early, paid_second, strict=True)]
    base = headers.with_columns(
        due_date=pl.Series(due, dtype=pl.Date),
        doc_number=pl.Series([f"INV-{k}" for k in doc.tolist()]),
        balance_cents=pl.col("total_cents"),
        sync_token=pl.lit(0, pl.Int64),
        created_at=pl.Series(created, dtype=pl.Datetime("us", "UTC")),
    ).with_columns(updated_at=pl.col("created_at"))
    paid_version = (base.with_columns(balance_cents=pl.lit(0, pl.Int64), sync_token=pl.lit(1, pl.Int64),
                                      updated_at=pl.Series(paid, dtype=pl.Datetime("us", "UTC")))
                    .filter((pl.col("updated_at") < horizon) & (pl.col("updated_at") > pl.col("created_at"))))
    bills = pl.concat([base, paid_version]).sort("bill_key", "sync_token")
    bill_lines = lines.select("bill_key", "line_id", "item_id", pl.col("units_received").alias("qty"),
                              pl.col("purchase_cost_cents").alias("unit_cost_cents"), "amount_cents")
    return bills, bill_lines


# Operating-expense payees: (vendor, expense account, payment type, payment account)
PAYEES = ("Harborview Properties", "Gusto", "Shopify", "Klaviyo", "Google Workspace", "Uline", "Pirate Ship",
          "Amazon Business", "First Harbor Bank")


@dataclass(frozen=True)
class _Expense:
    """A recurring expense: who is paid, for what, how, and how much (USD cents, before noise and scaling)."""

    vendor: str
    account: str
    payment: str  # Cash | Check | CreditCard
    description: str
    usd_cents: float  # fixed part per occurrence
    usd_cents_per_order: float = 0.0  # … plus this per online order of the period it covers
    noise: float = 0.0  # relative standard deviation of the amount
    round_to: int = 1  # cents


RENT = _Expense("Harborview Properties", "Rent & Lease", "Check", "Warehouse and office rent", 180_000, 0, 0, 10_000)
PAYROLL = _Expense("Gusto", "Payroll Expenses", "Cash", "Payroll run", 260_000, 900, 0.03)
SOFTWARE = (
    _Expense("Shopify", "Software & Subscriptions", "CreditCard", "Shopify plan", 7_900),
    _Expense("Klaviyo", "Software & Subscriptions", "CreditCard", "Email marketing plan", 4_500, 12, 0.02),
    _Expense("Google Workspace", "Software & Subscriptions", "CreditCard", "Workspace seats", 3_600),
)
PACKAGING = _Expense("Uline", "Packaging Supplies", "CreditCard", "Boxes, mailers and tape", 2_500, 95, 0.08)
POSTAGE = _Expense("Pirate Ship", "Postage & Delivery", "CreditCard", "Postage labels", 0, 640, 0.05)
BANK_FEES = _Expense("First Harbor Bank", "Bank Charges & Fees", "Cash", "Monthly account fee", 2_500, 0, 0.1)
SUPPLIES_ORDER = ("Amazon Business", "CreditCard", (("Office Supplies", "Printer paper and toner", 4_500),
                                                    ("Shipping Supplies", "Labels and void fill", 6_000),
                                                    ("Packaging Supplies", "Tissue paper and stickers", 3_500)))
RECATEGORISE = {"Office Supplies": "Shipping Supplies", "Shipping Supplies": "Packaging Supplies",
                "Packaging Supplies": "Shipping Supplies", "Postage & Delivery": "Shipping Supplies",
                "Software & Subscriptions": "Office Supplies", "Bank Charges & Fees": "Office Supplies",
                "Rent & Lease": "Rent & Lease", "Payroll Expenses": "Payroll Expenses"}


def _purchases(spec: WorldSpec, shop: ShopWorld, vendors: pl.DataFrame, local: _LocalTime,
               options: QuickBooksOptions, horizon: datetime,
               rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The operating expenses of every month of the world, some edited once after entry."""
    usd = currency(shop.spec.currency).usd
    vendor_id = dict(zip(vendors["display_name"].to_list(), vendors["vendor_id"].to_list(), strict=True))
    orders_by_day = _online_orders_by_day(shop, local, spec.days)

    def amount(expense: _Expense, orders: int) -> int:
        usd_cents = expense.usd_cents + expense.usd_cents_per_order * orders
        usd_cents *= options.opex_scale * max(0.0, 1 + expense.noise * float(rng.standard_normal()))
        cents = usd_cents / usd
        return max(expense.round_to, int(round(cents / expense.round_to)) * expense.round_to)

    drafts: list[tuple[int, _Expense | tuple, list[tuple[str, str, int]], str]] = []  # day, kind, lines, note

    def add(day: int, expense: _Expense, orders: int, note: str) -> None:
        drafts.append((day, expense, [(expense.account, expense.description, amount(expense, orders))], note))

    for day in range(spec.days):
        d = local.day(day)
        month = d.strftime("%B %Y")
        last_of_month = (d + timedelta(days=1)).month != d.month
        prior_30 = int(orders_by_day[max(0, day - 30):day].sum())
        if d.day == 1:
            add(day, RENT, 0, f"Rent {month}")
        if d.day == 15 or last_of_month:
            add(day, PAYROLL, int(orders_by_day[max(0, day - 15):day].sum()), f"Payroll {d.isoformat()}")
        for k, software in enumerate(SOFTWARE):
            if d.day == 3 + 5 * k:
                add(day, software, prior_30, f"{software.vendor} {month}")
        if d.weekday() == 0:
            add(day, PACKAGING, int(orders_by_day[max(0, day - 7):day].sum()), f"Uline order week {d.isocalendar()[1]}")
        if d.day == 28:
            add(day, POSTAGE, prior_30, f"Postage {month}")
            add(day, BANK_FEES, 0, f"Bank fees {month}")
        if d.day == 20:
            vendor, payment, parts = SUPPLIES_ORDER
            k = int(rng.integers(2, 4))
            lines = [(account, text, max(100, int(round(base * options.opex_scale
                                                          * float(rng.uniform(0.6, 1.4)) / usd))))
                     for account, text, base in parts[:k]]
            drafts.append((day, (vendor, payment), lines, f"Amazon Business order {month}"))

    headers, line_rows = [], []
    for key, (day, kind, lines, note) in enumerate(drafts, start=1):
        vendor, payment = (kind.vendor, kind.payment) if isinstance(kind, _Expense) else kind
        account = CREDIT_CARD if payment == "CreditCard" else CHECKING
        created = min(local.at(local.day(day), int(rng.integers(9 * 3600, 18 * 3600))),
                      horizon - timedelta(seconds=1))
        header = {"purchase_key": key, "sync_token": 0, "txn_date": local.day(day), "vendor_id": vendor_id[vendor],
                  "payment_type": payment, "account_id": account[0], "account_name": account[1],
                  "total_cents": sum(a for _, _, a in lines), "private_note": note, "created_at": created,
                  "updated_at": created}
        versions = [(header, lines)]
        if rng.uniform() < options.purchase_edit_share:
            edited_at = created + timedelta(days=int(rng.integers(1, 21)), seconds=int(rng.integers(0, 8 * 3600)))
            if edited_at < horizon:
                if rng.uniform() < 0.5:  # recategorised by the bookkeeper
                    new_lines = [(RECATEGORISE.get(lines[0][0], lines[0][0]), lines[0][1], lines[0][2]), *lines[1:]]
                    new_note = f"{note} (recategorised)"
                else:  # the amount was keyed wrong and is corrected
                    corrected = max(100, int(round(lines[0][2] * float(rng.uniform(0.9, 1.1)))))
                    new_lines = [(lines[0][0], lines[0][1], corrected), *lines[1:]]
                    new_note = f"{note} (amount corrected)"
                versions.append(({**header, "sync_token": 1, "updated_at": edited_at, "private_note": new_note,
                                  "total_cents": sum(a for _, _, a in new_lines)}, new_lines))
        for version, version_lines in versions:
            headers.append(version)
            for line_id, (account_name, text, cents) in enumerate(version_lines, start=1):
                line_rows.append({"purchase_key": key, "sync_token": version["sync_token"], "line_id": line_id,
                                  "account_id": EXPENSE_ACCOUNTS[account_name], "account_name": account_name,
                                  "description": text, "amount_cents": cents})
    purchases = pl.DataFrame(headers, schema={
        "purchase_key": pl.Int64, "sync_token": pl.Int64, "txn_date": pl.Date, "vendor_id": pl.Int64,
        "payment_type": pl.String, "account_id": pl.String, "account_name": pl.String, "total_cents": pl.Int64,
        "private_note": pl.String, "created_at": pl.Datetime("us", "UTC"), "updated_at": pl.Datetime("us", "UTC")})
    purchase_lines = pl.DataFrame(line_rows, schema={
        "purchase_key": pl.Int64, "sync_token": pl.Int64, "line_id": pl.Int64, "account_id": pl.String,
        "account_name": pl.String, "description": pl.String, "amount_cents": pl.Int64})
    return purchases, purchase_lines


def _online_orders_by_day(shop: ShopWorld, local: _LocalTime, days: int) -> np.ndarray:
    """Online orders per local day index of the world."""
    local_date = shop.channel("online_store")["created_at"].dt.convert_time_zone(str(local.zone)).dt.date()
    local_day = (local_date - local.start).dt.total_days().to_numpy()
    return np.bincount(np.clip(local_day, 0, days - 1), minlength=days)


def _number_transactions(bills: pl.DataFrame, purchases: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Bills and purchases share one transaction Id sequence, in the order they were entered."""
    entered = pl.concat([
        bills.filter(pl.col("sync_token") == 0).select(pl.lit("bill").alias("kind"), pl.col("bill_key").alias("key"),
                                                       "created_at"),
        purchases.filter(pl.col("sync_token") == 0).select(pl.lit("purchase").alias("kind"),
                                                           pl.col("purchase_key").alias("key"), "created_at"),
    ]).sort("created_at", "kind", "key").with_columns(txn_id=TXN_ID_BASE + pl.int_range(pl.len()))
    bill_ids = entered.filter(pl.col("kind") == "bill").select(pl.col("key").alias("bill_key"), "txn_id")
    purchase_ids = entered.filter(pl.col("kind") == "purchase").select(pl.col("key").alias("purchase_key"), "txn_id")
    return (bills.join(bill_ids, on="bill_key").sort("txn_id", "sync_token"),
            purchases.join(purchase_ids, on="purchase_key").sort("txn_id", "sync_token"))
