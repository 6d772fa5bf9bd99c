"""Features of one (series, origin, target day) row for the global model — only what was known at the
forecast origin, plus the target day's calendar — and the row's offset.

The offset is the log of a structural forecast the trees then correct: the series' recent level (its
exponentially weighted mean over observed days, shrunk to its mean of the last year) × — where the history
holds last year — the channel's move a year ago from origin − 364 to the week around target − 364 (the yearly
wave, holidays and promotions as seen in history) × the category's share change over that span, less
``GROWTH_DAMPING`` of the channel's year-on-year growth, ÷ (1 + launch rate × horizon) for the share new SKUs
take (at the rate seen over the last year).

Features: horizon, day of week and of year, channel, category, the base (last-year) and recent levels, shrunk
7/28/91-day ratios to the base, age, observed share, out of stock at the origin, recent censored share, the
last-year factors above, the channel's spike and discount share on the days 364 and 365 before the target
(same weekday, same date), the category's trend and year-on-year change, the list price relative to the
category's median, and the series' recent discount share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from models_ml.forecast.panel import Panel

FEATURES = ["horizon", "dow", "doy", "origin_doy", "channel", "category", "log_base", "log_level", "ratio_7",
            "ratio_28", "ratio_91", "age", "observed_share", "out_of_stock", "censored_28", "has_last_year",
            "ly_channel", "ly_category", "yoy_growth", "launch_rate", "spike_364", "spike_365", "discount_364",
            "discount_365", "group_trend_28", "group_yoy", "price_rel", "discount_share_91"]
CATEGORICAL = ["channel", "category"]
LEVEL_DAYS = 364
HALF_LIFE_DAYS = 56.0  # of the exponentially weighted recent level
LEVEL_PRIOR_DAYS = 14.0  # pseudo-days of the year's base level in the recent level
MIN_LAST_YEAR_DAYS = 30  # the year-ago reference needs this many days of history before origin − 364
WAVE_DAYS, CATEGORY_WAVE_DAYS = 7, 29  # centred windows around target − 364
LAUNCH_SETTLE_DAYS = 90  # series first sold this soon after the panel starts are not counted as launches
GROWTH_DAMPING = 0.5  # share of the channel's year-on-year growth taken off the offset (demand mean-reverts)
SHRINK_DAYS = {7: 7.0, 28: 14.0, 91: 28.0}  # pseudo-days of the base level in each recent window
YOUNG_PRIOR_DAYS = 14.0  # pseudo-days of the channel's mean daily units in a series' base level


def _cumulative(matrix: np.ndarray) -> np.ndarray:
    out = np.zeros((matrix.shape[0], matrix.shape[1] + 1))
    np.cumsum(matrix, axis=1, out=out[:, 1:])
    return out


def _window(cum: np.ndarray, rows: np.ndarray, end: np.ndarray, days: int) -> np.ndarray:
    """Σ over columns (end − days, end] of each row of the matrix behind ``cum`` (clipped to the panel)."""
    hi = np.clip(end + 1, 0, cum.shape[-1] - 1)
    lo = np.clip(end + 1 - days, 0, cum.shape[-1] - 1)
    return cum[rows, hi] - cum[rows, lo]


def _exp_weighted(values: np.ndarray, weights: np.ndarray, half_life: float = HALF_LIFE_DAYS) -> tuple[
        np.ndarray, np.ndarray]:
    """(Σ λ^age · weight · value, Σ λ^age · weight) up to each column, λ = 2^(−1/half_life)."""
    decay = 0.5 ** (1.0 / half_life)
    total, mass = np.empty_like(values, dtype=np.float64), np.empty_like(values, dtype=np.float64)
    run_t = np.zeros(values.shape[0])
    run_m = np.zeros(values.shape[0])
    for d in range(values.shape[1]):
        run_t = decay * run_t + weights[:, d] * values[:, d]
        run_m = decay * run_m + weights[:, d]
        total[:, d], mass[:, d] = run_t, run_m
    return total, mass


@dataclass(frozen=True)
class FeatureContext:
    """Everything the row features are gathered from, precomputed once per panel (cumulative sums)."""

    panel: Panel
    cum_units: np.ndarray  # (S, D+1) observed units
    cum_observed: np.ndarray  # (S, D+1) observed days
    cum_censored: np.ndarray  # (S, D+1)
    cum_gross: np.ndarray
    cum_discount: np.ndarray
    channel_code: np.ndarray  # (S,)
    category_code: np.ndarray  # (S,)
    group_code: np.ndarray  # (S,) channel × category
    group_units: np.ndarray  # (G, D) units a day per group
    group_cum: np.ndarray  # (G, D+1)
    channel_units: np.ndarray  # (C, D)
    channel_cum: np.ndarray  # (C, D+1)
    channel_discount: np.ndarray  # (C, D) discount share of gross a day (NaN: no sales)
    channel_mean: np.ndarray  # (C,) mean daily units of a series in the channel
    price_rel: np.ndarray  # (S,)
    start_ordinal: int
    ew_units: np.ndarray  # (S, D) exponentially weighted observed units
    ew_days: np.ndarray  # (S, D) exponentially weighted observed days
    ew_channel: np.ndarray  # (C, D) exponentially weighted channel units (every day weighs 1)
    ew_group: np.ndarray  # (G, D)

    @classmethod
    def build(cls, panel: Panel, products: pl.DataFrame, channels: list[str],
              categories: list[str]) -> FeatureContext:
        observed = panel.observed
        units = np.where(observed, panel.units, 0.0)
        meta = (pl.DataFrame({"sku": panel.sku.astype(str)})
                .join(products.select("sku", "category", "list_price"), on="sku", how="left"))
        category = meta["category"].fill_null("").to_numpy().astype(str)
        cat_index = {c: i for i, c in enumerate(categories)}
        ch_index = {c: i for i, c in enumerate(channels)}
        category_code = np.array([cat_index.get(c, len(categories)) for c in category], dtype=np.int64)
        channel_code = np.array([ch_index.get(c, len(channels)) for c in panel.channel.astype(str)], dtype=np.int64)
        n_cat, n_ch = len(categories) + 1, len(channels) + 1
        group_code = channel_code * n_cat + category_code
        group_units = np.zeros((n_ch * n_cat, panel.days))
        np.add.at(group_units, group_code, panel.units)
        channel_units = np.zeros((n_ch, panel.days))
        np.add.at(channel_units, channel_code, panel.units)
        gross, discount = np.zeros((n_ch, panel.days)), np.zeros((n_ch, panel.days))
        np.add.at(gross, channel_code, panel.gross)
        np.add.at(discount, channel_code, panel.discount)
        with np.errstate(invalid="ignore", divide="ignore"):
            channel_discount = np.where(gross > 0, discount / gross, np.nan)
        per_series = np.bincount(channel_code, weights=units.sum(axis=1), minlength=n_ch)
        per_days = np.bincount(channel_code, weights=observed.sum(axis=1), minlength=n_ch)
        channel_mean = np.where(per_days > 0, per_series / np.maximum(per_days, 1), 0.0)
        price = meta["list_price"].fill_null(np.nan).to_numpy().astype(np.float64)
        median = (pl.DataFrame({"c": category_code, "p": price}).group_by("c").agg(pl.col("p").median()))
        med = np.full(n_cat, np.nan)
        med[median["c"].to_numpy()] = median["p"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            price_rel = np.log(price / med[category_code])
        ew_units, ew_days = _exp_weighted(units, observed.astype(np.float64))
        ew_channel, _ = _exp_weighted(channel_units, np.ones_like(channel_units))
        ew_group, _ = _exp_weighted(group_units, np.ones_like(group_units))
        return cls(ew_units=ew_units, ew_days=ew_days, ew_channel=ew_channel, ew_group=ew_group,
                   panel=panel, cum_units=_cumulative(units), cum_observed=_cumulative(observed.astype(np.float64)),
                   cum_censored=_cumulative(panel.censored.astype(np.float64)),
                   cum_gross=_cumulative(panel.gross), cum_discount=_cumulative(panel.discount),
                   channel_code=channel_code, category_code=category_code, group_code=group_code,
                   group_units=group_units, group_cum=_cumulative(group_units), channel_units=channel_units,
                   channel_cum=_cumulative(channel_units), channel_discount=channel_discount,
                   channel_mean=channel_mean, price_rel=price_rel, start_ordinal=panel.start.toordinal())

    def base_level(self, series: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """Mean daily units over the observed days of the year to the origin, shrunk to the channel mean."""
        total = _window(self.cum_units, series, origin, LEVEL_DAYS)
        days = _window(self.cum_observed, series, origin, LEVEL_DAYS)
        prior = self.channel_mean[self.channel_code[series]]
        return (total + YOUNG_PRIOR_DAYS * prior) / (days + YOUNG_PRIOR_DAYS)

    def recent_level(self, series: np.ndarray, origin: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Exponentially weighted mean daily units to the origin, shrunk to the base level."""
        o = np.clip(origin, 0, self.panel.days - 1)
        return ((self.ew_units[series, o] + LEVEL_PRIOR_DAYS * base)
                / (self.ew_days[series, o] + LEVEL_PRIOR_DAYS))

    def last_year_factors(self, series: np.ndarray, origin: np.ndarray, target: np.ndarray) -> tuple[
            np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(has_last_year, log channel wave, log category wave, log channel growth): how the channel's sales a
        year ago moved from their weighted level at origin − 364 to the week around target − 364, how the
        category's share of the channel moved over the same year-ago span, and the channel's weighted level
        at the origin over the one a year before. Zeros where the history is too short."""
        d = self.panel.days
        ref = origin - 364
        centre = target - 364
        # the year-ago windows must end by the origin (only what was known then)
        ok = (ref >= MIN_LAST_YEAR_DAYS) & (centre + CATEGORY_WAVE_DAYS // 2 <= origin)
        ch, grp = self.channel_code[series], self.group_code[series]
        r = np.clip(ref, 0, d - 1)
        decay_mass = (1 - 0.5 ** ((r + 1) / HALF_LIFE_DAYS)) / (1 - 0.5 ** (1 / HALF_LIFE_DAYS))
        ch_ref = self.ew_channel[ch, r] / decay_mass
        grp_ref = self.ew_group[grp, r] / decay_mass
        o = np.clip(origin, 0, d - 1)
        ch_now = self.ew_channel[ch, o] / ((1 - 0.5 ** ((o + 1) / HALF_LIFE_DAYS)) / (1 - 0.5 ** (1 / HALF_LIFE_DAYS)))

        def centred(cum: np.ndarray, row: np.ndarray, width: int) -> np.ndarray:
            lo = np.clip(centre - width // 2, 0, d)
            hi = np.clip(centre + width // 2 + 1, 0, d)
            return (cum[row, hi] - cum[row, lo]) / np.maximum(hi - lo, 1)

        ch_week = centred(self.channel_cum, ch, WAVE_DAYS)
        ch_month = centred(self.channel_cum, ch, CATEGORY_WAVE_DAYS)
        grp_month = centred(self.group_cum, grp, CATEGORY_WAVE_DAYS)
        with np.errstate(invalid="ignore", divide="ignore"):
            wave = np.log((ch_week + 0.5) / (ch_ref + 0.5))
            category = np.log(((grp_month + 0.5) / (ch_month + 0.5)) / ((grp_ref + 0.5) / (ch_ref + 0.5)))
            growth = np.log((ch_now + 0.5) / (ch_ref + 0.5))
        ok &= np.isfinite(wave) & np.isfinite(category) & np.isfinite(growth)
        return (ok.astype(np.float64), np.where(ok, wave, 0.0), np.where(ok, category, 0.0),
                np.where(ok, growth, 0.0))

    def launch_rate(self, channel: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """Share of a channel's demand that new series take per day, from the year to the origin: series first
        sold in a window of W days held ``share`` of its sales, about rate × W / 2 for steady launches; the
        existing series' demand h days ahead is then ÷ (1 + rate × h) (catalogue growth cannibalises)."""
        out = np.zeros(len(origin))
        panel = self.panel
        for o in np.unique(origin):
            lo = max(int(o) - LEVEL_DAYS, LAUNCH_SETTLE_DAYS)
            if o - lo < LAUNCH_SETTLE_DAYS:
                continue
            sold = self.cum_units[:, min(o + 1, panel.days)] - self.cum_units[:, lo + 1]
            new = (panel.first_day > lo) & (panel.first_day <= o)
            total = np.bincount(self.channel_code, weights=sold, minlength=len(self.channel_mean))
            fresh = np.bincount(self.channel_code, weights=sold * new, minlength=len(self.channel_mean))
            rate = np.where(total > 0, 2.0 * fresh / np.maximum(total, 1e-9) / (o - lo), 0.0)
            at = origin == o
            out[at] = rate[channel[at]]
        return out

    def rows(self, series: np.ndarray, origin: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(X float32 rows × FEATURES, offset) for target columns (may lie beyond the panel). The offset is
        the log of the structural forecast: recent level × (where known) last year's channel and category
        wave from the origin to the target day."""
        series, origin, target = (np.asarray(a, dtype=np.int64) for a in (series, origin, target))
        n_days = self.panel.days
        base = self.base_level(series, origin)
        level = self.recent_level(series, origin, base)
        has_ly, wave, category_wave, growth = self.last_year_factors(series, origin, target)
        log_base = np.log(np.maximum(base, 1e-6))
        log_level = np.log(np.maximum(level, 1e-6))
        launch = self.launch_rate(self.channel_code[series], origin)
        offset = log_level + wave + category_wave - GROWTH_DAMPING * growth - np.log1p(launch * (target - origin))
        cols: dict[str, np.ndarray] = {}
        ordinal = self.start_ordinal + target
        cols["horizon"] = (target - origin).astype(np.float64)
        cols["dow"] = (ordinal % 7).astype(np.float64)  # date.toordinal() % 7: 0 = Sunday
        cols["doy"] = _day_of_year(ordinal)
        cols["origin_doy"] = _day_of_year(self.start_ordinal + origin)
        cols["channel"] = self.channel_code[series].astype(np.float64)
        cols["category"] = self.category_code[series].astype(np.float64)
        cols["log_base"] = log_base
        cols["log_level"] = log_level
        cols["has_last_year"] = has_ly
        cols["ly_channel"] = np.where(has_ly > 0, wave, np.nan)
        cols["ly_category"] = np.where(has_ly > 0, category_wave, np.nan)
        cols["yoy_growth"] = np.where(has_ly > 0, growth, np.nan)
        cols["launch_rate"] = launch
        for w, k in SHRINK_DAYS.items():
            total = _window(self.cum_units, series, origin, w)
            days = _window(self.cum_observed, series, origin, w)
            cols[f"ratio_{w}"] = np.log((total + k * base) / ((days + k) * np.maximum(base, 1e-9)))
        first = self.panel.first_day[series]
        cols["age"] = np.minimum(origin - first + 1, 730).astype(np.float64)
        span = np.minimum(origin - first + 1, LEVEL_DAYS)
        cols["observed_share"] = _window(self.cum_observed, series, origin, LEVEL_DAYS) / np.maximum(span, 1)
        cols["out_of_stock"] = self.panel.censored[series, np.clip(origin, 0, n_days - 1)].astype(np.float64)
        cols["censored_28"] = _window(self.cum_censored, series, origin, 28) / 28.0

        group = self.group_code[series]
        channel = self.channel_code[series]
        cols["spike_364"] = self._spike(channel, target - 364)
        cols["spike_365"] = self._spike(channel, target - 365)
        cols["discount_364"] = self._at(self.channel_discount, channel, target - 364)
        cols["discount_365"] = self._at(self.channel_discount, channel, target - 365)
        g28 = self._group_mean(group, origin, 28)
        g364 = self._group_mean(group, origin, 364)
        g28_ly = self._group_mean(group, origin - 364, 28)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["group_trend_28"] = np.log(g28 / g364)
            cols["group_yoy"] = np.log(g28 / g28_ly)
        cols["price_rel"] = self.price_rel[series]
        gross = _window(self.cum_gross, series, origin, 91)
        disc = _window(self.cum_discount, series, origin, 91)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["discount_share_91"] = np.where(gross > 0, disc / gross, np.nan)
        x = np.empty((len(series), len(FEATURES)), dtype=np.float32)
        for j, name in enumerate(FEATURES):
            v = cols[name]
            x[:, j] = np.where(np.isfinite(v), v, np.nan)
        return x, offset

    def _group_mean(self, group: np.ndarray, origin: np.ndarray, days: int) -> np.ndarray:
        """Mean daily units of the group over (origin − days, origin]; NaN if that lies before the panel."""
        hi, lo = origin + 1, origin + 1 - days
        ok = lo >= 0
        total = self.group_cum[group, np.clip(hi, 0, self.panel.days)] - self.group_cum[group, np.clip(lo, 0,
                                                                                                     self.panel.days)]
        return np.where(ok & (total > 0), total / days, np.nan)

    def _spike(self, channel: np.ndarray, day: np.ndarray) -> np.ndarray:
        """log(the channel's units on ``day`` ÷ its mean a day over that week): a holiday or promotion."""
        d = self.panel.days
        ok = (day - 3 >= 0) & (day + 4 <= d)
        week = self.channel_cum[channel, np.clip(day + 4, 0, d)] - self.channel_cum[channel, np.clip(day - 3, 0, d)]
        units = self.channel_units[channel, np.clip(day, 0, d - 1)]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ok & (week > 0), np.log((units + 0.5) / (week / 7 + 0.5)), np.nan)

    def _at(self, matrix: np.ndarray, row: np.ndarray, day: np.ndarray) -> np.ndarray:
        ok = (day >= 0) & (day < self.panel.days)
        return np.where(ok, matrix[row, np.clip(day, 0, self.panel.days - 1)], np.nan)


def _day_of_year(ordinal: np.ndarray) -> np.ndarray:
    """Day of the year (1…366) of proleptic Gregorian ordinals, vectorised."""
    days = ordinal.astype("int64") - 1 - (date(1970, 1, 1).toordinal() - 1)
    d64 = days.astype("datetime64[D]")
    year_start = d64.astype("datetime64[Y]").astype("datetime64[D]")
    return ((d64 - year_start).astype(np.int64) + 1).astype(np.float64)
