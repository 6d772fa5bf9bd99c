"""The five rule kinds, as pydantic models discriminated by ``kind``; each evaluates SQL over the warehouse for ONE
tenant (every query filters ``tenant_id``) and returns its findings: what fired, on which subject, with the
observed and reference numbers and one plain sentence. The SQL is the same on DuckDB and PostgreSQL.

- ``threshold``: a metric over the last ``window_days`` is ``above`` / ``below`` ``value``. Subject ``tenant``;
  observed = the metric, reference = the value.
- ``change_over_window``: a metric over the last ``window_days`` moved by at least ``min_change_pct`` (``up``,
  ``down`` or ``either``) against the ``window_days`` before. Subject ``tenant``; reference = the prior window's.
- ``below_baseline``: a metric over the last ``window_days`` is more than ``tolerance_pct`` below its baseline,
  the same metric over the ``baseline_days`` before the window (a ratio as is, a total scaled to ``window_days``
  at the baseline's daily pace). Subject ``tenant``; reference = the baseline.
- ``stock_below_safety``: one of the ``top_n`` sellers holds less stock (on hand + inbound) than its reorder
  point over ``lead_time_days`` (below). Subject ``<channel>/<sku>``; observed = stock, reference = reorder point.
- ``competitor_undercut``: a competitor's latest price of a SKU is at least ``min_undercut_pct`` below ours.
  Subject the sku; observed = the competitor's price, reference = ours.

Metrics are those of ``metrics.METRICS`` (the glossary's definitions). A metric without data (no rows at all, or
a ratio over a zero denominator) never fires.

**Safety stock from the forecast's intervals** (``stock_below_safety``). The forecast (``ml.demand_forecast``)
gives each day's mean units and a central interval (80 % or 95 %) whose upper end is the day's
``1 − (1 − level)/2`` quantile. Safety stock protects against demand *above* the mean, so each day's spread is
read from the upper half of the interval: ``σ_d = (upper − mean) / z_u`` (``z_u`` = 1.2816 for the 80 %
interval, 1.9600 for the 95 %). Over the lead time (the ``lead_time_days`` days after the stock snapshot) days are
taken as independent: expected demand ``μ_L = Σ mean_d``, spread ``σ_L = √Σ σ_d²``, safety stock ``SS = z·σ_L``
with ``z`` the normal quantile of ``service_level`` (1.6449 at 95 %, to 4 places), reorder point ``ROP = μ_L + SS``.
The rule fires when the inventory position (on hand + inbound, what ``rpt_inventory_intelligence`` reports for
the channel holding the stock) is below ``ROP``: the stock no longer covers the lead time at that service level.
The sellers are ranked by units sold on that channel in the last 28 days (``units_sold_28d``, ties by sku); a
top seller whose forecast does not cover the whole lead time is skipped, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestration.alerts.metrics import METRICS, Metric, Window, fmt, pct, quantize
from orchestration.alerts.sql import decimal, rows

Severity = Literal["info", "warning", "critical"]
RuleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Share = Annotated[Decimal, Field(gt=0, lt=10)]  # a relative amount: 0.20 = 20 %


@dataclass(frozen=True)
class Scope:
    """Whom a rule is evaluated for: the tenant's slug (its slice) and reporting currency."""

    tenant: str
    currency: str


@dataclass(frozen=True)
class Finding:
    """A rule that fired on one subject, for one observation window (part of the firing's identity)."""

    rule: str
    kind: str
    severity: str
    subject: str
    window: str
    message: str
    observed: Decimal
    reference: Decimal | None
    details: dict[str, Any] = field(default_factory=dict)


class RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: RuleName
    title: str | None = Field(default=None, min_length=1, max_length=120)  # the message header; default: name
    severity: Severity = "warning"
    cooldown_hours: float | None = Field(default=None, ge=0)  # default: the tenant's alerts.cooldown_hours
    enabled: bool = True

    @property
    def heading(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()

    def tables(self) -> set[str]:
        """The warehouse tables (schema.table) the rule reads."""
        raise NotImplementedError

    def evaluate(self, con: Any, scope: Scope) -> list[Finding]:
        raise NotImplementedError

    def finding(self, subject: str, window: str, message: str, observed: Decimal, reference: Decimal | None,
                **details: Any) -> Finding:
        return Finding(self.name, self.kind, self.severity, subject, window, message, quantize(observed),
                       quantize(reference), details)


class MetricRule(RuleBase):
    metric: str
    window_days: int = Field(default=7, ge=1, le=366)

    @field_validator("metric")
    @classmethod
    def _known(cls, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}")
        return metric

    @property
    def spec(self) -> Metric:
        return METRICS[self.metric]

    def tables(self) -> set[str]:
        return {f"marts.{t}" for t in self.spec.tables()}

    def current(self, con: Any, scope: Scope) -> tuple[Window, Decimal | None] | None:
        anchor = self.spec.anchor(con, scope.tenant)
        if anchor is None:
            return None
        window = Window(anchor, self.window_days)
        return window, self.spec.value(con, scope.tenant, window.start, window.end)

    def show(self, value: Decimal | None, scope: Scope) -> str:
        return fmt(value, self.spec.unit, scope.currency)

    def over(self, window: Window) -> str:
        return f"the {window.days} days to {window.end.isoformat()}"


class ThresholdRule(MetricRule):
    kind: Literal["threshold"]
    op: Literal["above", "below"]
    value: Decimal

    def evaluate(self, con: Any, scope: Scope) -> list[Finding]:
        got = self.current(con, scope)
        if got is None or got[1] is None:
            return []
        window, observed = got
        if not (observed > self.value if self.op == "above" else observed < self.value):
            return []
        message = (f"{self.spec.label} was {self.show(observed, scope)} over {self.over(window)}, "
                   f"{self.op} the threshold of {self.show(self.value, scope)}.")
        return [self.finding("tenant", window.label(), message, observed, self.value, metric=self.metric,
                             op=self.op)]


class ChangeOverWindowRule(MetricRule):
    kind: Literal["change_over_window"]
    direction: Literal["up", "down", "either"] = "up"
    min_change_pct: Share

    def evaluate(self, con: Any, scope: Scope) -> list[Finding]:
        got = self.current(con, scope)
        if got is None or got[1] is None:
            return []
        window, observed = got
        prior = window.before()
        reference = self.spec.value(con, scope.tenant, prior.start, prior.end)
        if not reference:  # None or 0: no relative change to speak of
            return []
        change = (observed - reference) / abs(reference)
        rose, fell = change >= self.min_change_pct, change <= -self.min_change_pct
        if not {"up": rose, "down": fell, "either": rose or fell}[self.direction]:
            return []
        verb = "rose" if change > 0 else "fell"
        message = (f"{self.spec.label} {verb} {pct(abs(change)).lstrip('+')} to {self.show(observed, scope)} over "
                   f"{self.over(window)}, against {self.show(reference, scope)} in the {prior.days} days before.")
        return [self.finding("tenant", window.label(), message, observed, reference, metric=self.metric,
                             change_pct=str(quantize(change)), prior_window=prior.label())]


class BelowBaselineRule(MetricRule):
    kind: Literal["below_baseline"]
    baseline_days: int = Field(default=28, ge=1, le=366)
    tolerance_pct: Share = Decimal("0.10")

    def evaluate(self, con: Any, scope: Scope) -> list[Finding]:
        got = self.current(con, scope)
        if got is None or got[1] is None:
            return []
        window, observed = got
        base = window.before(self.baseline_days)
        baseline = self.spec.value(con, scope.tenant, base.start, base.end)
        if baseline is not None and self.spec.denominator is None:  # a total: at the baseline's daily pace
            baseline = baseline * self.window_days / self.baseline_days
        if baseline is None or baseline <= 0:
            return []
        floor = baseline * (1 - self.tolerance_pct)
        if observed >= floor:
            return []
        change = (observed - baseline) / baseline
        message = (f"{self.spec.label} was {self.show(observed, scope)} over {self.over(window)}, "
                   f"{pct(change)} against its baseline of {self.show(baseline, scope)} (the {base.days} days "
                   f"before); the rule allows {pct(-self.tolerance_pct)}.")
        return [self.finding("tenant", window.label(), message, observed, baseline, metric=self.metric,
                             change_pct=str(quantize(change)), tolerance_pct=str(self.tolerance_pct),
                             baseline_window=base.label())]


# the upper end of a central interval is its (1 + level)/2 quantile; 4 places, as printed tables give them
INTERVAL_Z = {80: Decimal("1.2816"), 95: Decimal("1.9600")}
UPPER = {80: "upper_80", 95: "upper_95"}


def service_z(level: Decimal) -> Decimal:
    """The standard normal quantile of a service level, to 4 places (0.95 → 1.6449)."""
    return Decimal(str(NormalDist().inv_cdf(float(level)))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


class StockBelowSafetyRule(RuleBase):
    kind: Literal["stock_below_safety"]
    top_n: int = Field(default=10, ge=1, le=1000)
    lead_time_days: int = Field(default=14, ge=1, le=180)
    service_level: Annotated[Decimal, Field(gt=Decimal("0.5"), lt=1)] = Decimal("0.95")
    interval: Literal[80, 95] = 95

    def tables(self) -> set[str]:
        return {"marts.rpt_inventory_intelligence", "ml.demand_forecast"}

    def evaluate(self, con: Any, scope: Scope) -> list[Finding]:
        upper = UPPER[self.interval]
        sql = f"""
            with sellers as (
                select channel, sku, as_of_date, on_hand, inbound, units_sold_28d,
                       row_number() over (order by units_sold_28d desc, sku, channel) as seller_rank
                from marts.rpt_inventory_intelligence
                where tenant_id = ? and units_sold_28d > 0 and sku is not null
            ),
            ranked as (select * from sellers where seller_rank <= {int(self.top_n)}),
            demand as (
                select ranked.channel, ranked.sku, count(*) as days,
                       sum(forecast.units_mean) as mean_units,
                       sum((forecast.{upper} - forecast.units_mean) * (forecast.{upper} - forecast.units_mean))
                           as upper_spread
                from ranked
                inner join ml.demand_forecast as forecast
                    on forecast.tenant_id = ? and forecast.sku = ranked.sku and forecast.channel = ranked.channel
                    and forecast.date > ranked.as_of_date
                    and forecast.date <= ranked.as_of_date + {int(self.lead_time_days)}
                group by ranked.channel, ranked.sku
            )
            select ranked.channel, ranked.sku, ranked.as_of_date, ranked.on_hand, ranked.inbound,
                   ranked.units_sold_28d, ranked.seller_rank, demand.days, demand.mean_units, demand.upper_spread
            from ranked
            left join demand on demand.channel = ranked.channel and demand.sku = ranked.sku
            order by ranked.seller_rank
        """
        z, z_upper = service_z(self.service_level), INTERVAL_Z[self.interval]
        findings = []
        for channel, sku, as_of, on_hand, inbound, sold, rank, days, mean, spread in rows(
                con, sql, [scope.tenant, scope.tenant]):
            if days != self.lead_time_days:  # the forecast does not cover the lead time: no guess
                continue
            mean_units = decimal(mean)
            sigma = decimal(max(spread, 0)).sqrt() / z_upper  # √Σ(upper − mean)² / z_u = √Σ σ_d²
            safety = z * sigma
            reorder_point = mean_units + safety
            position = Decimal(int(on_hand) + int(inbound))
            if position >= quantize(reorder_point):
                continue
            q = Decimal("0.01")
            message = (f"{sku} on {channel}: {int(on_hand)} on hand + {int(inbound)} inbound is below its reorder "
                       f"point of {reorder_point.quantize(q, rounding=ROUND_HALF_UP)} units for the "
                       f"{self.lead_time_days}-day lead time ({mean_units.quantize(q, rounding=ROUND_HALF_UP)} "
                       f"expected + {safety.quantize(q, rounding=ROUND_HALF_UP)} safety stock at "
                       f"{(self.service_level * 100).normalize()}% service); top seller #{int(rank)} with "
                       f"{int(sold)} units in 28 days.")
            findings.append(self.finding(
                f"{channel}/{sku}", _day(as_of).isoformat(), message, position, reorder_point,
                sku=sku, channel=channel, as_of_date=_day(as_of).isoformat(), on_hand=int(on_hand),
                inbound=int(inbound), seller_rank=int(rank), units_sold_28d=int(sold),
                lead_time_days=self.lead_time_days, lead_time_demand=str(quantize(mean_units)),
                lead_time_sigma=str(quantize(sigma)), safety_stock=str(quantize(safety)),
                service_level=str(self.service_level), z=str(z), interval=self.interval))
        return findings


class CompetitorUndercutRule(RuleBase):
    """Reads ``marts.fct_competitor_prices`` (one row per tenant, sku, competitor and observed_date): only each
    (sku, competitor)'s latest observation counts, and only when it is at most ``max_age_days`` older than the
    tenant's latest observation (a competitor that stopped listing a SKU is not undercutting it). One finding per
    SKU: its deepest undercut, every undercutting competitor in the details."""

    kind: Literal["competitor_undercut"]
    min_undercut_pct: Annotated[Decimal, Field(gt=0, lt=1)] = Decimal("0.10")
    max_age_days: int = Field(default=7, ge=1, le=365)

    def tables(self) -> set[str]:
        return {"marts.fct_competitor_prices"}

    def evaluate(self, con: Any, scope: Scope) -> list[Finding]:
        sql = f"""
            with observations as (
                select sku, competitor, observed_date, currency, competitor_price, our_price, price_gap_pct,
                       row_number() over (partition by sku, competitor order by observed_date desc) as recency
                from marts.fct_competitor_prices
                where tenant_id = ?
            ),
            feed as (select max(observed_date) as feed_date from marts.fct_competitor_prices where tenant_id = ?)
            select observations.sku, observations.competitor, observations.observed_date, observations.currency,
                   observations.competitor_price, observations.our_price, observations.price_gap_pct
            from observations
            cross join feed
            where observations.recency = 1
                and observations.observed_date > feed.feed_date - {int(self.max_age_days)}
                and observations.price_gap_pct <= ?
            order by observations.sku, observations.price_gap_pct, observations.competitor
        """
        by_sku: dict[str, list[tuple]] = {}
        for row in rows(con, sql, [scope.tenant, scope.tenant, -self.min_undercut_pct]):
            by_sku.setdefault(row[0], []).append(row)
        findings = []
        for sku, undercuts in by_sku.items():
            _, competitor, observed_on, currency, theirs, ours, gap = undercuts[0]  # the deepest
            theirs, ours, gap = decimal(theirs), decimal(ours), decimal(gap)
            others = len(undercuts) - 1
            message = (f"{competitor} sells {sku} at {theirs} {currency} on {_day(observed_on).isoformat()}, "
                       f"{pct(gap).lstrip('-+')} below our {ours} {currency}"
                       + (f"; {others} more competitor(s) are also at least "
                          f"{pct(self.min_undercut_pct).lstrip('+')} below." if others else "."))
            findings.append(self.finding(
                sku, _day(observed_on).isoformat(), message, theirs, ours, sku=sku, competitor=competitor,
                price_gap_pct=str(gap), currency=currency,
                undercuts=[{"competitor": c, "observed_date": _day(d).isoformat(), "competitor_price": str(p),
                            "price_gap_pct": str(g)} for _, c, d, _, p, _, g in undercuts]))
        return findings


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


Rule = Annotated[ThresholdRule | ChangeOverWindowRule | BelowBaselineRule | StockBelowSafetyRule
                 | CompetitorUndercutRule, Field(discriminator="kind")]
