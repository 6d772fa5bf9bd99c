"""Shared fixtures: telemetry off for every tool, a small sandbox world, a sandbox server over real HTTP."""

from __future__ import annotations

import os
from datetime import date

import pytest

# Telemetry off before any tool is imported by a test module (nothing may try the network).
os.environ.update({
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DAGSTER_DISABLE_TELEMETRY": "true",
    "GX_ANALYTICS_ENABLED": "False",
})


def pytest_collection_modifyitems(config, items):
    """The end-to-end tests first (stable otherwise): under pytest-xdist a file runs on one worker, and the e2e demo
    file is the longest by far, so it must start at once while the other worker runs the rest."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)

SMALL_SHOP = "testshop"


@pytest.fixture(scope="session")
def small_world_spec():
    """A one-shop world small enough for quick tests, big enough for many pages (~1,000 orders)."""
    from sandbox.world import ShopSpec, WorldSpec

    return WorldSpec(
        seed=7,
        start_date=date(2025, 1, 1),
        days=120,
        shops=[
            ShopSpec(handle=SMALL_SHOP, name="Test Shop", currency="USD", timezone="America/New_York",
                     access_token="shpat_sandbox_testshop", orders_per_day=8, wholesale_orders_per_week=2,
                     n_products=12, presentment_currencies=["CAD"]),
        ],
    )


@pytest.fixture(scope="session")
def small_world(small_world_spec):
    from sandbox.world import build_world

    return build_world(small_world_spec)


@pytest.fixture
def sandbox(small_world_spec):
    """A fresh sandbox server per test (its own clock, faults and buckets), on a free loopback port."""
    from sandbox.server import SandboxServer

    with SandboxServer(small_world_spec, port=0) as server:
        yield server
