{{ config(post_hook=after_commit("{{ pg_indexes(['btree (tenant_id, report_key)', 'btree (tenant_id, month)']) }}")) }}
-- Return rates per product, sales channel and customer segment, per month, in two views (date_basis):
--   'order_date'  -- every return and refund counted in the month its ORDER was placed (what share of what was
--                    sold in a month came back: the cohort view; recent months still grow);
--   'refund_date' -- returns and refunds counted in the month the REFUND happened, against the units, orders and
--                    net sales sold that month (the cash / P&L view; settled months never change).
-- A returned unit is a refunded unit (refunds carry the units: Shopify, Amazon, Walmart); cancelled orders are
-- left out of both views (a cancellation is not a return). Money in the reporting currency (order view: the
-- order day's rate; refund view: the refund day's). Tenant-sliced shared report (dbt_project.yml).
with orders as (
    select order_key, customer_segment
    from {{ ref('fct_orders') }}
    where tenant_id = '{{ current_tenant() }}' and not is_cancelled
),

lines as (
    select
        lines.order_key,
        lines.channel,
        lines.product_key,
        lines.sku,
        orders.customer_segment,
        cast({{ dbt.date_trunc('month', 'lines.order_date') }} as date) as order_month,
        lines.quantity,
        lines.refunded_quantity,
        lines.net_line_amount_reporting,
        lines.refunded_amount_reporting
    from {{ ref('fct_order_lines') }} as lines
    inner join orders
        on orders.order_key = lines.order_key
    where lines.tenant_id = '{{ current_tenant() }}'
),

refunds as (
    select
        refunds.order_key,
        refunds.channel,
        refunds.product_key,
        refunds.sku,
        orders.customer_segment,
        cast({{ dbt.date_trunc('month', 'refunds.refund_date') }} as date) as refund_month,
        refunds.refunded_quantity,
        refunds.refunded_amount_reporting
    from {{ ref('fct_refunds') }} as refunds
    inner join orders
        on orders.order_key = refunds.order_key
    where refunds.tenant_id = '{{ current_tenant() }}'
),

-- one shape for both views: what was sold (sold_order_key) and what came back (returned_order_key)
events as (
    select
        'order_date' as date_basis, order_month as month, channel, product_key, sku, customer_segment,
        quantity as units_sold, refunded_quantity as units_returned,
        order_key as sold_order_key,
        case when refunded_quantity > 0 then order_key end as returned_order_key,
        net_line_amount_reporting as net_sales, refunded_amount_reporting as refund_amount
    from lines

    union all

    select
        'refund_date', order_month, channel, product_key, sku, customer_segment,
        quantity, 0,
        order_key,
        cast(null as {{ dbt.type_string() }}),
        net_line_amount_reporting, 0
    from lines

    union all

    select
        'refund_date', refund_month, channel, product_key, sku, customer_segment,
        0, refunded_quantity,
        cast(null as {{ dbt.type_string() }}),
        case when refunded_quantity > 0 then order_key end,
        0, refunded_amount_reporting
    from refunds
),

grouped as (
    select
        date_basis,
        month,
        channel,
        product_key,
        sku,
        customer_segment,
        cast(sum(units_sold) as bigint) as units_sold,
        cast(sum(units_returned) as bigint) as units_returned,
        count(distinct sold_order_key) as orders,
        count(distinct returned_order_key) as orders_with_return,
        {{ money('sum(net_sales)') }} as net_sales,
        {{ money('sum(refund_amount)') }} as refund_amount
    from events
    group by date_basis, month, channel, product_key, sku, customer_segment
),

products as (
    select product_key, category
    from {{ ref('dim_products') }}
    where tenant_id = '{{ current_tenant() }}'
),

tenant as (
    select currency from {{ ref('dim_tenants') }} where tenant_id = '{{ current_tenant() }}'
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'grouped.date_basis', 'grouped.month', 'grouped.channel',
                      'grouped.product_key', 'grouped.sku', 'grouped.customer_segment']) }} as report_key,
    grouped.date_basis,
    grouped.month,
    grouped.channel,
    grouped.product_key,
    grouped.sku,
    products.category,
    grouped.customer_segment,
    grouped.units_sold,
    grouped.units_returned,
    {{ ratio('grouped.units_returned', 'grouped.units_sold', 4) }} as unit_return_rate,
    cast(grouped.orders as bigint) as orders,
    cast(grouped.orders_with_return as bigint) as orders_with_return,
    {{ ratio('grouped.orders_with_return', 'grouped.orders', 4) }} as order_return_rate,
    grouped.net_sales,
    grouped.refund_amount,
    {{ ratio('grouped.refund_amount', 'grouped.net_sales', 4) }} as refund_rate,
    tenant.currency as reporting_currency
from grouped
left join products
    on products.product_key = grouped.product_key
cross join tenant
