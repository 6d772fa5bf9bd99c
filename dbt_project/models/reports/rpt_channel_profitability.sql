{{ config(post_hook=after_commit("{{ pg_indexes(['btree (tenant_id, report_key)', 'btree (tenant_id, month)']) }}")) }}
-- Channel profitability, contribution margins CM1..CM3 per month and sales channel, summed from
-- cube_channel_daily (event-dated: sales and COGS on the order day, refunds on the refund day, fees on their
-- posted day, ad spend on its day; all in the reporting currency), with the cube's definitions:
--   cm1 = net_sales - cogs
--   cm2 = cm1 - channel_fees - payment_fees - net_shipping_cost - refunds  (net shipping = cost - charged)
--   cm3 = cm2 - ad_spend
-- Margins are shares of net sales. A month is complete once the cube has a later day. Tenant-sliced shared
-- report (dbt_project.yml).
with daily as (
    select
        cast({{ dbt.date_trunc('month', 'date') }} as date) as month,
        channel,
        reporting_currency,
        orders,
        new_customer_orders,
        units,
        net_sales,
        shipping_revenue,
        refunds,
        cogs,
        channel_fees,
        payment_fees,
        shipping_cost,
        ad_spend
    from {{ ref('cube_channel_daily') }}
    where tenant_id = '{{ current_tenant() }}'
),

latest as (
    select max(date) as latest_date
    from {{ ref('cube_channel_daily') }}
    where tenant_id = '{{ current_tenant() }}'
),

monthly as (
    select
        month,
        channel,
        reporting_currency,
        cast(sum(orders) as bigint) as orders,
        cast(sum(new_customer_orders) as bigint) as new_customer_orders,
        cast(sum(units) as bigint) as units,
        {{ money('sum(net_sales)') }} as net_sales,
        {{ money('sum(shipping_revenue)') }} as shipping_revenue,
        {{ money('sum(cogs)') }} as cogs,
        {{ money('sum(channel_fees)') }} as channel_fees,
        {{ money('sum(payment_fees)') }} as payment_fees,
        {{ money('sum(shipping_cost)') }} as shipping_cost,
        {{ money('sum(shipping_cost) - sum(shipping_revenue)') }} as net_shipping_cost,
        {{ money('sum(refunds)') }} as refunds,
        {{ money('sum(ad_spend)') }} as ad_spend
    from daily
    group by month, channel, reporting_currency
),

margins as (
    select
        monthly.*,
        {{ money('net_sales - cogs') }} as cm1,
        {{ money('net_sales - cogs - channel_fees - payment_fees - net_shipping_cost - refunds') }} as cm2,
        {{ money('net_sales - cogs - channel_fees - payment_fees - net_shipping_cost - refunds - ad_spend') }}
            as cm3
    from monthly
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'margins.month', 'margins.channel']) }} as report_key,
    margins.month,
    margins.channel,
    margins.orders,
    margins.new_customer_orders,
    margins.units,
    margins.net_sales,
    margins.shipping_revenue,
    margins.cogs,
    margins.cm1,
    {{ ratio('margins.cm1', 'margins.net_sales', 4) }} as cm1_margin,
    margins.channel_fees,
    margins.payment_fees,
    margins.shipping_cost,
    margins.net_shipping_cost,
    margins.refunds,
    margins.cm2,
    {{ ratio('margins.cm2', 'margins.net_sales', 4) }} as cm2_margin,
    margins.ad_spend,
    margins.cm3,
    {{ ratio('margins.cm3', 'margins.net_sales', 4) }} as cm3_margin,
    {{ ratio('margins.net_sales', 'margins.orders', 2) }} as aov,
    cast({{ dbt.last_day('margins.month', 'month') }} as date) < latest.latest_date as is_month_complete,
    margins.reporting_currency
from margins
cross join latest
