-- The Shopify catalogue at variant grain (one row per variant, i.e. per SKU sold). A variant whose product has
-- not landed yet keeps its row with the product's attributes null.
with variants as (
    select * from {{ tenant_source('shopify', 'product_variants') }} as src
),

products as (
    select * from {{ tenant_source('shopify', 'products') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    variants.id as variant_id,
    variants.product_id,
    nullif(trim(variants.sku), '') as sku,
    case
        when variants.title is null or variants.title = 'Default Title' then products.title
        else {{ dbt.concat(["coalesce(products.title, '')", "' - '", "variants.title"]) }}
    end as title,
    products.product_type as category,
    products.vendor,
    products.status,
    {{ unit_price('variants.price_amount') }} as price,
    {{ unit_price('variants.unit_cost_amount') }} as unit_cost,
    variants.updated_at
from variants
left join products
    on products.id = variants.product_id
