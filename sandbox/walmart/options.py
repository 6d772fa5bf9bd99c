"""A shop's terms on Walmart Marketplace (``channels: {walmart: {...}}`` in the world spec), validated here.

Walmart charges a referral fee (commission, ~15 % for most categories) on every line and, only for items
fulfilled by Walmart Fulfillment Services (WFS), a per-unit WFS fulfillment fee; seller-fulfilled lines pay no
per-unit fee. The defaults say so: 15 % referral, 30 % of lines through WFS at 3.45 a unit.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from sandbox.world.marketplace import MarketplaceOptions


class WalmartOptions(MarketplaceOptions):
    """The marketplace terms (see ``MarketplaceOptions``) plus the twin's own sandbox-only settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    referral_fee_bp: int = Field(default=1500, ge=0, le=5000)
    fulfilled_share: float = Field(default=0.3, ge=0, le=1)  # lines through WFS
    fulfillment_fee_cents: int = Field(default=345, ge=0)  # WFS fee per unit
    # sandbox-only fake credentials (Seller Center → API Key Management); defaults derive from the handle
    client_id: str | None = Field(default=None, min_length=8)
    client_secret: str | None = Field(default=None, min_length=8)
    # the settlement cycle of the reconciliation report: 14 days (Walmart's bi-weekly), 7, or 1 (daily payout)
    settlement_period_days: int = Field(default=14, ge=1, le=31)


def walmart_options(raw: dict | None) -> WalmartOptions:
    return WalmartOptions(**(raw or {}))


def client_id_for(handle: str, options: WalmartOptions) -> str:
    return options.client_id or f"wm_client_{handle}"


def client_secret_for(handle: str, options: WalmartOptions) -> str:
    return options.client_secret or f"wm_secret_{handle}"
