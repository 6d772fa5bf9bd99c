"""The oracle churn probability: what someone who knows each online customer's true state could say about
them at a cutoff.

At the end of the cutoff day a customer is either churned (they never buy again: probability 1 of no
purchase) or active with their true repeat rate r. An active customer buys as a Poisson process of intensity
r × season(day) (sandbox/world/calendar.py) until their remaining lifetime ends; that lifetime is exponential
with mean MEAN_LIFETIME_DAYS × the acquisition channel's lifetime factor (sandbox/world/customers.py), and by
memorylessness it is the same whatever their age. The oracle does not know *when* an active customer will
churn, only the hazard. Within a day intensity and hazard are constant, so the probability of no purchase in
days c+1 … c+N is exact:

    P = Σ_j S_j · h/(a_j + h) · (1 − e^{−(a_j + h)})  +  S_N,    S_{j+1} = S_j · e^{−(a_j + h)}, S_0 = 1

with a_j = r · season[c + 1 + j] and h = 1 / mean lifetime (churning during day j before any purchase, or
surviving the whole window without one). Purchases a stockout turns away (about 2 %) are ignored.

``best_from_history`` is the other yardstick: the Bayes probability given only what the data show (each
customer's order days up to the cutoff) and the world's *true* process parameters (the gamma prior of rates,
the channel's lifetime, the seasonality, whether the account predates the world). No model trained on the data
can rank customers much better than it: the gap between it and the oracle is what no data can close.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from scipy.stats import gamma

from sandbox.world import ShopWorld, WorldSpec
from sandbox.world.calendar import Calendar
from sandbox.world.customers import CHANNELS, MEAN_LIFETIME_DAYS, MEAN_REPEAT_RATE, RATE_SHAPE

LIFETIME_FACTOR = {name: factors[2] for name, factors in CHANNELS.items()}
RATE_FACTOR = {name: factors[1] for name, factors in CHANNELS.items()}
RATE_GRID = 200  # equal-prior-mass points of the gamma prior of repeat rates


def season_after(spec: WorldSpec, shop: ShopWorld, cutoff: date, horizon_days: int) -> np.ndarray:
    """The seasonality of the ``horizon_days`` days after ``cutoff`` (the calendar extended if the window runs
    past the world's last day)."""
    start = (cutoff - spec.start_date).days + 1
    if start < 0:
        raise ValueError(f"cutoff {cutoff} is before the world starts ({spec.start_date})")
    span = spec.model_copy(update={"days": max(spec.days, start + horizon_days)})
    return Calendar.build(span, shop.spec).season[start:start + horizon_days]


def no_purchase_probability(rate: np.ndarray, mean_lifetime: np.ndarray, season: np.ndarray) -> np.ndarray:
    """P(no purchase over the days of ``season``) for active customers of the given rates and mean remaining
    lifetimes (see the module docstring)."""
    hazard = 1.0 / np.asarray(mean_lifetime, dtype=float)
    total = np.asarray(rate, dtype=float)[:, None] * season[None, :] + hazard[:, None]  # a_j + h
    survive = np.exp(-total)
    before = np.cumprod(np.hstack([np.ones((len(hazard), 1)), survive[:, :-1]]), axis=1)  # S_j
    churn_first = (before * (hazard[:, None] / total) * (1.0 - survive)).sum(axis=1)
    return churn_first + before[:, -1] * survive[:, -1]


def oracle_churn(spec: WorldSpec, shop: ShopWorld, cutoff: date, horizon_days: int = 90) -> pl.DataFrame:
    """customer_key (the world's customer id as text), active_at_cutoff, oracle_probability (of no purchase in
    (cutoff, cutoff + horizon_days]) for every online customer of ``shop``."""
    end_of_cutoff = datetime.combine(cutoff + timedelta(days=1), time(0), ZoneInfo(shop.spec.timezone)).astimezone(UTC)
    truth = shop.truth_customers
    active = (truth["churned_at"] > end_of_cutoff).to_numpy()
    lifetime = MEAN_LIFETIME_DAYS * truth["acquisition_channel"].replace_strict(LIFETIME_FACTOR,
                                                                                 return_dtype=pl.Float64).to_numpy()
    probability = np.ones(truth.height)
    probability[active] = no_purchase_probability(truth["purchase_rate_per_day"].to_numpy()[active],
                                                  lifetime[active], season_after(spec, shop, cutoff, horizon_days))
    return pl.DataFrame({
        "customer_key": truth["customer_id"].cast(pl.Utf8),
        "active_at_cutoff": active,
        "oracle_probability": probability,
    })


def best_from_history(spec: WorldSpec, shop: ShopWorld, orders: pl.DataFrame, cutoff: date,
                      horizon_days: int = 90) -> pl.DataFrame:
    """customer_key, best_probability: P(no purchase in (cutoff, cutoff + horizon_days] | the customer's order
    days on or before the cutoff in ``orders`` (the ML frame), the world's true process parameters).

    Per customer, over a grid of rates λ from the prior: alive ∝ λ^x e^{−λ·E(t₀,T)} e^{−μ(T−t₀)} and churned at
    τ ∈ (t_x, T) ∝ λ^x e^{−λ·E(t₀,τ)} μ e^{−μ(τ−t₀)}, with E the seasonal exposure, T the end of the cutoff day,
    t₀ the first order (an arrival; x = repeat orders) or the world's start for accounts older than the world
    (every order in the data is then a repeat), t_x the last order (orders at mid-day)."""
    c = (cutoff - spec.start_date).days
    end = c + 1.0
    calendar_days = np.arange(spec.days + 1, dtype=float)
    exposure = np.concatenate([[0.0], np.cumsum(Calendar.build(spec, shop.spec).season)])
    window = season_after(spec, shop, cutoff, horizon_days)

    def exposed(a, b):
        return np.interp(b, calendar_days, exposure) - np.interp(a, calendar_days, exposure)

    people = (shop.truth_customers.select(customer_key=pl.col("customer_id").cast(pl.Utf8),
                                          channel="acquisition_channel")
              .join(shop.customers.select(customer_key=pl.col("customer_id").cast(pl.Utf8),
                                          older=pl.col("created_at") < spec.start), on="customer_key"))
    history = (orders.filter(~pl.col("is_cancelled"), pl.col("order_date") <= cutoff)
               .with_columns(day=(pl.col("order_date") - spec.start_date).dt.total_days().cast(pl.Float64) + 0.5)
               .group_by("customer_key").agg(pl.col("day").sort())
               .join(people, on="customer_key", how="inner").sort("customer_key"))
    quantiles = (np.arange(RATE_GRID) + 0.5) / RATE_GRID
    keys, best = [], []
    for key, days, channel, older in history.iter_rows():
        mean_rate = MEAN_REPEAT_RATE * RATE_FACTOR[channel]
        hazard = 1.0 / (MEAN_LIFETIME_DAYS * LIFETIME_FACTOR[channel])
        rate = gamma.ppf(quantiles, RATE_SHAPE, scale=mean_rate / RATE_SHAPE)
        start, repeats = (0.0, len(days)) if older else (days[0], len(days) - 1)
        last = days[-1]
        log_like = repeats * np.log(rate)
        alive = np.exp(log_like - rate * exposed(start, end) - hazard * (end - start))
        taus = np.arange(np.floor(last) + 0.5, end, 1.0)
        taus = taus[taus > last]
        churned = (np.exp(log_like[:, None] - rate[:, None] * exposed(start, taus)[None, :]
                          - hazard * (taus - start)[None, :]).sum(axis=1) * hazard) if len(taus) else 0.0
        quiet = no_purchase_probability(rate, np.full(RATE_GRID, 1.0 / hazard), window)
        keys.append(key)
        best.append(float(np.sum(alive * quiet + churned) / np.sum(alive + churned)))
    return pl.DataFrame({"customer_key": pl.Series(keys, dtype=pl.Utf8), "best_probability": best})
