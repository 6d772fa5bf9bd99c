"""The frames every model reads, one tenant at a time, and the SQL that reads them from the marts.

Money arrives as DOUBLE for modelling (the marts keep DECIMAL; prediction tables that hold money are cast back to
DECIMAL(18,2) when written). Dates are the tenant's local days. The same SQL runs on DuckDB and PostgreSQL: the
caller passes ``query(sql, params) -> polars.DataFrame`` bound to its warehouse, with pyformat parameters
(``%(tenant)s``). ``sandbox/ml_frames.py`` builds the same frames from a simulated shop, for judging models
against the world's truth. Column contracts: models_ml/README.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl

Query = Callable[[str, dict], pl.DataFrame]


@dataclass(frozen=True)
class MlFrames:
    """One tenant's modelling frames."""

    sales_daily: pl.DataFrame  # sku × channel × date with sales (sparse)
    products: pl.DataFrame  # one row per catalogue SKU
    order_lines: pl.DataFrame  # one row per order line, every channel
    orders: pl.DataFrame  # one row per order
    customers: pl.DataFrame  # one row per unified customer

    @property
    def as_of(self) -> date | None:
        """The last day with an order: models train up to it and predict from the day after."""
        return self.orders["order_date"].max() if self.orders.height else None


ORDER_LINES = """
select l.order_line_key, l.order_key, l.customer_key, l.channel, l.sku, l.category,
       l.ordered_at, l.order_date, cast(l.quantity as bigint) as quantity,
       cast(l.unit_price as double precision) as unit_price,
       cast(l.gross_amount as double precision) as gross_amount,
       cast(l.discount_amount as double precision) as discount_amount,
       cast(l.net_line_amount as double precision) as net_line_amount,
       cast(l.unit_cost as double precision) as unit_cost,
       cast(coalesce(l.refunded_quantity, 0) as bigint) as refunded_quantity,
       r.first_refund_date,
       cast(o.customer_order_number as bigint) as customer_order_number,
       l.is_cancelled
from marts.fct_order_lines l
join marts.fct_orders o on o.tenant_id = l.tenant_id and o.order_key = l.order_key
left join (
    select order_line_key, min(refund_date) as first_refund_date
    from marts.fct_refunds where tenant_id = %(tenant)s and order_line_key is not null
    group by order_line_key
) r on r.order_line_key = l.order_line_key
where l.tenant_id = %(tenant)s
order by l.ordered_at, l.order_line_key
"""

ORDERS = """
select order_key, customer_key, channel, ordered_at, order_date, cast(units as bigint) as units,
       cast(net_revenue as double precision) as net_revenue,
       cast(discount_amount as double precision) as discount_amount,
       cast(refund_amount as double precision) as refund_amount,
       is_cancelled, cast(customer_order_number as bigint) as customer_order_number
from marts.fct_orders
where tenant_id = %(tenant)s
order by ordered_at, order_key
"""

SALES_DAILY = """
select sku, channel, order_date as date, cast(sum(quantity) as bigint) as units,
       cast(sum(gross_amount) as double precision) as gross_amount,
       cast(sum(discount_amount) as double precision) as discount_amount,
       cast(sum(net_line_amount) as double precision) as net_amount
from marts.fct_order_lines
where tenant_id = %(tenant)s and not is_cancelled and sku is not null and quantity > 0
group by sku, channel, order_date
order by sku, channel, order_date
"""

PRODUCTS = """
select p.sku, p.category, p.title, cast(p.price as double precision) as list_price,
       cast(p.unit_cost as double precision) as unit_cost, s.first_sold_on
from marts.dim_products p
left join (
    select sku, min(order_date) as first_sold_on from marts.fct_order_lines
    where tenant_id = %(tenant)s and not is_cancelled group by sku
) s on s.sku = p.sku
where p.tenant_id = %(tenant)s
order by p.sku
"""

CUSTOMERS = """
select customer_key, identity_type, acquisition_channel, first_order_date, country_code
from marts.dim_customers
where tenant_id = %(tenant)s
order by customer_key
"""


def load_frames(query: Query, tenant: str) -> MlFrames:
    """Every frame of one tenant, read through ``query`` (bound to the warehouse of the active profile)."""
    params = {"tenant": tenant}
    return MlFrames(*(utc(query(sql, params)) for sql in (SALES_DAILY, PRODUCTS, ORDER_LINES, ORDERS, CUSTOMERS)))


def utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Instants in one zone whatever the driver reports (DuckDB says 'Etc/UTC', psycopg2 the session's zone)."""
    return frame.with_columns(pl.col(name).dt.convert_time_zone("UTC")
                              for name, dtype in frame.schema.items()
                              if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None)
