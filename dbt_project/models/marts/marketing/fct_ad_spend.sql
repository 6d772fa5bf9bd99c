{{ config(post_hook=after_commit("{{ pg_indexes(['btree (tenant_id, ad_day_key)', 'brin (date)']) }}")) }}
-- One row per ad and day of the current tenant's paid media (Meta today): spend, delivery and the conversions
-- the platform attributes to the ad (its own attribution: a day's conversions settle after the attribution
-- window, which the source re-loads). Tenant-sliced incremental model.
with insights as (
    select * from {{ ref('stg_meta_ads__ad_insights') }}
),

tenant as (
    select currency as reporting_currency from {{ ref('stg_platform__tenants') }}
)

select
    insights.tenant_id,
    {{ surrogate_key(['insights.tenant_id', 'insights.platform', 'insights.ad_id', 'insights.date']) }}
        as ad_day_key,
    insights.platform,
    -- the sales channel its spend is attributed to (seed ad_spend_channels; a platform not in it: none, warned)
    attribution.channel,
    insights.date,
    insights.account_id,
    insights.campaign_id,
    insights.campaign_name,
    insights.adset_id,
    insights.adset_name,
    insights.ad_id,
    insights.ad_name,
    insights.currency,
    {{ money('insights.spend') }} as spend,
    cast(insights.impressions as bigint) as impressions,
    cast(insights.clicks as bigint) as clicks,
    cast(insights.conversions as bigint) as conversions,
    {{ money('insights.conversion_value') }} as conversion_value,
    tenant.reporting_currency,
    {{ fx_rate('insights.currency', 'tenant.reporting_currency', 'fx.rate') }} as fx_rate,
    {{ to_reporting('insights.spend', 'insights.currency', 'tenant.reporting_currency', 'fx.rate') }}
        as spend_reporting,
    {{ to_reporting('insights.conversion_value', 'insights.currency', 'tenant.reporting_currency', 'fx.rate') }}
        as conversion_value_reporting
from insights
cross join tenant
left join {{ ref('ad_spend_channels') }} as attribution
    on attribution.platform = insights.platform
left join {{ ref('int_fx_rates_daily') }} as fx
    on fx.base_currency = insights.currency and fx.date_day = insights.date
