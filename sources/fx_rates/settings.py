"""Frankfurter (ECB reference rates, API v1): the endpoint, the landed table and the source's defaults."""

from __future__ import annotations

import pyarrow as pa

DEFAULT_BASE_URL = "https://api.frankfurter.dev/v1"  # the sandbox: http://127.0.0.1:8765/fx/v1
DEFAULT_START_DATE = "2024-01-01"
DEFAULT_LOOKBACK_DAYS = 5  # re-read this many days before the last rate landed (today's may still change)
DEFAULT_DAYS_PER_REQUEST = 366  # one time-series request covers at most this many days

RATE_PRECISION, RATE_SCALE = 18, 8  # ECB rates carry at most 6 decimals (Frankfurter rounds to ≤ 6)
RATE = pa.decimal128(RATE_PRECISION, RATE_SCALE)
COLUMNS: dict[str, pa.DataType] = {
    "rate_date": pa.date32(),
    "base_currency": pa.string(),
    "quote_currency": pa.string(),
    "rate": RATE,  # quote units per 1 base unit, the digits Frankfurter published
}
PRIMARY_KEY = ("rate_date", "base_currency", "quote_currency")
