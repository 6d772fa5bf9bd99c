"""A shop's Amazon seller account in the world spec (``channels: {amazon: {...}}``).

The marketplace terms (orders a day, fees, returns …) are ``MarketplaceOptions``; the account's identity and its
sandbox-only Login with Amazon credentials are added here, each with a default derived from the shop's handle and
currency so a bare ``amazon: {}`` works.
"""

from __future__ import annotations

from pydantic import model_validator

from sandbox.world.marketplace import MarketplaceOptions

# The marketplaces the twin knows: id → (currency, sales channel, first group of the order-id prefix).
MARKETPLACES: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "ATVPDKIKX0DER": ("USD", "Amazon.com", (111, 112, 113, 114)),
    "A1PA6795UKMFR9": ("EUR", "Amazon.de", (302, 303, 304, 305, 306)),
    "A1F83G8C2ARO7P": ("GBP", "Amazon.co.uk", (202, 203, 204, 205, 206)),
}
DEFAULT_MARKETPLACE = {currency: mid for mid, (currency, _, _) in MARKETPLACES.items()}


class AmazonOptions(MarketplaceOptions):
    """``MarketplaceOptions`` plus the seller account. Secrets are sandbox fakes (never real credentials)."""

    seller_id: str | None = None  # e.g. A2SANDBOXNORTHWIND
    marketplace_id: str | None = None  # default: the marketplace of the shop currency
    client_id: str | None = None  # LWA app client id: amzn1.application-oa2-client.<…>
    client_secret: str | None = None
    refresh_token: str | None = None  # the seller's authorisation of the app: Atzr|<…>

    @model_validator(mode="after")
    def _known_marketplace(self) -> AmazonOptions:
        if self.marketplace_id is not None and self.marketplace_id not in MARKETPLACES:
            raise ValueError(f"marketplace_id {self.marketplace_id!r} unknown; known: {', '.join(MARKETPLACES)}")
        return self

    @classmethod
    def for_shop(cls, handle: str, currency: str, raw: dict) -> AmazonOptions:
        """The shop's options with every identity default filled in."""
        opts = cls(**raw)
        marketplace = opts.marketplace_id or DEFAULT_MARKETPLACE.get(currency)
        if marketplace is None:
            raise ValueError(f"shop {handle!r}: no Amazon marketplace for currency {currency}; set marketplace_id")
        if MARKETPLACES[marketplace][0] != currency:
            raise ValueError(f"shop {handle!r}: marketplace {marketplace} trades in {MARKETPLACES[marketplace][0]},"
                             f" the shop in {currency}")
        return opts.model_copy(update={
            "seller_id": opts.seller_id or f"A2SANDBOX{handle.upper().replace('_', '')}"[:20],
            "marketplace_id": marketplace,
            "client_id": opts.client_id or "amzn1.application-oa2-client.sandbox",
            "client_secret": opts.client_secret or "amzn1.oa2-cs.v1.sandbox",
            "refresh_token": opts.refresh_token or f"Atzr|sandbox-{handle}",
        })
