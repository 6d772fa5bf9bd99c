-- The current tenant's registry entry as a dimension row (tenant-sliced like every mart in core/).
select
    tenant_id,
    display_name,
    currency,
    timezone,
    plan_tier,
    data_retention_days,
    updated_at
from {{ ref('stg_platform__tenants') }}
