"""A price-intelligence API (competitor offers per SKU and day): its header, page size and the landed table."""

from __future__ import annotations

import pyarrow as pa

from sources.money import MONEY

API_KEY_HEADER = "X-API-Key"  # the account's API key (a secret: never logged)
MAX_PAGE_SIZE = 1000  # the API refuses limit > 1000
DEFAULT_START_DATE = "2024-01-01"  # first run: every observation since then the vendor still keeps
DEFAULT_LOOKBACK_DAYS = 2  # re-read this many days before the last one landed (late crawls fill in)

TABLE = "offers"
PRIMARY_KEY = ("sku", "competitor", "observed_date")
COLUMNS: dict[str, tuple[pa.DataType, bool]] = {  # name -> (Arrow type, nullable)
    "sku": (pa.string(), False),
    "competitor": (pa.string(), False),
    "observed_date": (pa.date32(), False),  # the competitor's price as crawled on this day
    "price": (MONEY, False),  # exact decimal(18,2), in `currency`
    "currency": (pa.string(), False),  # ISO 4217
    "in_stock": (pa.bool_(), True),
    "product_name": (pa.string(), True),
    "competitor_url": (pa.string(), True),
}
SCHEMA = pa.schema([pa.field(name, kind, nullable) for name, (kind, nullable) in COLUMNS.items()])
