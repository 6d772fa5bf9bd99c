"""The world's calendar: weekly and yearly seasonality and the promotions that shape demand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

WEEKDAY_FACTOR = np.array([0.92, 0.90, 0.95, 1.00, 1.08, 1.22, 1.18])  # Monday … Sunday


@dataclass(frozen=True)
class Promotion:
    name: str
    start: date
    days: int
    discount_bp: int  # basis points off every line
    uplift: float  # demand multiplier while it runs


def promotions(first: date, last: date) -> list[Promotion]:
    """Black Friday–Cyber Monday, a summer sale and a spring sale in every year of the calendar."""
    promos = []
    for year in range(first.year, last.year + 1):
        november_first = date(year, 11, 1)
        thanksgiving = november_first + timedelta(days=(3 - november_first.weekday()) % 7 + 21)
        promos += [
            Promotion("bfcm", thanksgiving + timedelta(days=1), 4, 2500, 2.3),
            Promotion("summer_sale", date(year, 7, 10), 7, 1500, 1.5),
            Promotion("spring_sale", date(year, 3, 20), 5, 1000, 1.3),
        ]
    return [p for p in promos if p.start <= last and p.start + timedelta(days=p.days) > first]


@dataclass(frozen=True)
class Calendar:
    dates: list[date]
    season: np.ndarray  # demand multiplier per day (weekly × yearly × promotion uplift)
    discount_bp: np.ndarray  # promotion discount per day (0 outside promotions)

    @classmethod
    def build(cls, start: date, days: int) -> Calendar:
        dates = [start + timedelta(days=i) for i in range(days)]
        weekday = np.array([d.weekday() for d in dates])
        day_of_year = np.array([d.timetuple().tm_yday for d in dates])
        yearly = 1.0 + 0.30 * np.cos(2 * np.pi * (day_of_year - 355) / 365.25)  # peak before Christmas
        season = WEEKDAY_FACTOR[weekday] * yearly
        discount = np.zeros(days, dtype=np.int64)
        for promo in promotions(dates[0], dates[-1]):
            for offset in range(promo.days):
                i = (promo.start - start).days + offset
                if 0 <= i < days:
                    season[i] *= promo.uplift
                    discount[i] = promo.discount_bp
        return cls(dates=dates, season=season, discount_bp=discount)
