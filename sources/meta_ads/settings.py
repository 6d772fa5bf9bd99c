"""Meta Marketing API: version, the Insights fields the source asks for, and its bounds (polling, throttling)."""

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
DEFAULT_START_DATE = "2024-01-01"  # Meta keeps 37 months of Insights
DEFAULT_ATTRIBUTION_WINDOW_DAYS = 7  # Meta's default attribution: 7-day click, 1-day view
DEFAULT_PURCHASE_ACTION_TYPE = "offsite_conversion.fb_pixel_purchase"  # the pixel's purchases (or "purchase")
DEFAULT_PAGE_SIZE = 500
DEFAULT_DAYS_PER_REPORT = 366  # one async report run covers at most this many days

# The fields of one row at level=ad, time_increment=1 (date_start and date_stop come with every row).
INSIGHTS_FIELDS = (
    "account_id", "account_currency", "campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id", "ad_name",
    "spend", "impressions", "clicks", "actions", "action_values",
)

# Polling a report run: wait POLL_INITIAL_S, doubling up to POLL_MAX_DELAY_S, at most MAX_POLLS status reads.
POLL_INITIAL_S = 0.5
POLL_MAX_DELAY_S = 15.0
MAX_POLLS = 25

# Error codes Meta uses for rate limiting (app, user, page, custom, business use cases: 8000x).
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014})
TRANSIENT_CODES = frozenset({1, 2})  # unknown error / service temporarily unavailable
MAX_THROTTLE_RETRIES = 5
MAX_THROTTLE_WAIT_S = 600.0  # never wait longer than this for one throttling, whatever Meta estimates
MAX_TRANSIENT_RETRIES = 3
EXPIRED_TOKEN_CODE = 190
