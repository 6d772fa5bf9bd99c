with lines as (
    select * from {{ ref('int_order_lines') }}
),

tenant as (
    select timezone from {{ ref('stg_platform__tenants') }}
)

select
    lines.tenant_id,
    {{ surrogate_key(['lines.tenant_id', 'lines.source', 'lines.line_id']) }} as order_line_key,
    {{ surrogate_key(['lines.tenant_id', 'lines.source', 'lines.order_id']) }} as order_key,
    lines.source,
    lines.channel,
    lines.order_id,
    lines.line_id,
    {{ surrogate_key(['lines.tenant_id', 'lines.sku']) }} as product_key,
    lines.sku,
    case when lines.customer_id is not null
        then {{ surrogate_key(['lines.tenant_id', 'lines.source', 'lines.customer_id']) }}
    end as customer_key,
    lines.ordered_at,
    {{ local_date('lines.ordered_at', 'tenant.timezone') }} as order_date,
    lines.quantity,
    lines.unit_price,
    {{ money('round(lines.quantity * lines.unit_price, 2)') }} as gross_amount,
    lines.discount_amount,
    {{ money('round(lines.quantity * lines.unit_price, 2) - lines.discount_amount') }} as net_line_amount,
    lines.tax_amount,
    lines.refunded_quantity,
    lines.refunded_amount,
    lines.currency
from lines
cross join tenant
