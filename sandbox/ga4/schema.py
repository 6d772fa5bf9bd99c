"""The dimensions and metrics the twin knows, by their GA4 Data API names (api-schema), and how each is read
from a traffic row (``sandbox/ga4/world.py``'s ROW_SCHEMA)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# dimension name → (UI name, how its value is made from a row dict)
DIMENSIONS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "date": ("Date", lambda r: r["date"].strftime("%Y%m%d")),
    "yearMonth": ("Year month", lambda r: r["date"].strftime("%Y%m")),
    "dayOfWeek": ("Day of week", lambda r: str((r["date"].weekday() + 1) % 7)),
    "sessionSource": ("Session source", lambda r: r["source"]),
    "sessionMedium": ("Session medium", lambda r: r["medium"]),
    "sessionCampaignName": ("Session campaign", lambda r: r["campaign"]),
    "sessionSourceMedium": ("Session source / medium", lambda r: f"{r['source']} / {r['medium']}"),
    "sessionDefaultChannelGroup": ("Session default channel group", lambda r: r["channel_group"]),
}

# metric name → (UI name, type, the row column it sums)
METRICS: dict[str, tuple[str, str, str]] = {
    "sessions": ("Sessions", "TYPE_INTEGER", "sessions"),
    "totalUsers": ("Total users", "TYPE_INTEGER", "users"),
    "activeUsers": ("Active users", "TYPE_INTEGER", "users"),
    "keyEvents": ("Key events", "TYPE_INTEGER", "conversions"),
    "conversions": ("Conversions", "TYPE_INTEGER", "conversions"),  # the name before keyEvents (2024)
    "ecommercePurchases": ("Ecommerce purchases", "TYPE_INTEGER", "conversions"),
    "transactions": ("Transactions", "TYPE_INTEGER", "conversions"),
    "purchaseRevenue": ("Purchase revenue", "TYPE_CURRENCY", "revenue_cents"),
    "totalRevenue": ("Total revenue", "TYPE_CURRENCY", "revenue_cents"),
}
KEY_EVENT_METRICS = ("keyEvents", "conversions")  # also as "keyEvents:<event name>"; the world's one is purchase
KEY_EVENT = "purchase"


def metric(name: str) -> tuple[str, str, str] | None:
    """The metric's (UI name, type, column), also for ``keyEvents:purchase``; None when unknown."""
    if name in METRICS:
        return METRICS[name]
    base, _, event = name.partition(":")
    if base in KEY_EVENT_METRICS and event == KEY_EVENT:
        return (f"Key events ({event})", "TYPE_INTEGER", "conversions")
    return None
