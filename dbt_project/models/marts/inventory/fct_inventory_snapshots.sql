-- One row per SKU, channel and snapshot day of stock held where the tenant sells (marketplace-held stock such
-- as Amazon FBA today): fulfillable, inbound and reserved units. Tenant-sliced incremental model.
with snapshots as (
    {%- for src in unified_sources('inventory') %}
    {%- if not loop.first %}

    union all
    {% endif %}
    select tenant_id, snapshot_date, sku, channel, fulfillable_quantity, inbound_quantity, reserved_quantity
    from {{ ref('stg_' ~ src ~ '__inventory') }}
    {%- endfor %}
)

select
    tenant_id,
    {{ surrogate_key(['tenant_id', 'channel', 'sku', 'snapshot_date']) }} as inventory_snapshot_key,
    snapshot_date,
    channel,
    {{ surrogate_key(['tenant_id', 'sku']) }} as product_key,
    sku,
    cast(fulfillable_quantity as bigint) as fulfillable_quantity,
    cast(inbound_quantity as bigint) as inbound_quantity,
    cast(reserved_quantity as bigint) as reserved_quantity
from snapshots
