-- One product per SKU across sources (Shopify's catalogue wins where both describe a SKU). A SKU sold but
-- missing from every catalogue still gets a row, so no line loses its product.
with catalogue as (
    select tenant_id, sku, title, category, price, unit_cost, 1 as priority, 'shopify' as source
    from {{ ref('stg_shopify__products') }}

    union all

    select tenant_id, sku, title, category, price, unit_cost, 2 as priority, 'files' as source
    from {{ ref('stg_files__products') }}
),

ranked as (
    select
        *,
        row_number() over (partition by sku order by priority) as rank_in_sku
    from catalogue
    where sku is not null
),

sold as (
    select tenant_id, sku
    from {{ ref('int_order_lines') }}
    group by tenant_id, sku
),

skus as (
    select tenant_id, sku from ranked where rank_in_sku = 1
    union
    select tenant_id, sku from sold
)

select
    skus.tenant_id,
    {{ surrogate_key(['skus.tenant_id', 'skus.sku']) }} as product_key,
    skus.sku,
    ranked.title,
    ranked.category,
    ranked.price,
    ranked.unit_cost,
    exists (select 1 from catalogue where catalogue.sku = skus.sku and catalogue.source = 'shopify')
        as in_shopify,
    exists (select 1 from catalogue where catalogue.sku = skus.sku and catalogue.source = 'files') as in_files,
    ranked.sku is not null as has_catalogue_record
from skus
left join ranked
    on ranked.sku = skus.sku and ranked.rank_in_sku = 1
