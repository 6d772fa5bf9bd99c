-- One row per expense line of the current tenant's books (QuickBooks bills and purchases): stock bought from
-- suppliers (cost_category inventory, with its SKU) and operating costs (rent, payroll, software, ...), dated by
-- the transaction date. Tenant-sliced incremental model.
with expenses as (
    select * from {{ ref('stg_quickbooks__expenses') }}
)

select
    tenant_id,
    {{ surrogate_key(['tenant_id', "'quickbooks'", 'expense_id', 'expense_line_id']) }} as expense_line_key,
    'quickbooks' as source,
    expense_id,
    expense_line_id,
    expense_type,
    txn_date,
    vendor_name,
    account_name,
    cost_category,
    case when sku is not null then {{ surrogate_key(['tenant_id', 'sku']) }} end as product_key,
    sku,
    {{ money('amount') }} as amount,
    currency
from expenses
