-- One row per day and traffic source (source / medium / campaign) of the current tenant's web analytics (GA4):
-- sessions, users, purchase conversions and purchase revenue, with GA4's default channel group. Dates are the
-- property's (= the tenant's) local days. Tenant-sliced incremental model.
with traffic as (
    select * from {{ ref('stg_ga4__traffic') }}
)

select
    tenant_id,
    {{ surrogate_key(['tenant_id', 'date', 'session_source', 'session_medium', 'session_campaign']) }}
        as traffic_key,
    date,
    session_source,
    session_medium,
    session_campaign,
    channel_group,
    cast(sessions as bigint) as sessions,
    cast(total_users as bigint) as total_users,
    cast(conversions as bigint) as conversions,
    {{ money('purchase_revenue') }} as purchase_revenue,
    currency
from traffic
