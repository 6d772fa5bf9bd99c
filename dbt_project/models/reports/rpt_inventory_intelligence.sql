{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, report_key)',
    'btree (tenant_id, stockout_risk_date) where stockout_risk_date is not null',
]) }}")) }}
-- Inventory intelligence: one row per SKU and stock-holding channel in the channel's latest stock snapshot
-- (as_of_date = that snapshot's day; each channel reports its own stock), with the channel's sales of the 28 days
-- ending on as_of_date (order lines of non-cancelled orders, by order day). Days of cover = on hand / average
-- daily units; stockout_risk_date = as_of_date + the whole days of cover; risk_level buckets them (thresholds in
-- _reports__docs.md). Tenant-sliced shared report (dbt_project.yml).
{%- set window_days = 28 %}
with snapshots as (
    select snapshot_date, channel, product_key, sku, fulfillable_quantity, inbound_quantity, reserved_quantity
    from {{ ref('fct_inventory_snapshots') }}
    where tenant_id = '{{ current_tenant() }}'
),

latest as (
    select channel, max(snapshot_date) as as_of_date
    from snapshots
    group by channel
),

stock as (
    select snapshots.*, latest.as_of_date
    from snapshots
    inner join latest
        on latest.channel = snapshots.channel and latest.as_of_date = snapshots.snapshot_date
),

sales as (
    select
        lines.channel,
        lines.product_key,
        sum(lines.quantity) as units_sold
    from {{ ref('fct_order_lines') }} as lines
    inner join {{ ref('fct_orders') }} as orders
        on orders.order_key = lines.order_key
        and orders.tenant_id = '{{ current_tenant() }}'
        and not orders.is_cancelled
    inner join latest
        on latest.channel = lines.channel
    where lines.tenant_id = '{{ current_tenant() }}'
        and lines.order_date > cast({{ dbt.dateadd('day', -window_days, 'latest.as_of_date') }} as date)
        and lines.order_date <= latest.as_of_date
    group by lines.channel, lines.product_key
),

measured as (
    select
        stock.as_of_date,
        stock.channel,
        stock.product_key,
        stock.sku,
        stock.fulfillable_quantity as on_hand,
        stock.inbound_quantity as inbound,
        stock.reserved_quantity as reserved,
        cast(coalesce(sales.units_sold, 0) as bigint) as units_sold_28d,
        -- on hand / (units / 28) = on hand × 28 / units: one exact division
        {{ ratio('stock.fulfillable_quantity * ' ~ window_days, 'sales.units_sold', 1) }} as days_of_cover,
        {{ ratio('(stock.fulfillable_quantity + stock.inbound_quantity) * ' ~ window_days, 'sales.units_sold', 1) }}
            as days_of_cover_with_inbound
    from stock
    left join sales
        on sales.channel = stock.channel and sales.product_key = stock.product_key
),

products as (
    select product_key, title, category
    from {{ ref('dim_products') }}
    where tenant_id = '{{ current_tenant() }}'
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'measured.channel', 'measured.product_key']) }} as report_key,
    measured.as_of_date,
    measured.channel,
    measured.product_key,
    measured.sku,
    products.title,
    products.category,
    measured.on_hand,
    measured.inbound,
    measured.reserved,
    measured.units_sold_28d,
    {{ ratio('measured.units_sold_28d', window_days, 4) }} as avg_daily_units,
    measured.days_of_cover,
    measured.days_of_cover_with_inbound,
    {{ ratio('measured.units_sold_28d', 'measured.units_sold_28d + measured.on_hand', 4) }} as sell_through_28d,
    case when measured.days_of_cover is not null then cast({{ dbt.dateadd(
        'day', 'cast(floor(measured.days_of_cover) as integer)', 'measured.as_of_date') }} as date)
    end as stockout_risk_date,
    case
        when measured.on_hand = 0 then 'out_of_stock'
        when measured.units_sold_28d = 0 then 'no_sales'
        when measured.days_of_cover < 14 then 'critical'
        when measured.days_of_cover < 28 then 'low'
        when measured.days_of_cover <= 90 then 'healthy'
        else 'overstock'
    end as risk_level
from measured
left join products
    on products.product_key = measured.product_key
