"""Automated insights for a tenant's executive summary: sentences generated from the marts, with their numbers.

``build_insights(con, tenant)`` reads one tenant's rows (every query filters ``tenant_id`` on every table it
reads) and returns, in this order:

* ``wow_total`` — net revenue of the last 7 complete days vs the 7 before, with the orders of both weeks;
* ``wow_channel_up`` / ``wow_channel_down`` and ``wow_product_up`` / ``wow_product_down`` — the biggest movers
  (top 3 each way by absolute change in net revenue; ties broken by name). A change smaller than
  ``MOVER_FLOOR_SHARE`` (1 %) of the tenant's net revenue of the bigger week is noise and never reported, so a
  product going from 5.00 to 20.00 is not "up 300 %" next to a jacket up 150.00;
* units against the demand forecast (``ml.demand_forecast``, models_ml/catalogue.py), total, per channel and for
  the 3 products with the largest forecast. The forecast starts the day after its ``as_of_date``, so:
  if it covers all 7 of the last complete days, actual units are judged against it (kinds ``vs_forecast_*``:
  ``value`` = units sold, ``reference`` = forecast); otherwise, if it covers the 7 days after both the as-of
  day and its own as_of_date, the coming week's forecast is set against the last week's units (kinds
  ``forecast_ahead_*``: ``value`` = forecast, ``reference`` = units sold). No table, or no covered week: no
  forecast insights. The forecast has an 80 % interval per SKU, channel and day. Over the 7 days of one series
  (SKU × channel) the bounds add up (a series' error persists: a level it misjudges, it misjudges all week);
  different series err independently, so a sum of series has the interval mean ± √(Σ half-width²), each series'
  half-width (Σ upper_80 − Σ lower_80) ÷ 2, never below 0. (Adding every series' bounds up would assume all
  products err the same way at once: a total's interval many times too wide.)

Definitions are the platform's own (dbt_project/models/metrics/README.md): **net revenue** = Σ
``fct_orders.net_revenue_reporting`` by order date (refunds attributed to the order; per product Σ
``fct_order_lines.net_line_amount_reporting − refunded_amount_reporting``, which adds up to the same total);
**orders** = ``fct_orders`` rows; **units** = ``units_sold``, Σ ``fct_order_lines.quantity`` of orders not
cancelled (per SKU, as the forecast is). Money is in the tenant's reporting currency (``dim_tenants.currency``).

The as-of day is the tenant's latest *complete* day: the day before its latest order day, as the reports
decide completeness ("a month is complete once the cube has a later day", rpt_channel_profitability), since the
latest day may still be filling. Week over week needs 14 complete days of history.

Numbers are Decimal throughout: money exact to the cent, ``change_pct`` in percent points ((value − reference) ÷
reference × 100) at full precision (None when the reference is 0); the sentence rounds it half-up to 1 decimal.
The same SQL runs on DuckDB and PostgreSQL (parameters in the driver's style, as orchestration/predictions.py
binds them: ``?`` on DuckDB, ``%s`` through ``warehouse.PostgresConnection``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from orchestration.tenants import SLUG
from orchestration.warehouse import PostgresConnection

WINDOW_DAYS = 7
TOP_MOVERS = 3
TOP_PRODUCTS = 3
MOVER_FLOOR_SHARE = Decimal("0.01")
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Insight:
    """One generated sentence and the numbers behind it. ``value`` is the figure the sentence is about,
    ``reference`` what it is compared with, ``change_pct`` (value − reference) ÷ reference × 100 (None without a
    reference); ``rank`` orders insights of the same kind (1 = biggest)."""

    kind: str
    subject: str  # 'tenant', a channel code or a SKU
    sentence: str
    value: Decimal
    reference: Decimal | None
    change_pct: Decimal | None
    rank: int


@dataclass(frozen=True)
class _Figure:
    subject: str
    name: str
    current: Decimal
    prior: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.prior


@dataclass(frozen=True)
class _Units:
    subject: str
    name: str
    actual: Decimal
    forecast: Decimal
    lower: Decimal
    upper: Decimal

    @classmethod
    def of(cls, subject: str, name: str, actual: Decimal, forecast: Decimal, squares: Decimal) -> _Units:
        """``squares``: Σ over the summed series of their 7-day half-width²."""
        half = squares.sqrt().quantize(CENT, rounding=ROUND_HALF_UP)
        return cls(subject, name, actual, forecast, max(forecast - half, Decimal(0)), forecast + half)


def build_insights(con, tenant: str) -> list[Insight]:
    """The tenant's insights (see the module docstring); [] for a tenant without orders."""
    if not SLUG.match(tenant) or "__" in tenant:
        raise ValueError(f"tenant {tenant!r}: not a valid tenant slug (must match {SLUG.pattern} without '__')")
    query = _Query(con, tenant)
    first_day, latest_day = query.one(
        "select min(order_date), max(order_date) from marts.fct_orders where tenant_id = :tenant")
    if latest_day is None:
        return []
    as_of = latest_day - timedelta(days=1)
    current_start = as_of - timedelta(days=WINDOW_DAYS - 1)
    prior_start = current_start - timedelta(days=WINDOW_DAYS)
    if first_day > as_of:
        return []
    currency = _currency(query)
    insights: list[Insight] = []
    if first_day <= prior_start:
        insights += _week_over_week(query, currency, prior_start, current_start, as_of)
    insights += _versus_forecast(query, current_start, as_of)
    return insights


# --- week over week -------------------------------------------------------------------------------------------

def _week_over_week(query: _Query, currency: str, prior_start: date, current_start: date,
                    as_of: date) -> list[Insight]:
    windows = {"prior_start": prior_start, "current_start": current_start, "as_of": as_of}
    channel_rows = query.all("""
        select o.channel, coalesce(max(c.channel_name), o.channel),
               sum(case when o.order_date >= :current_start then o.net_revenue_reporting else 0 end),
               sum(case when o.order_date < :current_start then o.net_revenue_reporting else 0 end),
               sum(case when o.order_date >= :current_start then 1 else 0 end),
               sum(case when o.order_date < :current_start then 1 else 0 end)
        from marts.fct_orders o
        left join marts.dim_channels c on c.tenant_id = :tenant and c.channel = o.channel
        where o.tenant_id = :tenant and o.order_date between :prior_start and :as_of
        group by o.channel""", **windows)
    channels = [_Figure(code, name, Decimal(cur), Decimal(pri)) for code, name, cur, pri, _, _ in channel_rows]
    current_total = sum((f.current for f in channels), Decimal("0.00"))
    prior_total = sum((f.prior for f in channels), Decimal("0.00"))
    current_orders = sum(int(r[4]) for r in channel_rows)
    prior_orders = sum(int(r[5]) for r in channel_rows)

    product_rows = query.all("""
        select l.sku, max(p.title),
               sum(case when l.order_date >= :current_start
                        then l.net_line_amount_reporting - l.refunded_amount_reporting else 0 end),
               sum(case when l.order_date < :current_start
                        then l.net_line_amount_reporting - l.refunded_amount_reporting else 0 end)
        from marts.fct_order_lines l
        left join marts.dim_products p on p.tenant_id = :tenant and p.sku = l.sku
        where l.tenant_id = :tenant and l.sku is not null and l.order_date between :prior_start and :as_of
        group by l.sku""", **windows)
    products = [_Figure(sku, _product_name(sku, title), Decimal(cur), Decimal(pri))
                for sku, title, cur, pri in product_rows]

    change = current_total - prior_total
    pct = _pct(change, prior_total)
    if change == 0:
        headline = f"Net revenue was flat week over week at {_money(current_total, currency)}"
    elif prior_total == 0:
        headline = f"Net revenue was {_money(current_total, currency)}, with none in the prior 7 days"
    else:
        headline = (f"Net revenue {_verb(change)} {_pct_text(pct)} week over week, from "
                    f"{_money(prior_total, currency)} to {_money(current_total, currency)} "
                    f"({_money(change, currency, signed=True)})")
    total = Insight("wow_total", "tenant",
                    f"{headline}, in the 7 days to {as_of.isoformat()} ({_orders(current_orders)} vs "
                    f"{prior_orders:,}).", current_total, prior_total, pct, 1)

    floor = MOVER_FLOOR_SHARE * max(current_total, prior_total)
    return [total, *_movers("wow_channel", channels, floor, currency),
            *_movers("wow_product", products, floor, currency)]


def _movers(kind: str, figures: Iterable[_Figure], floor: Decimal, currency: str) -> list[Insight]:
    big = [f for f in figures if abs(f.change) >= floor and f.change != 0]
    up = sorted((f for f in big if f.change > 0), key=lambda f: (-f.change, f.name, f.subject))
    down = sorted((f for f in big if f.change < 0), key=lambda f: (f.change, f.name, f.subject))
    out = []
    for direction, ranked in (("up", up), ("down", down)):
        for rank, f in enumerate(ranked[:TOP_MOVERS], start=1):
            out.append(Insight(f"{kind}_{direction}", f.subject, _mover_sentence(f, currency), f.current, f.prior,
                               _pct(f.change, f.prior), rank))
    return out


def _mover_sentence(f: _Figure, currency: str) -> str:
    delta = _money(f.change, currency, signed=True)
    if f.prior == 0:
        return (f"{f.name} is new this week: net revenue {_money(f.current, currency)} in the last 7 days, none "
                f"in the prior 7 ({delta}).")
    return (f"{f.name} net revenue {_verb(f.change)} {_pct_text(_pct(f.change, f.prior))} week over week, from "
            f"{_money(f.prior, currency)} to {_money(f.current, currency)} ({delta}).")


# --- against the demand forecast ------------------------------------------------------------------------------

def _versus_forecast(query: _Query, current_start: date, as_of: date) -> list[Insight]:
    exists = query.one("select count(*) from information_schema.tables "
                       "where table_schema = 'ml' and table_name = 'demand_forecast'")[0]
    if not exists:
        return []
    (forecast_as_of,) = query.one("select max(as_of_date) from ml.demand_forecast where tenant_id = :tenant")
    if forecast_as_of is None:
        return []
    if _covered_days(query, forecast_as_of, current_start, as_of) == WINDOW_DAYS:
        mode, start, end = "vs_forecast", current_start, as_of
    else:
        start = max(forecast_as_of, as_of) + timedelta(days=1)
        end = start + timedelta(days=WINDOW_DAYS - 1)
        if _covered_days(query, forecast_as_of, start, end) != WINDOW_DAYS:
            return []
        mode = "forecast_ahead"

    actual = {(channel, sku): Decimal(units) for channel, sku, units in query.all("""
        select channel, sku, sum(quantity) from marts.fct_order_lines
        where tenant_id = :tenant and not is_cancelled and sku is not null
          and order_date between :start and :end
        group by channel, sku""", start=current_start, end=as_of)}
    forecast = {(channel, sku): (_units(mean), _units(width) ** 2 / 4)
                for channel, sku, mean, width in query.all("""
        select channel, sku, sum(units_mean), sum(upper_80) - sum(lower_80) from ml.demand_forecast
        where tenant_id = :tenant and as_of_date = :forecast_as_of and date between :start and :end
        group by channel, sku""", forecast_as_of=forecast_as_of, start=start, end=end)}
    channel_names = dict(query.all("select channel, channel_name from marts.dim_channels where tenant_id = :tenant"))
    titles = dict(query.all("select sku, title from marts.dim_products where tenant_id = :tenant"))

    def group(key_of, name_of) -> list[_Units]:
        sums: dict[str, list[Decimal]] = {}
        for key in set(actual) | set(forecast):
            acc = sums.setdefault(key_of(key), [Decimal(0)] * 3)
            for i, v in enumerate((actual.get(key, Decimal(0)), *forecast.get(key, (Decimal(0), Decimal(0))))):
                acc[i] += v
        rows = [_Units.of(s, name_of(s), *acc) for s, acc in sums.items()]
        return sorted(rows, key=lambda u: (-u.forecast, u.name, u.subject))

    total = group(lambda key: "tenant", lambda s: "")
    channels = [u for u in group(lambda key: key[0], lambda c: channel_names.get(c) or c) if u.forecast > 0]
    products = [u for u in group(lambda key: key[1], lambda s: _product_name(s, titles.get(s)))
                if u.forecast > 0][:TOP_PRODUCTS]
    window = f"{start.isoformat()} to {end.isoformat()}"
    out = []
    for level, rows in (("total", total), ("channel", channels), ("product", products)):
        for rank, u in enumerate(rows, start=1):
            sentence = (_backtest_sentence(u, level, window) if mode == "vs_forecast"
                        else _ahead_sentence(u, level, window))
            value, reference = (u.actual, u.forecast) if mode == "vs_forecast" else (u.forecast, u.actual)
            out.append(Insight(f"{mode}_{level}", u.subject, sentence, value, reference,
                               _pct(value - reference, reference), rank))
    return out


def _covered_days(query: _Query, forecast_as_of: date, start: date, end: date) -> int:
    return int(query.one("""
        select count(distinct date) from ml.demand_forecast
        where tenant_id = :tenant and as_of_date = :forecast_as_of and date between :start and :end""",
                         forecast_as_of=forecast_as_of, start=start, end=end)[0])


def _backtest_sentence(u: _Units, level: str, window: str) -> str:
    who = "Units sold" if level == "total" else f"{u.name} units sold"
    interval = _interval(u)
    if u.forecast == 0:
        return f"{who} {window}: {_sold(u.actual)}, none forecast ({interval})."
    pct = _pct(u.actual - u.forecast, u.forecast)
    where = ("within" if u.lower <= u.actual <= u.upper else "above" if u.actual > u.upper else "below")
    return (f"{who} {window}: {_sold(u.actual)} vs {_forecast(u.forecast)} forecast, {_relative(pct)} the "
            f"forecast and {where} its {interval}.")


def _ahead_sentence(u: _Units, level: str, window: str) -> str:
    who = "Demand forecast" if level == "total" else f"{u.name} demand forecast"
    head = f"{who} for the coming 7 days ({window}): {_forecast(u.forecast)} units ({_interval(u)})"
    if u.actual == 0:
        return f"{head}, with none sold in the last 7 days."
    pct = _pct(u.forecast - u.actual, u.actual)
    return f"{head}, {_relative(pct)} the {_sold(u.actual)} units sold in the last 7 days."


# --- formatting and SQL ---------------------------------------------------------------------------------------

def _currency(query: _Query) -> str:
    row = query.one("select currency from marts.dim_tenants where tenant_id = :tenant")
    if row is None or not row[0]:
        raise ValueError(f"tenant {query.tenant!r}: no reporting currency in marts.dim_tenants")
    return row[0]


def _product_name(sku: str, title: str | None) -> str:
    return f"{title} ({sku})" if title and title != sku else sku


def _pct(change: Decimal, reference: Decimal) -> Decimal | None:
    return None if reference == 0 else change / reference * HUNDRED


def _pct_text(pct: Decimal | None) -> str:
    return f"{abs(pct).quantize(TENTH, rounding=ROUND_HALF_UP)}%"


def _relative(pct: Decimal) -> str:
    rounded = abs(pct).quantize(TENTH, rounding=ROUND_HALF_UP)
    if rounded == 0:
        return "in line with"
    return f"{rounded}% {'above' if pct > 0 else 'below'}"


def _verb(change: Decimal) -> str:
    return "rose" if change > 0 else "fell"


def _money(amount: Decimal, currency: str, *, signed: bool = False) -> str:
    amount = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if amount < 0 else "+" if signed and amount > 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"


def _units(value) -> Decimal:
    """A forecast sum (double precision) as units to the hundredth."""
    return Decimal(repr(float(value or 0))).quantize(CENT, rounding=ROUND_HALF_UP)


def _sold(units: Decimal) -> str:
    """Units sold: a whole number."""
    return f"{units:,.0f}"


def _forecast(units: Decimal) -> str:
    """Forecast units: to the tenth, half up."""
    return f"{units.quantize(TENTH, rounding=ROUND_HALF_UP):,}"


def _orders(count: int) -> str:
    return f"{count:,} order{'' if count == 1 else 's'}"


def _interval(u: _Units) -> str:
    return f"80% interval {_forecast(u.lower)}–{_forecast(u.upper)}"


class _Query:
    """Named ``:parameters`` bound positionally in the driver's style; ``:tenant`` is always the tenant."""

    NAME = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")

    def __init__(self, con, tenant: str) -> None:
        self.con, self.tenant = con, tenant
        self.placeholder = "%s" if isinstance(con, PostgresConnection) else "?"

    def _run(self, sql: str, params: dict):
        values = {"tenant": self.tenant, **params}
        order: list[str] = []

        def bind(match: re.Match) -> str:
            order.append(match.group(1))
            return self.placeholder

        text = self.NAME.sub(bind, sql)
        return self.con.execute(text, [values[name] for name in order])

    def one(self, sql: str, **params):
        return self._run(sql, params).fetchone()

    def all(self, sql: str, **params) -> list[tuple]:
        return [tuple(row) for row in self._run(sql, params).fetchall()]
