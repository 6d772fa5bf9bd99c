"""The top lines of each report mart (dbt_project/models/reports), per tenant: what `make demo` prints after its
summary, so a first run shows the answers the platform exists for, not only row counts.

Each preview is one query on a `rpt_*` table of the shared `marts` schema, for one tenant (slugs are validated
identifiers, see orchestration/tenants.py), and the same SQL runs on DuckDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Preview:
    title: str
    headers: tuple[str, ...]
    sql: Callable[[str], str]  # tenant slug -> query


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{Decimal(value) * 100:.1f}%"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


PREVIEWS = (
    Preview(
        "Channel profitability, latest complete month (CM1 = net sales - COGS; CM2 - fees, shipping, refunds; "
        "CM3 - ad spend)",
        ("month", "channel", "net sales", "CM1", "CM2", "CM3", "CM3 %"),
        lambda t: f"""
            select month, channel, net_sales, cm1, cm2, cm3, cm3_margin from marts.rpt_channel_profitability
            where tenant_id = '{t}' and month = (select max(month) from marts.rpt_channel_profitability
                                                 where tenant_id = '{t}' and is_month_complete)
            order by net_sales desc, channel limit 4""",
    ),
    Preview(
        "Cohort retention, all channels: share of a first-purchase month's customers buying again",
        ("cohort", "customers", "month 1", "month 3", "month 6"),
        lambda t: f"""
            select cohort_month, max(cohort_customers),
                   max(case when months_since_first = 1 then retention_rate end),
                   max(case when months_since_first = 3 then retention_rate end),
                   max(case when months_since_first = 6 then retention_rate end)
            from marts.rpt_cohort_retention
            where tenant_id = '{t}' and acquisition_channel = 'all'
            group by cohort_month having max(months_since_first) >= 6
            order by cohort_month desc limit 3""",
    ),
    Preview(
        "LTV vs CAC: largest recent cohorts with a complete 90-day window (LTV on contribution)",
        ("cohort", "category", "channel", "new", "LTV 90d", "CAC", "payback"),
        lambda t: f"""
            select cohort_month, acquisition_category, acquisition_channel, new_customers, ltv_90d,
                   new_customer_cac, payback_month
            from marts.rpt_ltv_cac
            where tenant_id = '{t}' and ltv_90d is not null
            order by cohort_month desc, new_customers desc, acquisition_category, acquisition_channel limit 3""",
    ),
    Preview(
        "Inventory intelligence: nearest stockouts",
        ("sku", "channel", "on hand", "days of cover", "stockout", "risk"),
        lambda t: f"""
            select sku, channel, on_hand, days_of_cover, stockout_risk_date, risk_level
            from marts.rpt_inventory_intelligence
            where tenant_id = '{t}' and stockout_risk_date is not null
            order by stockout_risk_date, sku, channel limit 3""",
    ),
    Preview(
        "Return rates by product (by order date, products with at least 20 units sold)",
        ("sku", "channel", "units sold", "returned", "return rate"),
        lambda t: f"""
            select sku, channel, sum(units_sold), sum(units_returned),
                   sum(units_returned) * 1.0000 / sum(units_sold)
            from marts.rpt_return_rates
            where tenant_id = '{t}' and date_basis = 'order_date' and sku is not null
            group by sku, channel having sum(units_sold) >= 20
            order by 5 desc, sku, channel limit 3""",
    ),
)
RATE_COLUMNS = {"CM3 %", "month 1", "month 3", "month 6", "return rate"}


def print_report_previews(con, slugs: list[str]) -> None:
    """Print each report's top lines for every tenant in `slugs` (a tenant not built yet is skipped)."""
    for slug in slugs:
        print(f"\n== {slug}: reports (marts.rpt_*) ==")
        for preview in PREVIEWS:
            rows = con.execute(preview.sql(slug)).fetchall()
            print(f"  {preview.title}")
            if not rows:
                print("    (no rows yet)")
                continue
            cells = [[(_pct(v) if h in RATE_COLUMNS else _cell(v)) for h, v in zip(preview.headers, row,
                                                                                    strict=True)]
                     for row in rows]
            widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(preview.headers)]
            print("    " + "  ".join(h.rjust(w) for h, w in zip(preview.headers, widths, strict=True)))
            for row in cells:
                print("    " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
