"""The demo tenants' cross-channel product map, written from the world's marketplace listings.

A brand keeps one map per channel from the listing's own identifiers (seller SKU, ASIN, Walmart item id) to
its catalogue SKU. The platform reads it as the dbt seed ``dbt_project/seeds/product_channel_map.csv``; for the
demo tenants that seed is this module's output, so it always agrees with what the twins serve:

    python -m sandbox.product_map sandbox/worlds/demo.yaml dbt_project/seeds/product_channel_map.csv

(``tests/sandbox/test_product_map.py`` checks the committed seed against the world.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from sandbox.truth import MARKETPLACES, marketplace
from sandbox.world import build_world
from sandbox.world.spec import WorldSpec

COLUMNS = ["tenant_id", "channel", "channel_sku", "channel_product_id", "sku"]


def product_channel_map(spec: WorldSpec) -> pl.DataFrame:
    """One row per shop, marketplace and listing: (tenant_id = shop handle, channel, channel_sku, channel_product_id,
    sku), sorted. The twins list a variant under the shop's own SKU, with the ASIN / item id as its product id."""
    world = build_world(spec)
    frames = []
    for handle, shop in world.shops.items():
        for channel in MARKETPLACES:
            if channel not in shop.spec.channels:
                continue
            listings = marketplace(spec, shop, channel).listings
            frames.append(listings.select(
                tenant_id=pl.lit(handle), channel=pl.lit(channel), channel_sku=pl.col("sku"),
                channel_product_id=pl.col("external_id").cast(pl.String), sku=pl.col("sku")))
    if not frames:
        return pl.DataFrame(schema={c: pl.String for c in COLUMNS})
    return pl.concat(frames).sort(COLUMNS)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    product_channel_map(WorldSpec.load(argv[0])).write_csv(Path(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
