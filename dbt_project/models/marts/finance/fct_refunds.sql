-- One row per refunded order line of the current tenant, every source: what came back and what was paid back,
-- dated both by the refund (refund_date: cash view) and by the order it belongs to (order_date: the view
-- cohort and return-rate reports use). Merchandise after discount; refunded tax apart. Tenant-sliced.
with refunds as (
    {%- for src in ['shopify'] + unified_sources('refunds') %}
    {%- if not loop.first %}

    union all
    {% endif %}
    select tenant_id, '{{ src }}' as source, refund_line_id, order_id, line_id, refunded_at, refunded_quantity,
           refunded_amount, refunded_tax_amount
    from {{ ref('stg_' ~ src ~ '__refunds') }}
    {%- endfor %}
),

tenant as (
    select timezone from {{ ref('stg_platform__tenants') }}
)

select
    refunds.tenant_id,
    {{ surrogate_key(['refunds.tenant_id', 'refunds.source', 'refunds.refund_line_id']) }} as refund_line_key,
    orders.order_key,
    {{ surrogate_key(['refunds.tenant_id', 'refunds.source', 'refunds.line_id']) }} as order_line_key,
    refunds.source,
    orders.channel,
    refunds.refund_line_id,
    refunds.order_id,
    refunds.line_id,
    refunds.refunded_at,
    {{ local_date('refunds.refunded_at', 'tenant.timezone') }} as refund_date,
    {{ local_date('orders.ordered_at', 'tenant.timezone') }} as order_date,
    cast(refunds.refunded_quantity as bigint) as refunded_quantity,
    {{ money('refunds.refunded_amount') }} as refunded_amount,
    {{ money('refunds.refunded_tax_amount') }} as refunded_tax_amount,
    orders.currency
from refunds
-- a refund of an order not (yet) landed waits for it, as order lines do (int_order_lines)
inner join {{ ref('int_orders') }} as orders
    on orders.source = refunds.source and orders.order_id = refunds.order_id
cross join tenant
