"""A shop's Meta ad world, derived deterministically from its ShopWorld: the ad account, its campaigns, ad sets
and ads, each ad's daily delivery (spend in integer cents of the account currency, impressions, clicks) and the
purchase conversions Meta attributes to them.

- **Structure**: five campaign templates (prospecting broad, a lookalike prospecting campaign that is paused
  60 % into the world, retargeting, a catalogue/DPA campaign launched 25 % into it, and sale pushes that only
  run on promotion days), 1–2 ad sets each, 2–3 ads per ad set (later ads launch during the world).
- **Currency**: the account's (``currency`` option, default the shop's). Budget, spend and CPMs are in it.
- **Spend**: the account's ``daily_budget`` × the shop's seasonality (normalised to mean 1) × a little daily
  noise, plus half a budget more on promotion days; split over the campaigns running that day by their budget
  shares, and over a campaign's live ads by fixed weights with daily noise. Rounded to whole cents.
- **Impressions / clicks**: spend ÷ a CPM per ad (drawn around the campaign's, in USD converted to the account
  currency, dearer in high season) × 1000; clicks ~ Binomial(impressions, the ad's CTR).
- **Conversions**: the first online order of every customer acquired in the world through ``paid_social``
  is a purchase conversion of one ad delivering on the order's local day (drawn with the ads' clicks as
  weights); its value is the order's total, to the cent — converted to the account currency when it bills in
  another one, at the ECB reference rate of the order's local day (the last business day on or before it, as
  the FX twin publishes it: ``sandbox.fx_rates``), rounded half away from zero to the cent. Each conversion is
  *reported* some time after the order (most within hours, the rest up to ``attribution_days`` later): the API
  shows a conversion only once its report time has passed, so a recent day's numbers still grow until final.
- **Visibility**: a day's delivery is reported once the account's local day has ended.

Randomness: one stream per purpose, ``shop_rng(seed, handle, "meta_ads/<purpose>")``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from sandbox.fx_rates.rates import convert_cents
from sandbox.meta_ads.options import ResolvedOptions, resolve
from sandbox.world import ShopWorld
from sandbox.world.calendar import Calendar
from sandbox.world.currencies import currency
from sandbox.world.spec import WorldSpec, shop_horizon, shop_rng

PAID_SOCIAL = "paid_social"
SAME_DAY_SHARE = 0.65  # of conversions reported within hours; the rest trickle in over the attribution window
PROMO_EXTRA_BUDGET = 0.5  # share of a daily budget added on promotion days (the sale-push campaign)


@dataclass(frozen=True)
class CampaignTemplate:
    key: str
    name: str
    objective: str
    share: float  # of the daily budget while it runs (promo: of the extra budget)
    cpm_usd: float
    ctr: float
    starts_at: float  # fraction of the world's span
    stops_at: float | None
    adsets: tuple[str, ...]


CAMPAIGNS = (
    CampaignTemplate("prospecting", "Prospecting | Broad | Sales", "OUTCOME_SALES", 0.40, 9.0, 0.011, 0.0, None,
                     ("Broad 18-65", "Interests | Category fans")),
    CampaignTemplate("lookalike", "Prospecting | Lookalike 1% purchasers", "OUTCOME_SALES", 0.20, 10.5, 0.013, 0.0,
                     0.6, ("LAL 1% purchasers 180d",)),
    CampaignTemplate("retargeting", "Retargeting | Site visitors 30d", "OUTCOME_SALES", 0.15, 14.0, 0.019, 0.0, None,
                     ("Visitors 30d excl. buyers", "Add to cart 7d")),
    CampaignTemplate("catalogue", "Catalogue | DPA | All products", "OUTCOME_SALES", 0.25, 11.0, 0.016, 0.25, None,
                     ("DPA | Viewed not bought 14d", "DPA | Broad catalogue")),
    CampaignTemplate("promo", "Promotions | Sale pushes", "OUTCOME_SALES", 1.0, 12.5, 0.017, 0.0, None,
                     ("Sale | All visitors",)),
)
AD_FORMATS = ("Video", "Carousel", "Static", "Collection", "Reel")
AD_ANGLES = ("UGC review", "Bestsellers", "Offer", "New in", "Lifestyle", "Founder story", "Social proof")


@dataclass(frozen=True)
class AdWorld:
    """Every record of one shop's ad account (polars frames; money in integer cents; ids as text, as the
    Graph API sends them; ``date`` is the account's local day)."""

    handle: str
    options: ResolvedOptions
    currency: str
    timezone: str
    campaigns: pl.DataFrame  # campaign_id, campaign_name, objective, start_date, stop_date
    adsets: pl.DataFrame  # adset_id, adset_name, campaign_id
    ads: pl.DataFrame  # ad_id, ad_name, adset_id, campaign_id, start_date, stop_date
    delivery: pl.DataFrame  # date, ad_id, adset_id, campaign_id, spend_cents, impressions, clicks, available_at
    conversions: pl.DataFrame  # order_id, customer_id, date, ad_id, value_cents, ordered_at, reported_at

    @property
    def account_id(self) -> str:
        return self.options.account_id

    def insights(self, as_of: datetime) -> pl.DataFrame:
        """Per (date, ad) what the API reports at ``as_of``: delivered days that have ended, with the
        conversions reported by then (``conversions``, ``conversion_value_cents``), names joined in."""
        days = self.delivery.filter(pl.col("available_at") <= as_of)
        reported = (self.conversions.filter(pl.col("reported_at") <= as_of)
                    .group_by("date", "ad_id")
                    .agg(pl.len().cast(pl.Int64).alias("conversions"),
                         pl.col("value_cents").sum().alias("conversion_value_cents")))
        return (days.join(reported, on=["date", "ad_id"], how="left")
                .with_columns(pl.col("conversions").fill_null(0), pl.col("conversion_value_cents").fill_null(0))
                .join(self.ads.select("ad_id", "ad_name"), on="ad_id", how="left")
                .join(self.adsets.select("adset_id", "adset_name"), on="adset_id", how="left")
                .join(self.campaigns.select("campaign_id", "campaign_name"), on="campaign_id", how="left")
                .sort("date", "ad_id"))


_CACHE: dict[tuple[str, str], AdWorld] = {}
_LOCK = threading.Lock()


def ad_world(spec: WorldSpec, shop: ShopWorld) -> AdWorld:
    """The shop's ad world (computed once per world spec and shop, then cached)."""
    key = (spec.model_dump_json(exclude={"shops"}), shop.spec.model_dump_json())
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        cached = derive_ad_world(spec, shop)
        with _LOCK:
            _CACHE[key] = cached
    return cached


def derive_ad_world(spec: WorldSpec, shop: ShopWorld) -> AdWorld:
    """Build the ad world of ``shop`` (the whole ShopWorld, not a ``visible()`` view)."""
    if shop.as_of < shop_horizon(spec, shop.spec):
        raise ValueError("derive the ad world from the whole ShopWorld, not from a visible() view")
    options = resolve(spec, shop.spec)
    calendar = Calendar.build(spec, shop.spec)

    def rng(stream: str) -> np.random.Generator:
        return shop_rng(spec.seed, shop.handle, f"meta_ads/{stream}")

    campaigns, adsets, ads, ad_days = _structure(calendar, rng("structure"))
    delivery = _delivery(calendar, options, options.currency, campaigns, ads, ad_days, rng("delivery"))
    conversions = _conversions(spec, shop, delivery, rng("attribution"), rng("lag"), options.attribution_days)
    if options.currency != shop.spec.currency:  # the order totals, in the account currency
        conversions = conversions.with_columns(value_cents=pl.Series(convert_cents(
            spec, conversions["value_cents"].to_list(), conversions["date"].to_list(), shop.spec.currency,
            options.currency), dtype=pl.Int64))
    per_row = conversions.group_by("date", "ad_id").agg(pl.len().cast(pl.Int64).alias("n"))
    delivery = (delivery.join(per_row, on=["date", "ad_id"], how="left")
                .with_columns(clicks=pl.max_horizontal("clicks", pl.col("n").fill_null(0)))  # a buyer clicked
                .with_columns(impressions=pl.max_horizontal("impressions", "clicks"))
                .drop("n"))
    return AdWorld(handle=shop.handle, options=options, currency=options.currency, timezone=shop.spec.timezone,
                   campaigns=campaigns, adsets=adsets, ads=ads, delivery=delivery, conversions=conversions)


def _ids(rng: np.random.Generator, n: int, prefix: int) -> list[str]:
    """Graph-style 18-digit ids (``1202…``), distinct within the account."""
    drawn = rng.choice(10**13, size=n, replace=False)
    return [str(prefix * 10**14 + int(x)) for x in drawn]


def _structure(calendar: Calendar, rng: np.random.Generator):
    """Campaigns, ad sets and ads, and the (n_ads × days) matrix of the days each ad delivers."""
    days = calendar.days
    promo_day = np.array([code is not None for code in calendar.promo_code])
    campaign_rows, adset_rows, ad_rows, live = [], [], [], []
    ids = iter(_ids(rng, 200, 1202))
    for template in CAMPAIGNS:
        first = int(round(template.starts_at * days))
        last = days if template.stops_at is None else int(round(template.stops_at * days))
        running = np.zeros(days, dtype=bool)
        running[first:last] = True
        if template.key == "promo":
            running &= promo_day
        if not running.any():
            continue
        campaign_id = next(ids)
        on = np.flatnonzero(running)
        campaign_rows.append({"campaign_id": campaign_id, "campaign_name": template.name,
                              "objective": template.objective, "key": template.key,
                              "start_date": calendar.dates[on[0]],
                              "stop_date": None if template.stops_at is None else calendar.dates[on[-1]]})
        for adset_name in template.adsets:
            adset_id = next(ids)
            adset_rows.append({"adset_id": adset_id, "adset_name": adset_name, "campaign_id": campaign_id})
            n_ads = int(rng.integers(2, 4))
            names = rng.choice(len(AD_FORMATS) * len(AD_ANGLES), size=n_ads, replace=False)
            for k in range(n_ads):
                ad_live = running.copy()
                if k > 0:  # later ads launch during the campaign (creative refreshes)
                    ad_live[: on[0] + int(rng.integers(0, max(1, len(on) // 2)))] = False
                if not ad_live.any():
                    ad_live = running.copy()
                fmt, angle = divmod(int(names[k]), len(AD_ANGLES))
                live_on = np.flatnonzero(ad_live)
                ad_rows.append({"ad_id": next(ids), "ad_name": f"{AD_FORMATS[fmt]} | {AD_ANGLES[angle]}",
                                "adset_id": adset_id, "campaign_id": campaign_id, "key": template.key,
                                "start_date": calendar.dates[live_on[0]],
                                "stop_date": None if template.stops_at is None else calendar.dates[live_on[-1]]})
                live.append(ad_live)
    date_type = {"start_date": pl.Date, "stop_date": pl.Date}
    campaigns = pl.DataFrame(campaign_rows, schema_overrides=date_type)
    adsets = pl.DataFrame(adset_rows)
    ads = pl.DataFrame(ad_rows, schema_overrides=date_type)
    return campaigns, adsets, ads, np.array(live)


def _delivery(calendar: Calendar, options: ResolvedOptions, code: str, campaigns: pl.DataFrame,
              ads: pl.DataFrame, live: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """(date, ad) rows with spend in cents, impressions and clicks, for every day an ad delivered."""
    templates = {t.key: t for t in CAMPAIGNS}
    keys = ads["key"].to_list()
    n_ads, days = live.shape
    season = calendar.season / calendar.season.mean()
    budget = options.daily_budget_cents * season * rng.lognormal(0.0, 0.06, days)  # cents per day
    promo = np.array([code_ is not None for code_ in calendar.promo_code])

    # campaign share of the day's budget: regular campaigns share it by their weights, sale pushes get extra
    share = np.array([templates[k].share for k in keys])
    campaign_of_ad = ads["campaign_id"].to_list()
    regular = np.array([k != "promo" for k in keys])
    campaign_live = {}
    for i, cid in enumerate(campaign_of_ad):
        campaign_live[cid] = campaign_live.get(cid, np.zeros(days, dtype=bool)) | live[i]
    campaign_share = {cid: templates[keys[campaign_of_ad.index(cid)]].share for cid in campaign_live}
    regular_total = sum(campaign_share[c] * campaign_live[c] for c in campaign_live
                        if keys[campaign_of_ad.index(c)] != "promo")
    weight = rng.dirichlet(np.ones(n_ads)) + 0.05  # an ad's pull within its campaign
    noise = rng.lognormal(0.0, 0.15, (n_ads, days))
    ad_pull = weight[:, None] * noise * live
    pull_per_campaign = {c: sum(ad_pull[i] for i in range(n_ads) if campaign_of_ad[i] == c) for c in campaign_live}
    spend = np.zeros((n_ads, days))
    for i in range(n_ads):
        c = campaign_of_ad[i]
        total = pull_per_campaign[c]
        within = np.divide(ad_pull[i], total, out=np.zeros(days), where=total > 0)
        if regular[i]:
            campaign_budget = budget * np.divide(share[i] * campaign_live[c], regular_total,
                                                 out=np.zeros(days), where=regular_total > 0)
        else:
            campaign_budget = budget * PROMO_EXTRA_BUDGET * promo * campaign_live[c]
        spend[i] = campaign_budget * within
    spend_cents = np.rint(spend).astype(np.int64)

    usd = currency(code).usd
    cpm = np.array([templates[k].cpm_usd for k in keys]) / usd * rng.lognormal(0.0, 0.10, n_ads)  # per 1000
    daily_cpm = cpm[:, None] * (1 + 0.35 * (season - 1))[None, :] * rng.lognormal(0.0, 0.08, (n_ads, days))
    impressions = np.rint(spend_cents / 100 / daily_cpm * 1000).astype(np.int64)
    impressions = np.where((spend_cents > 0) & (impressions == 0), 1, impressions)
    ctr = np.array([templates[k].ctr for k in keys]) * rng.lognormal(0.0, 0.12, n_ads)
    clicks = rng.binomial(impressions, np.clip(ctr, 0, 0.5)[:, None])

    ad_index, day_index = np.nonzero((spend_cents > 0) & live)
    day_end = calendar.to_utc(day_index + 1, np.zeros(len(day_index)))
    return pl.DataFrame({
        "date": pl.Series([calendar.dates[d] for d in day_index.tolist()], dtype=pl.Date),
        "ad_id": ads["ad_id"].gather(ad_index),
        "adset_id": ads["adset_id"].gather(ad_index),
        "campaign_id": ads["campaign_id"].gather(ad_index),
        "spend_cents": spend_cents[ad_index, day_index],
        "impressions": impressions[ad_index, day_index],
        "clicks": clicks[ad_index, day_index].astype(np.int64),
        "available_at": day_end,
    }).sort("date", "ad_id")


def _conversions(spec: WorldSpec, shop: ShopWorld, delivery: pl.DataFrame, pick: np.random.Generator,
                 lag: np.random.Generator, attribution_days: int) -> pl.DataFrame:
    """The first online orders of customers acquired in the world through paid social, each attributed to an
    ad delivering on the order's local day (clicks as weights), with the time Meta reports it."""
    acquired = shop.customers.filter((pl.col("acquisition_channel") == PAID_SOCIAL)
                                     & (pl.col("created_at") >= spec.start))["customer_id"]
    firsts = (shop.channel("online_store")
              .filter(pl.col("customer_id").is_in(acquired.implode()))
              .sort("created_at", "order_id")
              .unique(subset="customer_id", keep="first", maintain_order=True)
              .select("order_id", "customer_id", "total_cents", "created_at",
                      date=pl.col("created_at").dt.convert_time_zone(shop.spec.timezone).dt.date())
              .sort("order_id"))
    u = pick.uniform(size=firsts.height)
    by_day = {d: frame for (d,), frame in delivery.select("date", "ad_id", "clicks", "impressions")
              .partition_by("date", as_dict=True).items()}
    chosen: list[str | None] = []
    for day, draw in zip(firsts["date"].to_list(), u.tolist(), strict=True):
        frame = by_day.get(day)
        if frame is None:
            chosen.append(None)  # no ad delivered that day: Meta has nothing to attribute it to
            continue
        weights = frame["clicks"].to_numpy().astype(float)
        if weights.sum() == 0:
            weights = frame["impressions"].to_numpy().astype(float)
        cumulative = np.cumsum(weights) / weights.sum()
        chosen.append(frame["ad_id"][int(min(np.searchsorted(cumulative, draw, side="right"), len(frame) - 1))])
    window_s = attribution_days * 86_400
    same_day = lag.uniform(size=firsts.height) < SAME_DAY_SHARE
    seconds = np.where(same_day, lag.uniform(60, 6 * 3600, firsts.height), lag.uniform(6 * 3600, window_s,
                                                                                        firsts.height))
    delay = pl.Series(np.minimum(seconds, window_s).astype(np.int64) * 1_000_000, dtype=pl.Duration("us"))
    return (firsts.with_columns(ad_id=pl.Series(chosen, dtype=pl.String), reported_delay=delay)
            .filter(pl.col("ad_id").is_not_null())
            .select("order_id", "customer_id", "date", "ad_id", value_cents="total_cents",
                    ordered_at="created_at", reported_at=pl.col("created_at") + pl.col("reported_delay"))
            .sort("date", "order_id"))
