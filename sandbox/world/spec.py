"""What a world is made of: a seed, a calendar span and shops (one per tenant), read from YAML."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sandbox.world.categories import CATEGORIES
from sandbox.world.currencies import currency


class ShopSpec(BaseModel):
    """One shop (= one tenant). Its random streams derive from (world seed, handle): no per-shop seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handle: str = Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")  # the tenant slug
    name: str
    currency: str
    timezone: str = "UTC"
    access_token: str  # a sandbox-only fake credential
    orders_per_day: float = Field(default=10.0, gt=0)  # mean online orders a day over the world's span
    wholesale_orders_per_week: float = Field(default=1.0, ge=0)
    n_products: int = Field(default=30, ge=3, le=5000)
    presentment_currencies: list[str] = Field(default_factory=list)  # other currencies some customers pay in
    categories: list[str] | None = None  # product types sold; None: a few drawn from the shop's stream
    # Further channels/APIs the shop trades on, by twin name (amazon, walmart, meta_ads, ga4, quickbooks, …):
    # each twin validates its own options (sandbox/<twin>/world.py). Absent = the shop is not on that channel.
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("handle")
    @classmethod
    def _no_double_underscore(cls, handle: str) -> str:
        if "__" in handle:
            raise ValueError("a shop handle (tenant slug) must not contain '__'")
        return handle

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        return currency(code).code

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, names: list[str] | None) -> list[str] | None:
        unknown = sorted(set(names or ()) - set(CATEGORIES))
        if unknown or names == []:
            raise ValueError(f"categories must be a non-empty subset of {', '.join(CATEGORIES)}; got {unknown}")
        return names

    @model_validator(mode="after")
    def _presentment_currencies_are_foreign(self) -> ShopSpec:
        for code in self.presentment_currencies:
            currency(code)
        if self.currency in self.presentment_currencies or len(set(self.presentment_currencies)) != len(
                self.presentment_currencies):
            raise ValueError("presentment_currencies must be distinct and differ from the shop currency")
        return self


class WorldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int
    start_date: date = date(2024, 11, 1)
    days: int = Field(default=730, ge=14)
    shops: list[ShopSpec] = Field(min_length=1)

    @field_validator("shops")
    @classmethod
    def _unique_handles(cls, shops: list[ShopSpec]) -> list[ShopSpec]:
        handles = [s.handle for s in shops]
        if len(set(handles)) != len(handles):
            raise ValueError(f"shop handles must be unique: {handles}")
        return shops

    @classmethod
    def load(cls, path: Path | str) -> WorldSpec:
        return cls.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))

    @property
    def start(self) -> datetime:
        """Midnight UTC of the first day."""
        return datetime.combine(self.start_date, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The world's "now": nothing happens at or after it in any shop (the last local day has ended)."""
        return max(shop_horizon(self, shop) for shop in self.shops)

    def shop(self, handle: str) -> ShopSpec:
        for shop in self.shops:
            if shop.handle == handle:
                return shop
        raise KeyError(f"no shop {handle!r} in this world")


def shop_horizon(spec: WorldSpec, shop: ShopSpec) -> datetime:
    """The end of the shop's last local day, in UTC: its data holds nothing at or after this instant."""
    last_midnight = datetime.combine(spec.start_date + timedelta(days=spec.days), time(0), ZoneInfo(shop.timezone))
    return last_midnight.astimezone(UTC)


def shop_rng(seed: int, handle: str, stream: str) -> np.random.Generator:
    """An independent random stream per (world seed, shop, purpose), stable across runs and machines
    (SHA-256 of the three, never Python's salted ``hash()``), so each part of a shop can change on its own."""
    digest = hashlib.sha256(f"{seed}/{handle}/{stream}".encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))
