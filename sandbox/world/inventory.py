"""Daily stock per variant under a reorder policy; sales never exceed what is on hand.

The planner forecasts each variant's demand for the next 30 days (well: from the true expected demand) and
reorders when stock plus what is on order falls below the cover for a usual lead time plus safety stock.
Suppliers deliver in 7–20 days, but now and then one runs weeks late: the variant sells out, and the
purchases it would have made are lost (censored demand). A purchase line is served whole or not at all,
first come first served within the day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FORECAST_DAYS = 30
REORDER_COVER_DAYS = 14 + 10  # usual lead time + safety stock
ORDER_COVER_DAYS = 45
OPENING_COVER_DAYS = 35
LEAD_DAYS, LATE_LEAD_DAYS, LATE_SHARE = (7, 21), (30, 60), 0.1


@dataclass(frozen=True)
class Inventory:
    served: np.ndarray  # per purchase line: fulfilled (else lost to a stockout)
    on_hand: np.ndarray  # days × variants, end of day
    received: np.ndarray  # days × variants
    sold: np.ndarray  # days × variants
    lost: np.ndarray  # days × variants: units asked for but out of stock
    stockout: np.ndarray  # days × variants: demand was lost, or nothing left at the end of the day


def forecast(expected_units: np.ndarray) -> np.ndarray:
    """(days × variants): the mean expected units a day over the next FORECAST_DAYS (fewer near the end)."""
    days = expected_units.shape[0]
    cumulative = np.vstack([np.zeros(expected_units.shape[1]), np.cumsum(expected_units, axis=0)])
    day = np.arange(days)
    ahead = np.minimum(day + 1 + FORECAST_DAYS, days)
    count = (ahead - day - 1)[:, None]
    total = cumulative[ahead] - cumulative[day + 1]
    return np.where(count > 0, total / np.maximum(count, 1), expected_units)


def run_inventory(expected_units: np.ndarray, available_from: np.ndarray, line_day: np.ndarray,
                  line_variant: np.ndarray, line_qty: np.ndarray, rng: np.random.Generator) -> Inventory:
    """Walk the days: receive deliveries, serve the day's purchase lines while stock lasts, reorder.

    ``line_day`` must be sorted (lines in chronological order).
    """
    days, n_var = expected_units.shape
    planned = forecast(expected_units)
    on_hand = np.zeros(n_var, dtype=np.int64)
    due_day = np.full(n_var, -1)  # the day the open purchase order arrives (-1: none open)
    due_qty = np.zeros(n_var, dtype=np.int64)
    opening = np.ceil(planned[np.minimum(available_from, days - 1), np.arange(n_var)] * OPENING_COVER_DAYS) + 2
    served = np.zeros(len(line_qty), dtype=bool)
    shape = (days, n_var)
    on_hand_days, received, sold, lost = (np.zeros(shape, dtype=np.int64) for _ in range(4))
    stockout = np.zeros(shape, dtype=bool)
    bounds = np.searchsorted(line_day, np.arange(days + 1))
    for day in range(days):
        arriving = due_day == day
        received[day, arriving] = due_qty[arriving]
        received[day, available_from == day] += opening[available_from == day].astype(np.int64)
        on_hand += received[day]
        due_day[arriving] = -1

        lo, hi = bounds[day], bounds[day + 1]
        if hi > lo:
            variant, qty = line_variant[lo:hi], line_qty[lo:hi]
            by_variant = np.lexsort((np.arange(hi - lo), variant))  # per variant, first come first served
            v, q = variant[by_variant], qty[by_variant]
            starts = np.r_[0, np.flatnonzero(np.diff(v)) + 1]
            running = np.cumsum(q)
            running -= np.repeat(running[starts] - q[starts], np.diff(np.r_[starts, len(q)]))
            ok = running <= on_hand[v]
            served[lo + by_variant[ok]] = True
            sold[day] = np.bincount(v[ok], q[ok], minlength=n_var)
            lost[day] = np.bincount(v[~ok], q[~ok], minlength=n_var)
            on_hand -= sold[day]
        on_hand_days[day] = on_hand
        stockout[day] = (lost[day] > 0) | ((on_hand == 0) & (available_from <= day))

        position = on_hand + np.where(due_day >= 0, due_qty, 0)
        reorder = (due_day < 0) & (available_from <= day) & (position <= planned[day] * REORDER_COVER_DAYS)
        if reorder.any():
            k = int(reorder.sum())
            late = rng.uniform(size=k) < LATE_SHARE
            lead = np.where(late, rng.integers(*LATE_LEAD_DAYS, size=k), rng.integers(*LEAD_DAYS, size=k))
            due_day[reorder] = day + lead
            due_qty[reorder] = np.ceil(planned[day, reorder] * ORDER_COVER_DAYS).astype(np.int64) + 1
    return Inventory(served=served, on_hand=on_hand_days, received=received, sold=sold, lost=lost,
                     stockout=stockout)
