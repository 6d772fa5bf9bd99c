-- Variant grain: one row per SKU sold on the shop.
with variants as (
    select * from {{ tenant_source('shopify', 'product_variants') }} as src
),

products as (
    select * from {{ tenant_source('shopify', 'products') }} as src
)

select
    '{{ current_tenant() }}' as tenant_id,
    variants.sku,
    variants.id as variant_id,
    products.id as product_id,
    case
        when variants.title = 'Default Title' then products.title
        else products.title || ' ' || variants.title
    end as title,
    products.product_type as category,
    products.vendor,
    cast(variants.price_amount as decimal(18, 4)) as price,
    cast(variants.unit_cost_amount as decimal(18, 4)) as unit_cost
from variants
inner join products on products.id = variants.product_id
