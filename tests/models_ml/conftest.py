"""The simulated retail shop the churn and return models are judged on: 560 days (two Christmases before its
last day), 14 online orders a day, 30 products in four categories, wholesale beside. Built once per session."""

from __future__ import annotations

from datetime import date

import pytest

from sandbox.ml_frames import shop_frames
from sandbox.world import ShopSpec, WorldSpec, build_world

RETAIL = "churnshop"  # the handle seeds the draws the tests' tolerances were checked on
RETAIL_SPEC = WorldSpec(seed=11, start_date=date(2024, 11, 1), days=560, shops=[ShopSpec(
    handle=RETAIL, name="Retail Shop", currency="USD", timezone="America/New_York",
    access_token="shpat_sandbox_churn", orders_per_day=14, wholesale_orders_per_week=3, n_products=30,
    categories=["Apparel", "Footwear", "Accessories", "Outdoor"])])


@pytest.fixture(scope="session")
def shop():
    return build_world(RETAIL_SPEC).shop(RETAIL)


@pytest.fixture(scope="session")
def frames(shop):
    return shop_frames(shop)
