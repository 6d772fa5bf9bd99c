-- GA4 daily traffic of the current tenant in our vocabulary: one row per property day × session source ×
-- medium × campaign. conversions are GA4 key events (the purchase event); revenue in the property currency.
with traffic as (
    select * from {{ tenant_source('ga4', 'traffic') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    cast(traffic.date as date) as date,
    session_source,
    session_medium,
    session_campaign_name as session_campaign,
    session_default_channel_group as channel_group,
    cast(sessions as bigint) as sessions,
    cast(total_users as bigint) as total_users,
    cast(key_events as bigint) as conversions,
    {{ money('purchase_revenue') }} as purchase_revenue,
    currency_code as currency
from traffic
