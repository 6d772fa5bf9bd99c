"""One tenant's slice of the warehouse, exported for its report site: a small DuckDB file Evidence reads.

Evidence never opens the warehouse: the embedded warehouse has one writer (Dagster's runs hold its lock) and the
production one is PostgreSQL. ``export_tenant(settings, tenant, path)`` reads the tables the site's pages show
through ``orchestration.warehouse.connect`` (the same SQL on DuckDB and PostgreSQL, every query filtered on the
tenant), and writes them to ``path`` in DuckDB's v1.4 storage format (Evidence's DuckDB driver is 1.4 and cannot
open a file DuckDB 2.x writes by default). Only the tenant's rows are read, so only they can reach its site.

The file's tables are listed in ``TABLES`` (what the pages read: ``reports/sources/omni/*.sql`` selects each one).
A missing optional table (``ml.demand_forecast`` before the first model run, ``alerts.firings`` before the first
alert, the insights module) gives an empty table of the same columns, so the pages still build.

``ExportResult.content_hash`` hashes the exported rows (table by table, in each query's fixed order), not the
file's bytes (DuckDB files differ byte for byte between two writes of the same data): the site build is skipped
when neither it nor the reports project changed (orchestration/sites/build.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from orchestration.settings import Settings
from orchestration.tenants import SLUG, Tenant
from orchestration.warehouse import PostgresConnection, connect

log = logging.getLogger(__name__)

STORAGE_VERSION = "v1.4.0"  # Evidence's @duckdb/node-api is DuckDB 1.4
KPI_WINDOWS = (7, 28)  # days: last 7 / 28 complete days vs the same length before
TREND_DAYS = 180
FORECAST_HISTORY_DAYS = 90
FORECAST_TOP_SKUS = 8
RETURNS_MONTHS = 6
RETURNS_TOP_SKUS = 25
ALERT_DAYS = 30
CENT = Decimal("0.01")
RATE = Decimal("0.0001")

# Evidence's built-in currency formats (component-utilities/builtInFormats.js); others get a plain number format.
EVIDENCE_CURRENCIES = {"USD", "AUD", "BRL", "CAD", "CNY", "EUR", "GBP", "JPY", "INR", "KRW", "NGN", "RUB", "SEK"}

MONEY, RATIO, INT, TEXT, DATE, FLOAT, TS = ("decimal(18,2)", "decimal(18,4)", "bigint", "varchar", "date",
                                            "double", "timestamp")


@dataclass(frozen=True)
class Table:
    """One table of the export: its columns (name, DuckDB type) and where its rows come from: a SQL query on the
    warehouse (``:tenant`` and the window parameters bound), or a Python function of the export context."""

    name: str
    columns: tuple[tuple[str, str], ...]
    sql: str | None = None
    rows: Callable[[_Context], list[tuple]] | None = None
    requires: str | None = None  # a warehouse table that may not exist yet: empty export table without it


@dataclass
class _Context:
    con: object
    tenant: Tenant
    params: dict[str, object]
    notes: list[str] = field(default_factory=list)

    def query(self, sql: str, **extra) -> list[tuple]:
        return _execute(self.con, sql, {**self.params, **extra})


@dataclass(frozen=True)
class ExportResult:
    tenant: str
    path: Path
    content_hash: str
    row_counts: dict[str, int]
    as_of: date | None
    notes: tuple[str, ...]  # e.g. an optional table that was missing, said once per export


def _execute(con, sql: str, params: dict[str, object]) -> list[tuple]:
    """Bind ``:name`` parameters positionally in the driver's style (``?`` DuckDB, ``%s`` psycopg2)."""
    marker = "%s" if isinstance(con, PostgresConnection) else "?"
    values: list[object] = []

    def bind(match: re.Match) -> str:
        values.append(params[match.group(1)])
        return marker

    text = re.sub(r"(?<![:\w]):([a-z_][a-z0-9_]*)", bind, sql)
    return con.execute(text, values).fetchall()


def _table_exists(con, qualified: str) -> bool:
    schema, table = qualified.split(".")
    rows = _execute(con, "select count(*) from information_schema.tables where table_schema = :s and table_name = :t",
                    {"s": schema, "t": table})
    return bool(rows[0][0])


# --- rows computed in Python ---------------------------------------------------------------------------------

def money_formats(currency: str) -> tuple[str, str]:
    """Evidence format names for amounts in ``currency``: (to the cent, whole units)."""
    if currency in EVIDENCE_CURRENCIES:
        return f"{currency.lower()}2", f"{currency.lower()}0"
    return "#,##0.00", "#,##0"


def _tenant_rows(ctx: _Context) -> list[tuple]:
    t, p = ctx.tenant, ctx.params
    return [(t.slug, t.display_name, t.currency, *money_formats(t.currency), p["as_of"], p["first_day"],
             p["latest_day"])]


def _change(current: Decimal, prior: Decimal) -> Decimal | None:
    return None if not prior else ((current - prior) / prior).quantize(RATE, ROUND_HALF_UP)


def _kpi_rows(ctx: _Context) -> list[tuple]:
    """Headline KPIs per window, with the window before: net revenue (Σ fct_orders.net_revenue_reporting by
    order date, the platform's ``net_revenue``), orders, AOV (net sales ÷ orders), new customers, CM3 and ad spend
    (cube_channel_daily), as the metric glossary (dbt_project/models/metrics/README.md) defines them."""
    as_of = ctx.params["as_of"]
    if as_of is None:
        return []
    rows = []
    for days in KPI_WINDOWS:
        cur_start = as_of - timedelta(days=days - 1)
        prior_start = cur_start - timedelta(days=days)
        w = {"cur_start": cur_start, "prior_start": prior_start}
        figures: dict[str, dict[str, Decimal]] = {"current": {}, "prior": {}}
        for period, orders, revenue in ctx.query("""
                select case when order_date >= :cur_start then 'current' else 'prior' end, count(*),
                       coalesce(sum(net_revenue_reporting), 0)
                from marts.fct_orders
                where tenant_id = :tenant and order_date between :prior_start and :as_of
                group by 1""", **w):
            figures[period] |= {"orders": Decimal(orders), "net_revenue": Decimal(revenue)}
        for period, net_sales, cm3, ad_spend in ctx.query("""
                select case when "date" >= :cur_start then 'current' else 'prior' end, coalesce(sum(net_sales), 0),
                       coalesce(sum(cm3), 0), coalesce(sum(ad_spend), 0)
                from marts.cube_channel_daily
                where tenant_id = :tenant and "date" between :prior_start and :as_of
                group by 1""", **w):
            figures[period] |= {"net_sales": Decimal(net_sales), "cm3": Decimal(cm3), "ad_spend": Decimal(ad_spend)}
        for period, customers in ctx.query("""
                select case when first_order_date >= :cur_start then 'current' else 'prior' end, count(*)
                from marts.dim_customers
                where tenant_id = :tenant and order_count > 0 and first_order_date between :prior_start and :as_of
                group by 1""", **w):
            figures[period]["new_customers"] = Decimal(customers)

        row: list[object] = [days, cur_start, as_of, prior_start, cur_start - timedelta(days=1)]
        for key in ("net_revenue", "orders", "new_customers", "cm3", "ad_spend"):
            cur, pri = figures["current"].get(key, Decimal(0)), figures["prior"].get(key, Decimal(0))
            row += [cur, pri, _change(cur, pri)]
        cur_aov, pri_aov = _aov(figures["current"]), _aov(figures["prior"])
        row += [cur_aov, pri_aov, _change(cur_aov, pri_aov) if cur_aov is not None and pri_aov else None]
        rows.append(tuple(row))
    return rows


def _aov(figures: dict[str, Decimal]) -> Decimal | None:
    """net sales ÷ orders (the glossary's ``aov``), to the cent; None without orders."""
    orders = figures.get("orders", Decimal(0))
    return (figures.get("net_sales", Decimal(0)) / orders).quantize(CENT, ROUND_HALF_UP) if orders else None


def _kpi_columns() -> tuple[tuple[str, str], ...]:
    cols = [("window_days", INT), ("period_start", DATE), ("period_end", DATE), ("prior_start", DATE),
            ("prior_end", DATE)]
    for key, kind in (("net_revenue", MONEY), ("orders", INT), ("new_customers", INT), ("cm3", MONEY),
                      ("ad_spend", MONEY), ("aov", MONEY)):
        cols += [(key, kind), (f"{key}_prior", kind), (f"{key}_change", RATIO)]
    return tuple(cols)


def _insight_rows(ctx: _Context) -> list[tuple]:
    try:
        from orchestration.sites.insights import build_insights
    except ImportError as exc:  # helper module not there yet: the summary shows KPIs without sentences
        ctx.notes.append(f"insights unavailable ({exc}); the summary shows no generated sentences")
        return []
    return [(i.rank, i.kind, i.subject, i.sentence, i.value, i.reference, i.change_pct)
            for i in build_insights(ctx.con, ctx.tenant.slug)]


def _forecast_rows(ctx: _Context) -> list[tuple]:
    """Units per day: sold (the last FORECAST_HISTORY_DAYS days) and forecast (every SKU and channel summed).
    The bounds of a sum are the sums of the series' bounds: the band of series moving together, wider than the
    interval of the total when they do not (the page says so)."""
    if ctx.params["latest_day"] is None:
        return []
    actual = {d: Decimal(u) for d, u in ctx.query("""
        select order_date, sum(quantity) from marts.fct_order_lines
        where tenant_id = :tenant and not is_cancelled and order_date between :history_start and :latest_day
        group by order_date""")}
    forecast = {}
    if _table_exists(ctx.con, "ml.demand_forecast"):
        forecast = {r[0]: r[1:] for r in ctx.query("""
            select "date", sum(units_mean), sum(lower_80), sum(upper_80), sum(lower_95), sum(upper_95)
            from ml.demand_forecast where tenant_id = :tenant group by "date" """)}
    else:
        ctx.notes.append("ml.demand_forecast does not exist yet: the forecast page shows history only")
    days = sorted(set(actual) | set(forecast))
    return [(d, actual.get(d), *forecast.get(d, (None,) * 5)) for d in days]


# --- the tables --------------------------------------------------------------------------------------------

def _columns(spec: str) -> tuple[tuple[str, str], ...]:
    """'a bigint, b varchar' -> (('a', 'bigint'), ('b', 'varchar'))"""
    return tuple(tuple(part.strip().split(None, 1)) for part in re.split(r",(?![^()]*\))", spec))  # type: ignore


TABLES: tuple[Table, ...] = (
    Table("tenant", _columns("tenant_id varchar, display_name varchar, currency varchar, money_fmt varchar, "
                             "money_fmt0 varchar, as_of_date date, first_order_date date, latest_order_date date"),
          rows=_tenant_rows),
    Table("kpis", _kpi_columns(), rows=_kpi_rows),
    Table("insights", _columns("rank bigint, kind varchar, subject varchar, sentence varchar, value decimal(18,4), "
                               "reference decimal(18,4), change_pct decimal(18,4)"), rows=_insight_rows),
    Table("channels", _columns("channel varchar, channel_name varchar, channel_type varchar"),
          sql="""select channel, coalesce(channel_name, channel), channel_type from marts.dim_channels
                 where tenant_id = :tenant order by channel"""),
    Table("daily_channel", _columns("date date, channel varchar, channel_name varchar, orders bigint, "
                                    "net_sales decimal(18,2), cm3 decimal(18,2), ad_spend decimal(18,2)"),
          sql="""select d."date", d.channel, coalesce(c.channel_name, d.channel), d.orders, d.net_sales, d.cm3,
                        d.ad_spend
                 from marts.cube_channel_daily d
                 left join marts.dim_channels c on c.tenant_id = d.tenant_id and c.channel = d.channel
                 where d.tenant_id = :tenant and d."date" between :trend_start and :as_of
                 order by d."date", d.channel"""),
    Table("channel_profitability", _columns(
        "month date, channel varchar, channel_name varchar, orders bigint, new_customer_orders bigint, units bigint, "
        "net_sales decimal(18,2), cogs decimal(18,2), cm1 decimal(18,2), cm1_margin decimal(18,4), "
        "channel_fees decimal(18,2), payment_fees decimal(18,2), net_shipping_cost decimal(18,2), "
        "refunds decimal(18,2), cm2 decimal(18,2), cm2_margin decimal(18,4), ad_spend decimal(18,2), "
        "cm3 decimal(18,2), cm3_margin decimal(18,4), aov decimal(18,2), is_month_complete boolean"),
          sql="""select r.month, r.channel, coalesce(c.channel_name, r.channel), r.orders, r.new_customer_orders,
                        r.units, r.net_sales, r.cogs, r.cm1, r.cm1_margin, r.channel_fees, r.payment_fees,
                        r.net_shipping_cost, r.refunds, r.cm2, r.cm2_margin, r.ad_spend, r.cm3, r.cm3_margin, r.aov,
                        r.is_month_complete
                 from marts.rpt_channel_profitability r
                 left join marts.dim_channels c on c.tenant_id = r.tenant_id and c.channel = r.channel
                 where r.tenant_id = :tenant order by r.month, r.channel"""),
    Table("cohorts", _columns(
        "acquisition_channel varchar, cohort_month date, months_since_first bigint, activity_month date, "
        "cohort_customers bigint, active_customers bigint, retention_rate decimal(18,4), orders bigint, "
        "net_revenue decimal(18,2), cumulative_net_revenue_per_customer decimal(18,2)"),
          sql="""select acquisition_channel, cohort_month, months_since_first, activity_month, cohort_customers,
                        active_customers, retention_rate, orders, net_revenue, cumulative_net_revenue_per_customer
                 from marts.rpt_cohort_retention where tenant_id = :tenant
                 order by acquisition_channel, cohort_month, months_since_first"""),
    Table("inventory", _columns(
        "as_of_date date, channel varchar, sku varchar, title varchar, category varchar, on_hand bigint, "
        "inbound bigint, units_sold_28d bigint, avg_daily_units decimal(18,4), days_of_cover decimal(18,1), "
        "days_of_cover_with_inbound decimal(18,1), sell_through_28d decimal(18,4), stockout_risk_date date, "
        "risk_level varchar"),
          sql="""select as_of_date, channel, sku, title, category, on_hand, inbound, units_sold_28d, avg_daily_units,
                        days_of_cover, days_of_cover_with_inbound, sell_through_28d, stockout_risk_date, risk_level
                 from marts.rpt_inventory_intelligence where tenant_id = :tenant
                 order by channel, days_of_cover nulls last, sku"""),
    Table("ltv_cac", _columns(
        "acquisition_category varchar, acquisition_channel varchar, cohort_month date, new_customers bigint, "
        "ltv_30d decimal(18,2), ltv_90d decimal(18,2), ltv_180d decimal(18,2), ltv_365d decimal(18,2), "
        "month_new_customers bigint, month_ad_spend decimal(18,2), blended_cac decimal(18,2), "
        "channel_new_customers bigint, channel_ad_spend decimal(18,2), new_customer_cac decimal(18,2), "
        "payback_month bigint, blended_payback_month bigint"),
          sql="""select acquisition_category, acquisition_channel, cohort_month, new_customers, ltv_30d, ltv_90d,
                        ltv_180d, ltv_365d, month_new_customers, month_ad_spend, blended_cac, channel_new_customers,
                        channel_ad_spend, new_customer_cac, payback_month, blended_payback_month
                 from marts.rpt_ltv_cac where tenant_id = :tenant
                 order by cohort_month, acquisition_channel, acquisition_category"""),
    Table("returns_monthly", _columns(
        "date_basis varchar, month date, channel varchar, units_sold bigint, units_returned bigint, "
        "net_sales decimal(18,2), refund_amount decimal(18,2)"),
          sql="""select date_basis, month, channel, sum(units_sold), sum(units_returned), sum(net_sales),
                        sum(refund_amount)
                 from marts.rpt_return_rates where tenant_id = :tenant
                 group by date_basis, month, channel order by date_basis, month, channel"""),
    Table("returns_by_segment", _columns(
        "month date, customer_segment varchar, units_sold bigint, units_returned bigint, net_sales decimal(18,2), "
        "refund_amount decimal(18,2)"),
          sql="""select month, customer_segment, sum(units_sold), sum(units_returned), sum(net_sales),
                        sum(refund_amount)
                 from marts.rpt_return_rates where tenant_id = :tenant and date_basis = 'order_date'
                 group by month, customer_segment order by month, customer_segment"""),
    Table("returns_by_product", _columns(
        "sku varchar, title varchar, category varchar, units_sold bigint, units_returned bigint, "
        "unit_return_rate decimal(18,4), refund_amount decimal(18,2)"),
          sql=f"""select r.sku, max(p.title), max(r.category), sum(r.units_sold), sum(r.units_returned),
                         round(cast(sum(r.units_returned) as decimal(18,4)) / nullif(sum(r.units_sold), 0), 4),
                         sum(r.refund_amount)
                  from marts.rpt_return_rates r
                  left join marts.dim_products p on p.tenant_id = r.tenant_id and p.sku = r.sku
                  where r.tenant_id = :tenant and r.date_basis = 'order_date' and r.sku is not null
                    and r.month >= :returns_since
                  group by r.sku having sum(r.units_sold) > 0
                  order by sum(r.units_returned) desc, r.sku limit {RETURNS_TOP_SKUS}"""),
    Table("forecast_daily", _columns("date date, actual_units decimal(18,0), units_mean double, lower_80 double, "
                                     "upper_80 double, lower_95 double, upper_95 double"), rows=_forecast_rows),
    Table("forecast_sku", _columns("sku varchar, title varchar, date date, units_mean double, lower_80 double, "
                                   "upper_80 double"),
          sql=f"""with top as (
                      select sku, sum(units_mean) as units from ml.demand_forecast where tenant_id = :tenant
                      group by sku order by units desc, sku limit {FORECAST_TOP_SKUS})
                  select f.sku, coalesce(max(p.title), f.sku), f."date", sum(f.units_mean), sum(f.lower_80),
                         sum(f.upper_80)
                  from ml.demand_forecast f
                  join top on top.sku = f.sku
                  left join marts.dim_products p on p.tenant_id = f.tenant_id and p.sku = f.sku
                  where f.tenant_id = :tenant
                  group by f.sku, f."date" order by f.sku, f."date" """,
          requires="ml.demand_forecast"),
    Table("forecast_channel", _columns("channel varchar, date date, units_mean double, lower_80 double, "
                                       "upper_80 double"),
          sql="""select channel, "date", sum(units_mean), sum(lower_80), sum(upper_80)
                 from ml.demand_forecast where tenant_id = :tenant
                 group by channel, "date" order by channel, "date" """,
          requires="ml.demand_forecast"),
    Table("alerts", _columns("fired_at timestamp, severity varchar, rule varchar, kind varchar, subject varchar, "
                             "message varchar"),
          sql="""select fired_at, severity, rule, kind, subject, message from alerts.firings
                 where tenant_id = :tenant and fired_at >= :alerts_since
                 order by fired_at desc, rule, subject""",
          requires="alerts.firings"),
)


# --- writing -----------------------------------------------------------------------------------------------

def _arrow_type(sql_type: str):
    import pyarrow as pa

    kind = sql_type.lower()
    if kind.startswith("decimal"):
        precision, scale = (int(x) for x in re.findall(r"\d+", kind))
        return pa.decimal128(precision, scale)
    return {INT: pa.int64(), TEXT: pa.string(), DATE: pa.date32(), FLOAT: pa.float64(), "boolean": pa.bool_(),
            TS: pa.timestamp("us")}[kind]


def _coerce(value: object, sql_type: str) -> object:
    """Driver values (PostgreSQL gives Decimal for sums of integers) into the column's Python type."""
    if value is None:
        return None
    kind = sql_type.lower()
    if kind.startswith("decimal"):
        scale = int(re.findall(r"\d+", kind)[1])
        return Decimal(value).quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)
    if kind == INT:
        return int(value)
    if kind == FLOAT:  # 4 decimals: a sum's last bits differ between engines and runs, the hash must not
        return round(float(value), 4)
    if kind == TS and isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _digest(table: Table, rows: Sequence[tuple]) -> str:
    h = hashlib.sha256(repr((table.name, table.columns)).encode())
    for row in rows:
        h.update(repr(row).encode())
    return h.hexdigest()


def _window_params(con, tenant: str) -> dict[str, object]:
    first_day, latest_day = _execute(
        con, "select min(order_date), max(order_date) from marts.fct_orders where tenant_id = :tenant",
        {"tenant": tenant})[0]
    # the latest complete day: the latest order day may still be filling (orchestration/sites/insights.py)
    as_of = None if latest_day is None else latest_day - timedelta(days=1)
    anchor = as_of or date.today()
    month = anchor.replace(day=1)
    for _ in range(RETURNS_MONTHS - 1):
        month = (month - timedelta(days=1)).replace(day=1)
    return {
        "tenant": tenant, "first_day": first_day, "latest_day": latest_day, "as_of": as_of,
        "trend_start": anchor - timedelta(days=TREND_DAYS - 1),
        "history_start": (latest_day or anchor) - timedelta(days=FORECAST_HISTORY_DAYS - 1),
        "returns_since": month,
        "alerts_since": datetime.now(UTC).replace(tzinfo=None) - timedelta(days=ALERT_DAYS),
    }


def export_tenant(settings: Settings, tenant: Tenant, path: Path) -> ExportResult:
    """Write ``tenant``'s export to ``path`` (replaced atomically) and return its content hash."""
    import duckdb
    import pyarrow as pa

    if not SLUG.match(tenant.slug):
        raise ValueError(f"tenant {tenant.slug!r}: not a valid tenant slug")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tables: list[tuple[Table, list[tuple]]] = []
    with connect(settings) as con:
        params = _window_params(con, tenant.slug)
        ctx = _Context(con, tenant, params)
        for table in TABLES:
            if table.requires and not _table_exists(con, table.requires):
                ctx.notes.append(f"{table.requires} does not exist yet: export table {table.name} is empty")
                raw: list[tuple] = []
            elif table.rows is not None:
                raw = table.rows(ctx)
            else:
                raw = ctx.query(table.sql)
            types = [t for _, t in table.columns]
            tables.append((table, [tuple(_coerce(v, t) for v, t in zip(row, types, strict=True)) for row in raw]))

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    out = duckdb.connect(str(tmp), config={"storage_compatibility_version": STORAGE_VERSION})
    try:
        for table, rows in tables:
            schema = pa.schema([(name, _arrow_type(kind)) for name, kind in table.columns])
            columns = list(zip(*rows, strict=True)) if rows else [[] for _ in table.columns]
            arrow = pa.Table.from_arrays([pa.array(list(col), type=f.type) for col, f in zip(columns, schema,
                                                                                                strict=True)],
                                         schema=schema)
            out.register("incoming", arrow)
            ddl = ", ".join(f'"{name}" {kind}' for name, kind in table.columns)
            out.execute(f'create table "{table.name}" ({ddl})')
            out.execute(f'insert into "{table.name}" select * from incoming')
            out.unregister("incoming")
        out.execute("checkpoint")
    finally:
        out.close()
    os.replace(tmp, path)

    overall = hashlib.sha256()
    for table, rows in tables:
        overall.update(f"{table.name}:{_digest(table, rows)}\n".encode())
    for note in ctx.notes:
        log.info("tenant %s, site export: %s", tenant.slug, note)
    return ExportResult(tenant.slug, path, overall.hexdigest(), {t.name: len(r) for t, r in tables},
                        params["as_of"], tuple(ctx.notes))
