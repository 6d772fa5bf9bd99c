-- The current tenant's registry entry (tenants.yaml, landed by the orchestration into raw_platform.tenants).
-- Required: a tenant missing from the registry fails this model's exactly_one_row test, which stops the build.
select
    tenant_id,
    display_name,
    upper(currency) as currency,
    timezone,
    plan_tier,
    data_retention_days,
    updated_at
from {{ source('platform', 'tenants') }}
where tenant_id = '{{ current_tenant() }}'
