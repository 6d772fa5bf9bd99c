-- The current tenant's rows of the product map seed: channel listing -> catalogue SKU.
select
    tenant_id,
    channel,
    trim(channel_sku) as channel_sku,
    nullif(trim(channel_product_id), '') as channel_product_id,
    trim(sku) as sku
from {{ ref('product_channel_map') }}
where tenant_id = '{{ current_tenant() }}'
