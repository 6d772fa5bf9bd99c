"""Amazon Selling Partner API: endpoints, usage plans, page sizes and windows the source uses.

Usage plans are SP-API's documented defaults (requests per second, burst). The rate actually applied to a
seller comes back on every answer in ``x-amzn-RateLimit-Limit``, and the source paces itself by that; the
burst is never reported, so the documented one is assumed (and forgotten after a 429).
"""

from datetime import timedelta

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
DEFAULT_ENDPOINT = "https://sellingpartnerapi-na.amazon.com"  # -eu / -fe for the other regions
DEFAULT_START_DATE = "2020-01-01T00:00:00Z"

USAGE_PLANS: dict[str, tuple[float, float]] = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "listFinancialEvents": (0.5, 30),
    "getInventorySummaries": (2.0, 2),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}

ORDERS_PAGE_SIZE = 100  # MaxResultsPerPage, at most 100
EVENTS_PAGE_SIZE = 100  # MaxResultsPerPage of listFinancialEvents, at most 100
FINANCES_WINDOW = timedelta(days=180)  # Amazon returns nothing for a wider PostedAfter..PostedBefore range
ORDERS_OVERLAP = timedelta(minutes=30)  # re-read a little before the cursor (merge makes it idempotent)
FINANCES_OVERLAP = timedelta(days=2)  # financial events may post with some delay
TOKEN_REFRESH_MARGIN_S = 60.0  # refresh the access token this long before it expires
MAX_THROTTLE_RETRIES = 8  # 429 answers in a row for one call before giving up
RETURNS_WINDOW_DAYS = 90  # one FBA customer returns report per 90 days of return dates (the last one open-ended)
RETURNS_OVERLAP = timedelta(days=3)  # returns reach the report a little after their return-date
# getReport again after these waits (then every 60 s): short first, as small reports finish in seconds
REPORT_POLL_WAITS_S = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
MAX_REPORT_WAIT_S = 1800.0  # a report not finished after 30 minutes of polling fails the run (never waits for ever)
