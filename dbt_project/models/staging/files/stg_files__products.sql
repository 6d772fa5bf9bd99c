-- The catalogue from the current tenant's file drop, one row per SKU.
with products as (
    select * from {{ tenant_source('files', 'products') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    sku,
    title,
    category,
    {{ unit_price('price') }} as price,
    {{ unit_price('unit_cost') }} as unit_cost
from products
