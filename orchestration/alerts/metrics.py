"""The metrics an alert rule can watch, each as the glossary defines it (dbt_project/models/metrics/README.md).

A metric is a measure over a window of the tenant's days, or the ratio of two measures each summed over the same
window (a ratio of sums, never an average of daily ratios, as the semantic layer's ratio metrics are). Every
measure reads one tenant-sliced mart by its glossary date basis:

| metric | definition (glossary) |
| --- | --- |
| ``net_sales`` | Σ cube_channel_daily.net_sales (order date) |
| ``orders`` | Σ cube_channel_daily.orders (order date) |
| ``aov`` | net_sales ÷ orders |
| ``refunds`` | Σ cube_channel_daily.refunds (refund date) |
| ``cm2`` / ``cm2_margin`` | Σ cube_channel_daily.cm2; cm2 ÷ net_sales |
| ``ad_spend`` | Σ fct_ad_spend.spend_reporting (ad day) |
| ``mer`` | net_sales ÷ ad_spend |
| ``new_customers`` | dim_customers with first_order_date in the window and order_count > 0 |
| ``blended_cac`` | ad_spend ÷ new_customers |
| ``sessions`` | Σ fct_traffic.sessions (GA4 day) |
| ``conversion_rate`` | Σ fct_traffic.conversions ÷ Σ fct_traffic.sessions (GA4 purchase key events per session) |

``conversion_rate`` is the one figure the glossary does not define yet: it is GA4's session conversion rate from
the documented columns of ``fct_traffic`` (purchases per session, a ratio of sums over the window).

**The window's end** (``anchor``) is the last day on which every input of the metric has data for the tenant
(the least of each input's latest day), so a source that lags or failed never reads as a drop: a 7-day window
is the 7 days ending there, ``(anchor − 7, anchor]``, and the prior window the 7 days before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from orchestration.alerts.sql import decimal, rows

Unit = Literal["money", "count", "share", "ratio"]
SCALE = Decimal("0.0001")  # alerts.firings stores observed / reference as decimal(18,4)


def quantize(value: Decimal | None) -> Decimal | None:
    """To the 4 places alerts.firings keeps, half away from zero (the platform's one rounding rule)."""
    return None if value is None else value.quantize(SCALE, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Measure:
    table: str  # in schema marts, tenant-sliced
    date_column: str  # the glossary's date basis
    aggregate: str  # e.g. "sum(net_sales)"
    condition: str = ""  # extra filter, e.g. "order_count > 0"
    fresh_table: str | None = None  # where the measure's latest day is read (default: its own table)
    fresh_column: str | None = None

    def freshness(self) -> tuple[str, str]:
        return self.fresh_table or self.table, self.fresh_column or self.date_column

    def total(self, con: Any, tenant: str, start: date, end: date) -> Decimal:
        """The measure over the days ``start < day <= end`` (0 when no row falls in them)."""
        extra = f" and {self.condition}" if self.condition else ""
        sql = (f"select {self.aggregate} from marts.{self.table} where tenant_id = ? "
               f"and {self.date_column} > ? and {self.date_column} <= ?{extra}")
        value = rows(con, sql, [tenant, start, end])[0][0]
        return decimal(value) if value is not None else Decimal(0)


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: Unit
    numerator: Measure
    denominator: Measure | None = None

    def measures(self) -> list[Measure]:
        return [self.numerator] + ([self.denominator] if self.denominator else [])

    def tables(self) -> set[str]:
        return {t for m in self.measures() for t in (m.table, m.freshness()[0])}

    def anchor(self, con: Any, tenant: str) -> date | None:
        """The last day every input has data for the tenant (None: some input has none at all)."""
        latest = []
        for table, column in {m.freshness() for m in self.measures()}:
            day = rows(con, f"select max({column}) from marts.{table} where tenant_id = ?", [tenant])[0][0]
            if day is None:
                return None
            latest.append(day if isinstance(day, date) else date.fromisoformat(str(day)))
        return min(latest)

    def value(self, con: Any, tenant: str, start: date, end: date) -> Decimal | None:
        """The metric over ``start < day <= end``; a ratio is None when its denominator is 0."""
        numerator = self.numerator.total(con, tenant, start, end)
        if self.denominator is None:
            return numerator
        denominator = self.denominator.total(con, tenant, start, end)
        return None if denominator == 0 else numerator / denominator


@dataclass(frozen=True)
class Window:
    """The days ``start < day <= end`` (``days`` of them)."""

    end: date
    days: int

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days)

    def before(self, days: int | None = None) -> Window:
        """The ``days`` (default: as many) immediately before this window."""
        return Window(self.start, days or self.days)

    @property
    def first_day(self) -> date:
        return self.start + timedelta(days=1)

    def label(self) -> str:
        return f"{self.first_day.isoformat()}..{self.end.isoformat()}"


SALES = "cube_channel_daily"
_net_sales = Measure(SALES, "date", "sum(net_sales)")
_orders = Measure(SALES, "date", "sum(orders)")
_cm2 = Measure(SALES, "date", "sum(cm2)")
_ad_spend = Measure("fct_ad_spend", "date", "sum(spend_reporting)")
# a new customer's day is its first order's; its data is as fresh as the orders (not its own latest row)
_new_customers = Measure("dim_customers", "first_order_date", "count(*)", "order_count > 0", SALES, "date")
_sessions = Measure("fct_traffic", "date", "sum(sessions)")

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("net_sales", "Net sales", "money", _net_sales),
    Metric("orders", "Orders", "count", _orders),
    Metric("aov", "Average order value", "money", _net_sales, _orders),
    Metric("refunds", "Refunds", "money", Measure(SALES, "date", "sum(refunds)")),
    Metric("cm2", "Contribution margin 2", "money", _cm2),
    Metric("cm2_margin", "CM2 margin", "share", _cm2, _net_sales),
    Metric("ad_spend", "Ad spend", "money", _ad_spend),
    Metric("mer", "MER (blended)", "ratio", _net_sales, _ad_spend),
    Metric("new_customers", "New customers", "count", _new_customers),
    Metric("blended_cac", "Blended CAC", "money", _ad_spend, _new_customers),
    Metric("sessions", "Sessions", "count", _sessions),
    Metric("conversion_rate", "Conversion rate", "share", Measure("fct_traffic", "date", "sum(conversions)"),
           _sessions),
)}


def fmt(value: Decimal | None, unit: Unit, currency: str) -> str:
    """A number as a sentence shows it: money with the currency, shares as percentages."""
    if value is None:
        return "n/a"
    if unit == "money":
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,} {currency}"
    if unit == "share":
        return f"{(value * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"
    if unit == "ratio":
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}x"
    return f"{value.quantize(Decimal('1'), rounding=ROUND_HALF_UP):,}"


def pct(value: Decimal) -> str:
    """A relative change as a signed percentage with one decimal."""
    return f"{(value * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):+}%"
