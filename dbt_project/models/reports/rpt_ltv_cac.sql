{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, report_key)',
    'btree (tenant_id, cohort_month)',
]) }}")) }}
-- LTV against CAC per acquisition category × acquisition channel × cohort month (dim_customers' first order).
-- LTV_N = contribution per customer of ALL the cohort's orders placed within N days of the customer's first
-- order day (day 0 = that day, so days 0..N-1), null until every customer's window is over (as of the tenant's
-- latest order day). Contribution of an order = CM2 as cube_channel_daily defines it, order-attributed: net
-- revenue (net sales − refunds) − COGS − channel fees (fct_fees of the order) − payment fee − net shipping cost
-- (shipping cost − shipping charged). Cancelled orders count for nothing (as in dim_customers' history).
-- CAC: blended = all ad spend of the cohort month / all new customers of the month; new-customer CAC = the ad
-- spend attributed to the acquisition channel that month / the channel's new customers of the month (null where
-- no spend is attributed). Payback month: first month since the cohort month whose cumulative contribution per
-- customer reaches the CAC (null: not yet, or no CAC). Tenant-sliced shared report (dbt_project.yml).
{%- set windows = [30, 90, 180, 365] %}
with customers as (
    select
        customer_key,
        first_order_date,
        first_order_month as cohort_month,
        acquisition_channel,
        coalesce(acquisition_category, 'uncategorized') as acquisition_category
    from {{ ref('dim_customers') }}
    -- acquired = at least one order not cancelled, as in rpt_cohort_retention
    where tenant_id = '{{ current_tenant() }}' and first_order_month is not null and order_count > 0
),

order_fees as (
    select order_key, sum(amount_reporting) as channel_fees
    from {{ ref('fct_fees') }}
    where tenant_id = '{{ current_tenant() }}' and order_key is not null
    group by order_key
),

orders as (
    select
        orders.customer_key,
        orders.order_date,
        cast({{ dbt.date_trunc('month', 'orders.order_date') }} as date) as order_month,
        orders.net_revenue_reporting
            - coalesce(orders.cogs_amount_reporting, 0)
            - coalesce(order_fees.channel_fees, 0)
            - coalesce(orders.payment_fee_reporting, 0)
            - (coalesce(orders.shipping_cost_reporting, 0) - orders.shipping_amount_reporting) as contribution
    from {{ ref('fct_orders') }} as orders
    left join order_fees
        on order_fees.order_key = orders.order_key
    where orders.tenant_id = '{{ current_tenant() }}' and orders.customer_key is not null
        and not orders.is_cancelled
),

as_of as (
    select max(order_date) as as_of_date
    from {{ ref('fct_orders') }}
    where tenant_id = '{{ current_tenant() }}'
),

customer_orders as (
    select
        customers.cohort_month,
        customers.acquisition_channel,
        customers.acquisition_category,
        cast({{ dbt.datediff('customers.first_order_date', 'orders.order_date', 'day') }} as integer) as day_offset,
        cast({{ dbt.datediff('customers.cohort_month', 'orders.order_month', 'month') }} as integer)
            as month_offset,
        orders.contribution
    from customers
    inner join orders
        on orders.customer_key = customers.customer_key
),

cohorts as (
    select
        cohort_month,
        acquisition_channel,
        acquisition_category,
        count(*) as new_customers,
        max(first_order_date) as last_first_order_date
    from customers
    group by cohort_month, acquisition_channel, acquisition_category
),

windows as (
    select
        cohort_month,
        acquisition_channel,
        acquisition_category
        {%- for n in windows %},
        sum(case when day_offset >= 0 and day_offset < {{ n }} then contribution else 0 end) as contribution_{{ n }}d
        {%- endfor %}
    from customer_orders
    group by cohort_month, acquisition_channel, acquisition_category
),

-- new customers per month, and per month and channel (all categories): CAC denominators
month_customers as (
    select cohort_month, count(*) as new_customers from customers group by cohort_month
),

channel_customers as (
    select cohort_month, acquisition_channel, count(*) as new_customers
    from customers
    group by cohort_month, acquisition_channel
),

spend as (
    select cast({{ dbt.date_trunc('month', 'date') }} as date) as spend_month, channel, spend_reporting
    from {{ ref('fct_ad_spend') }}
    where tenant_id = '{{ current_tenant() }}'
),

month_spend as (
    select spend_month, sum(spend_reporting) as ad_spend from spend group by spend_month
),

channel_spend as (
    select spend_month, channel, sum(spend_reporting) as ad_spend
    from spend
    where channel is not null
    group by spend_month, channel
),

cac as (
    select
        cohorts.*,
        month_customers.new_customers as month_new_customers,
        {{ money('month_spend.ad_spend') }} as month_ad_spend,
        channel_customers.new_customers as channel_new_customers,
        {{ money('channel_spend.ad_spend') }} as channel_ad_spend,
        {{ ratio('month_spend.ad_spend', 'month_customers.new_customers', 2) }} as blended_cac,
        {{ ratio('channel_spend.ad_spend', 'channel_customers.new_customers', 2) }} as new_customer_cac
    from cohorts
    inner join month_customers
        on month_customers.cohort_month = cohorts.cohort_month
    inner join channel_customers
        on channel_customers.cohort_month = cohorts.cohort_month
        and channel_customers.acquisition_channel = cohorts.acquisition_channel
    left join month_spend
        on month_spend.spend_month = cohorts.cohort_month
    left join channel_spend
        on channel_spend.spend_month = cohorts.cohort_month
        and channel_spend.channel = cohorts.acquisition_channel
),

monthly as (
    select cohort_month, acquisition_channel, acquisition_category, month_offset, sum(contribution) as contribution
    from customer_orders
    group by cohort_month, acquisition_channel, acquisition_category, month_offset
),

cumulative as (
    select
        cohort_month,
        acquisition_channel,
        acquisition_category,
        month_offset,
        sum(contribution) over (
            partition by cohort_month, acquisition_channel, acquisition_category
            order by month_offset
            rows between unbounded preceding and current row
        ) as cumulative_contribution
    from monthly
),

per_customer as (
    select
        cumulative.cohort_month,
        cumulative.acquisition_channel,
        cumulative.acquisition_category,
        cumulative.month_offset,
        {{ ratio('cumulative.cumulative_contribution', 'cac.new_customers', 2) }}
            as cumulative_contribution_per_customer,
        cac.blended_cac,
        cac.new_customer_cac
    from cumulative
    inner join cac
        on cac.cohort_month = cumulative.cohort_month
        and cac.acquisition_channel = cumulative.acquisition_channel
        and cac.acquisition_category = cumulative.acquisition_category
),

payback as (
    select
        cohort_month,
        acquisition_channel,
        acquisition_category,
        min(case when cumulative_contribution_per_customer >= new_customer_cac then month_offset end)
            as payback_month,
        min(case when cumulative_contribution_per_customer >= blended_cac then month_offset end)
            as blended_payback_month
    from per_customer
    group by cohort_month, acquisition_channel, acquisition_category
),

tenant as (
    select currency from {{ ref('dim_tenants') }} where tenant_id = '{{ current_tenant() }}'
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'cac.acquisition_category', 'cac.acquisition_channel',
                      'cac.cohort_month']) }} as report_key,
    cac.acquisition_category,
    cac.acquisition_channel,
    cac.cohort_month,
    cast(cac.new_customers as bigint) as new_customers
    {%- for n in windows %},
    -- cast again: a CASE loses decimal(18,2)'s precision and scale on PostgreSQL
    cast(case when {{ dbt.datediff('cac.last_first_order_date', 'as_of.as_of_date', 'day') }} >= {{ n - 1 }}
        then {{ ratio('coalesce(windows.contribution_' ~ n ~ 'd, 0)', 'cac.new_customers', 2) }}
    end as decimal(18, 2)) as ltv_{{ n }}d
    {%- endfor %},
    cast(cac.month_new_customers as bigint) as month_new_customers,
    cac.month_ad_spend,
    cac.blended_cac,
    cast(cac.channel_new_customers as bigint) as channel_new_customers,
    cac.channel_ad_spend,
    cac.new_customer_cac,
    cast(payback.payback_month as integer) as payback_month,
    cast(payback.blended_payback_month as integer) as blended_payback_month,
    tenant.currency as reporting_currency
from cac
left join windows
    on windows.cohort_month = cac.cohort_month
    and windows.acquisition_channel = cac.acquisition_channel
    and windows.acquisition_category = cac.acquisition_category
left join payback
    on payback.cohort_month = cac.cohort_month
    and payback.acquisition_channel = cac.acquisition_channel
    and payback.acquisition_category = cac.acquisition_category
cross join as_of
cross join tenant
