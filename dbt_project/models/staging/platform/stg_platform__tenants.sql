-- The current tenant's registry entry.
select
    tenant_id,
    display_name,
    currency,
    timezone,
    plan_tier,
    data_retention_days,
    updated_at
from {{ source('platform', 'tenants') }}
where tenant_id = '{{ current_tenant() }}'
