"""Twin of a price-intelligence API (competitor offers per SKU and day): README.md."""

from sandbox.competitor_prices.api import CompetitorPricesTwin
from sandbox.competitor_prices.feed import (
    CompetitorFeed,
    CompetitorPricesOptions,
    api_key_for,
    competitor_feed,
    competitor_options,
)

__all__ = ["CompetitorFeed", "CompetitorPricesOptions", "CompetitorPricesTwin", "api_key_for", "competitor_feed",
           "competitor_options"]
