"""Twin of Frankfurter (ECB reference exchange rates, API v1), one public service for every shop: README.md."""

from sandbox.fx_rates.api import FxRatesTwin
from sandbox.fx_rates.rates import ReferenceRates, published_rates, reference_rates

__all__ = ["FxRatesTwin", "ReferenceRates", "published_rates", "reference_rates"]
