with lines as (
    select
        source,
        order_id,
        count(*) as line_count,
        sum(quantity) as units,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(tax_amount) as tax_amount,
        sum(refunded_amount) as refund_amount
    from {{ ref('fct_order_lines') }}
    where tenant_id = '{{ current_tenant() }}'
    group by source, order_id
),

orders as (
    select * from {{ ref('int_orders') }}
),

tenant as (
    select timezone from {{ ref('stg_platform__tenants') }}
)

select
    orders.tenant_id,
    {{ surrogate_key(['orders.tenant_id', 'orders.source', 'orders.order_id']) }} as order_key,
    orders.source,
    orders.channel,
    orders.order_id,
    orders.order_number,
    case when orders.customer_id is not null
        then {{ surrogate_key(['orders.tenant_id', 'orders.source', 'orders.customer_id']) }}
    end as customer_key,
    orders.ordered_at,
    {{ local_date('orders.ordered_at', 'tenant.timezone') }} as order_date,
    orders.currency,
    orders.presentment_currency,
    lines.line_count,
    lines.units,
    {{ money('lines.gross_amount') }} as gross_amount,
    {{ money('lines.discount_amount') }} as discount_amount,
    orders.shipping_amount,
    {{ money('lines.tax_amount') }} as tax_amount,
    {{ money('lines.refund_amount') }} as refund_amount,
    {{ money('lines.gross_amount - lines.discount_amount - lines.refund_amount') }} as net_revenue,
    {{ money('lines.gross_amount - lines.discount_amount + orders.shipping_amount + lines.tax_amount') }}
        as total_amount,
    orders.is_cancelled
from orders
inner join lines
    on lines.source = orders.source and lines.order_id = orders.order_id
cross join tenant
