{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, order_line_key)',
    'btree (tenant_id, order_key)',
    'brin (order_date)',
]) }}")) }}
-- One row per order line of the current tenant, every source and channel: line money in the order's currency
-- and in the reporting currency (at the order date's rate), its catalogue category, its cost (the unit cost in
-- force on the order date, dim_product_costs) and the order's customer segment at the time of the order.
-- A tenant-sliced incremental model: the pre-hook deletes this tenant's rows, this query appends them again.
with lines as (
    select * from {{ ref('int_order_lines') }}
),

tenant as (
    select timezone, currency as reporting_currency from {{ ref('stg_platform__tenants') }}
),

dated as (
    select
        lines.*,
        {{ local_date('lines.ordered_at', 'tenant.timezone') }} as order_date,
        tenant.reporting_currency
    from lines
    cross join tenant
),

products as (
    select sku, category from {{ ref('dim_products') }} where tenant_id = '{{ current_tenant() }}'
),

costs as (
    select sku, valid_from, valid_to, unit_cost, currency
    from {{ ref('dim_product_costs') }}
    where tenant_id = '{{ current_tenant() }}'
),

costed as (
    select
        dated.*,
        products.category,
        costs.unit_cost,
        costs.currency as cost_currency,
        {{ money('dated.quantity * costs.unit_cost') }} as cogs_amount
    from dated
    left join products
        on products.sku = dated.sku
    left join costs
        on costs.sku = dated.sku
        and costs.valid_from <= dated.order_date
        and (costs.valid_to is null or dated.order_date < costs.valid_to)
)

select
    costed.tenant_id,
    costed.order_line_key,
    costed.order_key,
    costed.source,
    costed.channel,
    costed.order_id,
    costed.line_id,
    costed.product_key,
    costed.sku,
    costed.channel_sku,
    costed.category,
    costed.customer_key,
    {{ customer_segment('costed') }} as customer_segment,
    costed.ordered_at,
    costed.order_date,
    costed.quantity,
    costed.unit_price,
    costed.gross_amount,
    costed.discount_amount,
    costed.net_line_amount,
    costed.tax_amount,
    costed.refunded_quantity,
    costed.refunded_amount,
    costed.currency,
    costed.is_cancelled,
    costed.unit_cost,
    costed.cogs_amount,
    costed.cost_currency,
    costed.reporting_currency,
    {{ fx_rate('costed.currency', 'costed.reporting_currency', 'fx.rate') }} as fx_rate,
    {{ to_reporting('costed.gross_amount', 'costed.currency', 'costed.reporting_currency', 'fx.rate') }}
        as gross_amount_reporting,
    {{ to_reporting('costed.discount_amount', 'costed.currency', 'costed.reporting_currency', 'fx.rate') }}
        as discount_amount_reporting,
    {{ to_reporting('costed.net_line_amount', 'costed.currency', 'costed.reporting_currency', 'fx.rate') }}
        as net_line_amount_reporting,
    {{ to_reporting('costed.refunded_amount', 'costed.currency', 'costed.reporting_currency', 'fx.rate') }}
        as refunded_amount_reporting,
    {{ to_reporting('costed.cogs_amount', 'costed.cost_currency', 'costed.reporting_currency', 'cost_fx.rate') }}
        as cogs_amount_reporting
from costed
left join {{ ref('int_fx_rates_daily') }} as fx
    on fx.base_currency = costed.currency and fx.date_day = costed.order_date
left join {{ ref('int_fx_rates_daily') }} as cost_fx
    on cost_fx.base_currency = costed.cost_currency and cost_fx.date_day = costed.order_date
