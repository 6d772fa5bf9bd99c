"""The ECB reference rates of a world, and the rates Frankfurter derives from them.

**The series.** For every currency the sandbox knows (``sandbox/world/currencies.py``) but the euro, one rate
per TARGET business day: units of the currency per 1 EUR, wandering around the anchor ``EUR.usd / code.usd``
(a mean-reverting random walk of the log rate, the same law as ``sandbox/world/fx.py``), rounded to the
precision the ECB quotes (:func:`round_quote`). The series covers the world's span plus ``LEAD_IN_DAYS``
before it, so the world's first days have a previous business day's rate too. Randomness: one stream per
currency, ``shop_rng(seed, "_ecb", "fx_rates/<code>")`` (``_ecb`` can never be a shop handle), so the same
spec gives the same rates, and adding a currency leaves the others untouched.

**What Frankfurter answers** (``lineofflight/frankfurter`` v1, reproduced in :func:`quote_day`): rates are
stored per EUR; a query for ``base=B`` first rounds ``amount × rate`` of every asked currency and of B, then
rebases: ``EUR = amount`` and every other ``round(amount × rate / rate_B)``, in binary floating point, with
the same rounding (:func:`round_quote`). So a cross rate is the quotient of two already-rounded EUR rates,
rounded again — never the exact quotient of unrounded rates.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from sandbox.fx_rates.business_days import business_days, published_at
from sandbox.world.currencies import CURRENCIES, currency
from sandbox.world.fx import DAILY_VOLATILITY, MEAN_REVERSION
from sandbox.world.spec import WorldSpec, shop_rng

EUR = "EUR"
LEAD_IN_DAYS = 10  # the series starts this many calendar days before the world's first day
STREAM_OWNER = "_ecb"  # not a valid shop handle: these streams never collide with a shop's


def round_quote(value: float) -> float | int:
    """Frankfurter's ``Roundable#round``: 0 decimals above 5000, 2 above 80, 3 above 20, 4 above 1, 5 above
    0.0001, else 6 (binary floats formatted with ``%.Nf``, as Ruby's ``format`` does; above 5000 Ruby's
    ``Float#round``, half away from zero, giving an integer)."""
    if value > 5000:
        return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    places = 2 if value > 80 else 3 if value > 20 else 4 if value > 1 else 5 if value > 0.0001 else 6
    return float(f"{value:.{places}f}")


def wire_decimal(value: float | int) -> Decimal:
    """The exact digits a JSON number carries on the wire (Python's and Ruby's shortest float repr)."""
    return Decimal(str(value))


@dataclass(frozen=True)
class ReferenceRates:
    """Every business day of the series (ascending) and, per currency, its EUR rate on each day."""

    days: tuple[date, ...]
    rates: dict[str, tuple[float, ...]]  # currency -> units per 1 EUR, one per day (EUR itself is not stored)
    published: tuple[datetime, ...]  # when each day's rates are published (UTC)

    @property
    def currencies(self) -> list[str]:
        """Every currency Frankfurter knows here, EUR included (sorted)."""
        return sorted([EUR, *self.rates])

    def published_count(self, as_of: datetime) -> int:
        """How many of the days are published at ``as_of`` (16:00 Frankfurt time on each day)."""
        return bisect.bisect_right(self.published, as_of)

    def day_index(self, day: date) -> int:
        """The index of the last business day on or before ``day`` (−1 when none)."""
        return bisect.bisect_right(self.days, day) - 1

    def eur_rates(self, index: int) -> dict[str, float]:
        return {code: series[index] for code, series in self.rates.items()}


_CACHE: dict[tuple[int, date, int], ReferenceRates] = {}
_LOCK = threading.Lock()


def reference_rates(spec: WorldSpec) -> ReferenceRates:
    """The world's ECB reference rates (computed once per seed and span, then cached)."""
    key = (spec.seed, spec.start_date, spec.days)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        cached = _derive(spec)
        with _LOCK:
            _CACHE[key] = cached
    return cached


def _derive(spec: WorldSpec) -> ReferenceRates:
    days = tuple(business_days(spec.start_date - timedelta(days=LEAD_IN_DAYS),
                               spec.start_date + timedelta(days=spec.days - 1)))
    rates: dict[str, tuple[float, ...]] = {}
    for code in sorted(CURRENCIES):
        if code == EUR:
            continue
        anchor = currency(EUR).usd / currency(code).usd  # units of the currency per euro
        shocks = shop_rng(spec.seed, STREAM_OWNER, f"fx_rates/{code}").normal(0.0, DAILY_VOLATILITY, len(days))
        drift = np.zeros(len(days))
        for i in range(1, len(days)):
            drift[i] = (1 - MEAN_REVERSION) * drift[i - 1] + shocks[i]
        rates[code] = tuple(float(round_quote(float(anchor * np.exp(x)))) for x in drift)
    return ReferenceRates(days=days, rates=rates, published=tuple(published_at(d) for d in days))


class QuoteError(ValueError):
    """A query Frankfurter refuses: ``status`` 404 (nothing found) or 422 (unprocessable), its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def quote_day(eur_rates: dict[str, float], base: str = EUR, symbols: list[str] | None = None,
              amount: float = 1.0) -> dict[str, float | int]:
    """One day's answer of Frankfurter for ``base`` (and the ``symbols`` filter): Quote::Base#prepare_rates and
    #rebase_rates. Empty when nothing matches (the caller answers 404)."""
    wanted = None if symbols is None else {*symbols, base}
    rates = {code: round_quote(amount * rate) for code, rate in sorted(eur_rates.items())
             if wanted is None or code in wanted}
    if base == EUR:
        return rates
    if base not in rates:
        return {}
    if symbols is None or EUR in symbols:
        rates[EUR] = amount
    divisor = rates.pop(base)
    return {code: round_quote(amount * rate / divisor) for code, rate in sorted(rates.items())}


def published_rates(spec: WorldSpec, base: str, quote: str, start: date | None = None, end: date | None = None,
                    as_of: datetime | None = None) -> dict[date, Decimal]:
    """The exact rate (reporting units per 1 ``base``) the twin publishes for ``base`` → ``quote`` on every
    business day in [start, end] that is published at ``as_of`` (default: the world's end), as the Decimals
    its JSON carries. What a client landing ``base=<base>&symbols=<quote>`` must hold, digit for digit."""
    if base == quote:
        raise ValueError("base and quote must differ")
    series = reference_rates(spec)
    published = series.published_count(as_of or spec.end)
    out: dict[date, Decimal] = {}
    for index, day in enumerate(series.days[:published]):
        if (start is None or day >= start) and (end is None or day <= end):
            rates = quote_day(series.eur_rates(index), base, [quote])
            if quote in rates:
                out[day] = wire_decimal(rates[quote])
    return out


def convert_cents(spec: WorldSpec, cents: list[int], days: list[date], base: str, quote: str) -> list[int]:
    """Amounts in integer cents of ``base`` on local ``days`` → cents of ``quote`` at the rate published for the
    last business day on or before each day (``published_rates``), rounded half away from zero to the cent."""
    if base == quote:
        return [int(c) for c in cents]
    table = published_rates(spec, base, quote)
    known = sorted(table)
    out = []
    for amount, day in zip(cents, days, strict=True):
        at = bisect.bisect_right(known, day) - 1
        if at < 0:
            raise ValueError(f"no {base}/{quote} rate on or before {day}")
        out.append(int((Decimal(int(amount)) * table[known[at]]).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    return out
