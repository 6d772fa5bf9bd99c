{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, order_key)',
    'btree (tenant_id, customer_key) where not is_cancelled',
    'brin (order_date)',
]) }}")) }}
-- One row per order of the current tenant, every source and channel; its money is the sum of its lines in
-- fct_order_lines (so both grains always agree), plus the order's shipping -- in the order's currency and in the
-- reporting currency (lines at the order date's rate, then summed). Costs no source reports are estimated from
-- the tenant's seed channel_cost_rules: card processing and the shipping paid per order (not for cancelled
-- orders). Tenant-sliced incremental model.
with lines as (
    select
        order_key,
        count(*) as line_count,
        sum(quantity) as units,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(tax_amount) as tax_amount,
        sum(refunded_amount) as refund_amount,
        sum(gross_amount_reporting) as gross_amount_reporting,
        sum(discount_amount_reporting) as discount_amount_reporting,
        sum(refunded_amount_reporting) as refund_amount_reporting,
        sum(cogs_amount_reporting) as cogs_amount_reporting
    from {{ ref('fct_order_lines') }}
    where tenant_id = '{{ current_tenant() }}'
    group by order_key
),

tenant as (
    select timezone, currency as reporting_currency from {{ ref('stg_platform__tenants') }}
),

orders as (
    select
        orders.*,
        {{ local_date('orders.ordered_at', 'tenant.timezone') }} as order_date,
        tenant.reporting_currency,
        coalesce(lines.line_count, 0) as line_count,
        cast(coalesce(lines.units, 0) as bigint) as units,
        coalesce(lines.gross_amount, 0) as gross_amount,
        coalesce(lines.discount_amount, 0) as discount_amount,
        coalesce(lines.tax_amount, 0) as tax_amount,
        coalesce(lines.refund_amount, 0) as refund_amount,
        coalesce(lines.gross_amount_reporting, 0) as gross_amount_reporting,
        coalesce(lines.discount_amount_reporting, 0) as discount_amount_reporting,
        coalesce(lines.refund_amount_reporting, 0) as refund_amount_reporting,
        lines.cogs_amount_reporting
    from {{ ref('int_orders') }} as orders
    -- an order without lines (all of them still in quarantine) keeps its row, with zero line money
    left join lines
        on lines.order_key = orders.order_key
    cross join tenant
),

converted as (
    select
        orders.*,
        {{ fx_rate('orders.currency', 'orders.reporting_currency', 'fx.rate') }} as fx_rate,
        {{ to_reporting('orders.shipping_amount', 'orders.currency', 'orders.reporting_currency', 'fx.rate') }}
            as shipping_amount_reporting,
        {{ to_reporting('orders.tax_amount', 'orders.currency', 'orders.reporting_currency', 'fx.rate') }}
            as tax_amount_reporting
    from orders
    left join {{ ref('int_fx_rates_daily') }} as fx
        on fx.base_currency = orders.currency and fx.date_day = orders.order_date
),

totals as (
    select
        converted.*,
        converted.gross_amount_reporting - converted.discount_amount_reporting
            + converted.shipping_amount_reporting + converted.tax_amount_reporting as total_amount_reporting
    from converted
)

select
    totals.tenant_id,
    totals.order_key,
    totals.source,
    totals.channel,
    totals.order_id,
    totals.order_number,
    totals.customer_key,
    cast(totals.customer_order_number as bigint) as customer_order_number,
    {{ customer_segment('totals') }} as customer_segment,
    totals.ordered_at,
    totals.order_date,
    totals.currency,
    totals.presentment_currency,
    totals.line_count,
    totals.units,
    {{ money('totals.gross_amount') }} as gross_amount,
    {{ money('totals.discount_amount') }} as discount_amount,
    {{ money('totals.shipping_amount') }} as shipping_amount,
    {{ money('totals.tax_amount') }} as tax_amount,
    {{ money('totals.refund_amount') }} as refund_amount,
    {{ money('totals.gross_amount - totals.discount_amount - totals.refund_amount') }} as net_revenue,
    {{ money('totals.gross_amount - totals.discount_amount + totals.shipping_amount + totals.tax_amount') }}
        as total_amount,
    totals.is_cancelled,
    totals.reporting_currency,
    totals.fx_rate,
    {{ money('totals.gross_amount_reporting') }} as gross_amount_reporting,
    {{ money('totals.discount_amount_reporting') }} as discount_amount_reporting,
    {{ money('totals.shipping_amount_reporting') }} as shipping_amount_reporting,
    {{ money('totals.tax_amount_reporting') }} as tax_amount_reporting,
    {{ money('totals.refund_amount_reporting') }} as refund_amount_reporting,
    {{ money('totals.gross_amount_reporting - totals.discount_amount_reporting - totals.refund_amount_reporting') }}
        as net_revenue_reporting,
    {{ money('totals.total_amount_reporting') }} as total_amount_reporting,
    {{ money('totals.cogs_amount_reporting') }} as cogs_amount_reporting,
    -- cast outside the case: PostgreSQL types a CASE of numeric(18,2) branches as plain numeric
    cast(case when not totals.is_cancelled then {{ money(
        'totals.total_amount_reporting * rules.payment_fee_bp * 0.0001 + rules.payment_fee_fixed') }}
    end as decimal(18, 2)) as payment_fee_reporting,
    cast(case when not totals.is_cancelled then {{ money('rules.shipping_cost_per_order') }} end
        as decimal(18, 2)) as shipping_cost_reporting
from totals
left join {{ ref('stg_reference__channel_cost_rules') }} as rules
    on rules.channel = totals.channel
