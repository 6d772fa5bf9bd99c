"""Google Analytics 4 Data API (v1beta): endpoints, the report the source runs and the table it lands."""

from __future__ import annotations

import pyarrow as pa

from sources.money import MONEY

DEFAULT_API_BASE_URL = "https://analyticsdata.googleapis.com"  # the sandbox: http://127.0.0.1:8765/ga4
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"  # the sandbox: http://127.0.0.1:8765/ga4/token
API_VERSION = "v1beta"
DEFAULT_START_DATE = "2015-08-14"  # the earliest date the Data API serves
DEFAULT_LOOKBACK_DAYS = 3  # GA4 keeps processing a day for up to ~48 h: re-read the last days each run
DEFAULT_PAGE_SIZE = 10_000  # the API's default ``limit``; it returns at most 250,000 rows per request
MAX_PAGE_SIZE = 250_000
TOKEN_REFRESH_MARGIN_S = 60.0  # refresh an access token this long before it expires

# The report: one row per property day × session source × medium × campaign (the channel group is a function
# of those three, so asking for it keeps the grain).
DIMENSIONS = ("date", "sessionSource", "sessionMedium", "sessionCampaignName", "sessionDefaultChannelGroup")
METRICS = ("sessions", "totalUsers", "keyEvents", "purchaseRevenue")
ORDER_BYS = tuple({"dimension": {"dimensionName": name, "orderType": "ALPHANUMERIC"}} for name in DIMENSIONS[:4])

# API name → raw column
COLUMN_OF = {
    "date": "date", "sessionSource": "session_source", "sessionMedium": "session_medium",
    "sessionCampaignName": "session_campaign_name", "sessionDefaultChannelGroup": "session_default_channel_group",
    "sessions": "sessions", "totalUsers": "total_users", "keyEvents": "key_events",
    "purchaseRevenue": "purchase_revenue",
}
TRAFFIC_COLUMNS: dict[str, pa.DataType] = {
    "date": pa.date32(),
    "session_source": pa.string(),
    "session_medium": pa.string(),
    "session_campaign_name": pa.string(),
    "session_default_channel_group": pa.string(),
    "sessions": pa.int64(),
    "total_users": pa.int64(),
    "key_events": pa.int64(),
    "purchase_revenue": MONEY,
    "currency_code": pa.string(),
    "property_id": pa.string(),
}
PRIMARY_KEY = ("date", "session_source", "session_medium", "session_campaign_name")
