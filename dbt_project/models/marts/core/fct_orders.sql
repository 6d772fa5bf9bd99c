-- One row per order of the current tenant, every source and channel; its money is the sum of its lines in
-- fct_order_lines (so both grains always agree), plus the order's shipping. Tenant-sliced incremental model.
with lines as (
    select
        order_key,
        count(*) as line_count,
        sum(quantity) as units,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(tax_amount) as tax_amount,
        sum(refunded_amount) as refund_amount
    from {{ ref('fct_order_lines') }}
    where tenant_id = '{{ current_tenant() }}'
    group by order_key
),

orders as (
    select
        orders.*,
        coalesce(lines.line_count, 0) as line_count,
        cast(coalesce(lines.units, 0) as bigint) as units,
        coalesce(lines.gross_amount, 0) as gross_amount,
        coalesce(lines.discount_amount, 0) as discount_amount,
        coalesce(lines.tax_amount, 0) as tax_amount,
        coalesce(lines.refund_amount, 0) as refund_amount
    from {{ ref('int_orders') }} as orders
    -- an order without lines (all of them still in quarantine) keeps its row, with zero line money
    left join lines
        on lines.order_key = orders.order_key
),

tenant as (
    select timezone from {{ ref('stg_platform__tenants') }}
)

select
    orders.tenant_id,
    orders.order_key,
    orders.source,
    orders.channel,
    orders.order_id,
    orders.order_number,
    orders.customer_key,
    orders.ordered_at,
    {{ local_date('orders.ordered_at', 'tenant.timezone') }} as order_date,
    orders.currency,
    orders.presentment_currency,
    orders.line_count,
    orders.units,
    {{ money('orders.gross_amount') }} as gross_amount,
    {{ money('orders.discount_amount') }} as discount_amount,
    {{ money('orders.shipping_amount') }} as shipping_amount,
    {{ money('orders.tax_amount') }} as tax_amount,
    {{ money('orders.refund_amount') }} as refund_amount,
    {{ money('orders.gross_amount - orders.discount_amount - orders.refund_amount') }} as net_revenue,
    {{ money('orders.gross_amount - orders.discount_amount + orders.shipping_amount + orders.tax_amount') }}
        as total_amount,
    orders.is_cancelled
from orders
cross join tenant
