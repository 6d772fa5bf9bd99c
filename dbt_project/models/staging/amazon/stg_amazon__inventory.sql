-- Amazon-held (FBA) stock per SKU and snapshot day. Inbound is everything on its way into Amazon's network
-- (working + shipped + receiving); reserved is Amazon's totalReservedQuantity.
with summaries as (
    select * from {{ tenant_source('amazon', 'inventory_summaries') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    snapshot_date,
    seller_sku as sku,
    'amazon' as channel,
    cast(coalesce(fulfillable_quantity, 0) as bigint) as fulfillable_quantity,
    cast(coalesce(inbound_working_quantity, 0) + coalesce(inbound_shipped_quantity, 0)
         + coalesce(inbound_receiving_quantity, 0) as bigint) as inbound_quantity,
    cast(coalesce(reserved_quantity, 0) as bigint) as reserved_quantity
from summaries
