"""QuickBooks Online Accounting API: endpoints, minor version, page size and the incremental overlap."""

PRODUCTION_API_URL = "https://quickbooks.api.intuit.com"  # {base}/v3/company/{realmId}/query
SANDBOX_COMPANY_API_URL = "https://sandbox-quickbooks.api.intuit.com"  # Intuit's own developer sandbox companies
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
MINOR_VERSION = 75
MAX_PAGE_SIZE = 1000  # QBO caps MAXRESULTS at 1000
DEFAULT_PAGE_SIZE = 1000
DEFAULT_START_DATE = "2000-01-01T00:00:00+00:00"
# The cursor is re-read with this overlap: LastUpdatedTime has whole seconds and a write committed while a run
# pages may carry a time just before the newest one seen. Rows merge on Id, so the overlap never duplicates.
DEFAULT_OVERLAP_S = 300

# QBO entity → the dlt resource (and table) of its headers
ENTITIES = {"Item": "items", "Vendor": "vendors", "Bill": "bills", "Purchase": "purchases"}
