-- The rate to the tenant's reporting currency for every calendar day and currency the tenant has rates for:
-- the rate published on that day, else the last one published before it (weekends, TARGET holidays) -- at most
-- {{ var('fx_carry_forward_days', 7) }} days back, so a rates feed that stopped shows up as missing conversions
-- instead of silently stale ones. The reporting currency itself needs no rate (macros/fx.sql: rate 1).
{%- set carry = var('fx_carry_forward_days', 7) %}
with tenant as (
    select currency as reporting_currency from {{ ref('stg_platform__tenants') }}
),

rates as (
    select rates.base_currency, rates.rate_date, rates.rate
    from {{ ref('stg_fx_rates__daily_rates') }} as rates
    inner join tenant
        on rates.quote_currency = tenant.reporting_currency
    where rates.base_currency <> tenant.reporting_currency
),

days as (
    {{ day_spine('(select min(rate_date) from rates)',
                 '(select ' ~ dbt.dateadd('day', carry, 'max(rate_date)') ~ ' from rates)') }}
),

currencies as (
    select distinct base_currency from rates
),

latest_published as (
    select
        days.date_day,
        currencies.base_currency,
        max(rates.rate_date) as published_on
    from days
    cross join currencies
    inner join rates
        on rates.base_currency = currencies.base_currency
        and rates.rate_date <= days.date_day
        and rates.rate_date >= {{ dbt.dateadd('day', -carry, 'days.date_day') }}
    group by days.date_day, currencies.base_currency
)

select
    latest_published.date_day,
    latest_published.base_currency,
    latest_published.published_on,
    rates.rate
from latest_published
inner join rates
    on rates.base_currency = latest_published.base_currency
    and rates.rate_date = latest_published.published_on
