{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, product_cost_key)',
    'btree (tenant_id, sku, valid_from)',
    'btree (tenant_id, sku) where valid_to is null',
]) }}")) }}
-- The current tenant's unit cost history per SKU, valid_from (inclusive) to valid_to (exclusive; null = in force
-- now). Where the books hold stock receipts (QuickBooks bills: units received at a unit cost), each change of the
-- unit paid starts a new version on the receipt's date; a SKU without receipts keeps its catalogue cost
-- (Shopify's inventory item cost, else the file drop's) as one open version. The first version of a SKU also
-- covers the days before it (valid_from 1900-01-01: stock sold before the first receipt on record was bought at
-- the earliest cost known). fct_order_lines costs each line at the version in force on its order date.
with receipts as (
    select sku, txn_date, unit_cost, currency, expense_line_id
    from {{ ref('stg_quickbooks__expenses') }}
    where cost_category = 'inventory' and sku is not null and unit_cost is not null and quantity > 0
),

receipt_changes as (
    select
        receipts.*,
        lag(unit_cost) over (partition by sku order by txn_date, expense_line_id) as previous_cost
    from receipts
),

receipt_versions as (
    select sku, txn_date as changed_on, unit_cost, currency, 'quickbooks_bill' as cost_source
    from receipt_changes
    where previous_cost is null or previous_cost <> unit_cost
),

tenant as (
    select currency from {{ ref('stg_platform__tenants') }}
),

catalogue as (
    select
        products.sku,
        products.unit_cost,
        row_number() over (partition by products.sku order by products.source_priority) as catalogue_rank,
        products.cost_source
    from (
        select sku, unit_cost, 1 as source_priority, 'shopify' as cost_source
        from {{ ref('stg_shopify__products') }}
        where sku is not null and unit_cost is not null
        union all
        select sku, unit_cost, 2 as source_priority, 'files' as cost_source
        from {{ ref('stg_files__products') }}
        where sku is not null and unit_cost is not null
    ) as products
),

catalogue_versions as (
    select
        catalogue.sku,
        cast(null as date) as changed_on,
        catalogue.unit_cost,
        tenant.currency,
        catalogue.cost_source
    from catalogue
    cross join tenant
    where catalogue.catalogue_rank = 1
        and catalogue.sku not in (select sku from receipt_versions)
),

versions as (
    select * from receipt_versions
    union all
    select * from catalogue_versions
),

dated as (
    select
        versions.*,
        row_number() over (partition by sku order by changed_on nulls first) as version_number,
        lead(changed_on) over (partition by sku order by changed_on nulls first) as next_change
    from versions
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'sku', 'version_number']) }} as product_cost_key,
    {{ surrogate_key([tenant_id_literal(), 'sku']) }} as product_key,
    sku,
    cast(version_number as bigint) as version_number,
    case when version_number = 1 then cast('1900-01-01' as date) else changed_on end as valid_from,
    next_change as valid_to,
    changed_on as first_seen_on,
    {{ unit_price('unit_cost') }} as unit_cost,
    currency,
    cost_source
from dated
