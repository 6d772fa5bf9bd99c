"""Online customers: who arrives when, through which channel, how often they buy and when they churn.

The purchase process: new customers arrive with the season (their arrival is their first order); while
active, each buys again at their own rate (gamma-distributed across customers, shaped by the acquisition
channel) times the day's seasonality, until an exponential lifetime ends (the churn hazard). Customers
already active when the world starts form the stationary population of the same process, so the expected
number of orders a day averages ``orders_per_day`` over the world's span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sandbox.world.calendar import Calendar
from sandbox.world.spec import ShopSpec

# acquisition channel → (share of new customers, purchase-rate factor, lifetime factor)
CHANNELS: dict[str, tuple[float, float, float]] = {
    "organic": (0.30, 1.0, 1.0),
    "paid_social": (0.22, 0.8, 0.7),
    "paid_search": (0.20, 0.9, 0.85),
    "email": (0.10, 1.3, 1.3),
    "referral": (0.10, 1.2, 1.2),
    "marketplace": (0.08, 0.7, 0.6),
}
CHANNEL_NAMES = list(CHANNELS)
MEAN_REPEAT_RATE = 1 / 110  # repeat orders per active customer-day, before seasonality
RATE_SHAPE = 2.0  # gamma shape of the rates across customers: lower is more heterogeneous
MEAN_LIFETIME_DAYS = 180
FOREIGN_SHARE = 0.15  # of customers pay in one of the shop's presentment currencies
OLDEST_CUSTOMER_DAYS = 3 * 365  # accounts are younger than this at the start
HOUR_WEIGHTS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.8, 4, 4.2, 4, 3.8, 3.8, 4, 4.5, 5, 5.5, 5.8,
                         5.2, 3.5, 2])  # when in the (local) day people shop


@dataclass(frozen=True)
class Population:
    """Every online customer of the world, in order of acquisition (days count from the world's start)."""

    acquired: np.ndarray  # day they became a customer (negative: before the world started)
    churn: np.ndarray  # day they stop buying
    rate: np.ndarray  # repeat purchases a day while active, before seasonality
    channel: np.ndarray  # index into CHANNEL_NAMES
    currency: np.ndarray  # 0: the shop currency, i ≥ 1: presentment_currencies[i − 1]
    new_per_day: float  # arrivals a day before seasonality

    def __len__(self) -> int:
        return len(self.acquired)

    def expected_orders(self, calendar: Calendar) -> np.ndarray:
        """The true expected number of orders on each day: arrivals plus every active customer's rate over
        the part of the day they were active, times the day's seasonality."""
        days = calendar.days
        start, end = np.maximum(self.acquired, 0.0), np.minimum(self.churn, days)
        keep = end > start
        ramp = _ramp(start[keep], self.rate[keep], days) - _ramp(end[keep], self.rate[keep], days)
        return calendar.season * (self.new_per_day + np.diff(ramp))


def _ramp(at: np.ndarray, weight: np.ndarray, days: int) -> np.ndarray:
    """Σᵢ weightᵢ · max(x − atᵢ, 0) at x = 0 … days (a piecewise-linear ramp starting at each atᵢ)."""
    first = np.floor(at).astype(np.int64) + 1  # the first integer x with x > at
    slope = np.cumsum(np.bincount(first, weight, minlength=days + 2))[: days + 1]
    offset = np.cumsum(np.bincount(first, weight * at, minlength=days + 2))[: days + 1]
    return np.arange(days + 1) * slope - offset


def draw_population(shop: ShopSpec, calendar: Calendar, rng: np.random.Generator) -> Population:
    share, rate_factor, life_factor = (np.array(v) for v in zip(*CHANNELS.values(), strict=True))
    mean_season = calendar.season.mean()
    repeat_orders_per_customer = float(np.sum(share * MEAN_REPEAT_RATE * rate_factor
                                              * MEAN_LIFETIME_DAYS * life_factor))
    new_per_day = shop.orders_per_day / (mean_season * (1 + mean_season * repeat_orders_per_customer))

    # already active at the start: per channel, Poisson(arrivals × mean lifetime) customers (Little's law),
    # of exponential age and (memoryless) exponential remaining lifetime
    prior = rng.poisson(new_per_day * mean_season * share * MEAN_LIFETIME_DAYS * life_factor)
    prior_channel = np.repeat(np.arange(len(CHANNELS)), prior)
    prior_life = MEAN_LIFETIME_DAYS * life_factor[prior_channel]
    prior_acquired = -(rng.exponential(prior_life) % OLDEST_CUSTOMER_DAYS)
    prior_churn = rng.exponential(prior_life)

    arrivals = rng.poisson(new_per_day * calendar.season)
    new_acquired = np.repeat(np.arange(calendar.days), arrivals) + rng.uniform(0, 1, arrivals.sum())
    new_channel = rng.choice(len(CHANNELS), size=len(new_acquired), p=share)
    new_churn = new_acquired + rng.exponential(MEAN_LIFETIME_DAYS * life_factor[new_channel])

    acquired = np.concatenate([prior_acquired, new_acquired])
    channel = np.concatenate([prior_channel, new_channel])
    churn = np.concatenate([prior_churn, new_churn])
    rate = rng.gamma(RATE_SHAPE, MEAN_REPEAT_RATE * rate_factor[channel] / RATE_SHAPE)
    foreign = rng.uniform(size=len(acquired)) < (FOREIGN_SHARE if shop.presentment_currencies else 0.0)
    paid_in = np.where(foreign, 1 + rng.integers(0, max(1, len(shop.presentment_currencies)), len(acquired)), 0)
    chrono = np.argsort(acquired, kind="stable")
    return Population(acquired=acquired[chrono], churn=churn[chrono], rate=rate[chrono], channel=channel[chrono],
                      currency=paid_in[chrono], new_per_day=new_per_day)


@dataclass(frozen=True)
class Purchases:
    """Purchase events in chronological order."""

    customer: np.ndarray  # index into the population
    day: np.ndarray  # local day
    second: np.ndarray  # local second of the day
    first: np.ndarray  # the customer's arrival (their first purchase)

    def subset(self, keep: np.ndarray) -> Purchases:
        return Purchases(self.customer[keep], self.day[keep], self.second[keep], self.first[keep])


def purchase_times(population: Population, calendar: Calendar, rng: np.random.Generator) -> Purchases:
    """Every purchase of the population. A new customer's arrival is a purchase; repeat purchases are a
    Poisson process of rate × season, drawn by thinning a process running at the peak season."""
    days = calendar.days
    peak = calendar.season.max()
    start, end = np.maximum(population.acquired, 0.0), np.minimum(population.churn, days)
    window = np.clip(end - start, 0.0, None)
    n_candidates = rng.poisson(population.rate * peak * window)
    who = np.repeat(np.arange(len(population)), n_candidates)
    when = start[who] + rng.uniform(0, 1, len(who)) * window[who]
    kept = rng.uniform(0, 1, len(when)) < calendar.season[np.minimum(when.astype(np.int64), days - 1)] / peak
    arrived = population.acquired >= 0
    customer = np.concatenate([np.flatnonzero(arrived), who[kept]])
    first = np.arange(len(customer)) < np.count_nonzero(arrived)
    day = np.minimum(np.concatenate([population.acquired[arrived], when[kept]]).astype(np.int64), days - 1)
    hour = rng.choice(24, size=len(day), p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    second = hour * 3600 + rng.integers(0, 3600, size=len(day))
    chrono = np.lexsort((customer, second, day))
    return Purchases(customer[chrono], day[chrono], second[chrono], first[chrono])
