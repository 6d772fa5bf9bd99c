-- Order lines of every source with their order's attributes, keys, line money and what was refunded of them,
-- each under its catalogue SKU (seed product_channel_map maps a channel's seller SKU).
-- A line whose order is not (yet) there -- e.g. its order row was quarantined -- waits for it: inner join,
-- flagged by the warn-level relationships test on stg_files__order_lines.
with lines as (
    select
        tenant_id, 'shopify' as source, line_id, order_id, sku, quantity, unit_price, discount_amount, tax_amount
    from {{ ref('stg_shopify__order_lines') }}

    union all

    select
        tenant_id, 'files' as source, line_id, order_id, sku, quantity, unit_price, discount_amount, tax_amount
    from {{ ref('stg_files__order_lines') }}
    {%- for src in unified_sources('orders') %}

    union all

    select
        tenant_id, '{{ src }}' as source, line_id, order_id, sku, quantity, unit_price, discount_amount, tax_amount
    from {{ ref('stg_' ~ src ~ '__order_lines') }}
    {%- endfor %}
),

gross as (
    select
        lines.*,
        {{ money('quantity * unit_price') }} as gross_amount
    from lines
)

select
    gross.tenant_id,
    {{ surrogate_key(['gross.tenant_id', 'gross.source', 'gross.line_id']) }} as order_line_key,
    orders.order_key,
    gross.source,
    orders.channel,
    gross.order_id,
    gross.line_id,
    -- the catalogue SKU: a marketplace's seller SKU through the tenant's product map, else as reported
    case when gross.sku is not null
        then {{ surrogate_key(['gross.tenant_id', 'coalesce(product_map.sku, gross.sku)']) }}
    end as product_key,
    coalesce(product_map.sku, gross.sku) as sku,
    gross.sku as channel_sku,
    orders.customer_key,
    orders.customer_order_number,
    orders.is_cancelled,
    orders.ordered_at,
    gross.quantity,
    gross.unit_price,
    gross.gross_amount,
    gross.discount_amount,
    {{ money('gross.gross_amount - gross.discount_amount') }} as net_line_amount,
    gross.tax_amount,
    coalesce(refunds.refunded_quantity, 0) as refunded_quantity,
    {{ money('coalesce(refunds.refunded_amount, 0)') }} as refunded_amount,
    orders.currency
from gross
inner join {{ ref('int_orders') }} as orders
    on orders.source = gross.source and orders.order_id = gross.order_id
left join {{ ref('stg_reference__product_channel_map') }} as product_map
    on product_map.channel = orders.channel and product_map.channel_sku = gross.sku
left join {{ ref('int_refunds_per_line') }} as refunds
    on refunds.source = gross.source and refunds.line_id = gross.line_id
