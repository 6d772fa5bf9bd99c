"""The committed product map seed is exactly what the demo world's marketplaces list (sandbox.product_map)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sandbox.product_map import product_channel_map
from sandbox.truth import marketplace
from sandbox.world import build_world
from sandbox.world.spec import WorldSpec

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "dbt_project" / "seeds" / "product_channel_map.csv"
DEMO = REPO / "sandbox" / "worlds" / "demo.yaml"


def test_the_seed_is_the_demo_worlds_listings():
    spec = WorldSpec.load(DEMO)
    committed = pl.read_csv(SEED, schema_overrides={c: pl.String for c in
                                                    ("tenant_id", "channel", "channel_sku", "channel_product_id",
                                                     "sku")})
    assert committed.equals(product_channel_map(spec))
    # one row per listing the twins serve: Amazon's ASINs (B0…) and Walmart's numeric item ids
    world = build_world(spec)
    for handle, channel in (("northwind", "amazon"), ("northwind", "walmart"), ("kumo", "amazon")):
        listings = marketplace(spec, world.shop(handle), channel).listings
        rows = committed.filter((pl.col("tenant_id") == handle) & (pl.col("channel") == channel))
        assert rows.height == listings.height > 10
        assert set(rows["channel_product_id"]) == set(listings["external_id"].cast(pl.String))
    assert committed.filter(pl.col("channel") == "amazon")["channel_product_id"].str.starts_with("B0").all()
