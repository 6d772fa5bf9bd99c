"""The sales panel: sparse ``sales_daily`` densified to series (SKU × channel) × day matrices, each series
starting on its first sale, with the days whose demand was probably censored by a stockout flagged.

The warehouse has no stock history, so stockouts are inferred from the sales alone: a run of zero days is
flagged as censored when a series selling at its usual rate would almost never be silent that long
(P(no sale for the whole run) < ``STOCKOUT_P``, under a Poisson process of sale *events* — a sale day's
typical units are the event size, so case-pack wholesale lines are not mistaken for high rates). The rate is
a centred rolling mean over the uncensored days, re-estimated once after the first pass so that the runs
themselves do not drag it down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

STOCKOUT_P = 0.01  # a zero run this unlikely at the usual rate counts as a stockout
RATE_WINDOW = 91  # days of the centred rolling rate
MIN_RUN_DAYS = 5  # shorter silences are never called stockouts


@dataclass(frozen=True)
class Panel:
    """Dense daily matrices for one tenant; row i is series (sku[i], channel[i]); column d is ``start + d``."""

    sku: np.ndarray  # (S,) str
    channel: np.ndarray  # (S,) str
    start: date  # day 0
    units: np.ndarray  # (S, D) float64: units sold (0 before the first sale)
    first_day: np.ndarray  # (S,) int: column of the series' first sale
    censored: np.ndarray  # (S, D) bool: inferred stockout (demand not observed)
    gross: np.ndarray  # (S, D) float64: gross amount
    discount: np.ndarray  # (S, D) float64: discount amount

    @property
    def days(self) -> int:
        return self.units.shape[1]

    @property
    def n_series(self) -> int:
        return self.units.shape[0]

    def date_of(self, column: int) -> date:
        return self.start + timedelta(days=int(column))

    def column_of(self, day: date) -> int:
        return (day - self.start).days

    @property
    def active(self) -> np.ndarray:
        """(S, D) bool: on or after the series' first sale."""
        return np.arange(self.days)[None, :] >= self.first_day[:, None]

    @property
    def observed(self) -> np.ndarray:
        """(S, D) bool: active and not censored — the days whose units are a demand observation."""
        return self.active & ~self.censored


def build_panel(sales_daily: pl.DataFrame, as_of: date, start: date | None = None) -> Panel:
    """Densify the sales up to and including ``as_of`` (series ordered by sku, then channel)."""
    sales = sales_daily.filter(pl.col("date") <= as_of)
    if sales.height == 0:
        raise ValueError(f"no sales on or before {as_of}")
    start = start or sales["date"].min()
    sales = sales.filter(pl.col("date") >= start)
    days = (as_of - start).days + 1
    keys = sales.select("sku", "channel").unique().sort("sku", "channel").with_row_index("series")
    rows = sales.join(keys, on=["sku", "channel"]).with_columns(
        col=(pl.col("date") - pl.lit(start)).dt.total_days().cast(pl.Int64))
    n = keys.height
    index = (rows["series"].to_numpy().astype(np.int64), rows["col"].to_numpy())
    units, gross, discount = (np.zeros((n, days)) for _ in range(3))
    np.add.at(units, index, rows["units"].to_numpy().astype(np.float64))
    np.add.at(gross, index, rows["gross_amount"].fill_null(0).to_numpy())
    np.add.at(discount, index, rows["discount_amount"].fill_null(0).to_numpy())
    first = np.full(n, days, dtype=np.int64)
    np.minimum.at(first, index[0], index[1])
    active = np.arange(days)[None, :] >= first[:, None]
    return Panel(sku=keys["sku"].to_numpy(), channel=keys["channel"].to_numpy(), start=start, units=units,
                 first_day=first, censored=infer_stockouts(units, active), gross=gross, discount=discount)


def rolling_rate(units: np.ndarray, observed: np.ndarray, window: int = RATE_WINDOW) -> np.ndarray:
    """(S, D) centred rolling mean of units over the observed days of a ``window``-day span (0 if none)."""
    s, d = units.shape
    half = window // 2
    total = np.zeros((s, d + 1))
    count = np.zeros((s, d + 1))
    np.cumsum(np.where(observed, units, 0.0), axis=1, out=total[:, 1:])
    np.cumsum(observed, axis=1, out=count[:, 1:])
    hi = np.minimum(np.arange(d) + half + 1, d)
    lo = np.maximum(np.arange(d) - half, 0)
    n = count[:, hi] - count[:, lo]
    return np.where(n > 0, (total[:, hi] - total[:, lo]) / np.maximum(n, 1), 0.0)


def event_size(units: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(S,) mean units on a day with a sale: the size of one sale event (≥ 1)."""
    sold = (units > 0) & active
    return np.maximum(units.sum(axis=1) / np.maximum(sold.sum(axis=1), 1), 1.0)


def infer_stockouts(units: np.ndarray, active: np.ndarray, p: float = STOCKOUT_P) -> np.ndarray:
    """(S, D) bool: zero runs too long for the series' usual rate of sale events."""
    size = event_size(units, active)[:, None]
    zero = active & (units == 0)
    censored = np.zeros_like(zero)
    threshold = -np.log(p)
    s, d = units.shape
    # label each run of zeros (runs never cross rows: every row starts a new label)
    starts = zero & ~np.concatenate([np.zeros((s, 1), dtype=bool), zero[:, :-1]], axis=1)
    labels = np.cumsum(starts.ravel()).reshape(s, d) - 1
    lengths = np.bincount(labels[zero], minlength=int(starts.sum()))
    for _ in range(2):
        events = rolling_rate(units, active & ~censored) / size  # sale events a day at the usual rate
        expected = np.bincount(labels[zero], weights=events[zero], minlength=len(lengths))
        flagged = (expected >= threshold) & (lengths >= MIN_RUN_DAYS)
        censored = zero & flagged[np.where(zero, labels, 0)]
    return censored
