{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    full_refresh=false,
    pre_hook="{{ delete_tenant_slice() }}",
    post_hook=after_commit("{{ pg_indexes([
        'btree (tenant_id, cube_key)', 'btree (tenant_id, date)', 'brin (date)',
    ]) }}"),
) }}
-- The channel cube: one row per tenant, day and channel, in the reporting currency, with every cost the channel
-- carries -- the rollup channel profitability (CM1-CM3) and CAC read. Cancelled orders are not purchases: their
-- sales and refunds stay out. Orders-side measures on the order date
-- (orders, new-customer orders, units, net sales, shipping charged, COGS, estimated card and shipping costs),
-- refunds on the refund date, channel fees on their posting date, ad spend on its day, attributed to the channel
-- its platform sells through (seed ad_spend_channels). Small (days x channels), so rebuilt per tenant whole.
--   cm1 = net_sales - cogs
--   cm2 = cm1 - channel_fees - payment_fees - net_shipping_cost - refunds
--         (net_shipping_cost = shipping_cost - shipping_revenue: what shipping costs beyond what customers paid)
--   cm3 = cm2 - ad_spend
with orders as (
    select
        order_date as date,
        channel,
        count(*) as orders,
        sum(case when customer_segment = 'new' then 1 else 0 end) as new_customer_orders,
        sum(units) as units,
        sum(gross_amount_reporting - discount_amount_reporting) as net_sales,
        sum(shipping_amount_reporting) as shipping_revenue,
        sum(coalesce(cogs_amount_reporting, 0)) as cogs,
        sum(coalesce(payment_fee_reporting, 0)) as payment_fees,
        sum(coalesce(shipping_cost_reporting, 0)) as shipping_cost
    from {{ ref('fct_orders') }}
    where tenant_id = '{{ current_tenant() }}' and not is_cancelled
    group by order_date, channel
),

refunds as (
    select refunds.refund_date as date, refunds.channel, sum(refunds.refunded_amount_reporting) as refunds
    from {{ ref('fct_refunds') }} as refunds
    inner join {{ ref('fct_orders') }} as orders
        on orders.order_key = refunds.order_key and orders.tenant_id = refunds.tenant_id
    where refunds.tenant_id = '{{ current_tenant() }}' and not orders.is_cancelled
    group by refunds.refund_date, refunds.channel
),

fees as (
    select posted_date as date, channel, sum(amount_reporting) as channel_fees
    from {{ ref('fct_fees') }}
    where tenant_id = '{{ current_tenant() }}'
    group by posted_date, channel
),

ads as (
    select date, channel, sum(spend_reporting) as ad_spend
    from {{ ref('fct_ad_spend') }}
    where tenant_id = '{{ current_tenant() }}'
    group by date, channel
),

cells as (
    select date, channel from orders
    union
    select date, channel from refunds
    union
    select date, channel from fees
    union
    select date, channel from ads
),

measured as (
    select
        cells.date,
        cells.channel,
        coalesce(orders.orders, 0) as orders,
        coalesce(orders.new_customer_orders, 0) as new_customer_orders,
        coalesce(orders.units, 0) as units,
        coalesce(orders.net_sales, 0) as net_sales,
        coalesce(orders.shipping_revenue, 0) as shipping_revenue,
        coalesce(orders.cogs, 0) as cogs,
        coalesce(orders.payment_fees, 0) as payment_fees,
        coalesce(orders.shipping_cost, 0) as shipping_cost,
        coalesce(refunds.refunds, 0) as refunds,
        coalesce(fees.channel_fees, 0) as channel_fees,
        coalesce(ads.ad_spend, 0) as ad_spend
    from cells
    left join orders on orders.date = cells.date and orders.channel = cells.channel
    left join refunds on refunds.date = cells.date and refunds.channel = cells.channel
    left join fees on fees.date = cells.date and fees.channel = cells.channel
    left join ads on ads.date = cells.date and ads.channel = cells.channel
),

tenant as (
    select currency as reporting_currency from {{ ref('stg_platform__tenants') }}
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'measured.date', 'measured.channel']) }} as cube_key,
    measured.date,
    measured.channel,
    tenant.reporting_currency,
    cast(measured.orders as bigint) as orders,
    cast(measured.new_customer_orders as bigint) as new_customer_orders,
    cast(measured.units as bigint) as units,
    {{ money('measured.net_sales') }} as net_sales,
    {{ money('measured.shipping_revenue') }} as shipping_revenue,
    {{ money('measured.refunds') }} as refunds,
    {{ money('measured.cogs') }} as cogs,
    {{ money('measured.channel_fees') }} as channel_fees,
    {{ money('measured.payment_fees') }} as payment_fees,
    {{ money('measured.shipping_cost') }} as shipping_cost,
    {{ money('measured.shipping_cost - measured.shipping_revenue') }} as net_shipping_cost,
    {{ money('measured.ad_spend') }} as ad_spend,
    {{ money('measured.net_sales - measured.cogs') }} as cm1,
    {{ money('measured.net_sales - measured.cogs - measured.channel_fees - measured.payment_fees'
             ~ ' - (measured.shipping_cost - measured.shipping_revenue) - measured.refunds') }} as cm2,
    {{ money('measured.net_sales - measured.cogs - measured.channel_fees - measured.payment_fees'
             ~ ' - (measured.shipping_cost - measured.shipping_revenue) - measured.refunds - measured.ad_spend') }}
        as cm3,
    {{ ratio('measured.net_sales', 'measured.orders', 2) }} as aov
from measured
cross join tenant
