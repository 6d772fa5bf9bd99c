-- Per channel and day of the current tenant, the sales cube's cells, the channel cube and the facts they are
-- built from agree to the cent: net sales (order day: fct_orders), refunds (refund day: fct_refunds) and channel
-- fees (posting day: fct_fees), cancelled orders' sales and refunds left out as the cubes leave them out.
-- Returns every (channel, day) where any two of them differ.
{{ config(severity='error', meta={'dagster': {'ref': {'name': 'cube_channel_daily'}}}) }}
{%- set tenant = current_tenant() %}
with facts as (
    select channel, date, sum(net_sales) as net_sales, sum(refunds) as refunds, sum(fees) as fees
    from (
        select channel, order_date as date, gross_amount_reporting - discount_amount_reporting as net_sales,
               0 as refunds, 0 as fees
        from {{ ref('fct_orders') }} where tenant_id = '{{ tenant }}' and not is_cancelled
        union all
        select refunds.channel, refunds.refund_date, 0, refunds.refunded_amount_reporting, 0
        from {{ ref('fct_refunds') }} as refunds
        inner join {{ ref('fct_orders') }} as orders
            on orders.order_key = refunds.order_key and orders.tenant_id = refunds.tenant_id
        where refunds.tenant_id = '{{ tenant }}' and not orders.is_cancelled
        union all
        select channel, posted_date, 0, 0, amount_reporting
        from {{ ref('fct_fees') }} where tenant_id = '{{ tenant }}'
    ) as events
    group by channel, date
),

sales_cube as (
    select channel, date, sum(net_sales) as net_sales, sum(refunds) as refunds, sum(channel_fees) as fees
    from {{ ref('cube_sales_daily') }} where tenant_id = '{{ tenant }}'
    group by channel, date
),

channel_cube as (
    select channel, date, net_sales, refunds, channel_fees as fees
    from {{ ref('cube_channel_daily') }} where tenant_id = '{{ tenant }}'
)

select
    coalesce(facts.channel, sales_cube.channel, channel_cube.channel) as channel,
    coalesce(facts.date, sales_cube.date, channel_cube.date) as date,
    facts.net_sales as facts_net_sales, sales_cube.net_sales as sales_cube_net_sales,
    channel_cube.net_sales as channel_cube_net_sales,
    facts.refunds as facts_refunds, sales_cube.refunds as sales_cube_refunds,
    facts.fees as facts_fees, sales_cube.fees as sales_cube_fees, channel_cube.fees as channel_cube_fees
from facts
full outer join sales_cube
    on sales_cube.channel = facts.channel and sales_cube.date = facts.date
full outer join channel_cube
    on channel_cube.channel = coalesce(facts.channel, sales_cube.channel)
    and channel_cube.date = coalesce(facts.date, sales_cube.date)
where coalesce(facts.net_sales, 0) <> coalesce(sales_cube.net_sales, 0)
    or coalesce(facts.net_sales, 0) <> coalesce(channel_cube.net_sales, 0)
    or coalesce(facts.refunds, 0) <> coalesce(sales_cube.refunds, 0)
    or coalesce(facts.refunds, 0) <> coalesce(channel_cube.refunds, 0)
    or coalesce(facts.fees, 0) <> coalesce(sales_cube.fees, 0)
    or coalesce(facts.fees, 0) <> coalesce(channel_cube.fees, 0)
