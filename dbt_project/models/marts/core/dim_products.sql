{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, product_key)',
    'btree (tenant_id, sku)',
    'gin (channel_ids)',
    'btree (tenant_id, product_key) where not has_catalogue_record',
]) }}")) }}
-- The current tenant's products, one row per catalogue SKU across sources and channels. Attributes come from the
-- first catalogue that describes the SKU: Shopify's (its most recently updated variant), else the file drop's. A
-- SKU sold but in no catalogue still gets a row (attributes null), so no order line loses its product.
-- channel_ids: the SKU's identity on each marketplace (seed product_channel_map: {"amazon": ASIN, "walmart":
-- item id}); unit_cost is the cost in force now (its history: dim_product_costs).
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

channel_ids as (
    select sku, {{ json_object_agg('channel', 'channel_product_id') }} as channel_ids
    from {{ ref('stg_reference__product_channel_map') }}
    where channel_product_id is not null
    group by sku
),

current_costs as (
    select sku, unit_cost, currency
    from {{ ref('dim_product_costs') }}
    where tenant_id = '{{ current_tenant() }}' and valid_to is null
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
    coalesce(current_costs.unit_cost, best_record.unit_cost) as unit_cost,
    current_costs.currency as cost_currency,
    channel_ids.channel_ids,
    skus.sources,
    best_record.sku is not null as has_catalogue_record
from skus
left join best_record
    on best_record.sku = skus.sku and best_record.record_rank = 1
left join current_costs
    on current_costs.sku = skus.sku
left join channel_ids
    on channel_ids.sku = skus.sku
