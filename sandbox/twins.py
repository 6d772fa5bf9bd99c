"""The REST twins the sandbox serves beside Shopify's GraphQL API: one line per twin (``module:Class``).

Each is a :class:`sandbox.common.twin.RestTwin` serving the shops that list its ``api`` under ``channels:``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.common.twin import RestTwin
    from sandbox.server import Sandbox

TWINS: tuple[str, ...] = (
    "sandbox.amazon.api:AmazonTwin",
    "sandbox.quickbooks.api:QuickBooksTwin",
    "sandbox.ga4.api:Ga4Twin",
    "sandbox.meta_ads.api:MetaAdsTwin",
    "sandbox.walmart.api:WalmartTwin",
    "sandbox.fx_rates.api:FxRatesTwin",
    "sandbox.competitor_prices.api:CompetitorPricesTwin",
)


def load_twins(sandbox: Sandbox) -> dict[str, RestTwin]:
    twins = {}
    for target in TWINS:
        module, _, name = target.partition(":")
        cls = getattr(importlib.import_module(module), name)
        twins[cls.api] = cls(sandbox)
    return twins
