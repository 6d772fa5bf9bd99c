"""A shop's Meta ads options (``channels: {meta_ads: {...}}`` in the world spec), validated here.

Every option has a deterministic default derived from (world seed, shop), so ``meta_ads: {}`` is enough;
a demo world names its ids and credentials explicitly so the tenant registry can point at them.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.world.currencies import currency
from sandbox.world.spec import ShopSpec, WorldSpec

API = "meta_ads"


class MetaAdsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: str | None = Field(default=None, pattern=r"^(act_)?[1-9][0-9]{5,17}$")  # digits, act_ optional
    account_name: str | None = None
    currency: str | None = None  # the account (billing) currency, ISO 4217; default the shop's
    daily_budget: Decimal = Decimal("150.00")  # the account's mean daily spend, in the account currency
    app_id: str | None = Field(default=None, pattern=r"^[1-9][0-9]{5,17}$")
    app_secret: str | None = Field(default=None, min_length=8)
    access_token: str | None = Field(default=None, min_length=16)  # the long-lived / system-user token
    attribution_days: int = Field(default=7, ge=1, le=28)  # how late a conversion may still be reported

    @field_validator("daily_budget", mode="before")
    @classmethod
    def _budget_text(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError("daily_budget must be decimal text such as \"150.00\", not a float")
        return value

    @field_validator("daily_budget")
    @classmethod
    def _budget_cents(cls, value: Decimal) -> Decimal:
        if value <= 0 or value != value.quantize(Decimal("0.01")):
            raise ValueError("daily_budget must be positive with at most two decimals")
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        return None if value is None else currency(value).code

    @field_validator("account_id")
    @classmethod
    def _digits(cls, value: str | None) -> str | None:
        return None if value is None else value.removeprefix("act_")


class ResolvedOptions(BaseModel):
    """The options with every default filled in (what the twin and the truth use)."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    account_name: str
    currency: str
    daily_budget_cents: int
    app_id: str
    app_secret: str
    access_token: str
    attribution_days: int


def _digits(seed: int, handle: str, what: str, length: int) -> str:
    digest = int.from_bytes(hashlib.sha256(f"{seed}/{handle}/{API}/{what}".encode()).digest()[:8], "little")
    return str(10 ** (length - 1) + digest % (9 * 10 ** (length - 1)))


def resolve(spec: WorldSpec, shop: ShopSpec) -> ResolvedOptions:
    """The shop's options with defaults; raises KeyError when the shop does not trade on Meta ads."""
    if API not in shop.channels:
        raise KeyError(f"shop {shop.handle!r} has no channels.{API} in the world spec")
    opts = MetaAdsOptions.model_validate(shop.channels[API] or {})
    return ResolvedOptions(
        account_id=opts.account_id or _digits(spec.seed, shop.handle, "account", 15),
        account_name=opts.account_name or f"{shop.name} – Ads",
        currency=opts.currency or shop.currency,
        daily_budget_cents=int(opts.daily_budget * 100),
        app_id=opts.app_id or _digits(spec.seed, shop.handle, "app", 15),
        app_secret=opts.app_secret or f"sandbox_app_secret_{shop.handle}",
        access_token=opts.access_token or f"EAAsandbox{shop.handle}SystemUserToken",
        attribution_days=opts.attribution_days,
    )
