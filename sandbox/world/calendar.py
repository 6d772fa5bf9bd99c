"""A shop's calendar: its local days, how busy each one is (weekly, yearly, holidays, promotions), the
promotion discount in force, and the conversion of local times to UTC.

Days are indexed 0 … days−1 from the world's start date and are the shop's *local* dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from sandbox.world.spec import ShopSpec, WorldSpec

WEEKDAY_FACTOR = np.array([0.92, 0.90, 0.95, 1.00, 1.08, 1.22, 1.18])  # Monday … Sunday: weekends peak
YEARLY_AMPLITUDE, YEARLY_PEAK_DAY = 0.22, 350  # mid-December peak, mid-June trough: the Q4 uplift
HOLIDAYS = {(12, 24): 0.70, (12, 25): 0.45, (12, 26): 0.80, (1, 1): 0.60}  # (month, day) → demand factor
GIFT_SEASON, GIFT_SEASON_FACTOR = ((12, 1), (12, 21)), 1.15


@dataclass(frozen=True)
class Promotion:
    code: str  # the discount code orders carry while it runs
    start: date
    days: int
    discount_bp: int  # off every line
    uplift: float  # demand multiplier while it runs


def promotions(first: date, last: date) -> list[Promotion]:
    """Black Friday–Cyber Monday, a summer sale and a spring sale in every year the calendar touches."""
    promos = []
    for year in range(first.year, last.year + 1):
        november_first = date(year, 11, 1)
        thanksgiving = november_first + timedelta(days=(3 - november_first.weekday()) % 7 + 21)
        promos += [
            Promotion("BFCM25", thanksgiving + timedelta(days=1), 4, 2500, 2.3),
            Promotion("SUMMER15", date(year, 7, 10), 7, 1500, 1.5),
            Promotion("SPRING10", date(year, 3, 20), 5, 1000, 1.3),
        ]
    return [p for p in promos if p.start <= last and p.start + timedelta(days=p.days) > first]


def yearly_wave(day_of_year: np.ndarray, peak_day: int, amplitude: float) -> np.ndarray:
    """1 ± amplitude over the year, highest on ``peak_day``."""
    return 1.0 + amplitude * np.cos(2 * np.pi * (day_of_year - peak_day) / 365.25)


@dataclass(frozen=True)
class Calendar:
    dates: list[date]
    day_of_year: np.ndarray
    weekday: np.ndarray  # 0 = Monday
    season: np.ndarray  # demand multiplier per day: weekly × yearly × holidays × promotion uplift
    discount_bp: np.ndarray  # promotion discount per day (0 outside promotions)
    promo_code: list[str | None]  # promotion code per day
    utc_offset_s: np.ndarray  # seconds local time is ahead of UTC, per day (taken at local noon)

    @property
    def days(self) -> int:
        return len(self.dates)

    @classmethod
    def build(cls, spec: WorldSpec, shop: ShopSpec) -> Calendar:
        dates = [spec.start_date + timedelta(days=i) for i in range(spec.days)]
        weekday = np.array([d.weekday() for d in dates])
        day_of_year = np.array([d.timetuple().tm_yday for d in dates])
        season = WEEKDAY_FACTOR[weekday] * yearly_wave(day_of_year, YEARLY_PEAK_DAY, YEARLY_AMPLITUDE)
        month_day = [(d.month, d.day) for d in dates]
        season *= np.array([HOLIDAYS.get(md, 1.0) for md in month_day])
        season *= np.where([GIFT_SEASON[0] <= md <= GIFT_SEASON[1] for md in month_day], GIFT_SEASON_FACTOR, 1.0)
        discount = np.zeros(spec.days, dtype=np.int64)
        codes: list[str | None] = [None] * spec.days
        for promo in promotions(dates[0], dates[-1]):
            for offset in range(promo.days):
                i = (promo.start - spec.start_date).days + offset
                if 0 <= i < spec.days:
                    season[i] *= promo.uplift
                    discount[i] = promo.discount_bp
                    codes[i] = promo.code
        zone = ZoneInfo(shop.timezone)
        offsets = np.array([int(datetime(d.year, d.month, d.day, 12, tzinfo=zone).utcoffset().total_seconds())
                            for d in dates], dtype=np.int64)
        return cls(dates=dates, day_of_year=day_of_year, weekday=weekday, season=season, discount_bp=discount,
                   promo_code=codes, utc_offset_s=offsets)

    def to_utc(self, day: np.ndarray, local_seconds: np.ndarray) -> pl.Series:
        """Local (day index, second of the day) → UTC timestamps in whole seconds, as Shopify reports them.
        Days before or after the calendar use its first or last day's offset."""
        epoch = (self.dates[0] - date(1970, 1, 1)).days * 86_400
        day = np.asarray(day, dtype=np.int64)
        offset = self.utc_offset_s[np.clip(day, 0, self.days - 1)]
        seconds = epoch + day * 86_400 + np.asarray(local_seconds).astype(np.int64) - offset
        return pl.Series(seconds * 1_000_000, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
