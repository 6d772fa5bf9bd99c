"""The daily panel a price-response model learns from: units per SKU and day of one channel (zeros filled in
from the SKU's first sale), the effective price each day, and calendar features for seasonality.

Effective price = the SKU's regular price (gross ÷ units on the days it sold, carried over the days it did
not) × (1 − the channel's discount rate that day: Σ discounts ÷ Σ gross over every SKU). Taking the discount
from the whole channel gives every SKU a price on its zero-sale days too (a SKU's own rate is only seen on
the days it sold, which would tie the price to the sale). Codes only some orders carry (a welcome code on
first orders) enter as a small price cut without a demand response: they pull the estimate towards zero,
most on small shops whose days hold a handful of orders.
Stockouts leave no trace in sales data: a run of zero days the SKU's usual rate makes improbable (expected
units over the run ≥ ``stockout_expected_units``) is treated as censored and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

MIN_TREND_DAYS = 540  # a trend is fitted beside the yearly wave only with 1.5 years of history
HOLIDAYS = ((12, 24), (12, 25), (12, 26), (12, 31), (1, 1))  # (month, day): retail's usual dips


@dataclass(frozen=True)
class Panel:
    """Days × SKUs matrices of one channel from ``dates[0]`` to ``dates[-1]``."""

    dates: list[date]
    skus: list[str]
    category: list[str]  # per SKU
    units: np.ndarray  # days × SKUs
    active: np.ndarray  # days × SKUs: on sale (from its first sale) and not censored by a stockout
    log_price: np.ndarray  # days × SKUs: log(effective price ÷ reference price)
    reference_price: np.ndarray  # per SKU: the current list price (else its last regular price)
    regular_price: np.ndarray  # per SKU: its last regular (undiscounted) unit price
    discount_rate: np.ndarray  # per day: the channel's Σ discounts ÷ Σ gross

    def day_index(self, day: date) -> int:
        return (day - self.dates[0]).days


def build_panel(sales_daily: pl.DataFrame, products: pl.DataFrame, as_of: date, channel: str,
                history_days: int) -> Panel:
    sales = sales_daily.filter((pl.col("channel") == channel) & (pl.col("date") <= as_of)
                               & (pl.col("date") > as_of - timedelta(days=history_days)) & (pl.col("units") > 0))
    start = sales["date"].min() if sales.height else as_of
    dates = [start + timedelta(days=i) for i in range((as_of - start).days + 1)]
    catalogue = products.select("sku", "category", "list_price").unique("sku", keep="first")
    skus = sorted(set(sales["sku"].to_list()))
    n_days, n_skus = len(dates), len(skus)
    column = {s: j for j, s in enumerate(skus)}
    rows = np.array([(d - start).days for d in sales["date"].to_list()], dtype=np.int64)
    cols = np.array([column[s] for s in sales["sku"].to_list()], dtype=np.int64)
    units = np.zeros((n_days, n_skus))
    gross = np.zeros((n_days, n_skus))
    np.add.at(units, (rows, cols), sales["units"].to_numpy().astype(float))
    np.add.at(gross, (rows, cols), sales["gross_amount"].to_numpy().astype(float))
    day_gross = np.bincount(rows, sales["gross_amount"].to_numpy(), minlength=n_days)
    day_discount = np.bincount(rows, sales["discount_amount"].to_numpy(), minlength=n_days)
    discount_rate = np.clip(np.where(day_gross > 0, day_discount / np.where(day_gross > 0, day_gross, 1), 0), 0, 0.9)

    regular = _carried(np.where(units > 0, gross / np.where(units > 0, units, 1), np.nan))
    info = {r["sku"]: r for r in catalogue.iter_rows(named=True)}
    last_regular = regular[-1] if n_days else np.zeros(n_skus)
    reference = np.array([info.get(s, {}).get("list_price") or last_regular[j] for j, s in enumerate(skus)],
                         dtype=float)
    log_price = np.log(regular / reference[None, :]) + np.log1p(-discount_rate)[:, None]
    first = np.argmax(units > 0, axis=0) if n_skus else np.zeros(0, dtype=np.int64)
    active = np.arange(n_days)[:, None] >= first[None, :]
    return Panel(dates=dates, skus=skus, category=[info.get(s, {}).get("category") or "uncategorised" for s in skus],
                 units=units, active=active, log_price=log_price, reference_price=reference,
                 regular_price=last_regular, discount_rate=discount_rate)


def _carried(values: np.ndarray) -> np.ndarray:
    """Each column's last known value carried forward, and its first one back over the leading gap."""
    out = values.copy()
    for j in range(out.shape[1]):
        col = out[:, j]
        known = np.flatnonzero(~np.isnan(col))
        if known.size == 0:
            col[:] = 1.0
            continue
        index = np.maximum.accumulate(np.where(~np.isnan(col), np.arange(len(col)), 0))
        index[: known[0]] = known[0]
        out[:, j] = col[index]
    return out


def censor_stockouts(units: np.ndarray, expected: np.ndarray, active: np.ndarray,
                     threshold: float) -> np.ndarray:
    """``active`` without the zero-sale runs whose expected units reach ``threshold`` (likely stockouts)."""
    keep = active.copy()
    n_days = units.shape[0]
    for j in range(units.shape[1]):
        zero = (units[:, j] == 0) & active[:, j]
        if not zero.any():
            continue
        edges = np.diff(np.r_[0, zero.astype(np.int8), 0])
        for lo, hi in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            if expected[lo:hi, j].sum() >= threshold and hi - lo < n_days:
                keep[lo:hi, j] = False
    return keep


def calendar_features(dates: list[date], origin: date, trend_until: date, knot_days: int,
                      fourier_terms: int) -> np.ndarray:
    """Days × features: intercept, yearly Fourier terms, weekday dummies (Monday the base), holiday dummies,
    and, given ``MIN_TREND_DAYS`` of history, a linear trend with hinges every ``knot_days`` — held flat after
    ``trend_until`` (no extrapolation)."""
    t = np.array([(d - origin).days for d in dates], dtype=float)
    t_clipped = np.minimum(t, (trend_until - origin).days)
    day_of_year = np.array([d.timetuple().tm_yday for d in dates], dtype=float)
    weekday = np.array([d.weekday() for d in dates])
    columns = [np.ones(len(dates))]
    for k in range(1, fourier_terms + 1):
        angle = 2 * np.pi * k * day_of_year / 365.25
        columns += [np.sin(angle), np.cos(angle)]
    columns += [(weekday == w).astype(float) for w in range(1, 7)]
    columns += [np.array([(d.month, d.day) == md for d in dates], dtype=float) for md in HOLIDAYS]
    span = (trend_until - origin).days
    if span >= MIN_TREND_DAYS:  # with less, a trend and the yearly wave cannot be told apart
        columns.append(t_clipped / 365.0)
        for knot in range(knot_days, span, knot_days):
            columns.append(np.maximum(t_clipped - knot, 0.0) / 365.0)
    return np.column_stack(columns)
