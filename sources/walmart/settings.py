"""Walmart Marketplace API: hosts, headers, page sizes and the report vocabulary the source relies on."""

DEFAULT_BASE_URL = "https://marketplace.walmartapis.com"
SERVICE_NAME = "Walmart Marketplace"  # the WM_SVC.NAME header
DEFAULT_START_DATE = "2000-01-01T00:00:00.000Z"  # first run: every order Walmart still serves
TOKEN_REFRESH_MARGIN_S = 60.0  # renew the 15-minute access token this long before it expires
MAX_ORDERS_LIMIT = 200  # Walmart refuses limit > 200 on GET /v3/orders
MAX_RETURNS_LIMIT = 200  # … and on GET /v3/returns
RETURNS_OVERLAP_DAYS = 7  # re-read the last week of return orders (their status moves on until refunded)
RECON_PAGE_SIZE = 1000  # noOfRecords per reconFileJson page
MAX_THROTTLE_WAIT_S = 60.0  # longest pause when x-current-token-count reaches 0

# Reconciliation-report amount types that are fees (what Walmart charges the seller), by our fee type.
FEE_AMOUNT_TYPES = {
    "Commission on Product": "referral",
    "Commission on Shipping": "referral",
    "WFS Fulfillment fee": "fulfillment",
    "WFS Return Processing Fee": "fulfillment",
    "Fee/Reimbursement": "other",
}
