"""A deterministic simulated commerce world: same spec, same frames, byte for byte.

``build_world(spec)`` → ``World``; ``world.shop(handle)`` → ``ShopWorld``, whose polars frames hold every
record (money as integer cents in the shop currency, UTC timestamps) plus the ground truth the platform's
numbers and models are checked against (``truth_demand``, ``truth_customers``). See sandbox/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.world.build import build_shop
from sandbox.world.shop import ShopWorld
from sandbox.world.spec import ShopSpec, WorldSpec

__all__ = ["ShopSpec", "ShopWorld", "World", "WorldSpec", "build_world"]


@dataclass(frozen=True)
class World:
    spec: WorldSpec
    shops: dict[str, ShopWorld]

    @property
    def handles(self) -> list[str]:
        return list(self.shops)

    def shop(self, handle: str) -> ShopWorld:
        try:
            return self.shops[handle]
        except KeyError:
            raise KeyError(f"no shop {handle!r} in this world (shops: {', '.join(self.shops)})") from None


def build_world(spec: WorldSpec) -> World:
    """Every shop of ``spec``, each from its own random streams (so shops never influence each other)."""
    return World(spec=spec, shops={shop.handle: build_shop(spec, shop) for shop in spec.shops})
