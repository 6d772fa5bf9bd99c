{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'date'],
    on_schema_change='append_new_columns',
    full_refresh=false,
    post_hook=after_commit("{{ pg_indexes([
        'btree (tenant_id, cube_key)', 'btree (tenant_id, date)', 'brin (date)',
    ]) }}"),
) }}
-- The sales cube: one row per tenant, day, channel, product and customer segment, in the reporting currency.
-- Event-dated -- each measure on the day its event happened: sales, units and COGS on the order date, refunds on
-- the refund date, channel fees on the day the channel posted them -- so a day, once past, only changes when an
-- event of that day arrives late. Cancelled orders are not purchases: their sales and refunds stay out (their
-- fees, if a channel charged any, stay in). Incremental: only the days from the first new event on are rebuilt
-- (macros/cube_window.sql); other tenants' rows are never touched (delete+insert on tenant_id, date).
{%- set events_sql -%}
    select
        lines.channel,
        lines.product_key,
        lines.customer_segment,
        lines.order_date as event_date,
        lines.ordered_at as event_at,
        lines.order_key,
        lines.quantity as units,
        lines.gross_amount_reporting as gross_sales,
        lines.discount_amount_reporting as discounts,
        lines.net_line_amount_reporting as net_sales,
        lines.cogs_amount_reporting as cogs,
        cast(0 as bigint) as refunded_units,
        cast(0 as decimal(18, 2)) as refunds,
        cast(0 as decimal(18, 2)) as channel_fees
    from {{ ref('fct_order_lines') }} as lines
    where lines.tenant_id = '{{ current_tenant() }}' and not lines.is_cancelled

    union all

    select
        refunds.channel,
        refunds.product_key,
        lines.customer_segment,
        refunds.refund_date as event_date,
        refunds.refunded_at as event_at,
        cast(null as {{ dbt.type_string() }}) as order_key,
        cast(0 as bigint) as units,
        cast(0 as decimal(18, 2)) as gross_sales,
        cast(0 as decimal(18, 2)) as discounts,
        cast(0 as decimal(18, 2)) as net_sales,
        cast(0 as decimal(18, 2)) as cogs,
        refunds.refunded_quantity as refunded_units,
        refunds.refunded_amount_reporting as refunds,
        cast(0 as decimal(18, 2)) as channel_fees
    from {{ ref('fct_refunds') }} as refunds
    left join {{ ref('fct_order_lines') }} as lines
        on lines.order_line_key = refunds.order_line_key and lines.tenant_id = refunds.tenant_id
    where refunds.tenant_id = '{{ current_tenant() }}' and not coalesce(lines.is_cancelled, false)

    union all

    select
        fees.channel,
        lines.product_key,
        coalesce(lines.customer_segment, orders.customer_segment) as customer_segment,
        fees.posted_date as event_date,
        fees.posted_at as event_at,
        cast(null as {{ dbt.type_string() }}) as order_key,
        cast(0 as bigint) as units,
        cast(0 as decimal(18, 2)) as gross_sales,
        cast(0 as decimal(18, 2)) as discounts,
        cast(0 as decimal(18, 2)) as net_sales,
        cast(0 as decimal(18, 2)) as cogs,
        cast(0 as bigint) as refunded_units,
        cast(0 as decimal(18, 2)) as refunds,
        fees.amount_reporting as channel_fees
    from {{ ref('fct_fees') }} as fees
    left join {{ ref('fct_order_lines') }} as lines
        on lines.order_line_key = fees.order_line_key and lines.tenant_id = fees.tenant_id
    left join {{ ref('fct_orders') }} as orders
        on orders.order_key = fees.order_key and orders.tenant_id = fees.tenant_id
    where fees.tenant_id = '{{ current_tenant() }}'
{%- endset %}
{%- set window_start = cube_window_start(events_sql) %}

with events as (
    {{ events_sql }}
),

cells as (
    select
        event_date,
        channel,
        product_key,
        coalesce(customer_segment, 'unidentified') as customer_segment,
        count(distinct order_key) as orders,
        sum(units) as units,
        sum(gross_sales) as gross_sales,
        sum(discounts) as discounts,
        sum(net_sales) as net_sales,
        sum(cogs) as cogs,
        sum(refunded_units) as refunded_units,
        sum(refunds) as refunds,
        sum(channel_fees) as channel_fees,
        max(event_at) as last_event_at
    from events
    where {{ cube_window_filter('event_date', window_start) }}
    group by event_date, channel, product_key, coalesce(customer_segment, 'unidentified')
),

products as (
    select product_key, sku, category from {{ ref('dim_products') }} where tenant_id = '{{ current_tenant() }}'
),

tenant as (
    select currency as reporting_currency from {{ ref('stg_platform__tenants') }}
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'cells.event_date', 'cells.channel', 'cells.product_key',
                      'cells.customer_segment']) }} as cube_key,
    cells.event_date as date,
    cells.channel,
    cells.product_key,
    products.sku,
    products.category,
    cells.customer_segment,
    tenant.reporting_currency,
    cast(cells.orders as bigint) as orders,
    cast(cells.units as bigint) as units,
    {{ money('cells.gross_sales') }} as gross_sales,
    {{ money('cells.discounts') }} as discounts,
    {{ money('cells.net_sales') }} as net_sales,
    cast(cells.refunded_units as bigint) as refunded_units,
    {{ money('cells.refunds') }} as refunds,
    {{ money('coalesce(cells.cogs, 0)') }} as cogs,
    {{ money('cells.channel_fees') }} as channel_fees,
    {{ money('cells.net_sales - cells.refunds - coalesce(cells.cogs, 0) - cells.channel_fees') }}
        as contribution_profit,
    {{ ratio('cells.net_sales', 'cells.orders', 2) }} as aov,
    cells.last_event_at
from cells
left join products
    on products.product_key = cells.product_key
cross join tenant
