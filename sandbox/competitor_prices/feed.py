"""What a price-intelligence service observed of a shop's competitors: one offer per tracked SKU, competitor and
day, derived from the shop's world with its own random streams (``competitor_prices/…``).

**Who.** Each shop has ``competitors`` named rivals (drawn from ``RIVALS``); each of its SKUs is tracked at 2–3
of them. **When.** One observation per (SKU, competitor) and local day, over the last ``history_days`` days of
the world (a SKU launched meanwhile from the day after its launch); about 3 % of days are missing (a failed
crawl), never the last day. A day's offers are published when the shop's local day ends. **What price.** Our
list price (the variant's ``price_cents``, which never changes in the world) times a ratio kept in parts per
million and rounded to the cent half away from zero (``sandbox.world.money.share``), so every price is exact:

- a per-pair level between −4 % and +6 % plus a small mean-reverting daily wobble (±3 %), never below −7 %;
- a few flash sales in the past (8 % of pairs: 2–5 days at 12–20 % off), all over before the last week;
- **the planted undercuts**: ``clamp(round(undercut_share × SKUs), min_undercut, max_undercut)`` SKUs, each at
  one of its competitors 12–22 % below our price on the last 2–4 days of the world (always observed, in stock).

So on the latest day exactly the planted SKUs are more than 10 % below our price and every other offer is
within −7 %…+9 %: the demo's "competitor 10 % below ours" rule fires a handful of times, never hundreds.
``CompetitorFeed.undercut_on(day)`` says which offers are below a threshold on a day (the ground truth).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.world.money import share
from sandbox.world.shop import ShopWorld
from sandbox.world.spec import WorldSpec, shop_rng

RIVALS = ("PeakMart", "Trailhead Direct", "ValueNest", "Shopwise", "BrightBasket", "Cornerstone Goods",
          "Evergreen Outlet", "PrimeCart", "UrbanBazaar", "Northline Deals", "Harborview Retail", "MegaMarkt")
PPM = 1_000_000
LEVEL_PPM = (-40_000, 60_000)  # a pair's usual price level against ours
WOBBLE_PPM, WOBBLE_KEEP, WOBBLE_STEP_PPM = 30_000, 0.8, 6_000  # the daily mean-reverting wobble
FLOOR_PPM = 930_000  # outside sales and undercuts a competitor is never more than 7 % below us
SALE_SHARE, SALE_DAYS, SALE_DEPTH_PPM, SALE_CLEAR_DAYS = 0.08, (2, 5), (120_000, 200_000), 9
UNDERCUT_DAYS, UNDERCUT_DEPTH_PPM = (2, 4), (120_000, 220_000)
MISSING_SHARE, OUT_OF_STOCK_SHARE = 0.03, 0.05
SCHEMA = {"observed_date": pl.Date, "sku": pl.String, "competitor": pl.String, "price_cents": pl.Int64,
          "our_price_cents": pl.Int64, "in_stock": pl.Boolean, "product_name": pl.String,
          "competitor_url": pl.String}


class CompetitorPricesOptions(BaseModel):
    """A shop's price-intelligence account (``channels: {competitor_prices: {...}}``, optional: every shop has
    one with these defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: str | None = Field(default=None, min_length=12)  # sandbox fake; default cpi_sandbox_<handle>
    history_days: int = Field(default=90, ge=14, le=730)
    competitors: int = Field(default=4, ge=3, le=len(RIVALS))
    undercut_share: float = Field(default=0.035, ge=0, le=0.5)
    min_undercut: int = Field(default=2, ge=0)
    max_undercut: int = Field(default=8, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> CompetitorPricesOptions:
        if self.min_undercut > self.max_undercut:
            raise ValueError("min_undercut must not exceed max_undercut")
        return self


def competitor_options(raw: dict | None) -> CompetitorPricesOptions:
    return CompetitorPricesOptions(**(raw or {}))


def api_key_for(handle: str, options: CompetitorPricesOptions) -> str:
    return options.api_key or f"cpi_sandbox_{handle}"


@dataclass(frozen=True)
class CompetitorFeed:
    """Every offer observed for one shop (``offers``, sorted by observed_date, sku, competitor; money in integer
    cents of ``currency``) and the undercuts planted on the last days (``undercuts``: sku, competitor,
    from_date, depth_ppm)."""

    shop: str
    currency: str
    timezone: str
    first_day: date
    last_day: date
    competitors: tuple[str, ...]
    offers: pl.DataFrame
    undercuts: pl.DataFrame

    def published_through(self, clock: datetime) -> date | None:
        """The last local day whose offers are published at ``clock`` (a day is published when it ends)."""
        day = min(self.last_day, clock.astimezone(ZoneInfo(self.timezone)).date() - timedelta(days=1))
        return day if day >= self.first_day else None

    def visible(self, clock: datetime) -> pl.DataFrame:
        through = self.published_through(clock)
        if through is None:
            return self.offers.clear()
        return self.offers.filter(pl.col("observed_date") <= through)

    def undercut_on(self, day: date, threshold_ppm: int = 100_000) -> pl.DataFrame:
        """The offers of ``day`` priced more than ``threshold_ppm`` (default 10 %) below our price, exactly:
        price × 10⁶ < our price × (10⁶ − threshold)."""
        return self.offers.filter(
            (pl.col("observed_date") == day)
            & (pl.col("price_cents") * PPM < pl.col("our_price_cents") * (PPM - threshold_ppm)))


_CACHE: dict[tuple, CompetitorFeed] = {}
_LOCK = threading.Lock()


def competitor_feed(spec: WorldSpec, shop: ShopWorld, options: CompetitorPricesOptions | None = None
                    ) -> CompetitorFeed:
    """The shop's feed (computed once per world, shop and options, then cached)."""
    options = options or CompetitorPricesOptions()
    key = (spec.seed, spec.start_date, spec.days, shop.handle, options)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        cached = _derive(spec, shop, options)
        with _LOCK:
            _CACHE[key] = cached
    return cached


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _product_names(shop: ShopWorld) -> dict[str, str]:
    titles = dict(zip(shop.products["product_id"].to_list(), shop.products["title"].to_list(), strict=True))
    out = {}
    for sku, product_id, variant in shop.variants.select("sku", "product_id", "title").iter_rows():
        base = titles.get(product_id, sku)
        out[sku] = base if variant in (None, "", "Default Title") else f"{base} - {variant}"
    return out


def _derive(spec: WorldSpec, shop: ShopWorld, options: CompetitorPricesOptions) -> CompetitorFeed:
    handle, zone = shop.handle, ZoneInfo(shop.spec.timezone)
    last_day = spec.start_date + timedelta(days=spec.days - 1)
    first_day = max(spec.start_date, last_day - timedelta(days=options.history_days - 1))
    days = [first_day + timedelta(days=t) for t in range((last_day - first_day).days + 1)]
    n_days = len(days)

    pool = shop_rng(spec.seed, handle, "competitor_prices/rivals")
    rivals = tuple(RIVALS[i] for i in sorted(pool.choice(len(RIVALS), size=options.competitors, replace=False)))

    variants = shop.variants.join(shop.products.select("product_id", "created_at"), on="product_id").sort("sku")
    skus = variants["sku"].to_list()
    our = variants["price_cents"].to_numpy().astype(np.int64)
    # tracked from the local day after the product was created (or from the first day of the history)
    created = [ts.astimezone(zone).date() + timedelta(days=1) for ts in variants["created_at"].to_list()]
    first_index = np.array([max(0, (c - first_day).days) for c in created], dtype=np.int64)

    rng = shop_rng(spec.seed, handle, "competitor_prices/pairs")
    pair_sku, pair_rival = [], []
    for i in range(len(skus)):
        for j in sorted(rng.choice(len(rivals), size=int(rng.integers(2, 4)), replace=False)):
            pair_sku.append(i)
            pair_rival.append(int(j))
    sku_of, rival_of = np.array(pair_sku, dtype=np.int64), np.array(pair_rival, dtype=np.int64)
    n_pairs = len(sku_of)

    # the usual level and the daily wobble (pairs × days), in parts per million of our price
    level = rng.integers(LEVEL_PPM[0], LEVEL_PPM[1], size=n_pairs, endpoint=True)
    steps = rng.normal(0.0, WOBBLE_STEP_PPM, size=(n_pairs, n_days))
    wobble = np.zeros((n_pairs, n_days))
    for t in range(n_days):
        wobble[:, t] = np.clip((wobble[:, t - 1] * WOBBLE_KEEP if t else 0) + steps[:, t], -WOBBLE_PPM, WOBBLE_PPM)
    ratio = np.maximum(PPM + level[:, None] + np.rint(wobble).astype(np.int64), FLOOR_PPM)

    # flash sales in the past, over at least SALE_CLEAR_DAYS days before the last day
    sales = rng.uniform(size=n_pairs) < SALE_SHARE
    sale_len = rng.integers(SALE_DAYS[0], SALE_DAYS[1], size=n_pairs, endpoint=True)
    sale_end = n_days - SALE_CLEAR_DAYS  # exclusive
    sale_start = rng.integers(0, max(1, sale_end - SALE_DAYS[1]), size=n_pairs)
    sale_depth = rng.integers(SALE_DEPTH_PPM[0], SALE_DEPTH_PPM[1], size=n_pairs, endpoint=True)
    for p in np.flatnonzero(sales):
        stop = min(sale_start[p] + sale_len[p], sale_end)
        ratio[p, sale_start[p]:stop] = PPM - sale_depth[p]

    # the planted undercuts: SKUs tracked on every one of the last days, one competitor each
    plant = shop_rng(spec.seed, handle, "competitor_prices/undercuts")
    wanted = min(options.max_undercut, max(options.min_undercut, round(options.undercut_share * len(skus))))
    eligible = np.flatnonzero(first_index <= n_days - UNDERCUT_DAYS[1])
    chosen = sorted(plant.choice(eligible, size=min(wanted, len(eligible)), replace=False)) if wanted else []
    undercut_mask = np.zeros((n_pairs, n_days), dtype=bool)
    undercut_rows = []
    for i in chosen:
        pairs = np.flatnonzero(sku_of == i)
        p = int(pairs[int(plant.integers(0, len(pairs)))])
        length = int(plant.integers(UNDERCUT_DAYS[0], UNDERCUT_DAYS[1], endpoint=True))
        depth = int(plant.integers(UNDERCUT_DEPTH_PPM[0], UNDERCUT_DEPTH_PPM[1], endpoint=True))
        ratio[p, n_days - length:] = PPM - depth
        undercut_mask[p, n_days - length:] = True
        undercut_rows.append((skus[i], rivals[rival_of[p]], days[n_days - length], depth))

    price = share(np.repeat(our[sku_of][:, None], n_days, axis=1), ratio, PPM)
    observed = np.arange(n_days)[None, :] >= first_index[sku_of][:, None]
    missing = (rng.uniform(size=(n_pairs, n_days)) < MISSING_SHARE) & ~undercut_mask
    missing[:, -1] = False
    in_stock = (rng.uniform(size=(n_pairs, n_days)) >= OUT_OF_STOCK_SHARE) | undercut_mask
    keep = observed & ~missing

    pair_idx, day_idx = np.nonzero(keep)
    names = _product_names(shop)
    sku_text = np.array(skus, dtype=object)
    rival_text = np.array(rivals, dtype=object)
    offers = pl.DataFrame({
        "observed_date": pl.Series([days[d] for d in day_idx], dtype=pl.Date),
        "sku": sku_text[sku_of[pair_idx]].tolist(),
        "competitor": rival_text[rival_of[pair_idx]].tolist(),
        "price_cents": price[pair_idx, day_idx],
        "our_price_cents": our[sku_of[pair_idx]],
        "in_stock": in_stock[pair_idx, day_idx],
    }, schema={k: SCHEMA[k] for k in ("observed_date", "sku", "competitor", "price_cents", "our_price_cents",
                                      "in_stock")})
    offers = offers.with_columns(
        product_name=pl.col("sku").replace_strict(names, return_dtype=pl.String),
        competitor_url=pl.format("https://www.{}.example/products/{}",
                                 pl.col("competitor").replace_strict({r: _slug(r) for r in rivals},
                                                                     return_dtype=pl.String),
                                 pl.col("sku").str.to_lowercase()),
    ).sort("observed_date", "sku", "competitor")
    undercuts = pl.DataFrame(undercut_rows, schema={"sku": pl.String, "competitor": pl.String,
                                                    "from_date": pl.Date, "depth_ppm": pl.Int64}, orient="row")
    return CompetitorFeed(shop=handle, currency=shop.spec.currency, timezone=shop.spec.timezone,
                          first_day=first_day, last_day=last_day, competitors=rivals, offers=offers,
                          undercuts=undercuts)
