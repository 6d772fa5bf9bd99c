-- The current tenant's products, one row per SKU across sources. Attributes come from the first catalogue that
-- describes the SKU: Shopify's (its most recently updated variant), else the file drop's. A SKU sold but in no
-- catalogue still gets a row (attributes null), so no order line loses its product.
with catalogue as (
    select
        sku, title, category, price, unit_cost, 'shopify' as source,
        1 as source_priority, updated_at, variant_id as record_id
    from {{ ref('stg_shopify__products') }}
    where sku is not null

    union all

    select
        sku, title, category, price, unit_cost, 'files' as source,
        2 as source_priority, cast(null as timestamp with time zone) as updated_at, sku as record_id
    from {{ ref('stg_files__products') }}
    where sku is not null
),

best_record as (
    select
        *,
        row_number() over (
            partition by sku
            order by source_priority, updated_at desc nulls last, record_id
        ) as record_rank
    from catalogue
),

seen as (
    select sku, source from catalogue
    union
    select sku, source from {{ ref('int_order_lines') }} where sku is not null
),

skus as (
    select
        sku,
        {{ dbt.listagg('source', "', '", 'order by source') }} as sources
    from seen
    group by sku
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'skus.sku']) }} as product_key,
    skus.sku,
    best_record.title,
    best_record.category,
    best_record.price,
    best_record.unit_cost,
    skus.sources,
    best_record.sku is not null as has_catalogue_record
from skus
left join best_record
    on best_record.sku = skus.sku and best_record.record_rank = 1
