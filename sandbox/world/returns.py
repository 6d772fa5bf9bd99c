"""Returns of online orders: some lines come back (how often depends on the category), often only part of
their quantity, and are refunded 3–40 days after the order; now and then a second parcel is refunded later.

A refund line gives back the returned share of the line's discounted amount and of its tax, each rounded to
the cent: never more than the line. Refunds that would happen after the shop's last day have not happened.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from sandbox.world.calendar import Calendar
from sandbox.world.money import share

DELAY_DAYS = (3.0, 40.0)
SECOND_PARCEL_SHARE, SECOND_PARCEL_DELAY_DAYS = 0.3, (2.0, 20.0)
REFUND_ID_BASE, REFUND_LINE_ID_BASE = 900_000_000, 16_000_000_000


def draw_returns(calendar: Calendar, order_ids: np.ndarray, order_day: np.ndarray, order_second: np.ndarray,
                 line_ids: np.ndarray, line_order: np.ndarray, quantity: np.ndarray, net: np.ndarray,
                 tax: np.ndarray, return_rate: np.ndarray,
                 rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(refunds, refund_lines) frames; refund ids follow the refunds' creation order."""
    returned = np.flatnonzero(rng.uniform(size=len(line_ids)) < return_rate)
    returned_qty = rng.integers(1, quantity[returned] + 1)
    order = line_order[returned]

    # lines are grouped by order: the last returned line of an order with several may come in a second parcel
    several = np.r_[order[1:] == order[:-1], False] | np.r_[False, order[1:] == order[:-1]]
    last_of_order = np.r_[order[1:] != order[:-1], True]
    second = several & last_of_order & (rng.uniform(size=len(order)) < SECOND_PARCEL_SHARE)

    placed = order_day + order_second / 86_400
    first_delay = rng.uniform(*DELAY_DAYS, size=len(order_ids))
    extra_delay = rng.uniform(*SECOND_PARCEL_DELAY_DAYS, size=len(order_ids))
    when = placed[order] + first_delay[order] + np.where(second, extra_delay[order], 0.0)
    happened = when < calendar.days
    returned, returned_qty, order, second, when = (a[happened] for a in (returned, returned_qty, order, second, when))

    # one refund per (order, parcel), numbered in order of creation
    parcel_key = order.astype(np.int64) * 2 + second
    keys, refund_of_line = np.unique(parcel_key, return_inverse=True)
    refund_when = np.zeros(len(keys))
    refund_when[refund_of_line] = when
    chrono = np.lexsort((keys, refund_when))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[chrono] = np.arange(len(keys))
    refund_ids = REFUND_ID_BASE + 1 + np.arange(len(keys))
    day = refund_when[chrono].astype(np.int64)
    seconds = ((refund_when[chrono] - day) * 86_400).astype(np.int64)
    refunds = pl.DataFrame({
        "refund_id": refund_ids,
        "order_id": order_ids[keys[chrono] // 2],
        "created_at": calendar.to_utc(day, seconds),
    })

    line_rank = rank[refund_of_line]
    by_refund = np.lexsort((returned, line_rank))
    returned, returned_qty, line_rank = returned[by_refund], returned_qty[by_refund], line_rank[by_refund]
    refund_lines = pl.DataFrame({
        "refund_line_id": REFUND_LINE_ID_BASE + 1 + np.arange(len(returned)),
        "refund_id": refund_ids[line_rank],
        "line_id": line_ids[returned],
        "quantity": returned_qty.astype(np.int64),
        "subtotal_cents": share(net[returned], returned_qty, quantity[returned]),
        "tax_cents": share(tax[returned], returned_qty, quantity[returned]),
    })
    return refunds, refund_lines
