"""The recommended price: the one maximising expected margin (price − unit cost) × units(price) under a
constant elasticity, inside the guardrails.

With units ∝ price^β and β < −1 the unconstrained optimum is ``cost · β / (1 + β)``; with β ≥ −1 margin keeps
growing with price (no interior optimum), so the answer is the largest move the guardrails allow. Guardrails:
at most ``max_change`` either way per recommendation, a margin of at least ``min_margin`` of the price, and
optionally a price ending (``.99``: the best ending-price inside the bounds, if there is one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Recommendation:
    price: float
    guardrail: str | None  # comma-separated: what bound the price or why there was no interior optimum


def margin(price: float, cost: float, units_now: float, price_now: float, elasticity: float) -> float:
    return (price - cost) * units_now * (price / price_now) ** elasticity


def recommend_price(price_now: float, cost: float, elasticity: float, elasticity_high: float, *,
                    max_change: float = 0.10, min_margin: float = 0.30,
                    price_ending: float | None = None) -> Recommendation:
    notes: list[str] = []
    lower, upper = price_now * (1 - max_change), price_now * (1 + max_change)
    margin_floor = cost / (1 - min_margin)  # price − cost ≥ min_margin · price
    if elasticity_high >= 0:
        notes.append("elasticity_not_identified")
    if elasticity >= -1:
        notes.append("no_interior_optimum")
        target = math.inf
    else:
        target = cost * elasticity / (1 + elasticity)
    if margin_floor > upper:  # even the largest allowed rise leaves the margin short: go as far as allowed
        return Recommendation(_inside(upper, lower, upper), ",".join([*notes, "min_margin", "max_increase"]))
    floor = max(lower, margin_floor)
    price = min(max(target, floor), upper)
    if price == upper:
        notes.append("max_increase")
    elif price == floor:
        notes.append("min_margin" if margin_floor >= lower else "max_decrease")
    if price_ending is not None:
        price = _with_ending(price, floor, upper, price_ending, cost, price_now, elasticity)
    return Recommendation(_inside(price, floor, upper), ",".join(notes) or None)


def _with_ending(price: float, lower: float, upper: float, ending: float, cost: float, price_now: float,
                 elasticity: float) -> float:
    """The best price ending in ``ending`` (e.g. 0.99) within [lower, upper]; ``price`` if there is none."""
    candidates = [whole + ending for whole in range(math.floor(lower) - 1, math.floor(upper) + 2)
                  if lower - 1e-9 <= whole + ending <= upper + 1e-9]
    if not candidates:
        return price
    return max(candidates, key=lambda p: margin(p, cost, 1.0, price_now, elasticity))


def _inside(value: float, lower: float, upper: float) -> float:
    """``value`` in whole cents, rounded inwards when plain rounding would cross a bound."""
    cents = round(value * 100)
    if cents > upper * 100 + 1e-6:
        cents = math.floor(upper * 100 + 1e-6)
    if cents < lower * 100 - 1e-6:
        cents = math.ceil(lower * 100 - 1e-6)
    return cents / 100
