"""Fixtures of the sandbox tests: a small two-shop world spanning a year (so Q4 and every weekday are in
it), built once per session, and a fresh sandbox server over real HTTP per test."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.world import ShopSpec, ShopWorld, World, WorldSpec, build_world

SHOP, OTHER = "teashop", "gearshop"
TOKEN = "shpat_sandbox_teashop"


@pytest.fixture(scope="session")
def spec() -> WorldSpec:
    return WorldSpec(seed=11, start_date=date(2025, 1, 1), days=400, shops=[
        ShopSpec(handle=SHOP, name="Tea Shop", currency="EUR", timezone="Europe/Berlin", access_token=TOKEN,
                 orders_per_day=9, wholesale_orders_per_week=2, n_products=15, presentment_currencies=["CHF", "GBP"],
                 categories=["Tea", "Teaware"]),
        ShopSpec(handle=OTHER, name="Gear Shop", currency="USD", timezone="America/New_York",
                 access_token="shpat_sandbox_gearshop", orders_per_day=4, wholesale_orders_per_week=0, n_products=8,
                 categories=["Apparel", "Footwear"]),
    ])


@pytest.fixture(scope="session")
def world(spec: WorldSpec) -> World:
    return build_world(spec)


@pytest.fixture(scope="session")
def shop(world: World) -> ShopWorld:
    """The tea shop of the session world (EUR, two presentment currencies, wholesale)."""
    return world.shop(SHOP)


@pytest.fixture
def server(spec: WorldSpec):
    """A fresh sandbox (its own clock, faults and buckets) on a free loopback port."""
    with SandboxServer(spec, port=0) as running:
        yield running


class Client:
    """A bare Shopify Admin GraphQL client of one shop of a running sandbox, plus its control endpoints."""

    def __init__(self, server: SandboxServer, shop: str = SHOP, token: str | None = TOKEN) -> None:
        self.server, self.shop, self.token = server, shop, token

    def post(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
             version: str = "2025-01", timeout: float = 30) -> requests.Response:
        token = self.token if token is None else token
        return requests.post(f"{self.server.shop_url(self.shop)}/admin/api/{version}/graphql.json",
                             json={"query": query, "variables": variables or {}},
                             headers={"X-Shopify-Access-Token": token} if token else {}, timeout=timeout)

    def query(self, query: str, **variables: Any) -> dict[str, Any]:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        return response.json()

    def control(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        response = requests.request(method, f"{self.server.base_url}/_sandbox/{path}", json=body or None, timeout=10)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")[self.shop]


@pytest.fixture
def client(server: SandboxServer) -> Client:
    return Client(server)
