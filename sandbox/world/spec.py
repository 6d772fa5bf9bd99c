"""What a world is made of: a seed, a calendar and shops (one per tenant)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field


class ShopSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    handle: str = Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")
    name: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    timezone: str = "UTC"
    access_token: str  # sandbox-only fake credential
    orders_per_day: float = Field(default=10.0, gt=0)
    wholesale_orders_per_week: float = Field(default=1.0, ge=0)
    n_products: int = Field(default=30, ge=3, le=5000)
    presentment_currencies: list[str] = Field(default_factory=list)


class WorldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    start_date: date = date(2024, 11, 1)
    days: int = Field(default=730, ge=14)
    shops: list[ShopSpec]

    @classmethod
    def load(cls, path: Path | str) -> WorldSpec:
        return cls.model_validate(yaml.safe_load(Path(path).read_text()))

    @property
    def start(self) -> datetime:
        return datetime.combine(self.start_date, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The world's "now": the end of its last day (UTC)."""
        return self.start + timedelta(days=self.days)

    def shop(self, handle: str) -> ShopSpec:
        for shop in self.shops:
            if shop.handle == handle:
                return shop
        raise KeyError(f"no shop {handle!r} in this world")


def shop_rng(seed: int, handle: str, stream: str) -> np.random.Generator:
    """An independent, stable random stream per (world seed, shop, purpose) — never Python's hash()."""
    digest = hashlib.sha256(f"{seed}/{handle}/{stream}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))
