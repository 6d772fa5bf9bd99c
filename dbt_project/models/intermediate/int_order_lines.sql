-- Order lines of every source, with their order's attributes and what was refunded of them.
with refunds_per_line as (
    select
        line_id,
        sum(refunded_quantity) as refunded_quantity,
        sum(refunded_amount) as refunded_amount
    from {{ ref('stg_shopify__refunds') }}
    group by line_id
),

lines as (
    select
        tenant_id, 'shopify' as source, line_id, order_id, sku, quantity, unit_price, discount_amount, tax_amount
    from {{ ref('stg_shopify__order_lines') }}

    union all

    select
        tenant_id, 'files' as source, line_id, order_id, sku, quantity, unit_price, discount_amount, tax_amount
    from {{ ref('stg_files__order_lines') }}
)

select
    lines.tenant_id,
    lines.source,
    orders.channel,
    lines.line_id,
    lines.order_id,
    orders.customer_id,
    orders.ordered_at,
    orders.currency,
    lines.sku,
    lines.quantity,
    lines.unit_price,
    lines.discount_amount,
    lines.tax_amount,
    coalesce(refunds_per_line.refunded_quantity, 0) as refunded_quantity,
    {{ money('coalesce(refunds_per_line.refunded_amount, 0)') }} as refunded_amount
from lines
inner join {{ ref('int_orders') }} as orders
    on orders.source = lines.source and orders.order_id = lines.order_id
left join refunds_per_line
    on lines.source = 'shopify' and refunds_per_line.line_id = lines.line_id
