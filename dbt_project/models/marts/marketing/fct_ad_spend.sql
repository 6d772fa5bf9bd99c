-- One row per ad and day of the current tenant's paid media (Meta today): spend, delivery and the conversions
-- the platform attributes to the ad (its own attribution: a day's conversions settle after the attribution
-- window, which the source re-loads). Tenant-sliced incremental model.
with insights as (
    select * from {{ ref('stg_meta_ads__ad_insights') }}
)

select
    tenant_id,
    {{ surrogate_key(['tenant_id', 'platform', 'ad_id', 'date']) }} as ad_day_key,
    platform,
    date,
    account_id,
    campaign_id,
    campaign_name,
    adset_id,
    adset_name,
    ad_id,
    ad_name,
    currency,
    {{ money('spend') }} as spend,
    cast(impressions as bigint) as impressions,
    cast(clicks as bigint) as clicks,
    cast(conversions as bigint) as conversions,
    {{ money('conversion_value') }} as conversion_value
from insights
