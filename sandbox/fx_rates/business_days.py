"""The ECB's publication calendar: reference rates are published on TARGET2 business days only.

Weekends are closed, and so are the six TARGET holidays: New Year's Day, Good Friday, Easter Monday, Labour
Day (1 May), Christmas Day and 26 December. A rate is published at about 16:00 CET (Europe/Berlin time, so
15:00 UTC in winter, 14:00 UTC in summer) on its business day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PUBLISHED_AT = time(16, 0)  # local time in Frankfurt
FRANKFURT = ZoneInfo("Europe/Berlin")


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday: the anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def target_holidays(year: int) -> frozenset[date]:
    easter = easter_sunday(year)
    return frozenset({date(year, 1, 1), easter - timedelta(days=2), easter + timedelta(days=1), date(year, 5, 1),
                      date(year, 12, 25), date(year, 12, 26)})


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in target_holidays(day.year)


def business_days(first: date, last: date) -> list[date]:
    """Every business day in [first, last]."""
    out, day = [], first
    while day <= last:
        if is_business_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def published_at(day: date) -> datetime:
    """The UTC instant the rates of business day ``day`` are published (16:00 in Frankfurt)."""
    return datetime.combine(day, PUBLISHED_AT, FRANKFURT).astimezone(UTC)
