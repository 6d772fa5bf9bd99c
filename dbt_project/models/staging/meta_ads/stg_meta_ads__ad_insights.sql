-- Meta ads Insights of the current tenant, one row per ad and day, in the unified ad-spend contract
-- (tenant_id, platform, date, account/campaign/adset/ad ids and names, currency, spend, impressions, clicks,
-- conversions, conversion_value). Dates are the ad account's local days.
with insights as (
    select * from {{ tenant_source('meta_ads', 'ad_insights') }} as src
)

select
    {{ tenant_id_literal() }} as tenant_id,
    cast('meta' as {{ dbt.type_string() }}) as platform,
    cast(date_start as date) as date,
    account_id,
    campaign_id,
    campaign_name,
    adset_id,
    adset_name,
    ad_id,
    ad_name,
    upper(account_currency) as currency,
    {{ money('coalesce(spend, 0)') }} as spend,
    cast(coalesce(impressions, 0) as {{ dbt.type_bigint() }}) as impressions,
    cast(coalesce(clicks, 0) as {{ dbt.type_bigint() }}) as clicks,
    cast(coalesce(conversions, 0) as {{ dbt.type_bigint() }}) as conversions,
    {{ money('coalesce(conversion_value, 0)') }} as conversion_value
from insights
