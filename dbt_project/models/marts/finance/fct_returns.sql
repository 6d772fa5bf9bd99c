-- One row per returned line of the current tenant as the channel reports the return (Amazon's FBA customer
-- returns report, Walmart's returns API): units, the customer's reason and the returned goods' disposition,
-- dated by the return. The money refunded is in fct_refunds. Tenant-sliced incremental model.
with returns as (
    {%- for src in unified_sources('returns') %}
    {%- if not loop.first %}

    union all
    {% endif %}
    select tenant_id, '{{ src }}' as source, return_id, order_id, line_id, sku, returned_at, returned_quantity,
           reason, disposition, channel
    from {{ ref('stg_' ~ src ~ '__returns') }}
    {%- endfor %}
),

tenant as (
    select timezone from {{ ref('stg_platform__tenants') }}
),

mapped as (
    -- the catalogue SKU of the channel's seller SKU (seed product_channel_map), as for order lines
    select returns.*, coalesce(product_map.sku, returns.sku) as catalogue_sku
    from returns
    left join {{ ref('stg_reference__product_channel_map') }} as product_map
        on product_map.channel = returns.channel and product_map.channel_sku = returns.sku
)

select
    returns.tenant_id,
    {{ surrogate_key(['returns.tenant_id', 'returns.source', 'returns.return_id']) }} as return_key,
    returns.source,
    returns.channel,
    {{ surrogate_key(['returns.tenant_id', 'returns.source', 'returns.order_id']) }} as order_key,
    case when returns.line_id is not null
        then {{ surrogate_key(['returns.tenant_id', 'returns.source', 'returns.line_id']) }}
    end as order_line_key,
    case when returns.sku is not null then {{ surrogate_key(['returns.tenant_id', 'returns.catalogue_sku']) }} end
        as product_key,
    returns.return_id,
    returns.catalogue_sku as sku,
    returns.sku as channel_sku,
    returns.returned_at,
    {{ local_date('returns.returned_at', 'tenant.timezone') }} as return_date,
    cast(returns.returned_quantity as bigint) as returned_quantity,
    returns.reason,
    returns.disposition
from mapped as returns
cross join tenant
