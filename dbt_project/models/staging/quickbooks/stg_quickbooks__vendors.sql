-- The current tenant's suppliers and payees in its books (QuickBooks vendors), one row per vendor.
with vendors as (
    select * from {{ tenant_source('quickbooks', 'vendors') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    id as vendor_id,
    display_name as vendor_name,
    company_name,
    active as is_active,
    currency,
    {{ money('coalesce(balance, 0)') }} as open_balance,
    updated_at
from vendors
