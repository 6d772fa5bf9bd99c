-- The current tenant's QuickBooks items with their current sales price and purchase cost (one row per item).
-- The purchase cost is the one in force now; its history is not kept by QBO's query API (each change bumps
-- updated_at and replaces the landed row).
with items as (
    select * from {{ tenant_source('quickbooks', 'items') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    id as item_id,
    nullif(trim(sku), '') as sku,
    name as item_name,
    {{ unit_price('unit_price') }} as unit_price,
    {{ unit_price('purchase_cost') }} as purchase_cost,
    currency,
    updated_at
from items
