"""A shop's Google Analytics 4 property, derived deterministically from its ShopWorld.

Every online-store order is one GA4 ``purchase`` (a key event) in the session that brought it: a customer's
first order comes through their acquisition channel's traffic (organic → google/organic, paid_social →
facebook or instagram / paid with campaign names, paid_search → google/cpc, email → newsletter/email,
referral → partner sites or Instagram links, marketplace → (direct)/(none)); a repeat order comes back the
same way 55 % of the time, else direct (30 %) or through the newsletter (15 %). Per property day (the shop's
time zone) and traffic source: ``keyEvents`` = those orders, ``purchaseRevenue`` = their totals to the cent,
``sessions`` = purchases / a conversion rate drawn per source and day (sources without purchases that day
still get a few sessions), ``totalUsers`` ≤ sessions and ≥ the buyers.

GA4 takes time to process: an order's event is reported ``processing lag`` (1 h up to
``processing_lag_hours``) after it happened, and a day's sessions fill in until that long after the day ended.
A report at a clock before the world's end shows those interim numbers; at the world's end (the sandbox's
default clock, standing for a moment after all processing finished) every day is final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from sandbox.ga4.channels import default_channel_group
from sandbox.world import ShopSpec, ShopWorld, WorldSpec
from sandbox.world.spec import shop_rng

DIRECT = ("(direct)", "(none)", "(direct)")


class Ga4Options(BaseModel):
    """``channels: {ga4: {...}}`` of a shop. The OAuth client and refresh token default to sandbox-only fakes
    derived from the handle (``sandbox-<handle>.apps.googleusercontent.com``, ``GOCSPX-sandbox-<handle>``,
    ``1//sandbox-<handle>``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    property_id: str = Field(pattern=r"^[1-9][0-9]{5,11}$")  # GA4 property ids are numeric
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    processing_lag_hours: float = Field(default=30.0, ge=1.0, le=72.0)  # the longest an event takes to show

    def credentials(self, handle: str) -> tuple[str, str, str]:
        """(client_id, client_secret, refresh_token) of the shop's OAuth client."""
        return (self.client_id or f"sandbox-{handle}.apps.googleusercontent.com",
                self.client_secret or f"GOCSPX-sandbox-{handle}",
                self.refresh_token or f"1//sandbox-{handle}")


def ga4_options(shop: ShopSpec) -> Ga4Options:
    """The shop's validated GA4 options; a shop without ``channels: {ga4: …}`` has no property."""
    if "ga4" not in shop.channels:
        raise ValueError(f"shop {shop.handle!r} does not trade on ga4 (no channels.ga4 in the world spec)")
    return Ga4Options.model_validate(shop.channels["ga4"])


@dataclass(frozen=True)
class TrafficKey:
    source: str
    medium: str
    campaign: str
    kind: str  # which conversion-rate family: organic, paid_social, paid_search, email, referral, direct

    @property
    def channel_group(self) -> str:
        return default_channel_group(self.source, self.medium, self.campaign)


# acquisition channel → [(source, medium, campaign, weight)]; weights of a pool add up to 1
POOLS: dict[str, list[tuple[str, str, str, float]]] = {
    "organic": [("google", "organic", "(organic)", 0.82), ("bing", "organic", "(organic)", 0.12),
                ("duckduckgo", "organic", "(organic)", 0.06)],
    "paid_social": [("facebook", "paid", "prospecting_broad", 0.45), ("facebook", "paid", "retargeting_cart", 0.20),
                    ("instagram", "paid", "reels_lookalike", 0.35)],
    "paid_search": [("google", "cpc", "brand_search", 0.40), ("google", "cpc", "generic_search", 0.35),
                    ("google", "cpc", "shopping_feed", 0.25)],
    "email": [("newsletter", "email", "weekly_newsletter", 0.60), ("newsletter", "email", "winback_flow", 0.40)],
    "referral": [("giftguide.example.com", "referral", "(referral)", 0.45),
                 ("partnerblog.example.net", "referral", "(referral)", 0.30),
                 ("l.instagram.com", "referral", "(referral)", 0.25)],
    "marketplace": [(*DIRECT, 1.0)],
}
KIND = {"organic": "organic", "paid_social": "paid_social", "paid_search": "paid_search", "email": "email",
        "referral": "referral", "marketplace": "direct"}
CONVERSION_RATE = {"organic": 0.025, "paid_social": 0.012, "paid_search": 0.03, "email": 0.045,
                   "referral": 0.02, "direct": 0.035}  # mean purchases per session
RATE_SPREAD = 0.25  # a source's daily rate = mean × exp(N(0, spread²)): its day-to-day spread
REPEAT_SAME, REPEAT_DIRECT = 0.55, 0.30  # a repeat order's way back; the rest comes through the newsletter
IDLE_SHARE = 0.5  # sessions on a day without purchases, relative to the source's mean daily sessions


def _keys() -> tuple[list[TrafficKey], dict[str, tuple[np.ndarray, np.ndarray]]]:
    keys: list[TrafficKey] = []
    pools: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for channel, entries in POOLS.items():
        index, weights = [], []
        for source, medium, campaign, weight in entries:
            key = TrafficKey(source, medium, campaign, "direct" if (source, medium, campaign) == DIRECT
                             else KIND[channel])
            if key not in keys:
                keys.append(key)
            index.append(keys.index(key))
            weights.append(weight)
        pools[channel] = (np.array(index), np.cumsum(weights) / np.sum(weights))
    return keys, pools


KEYS, _POOLS = _keys()
DIRECT_KEY = KEYS.index(TrafficKey(*DIRECT, "direct"))
NEWSLETTER_KEY = KEYS.index(TrafficKey("newsletter", "email", "weekly_newsletter", "email"))
ROW_SCHEMA = {"date": pl.Date, "source": pl.String, "medium": pl.String, "campaign": pl.String,
              "channel_group": pl.String, "sessions": pl.Int64, "users": pl.Int64, "conversions": pl.Int64,
              "revenue_cents": pl.Int64}


@dataclass(frozen=True)
class Ga4Property:
    """One shop's GA4 property: its purchases with their traffic source and the daily traffic rows."""

    world_spec: WorldSpec
    shop: ShopWorld
    options: Ga4Options

    @property
    def timezone(self) -> str:
        return self.shop.spec.timezone

    @property
    def currency(self) -> str:
        return self.shop.spec.currency

    @cached_property
    def purchases(self) -> pl.DataFrame:
        """One row per online-store order: order_id, customer_id, created_at, processed_at, day, key,
        revenue_cents (the order total in the shop currency)."""
        spec, shop = self.world_spec, self.shop
        orders = (shop.channel("online_store").sort("created_at", "order_id")
                  .join(shop.customers.select("customer_id", "acquisition_channel"), on="customer_id", how="left",
                        maintain_order="left")
                  .with_columns(first=pl.int_range(pl.len()).over("customer_id") == 0))
        n = orders.height
        rng = shop_rng(spec.seed, shop.handle, "ga4/attribution")
        u_way, u_pick = rng.random(n), rng.random(n)
        lag_h = shop_rng(spec.seed, shop.handle, "ga4/processing").uniform(1.0, self.options.processing_lag_hours, n)
        channels = orders["acquisition_channel"].fill_null("marketplace").to_list()
        first = orders["first"].to_numpy()
        key = np.empty(n, dtype=np.int64)
        for channel, (index, cumulative) in _POOLS.items():
            mine = np.array([c == channel for c in channels], dtype=bool)
            key[mine] = index[np.minimum(np.searchsorted(cumulative, u_pick[mine], side="right"), len(index) - 1)]
        back_direct = ~first & (u_way >= REPEAT_SAME) & (u_way < REPEAT_SAME + REPEAT_DIRECT)
        back_newsletter = ~first & (u_way >= REPEAT_SAME + REPEAT_DIRECT)
        key[back_direct], key[back_newsletter] = DIRECT_KEY, NEWSLETTER_KEY
        tz = self.timezone
        return orders.select(
            "order_id", "customer_id", "created_at",
            processed_at=pl.col("created_at") + pl.duration(microseconds=pl.Series((lag_h * 3.6e9).astype(np.int64))),
            day=(pl.col("created_at").dt.convert_time_zone(tz).dt.date() - pl.lit(spec.start_date)).dt.total_days()
            .cast(pl.Int64),
            key=pl.Series(key),
            revenue_cents=pl.col("total_cents").cast(pl.Int64),
        )

    @cached_property
    def final(self) -> pl.DataFrame:
        """(day, key, sessions, users, conversions, revenue_cents) once processing finished; rows with sessions."""
        days, n_keys = self.world_spec.days, len(KEYS)
        cells = (self.purchases.group_by("day", "key")
                 .agg(conversions=pl.len().cast(pl.Int64), revenue_cents=pl.col("revenue_cents").sum(),
                      buyers=pl.col("customer_id").n_unique().cast(pl.Int64)))
        grid = np.zeros((3, days, n_keys), dtype=np.int64)
        d, k = cells["day"].to_numpy(), cells["key"].to_numpy()
        inside = (d >= 0) & (d < days)
        for i, column in enumerate(("conversions", "revenue_cents", "buyers")):
            grid[i, d[inside], k[inside]] = cells[column].to_numpy()[inside]
        purchases, revenue, buyers = grid
        rng = shop_rng(self.world_spec.seed, self.shop.handle, "ga4/traffic")
        mean = np.array([CONVERSION_RATE[key.kind] for key in KEYS])
        rate = np.clip(mean * np.exp(rng.normal(0.0, RATE_SPREAD, (days, n_keys))), 0.002, 0.5)
        idle = rng.poisson(np.broadcast_to(purchases.mean(axis=0) / mean * IDLE_SHARE, (days, n_keys)))
        sessions = np.where(purchases > 0, np.ceil(purchases / rate).astype(np.int64), idle)
        returning = rng.uniform(0.05, 0.30, (days, n_keys))
        users = sessions - rng.binomial(np.maximum(sessions - 1, 0), returning)
        users = np.maximum(users, buyers)
        day, key = np.nonzero(sessions)
        return pl.DataFrame({"day": day.astype(np.int64), "key": key.astype(np.int64),
                             "sessions": sessions[day, key], "users": users[day, key],
                             "conversions": purchases[day, key], "revenue_cents": revenue[day, key]})

    def settled(self, as_of: datetime | None) -> bool:
        """Whether every day is final at this clock (at or after the world's end, or no clock)."""
        return as_of is None or as_of >= self.world_spec.end

    def cells(self, as_of: datetime | None = None) -> pl.DataFrame:
        """(day, key, sessions, users, conversions, revenue_cents) as a report shows them at ``as_of``."""
        if self.settled(as_of):
            return self.final
        lag = timedelta(hours=self.options.processing_lag_hours)
        tz = ZoneInfo(self.timezone)
        start = self.world_spec.start_date
        day_starts = np.array([datetime.combine(start + timedelta(days=i), time(0), tz).astimezone(UTC).timestamp()
                               for i in range(self.world_spec.days)])
        # a day's sessions fill in from its first moment until `lag` after it ended
        completeness = np.clip((as_of.timestamp() - day_starts) / (86400 + lag.total_seconds()), 0.0, 1.0)
        visible = (self.purchases.filter((pl.col("created_at") <= as_of) & (pl.col("processed_at") <= as_of))
                   .group_by("day", "key")
                   .agg(conv=pl.len().cast(pl.Int64), rev=pl.col("revenue_cents").sum(),
                        buy=pl.col("customer_id").n_unique().cast(pl.Int64)))
        shares = pl.DataFrame({"day": np.arange(self.world_spec.days, dtype=np.int64), "share": completeness})
        rows = (self.final.join(visible, on=["day", "key"], how="left").join(shares, on="day", how="left")
                .with_columns(pl.col("conv", "rev", "buy").fill_null(0)))
        sessions = pl.max_horizontal("conv", (pl.col("sessions") * pl.col("share")).floor().cast(pl.Int64))
        rows = rows.with_columns(sessions=sessions)
        users = pl.min_horizontal("sessions", pl.max_horizontal(
            (pl.col("users") * pl.col("share")).floor().cast(pl.Int64), "buy",
            (pl.col("sessions") > 0).cast(pl.Int64)))
        return (rows.with_columns(users=users)
                .select("day", "key", "sessions", "users", conversions="conv", revenue_cents="rev")
                .filter(pl.col("sessions") > 0))

    def rows(self, as_of: datetime | None = None) -> pl.DataFrame:
        """The property's traffic at (date, source, medium, campaign) grain as seen at ``as_of`` (ROW_SCHEMA)."""
        keys = pl.DataFrame({
            "key": np.arange(len(KEYS), dtype=np.int64),
            "source": [k.source for k in KEYS], "medium": [k.medium for k in KEYS],
            "campaign": [k.campaign for k in KEYS], "channel_group": [k.channel_group for k in KEYS],
        })
        return (self.cells(as_of).join(keys, on="key", how="left")
                .with_columns(date=pl.lit(self.world_spec.start_date) + pl.duration(days=pl.col("day")))
                .select(list(ROW_SCHEMA)).cast(ROW_SCHEMA).sort("date", "source", "medium", "campaign"))
