{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, inventory_snapshot_key)',
    'btree (tenant_id, product_key, snapshot_date)',
    'brin (snapshot_date)',
]) }}")) }}
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
),

mapped as (
    -- the catalogue SKU of the channel's seller SKU (seed product_channel_map), as for order lines
    select snapshots.*, coalesce(product_map.sku, snapshots.sku) as catalogue_sku
    from snapshots
    left join {{ ref('stg_reference__product_channel_map') }} as product_map
        on product_map.channel = snapshots.channel and product_map.channel_sku = snapshots.sku
)

select
    tenant_id,
    {{ surrogate_key(['tenant_id', 'channel', 'sku', 'snapshot_date']) }} as inventory_snapshot_key,
    snapshot_date,
    channel,
    {{ surrogate_key(['tenant_id', 'catalogue_sku']) }} as product_key,
    catalogue_sku as sku,
    sku as channel_sku,
    cast(fulfillable_quantity as bigint) as fulfillable_quantity,
    cast(inbound_quantity as bigint) as inbound_quantity,
    cast(reserved_quantity as bigint) as reserved_quantity
from mapped
