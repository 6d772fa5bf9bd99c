"""Ground-truth revenue equals an independent recomputation, row by row in Decimal."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from sandbox.truth import CHANNELS, revenue_truth, revenue_truth_by_channel

CENT = Decimal("0.01")


def recompute(shop, channel=None):
    """The revenue figures from plain Python loops over the records."""
    orders = {o["order_id"]: o for o in shop.orders.iter_rows(named=True) if channel in (None, o["channel"])}
    gross = discounts = refunds = Decimal(0)
    for line in shop.order_lines.iter_rows(named=True):
        if line["order_id"] in orders:
            gross += line["quantity"] * line["unit_price_cents"] * CENT
            discounts += line["discount_cents"] * CENT
    refund_orders = {r["refund_id"]: r["order_id"] for r in shop.refunds.iter_rows(named=True)}
    for refund_line in shop.refund_lines.iter_rows(named=True):
        if refund_orders[refund_line["refund_id"]] in orders:
            refunds += refund_line["subtotal_cents"] * CENT
    return {"orders": len(orders), "gross": gross, "discounts": discounts, "refunds": refunds,
            "net": gross - discounts - refunds,
            "tax": sum((o["tax_cents"] * CENT for o in orders.values()), Decimal(0)),
            "shipping": sum((o["shipping_cents"] * CENT for o in orders.values()), Decimal(0))}


def test_truth_equals_an_independent_recomputation(shop):
    truth = revenue_truth(shop)
    assert truth == recompute(shop)
    assert all(isinstance(v, Decimal) for k, v in truth.items() if k != "orders")
    assert all(v.as_tuple().exponent == -2 for k, v in truth.items() if k != "orders")


def test_channels_add_up_to_the_total(shop):
    by_channel = revenue_truth_by_channel(shop)
    assert set(by_channel) == set(CHANNELS)
    total = defaultdict(Decimal)
    for channel, figures in by_channel.items():
        assert figures == recompute(shop, channel)
        for key, value in figures.items():
            total[key] += value
    assert dict(total) == revenue_truth(shop)
    assert by_channel["wholesale"]["refunds"] == 0 and by_channel["online_store"]["refunds"] > 0


def test_truth_at_a_clock_counts_only_what_happened_by_then(shop):
    as_of = datetime(2025, 9, 1, tzinfo=UTC)
    earlier = revenue_truth(shop, as_of)
    assert earlier == recompute(shop.visible(as_of))
    assert earlier["orders"] < revenue_truth(shop)["orders"]
