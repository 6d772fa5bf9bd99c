-- One row per expense line of the current tenant's books (QuickBooks bills and purchases): stock bought from
-- suppliers (cost_category inventory, with its SKU) and operating costs (rent, payroll, software, ...), dated by
-- the transaction date. Tenant-sliced incremental model.
with expenses as (
    select * from {{ ref('stg_quickbooks__expenses') }}
),

tenant as (
    select currency as reporting_currency from {{ ref('stg_platform__tenants') }}
)

select
    expenses.tenant_id,
    {{ surrogate_key(['expenses.tenant_id', "'quickbooks'", 'expenses.expense_id', 'expenses.expense_line_id']) }}
        as expense_line_key,
    'quickbooks' as source,
    expenses.expense_id,
    expenses.expense_line_id,
    expenses.expense_type,
    expenses.txn_date,
    expenses.vendor_name,
    expenses.account_name,
    expenses.cost_category,
    case when expenses.sku is not null then {{ surrogate_key(['expenses.tenant_id', 'expenses.sku']) }} end
        as product_key,
    expenses.sku,
    expenses.quantity,
    expenses.unit_cost,
    {{ money('expenses.amount') }} as amount,
    expenses.currency,
    tenant.reporting_currency,
    {{ fx_rate('expenses.currency', 'tenant.reporting_currency', 'fx.rate') }} as fx_rate,
    {{ to_reporting('expenses.amount', 'expenses.currency', 'tenant.reporting_currency', 'fx.rate') }}
        as amount_reporting
from expenses
cross join tenant
left join {{ ref('int_fx_rates_daily') }} as fx
    on fx.base_currency = expenses.currency and fx.date_day = expenses.txn_date
