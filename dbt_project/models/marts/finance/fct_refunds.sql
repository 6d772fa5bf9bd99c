{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, refund_line_key)',
    'btree (tenant_id, order_line_key)',
    'brin (refund_date)',
]) }}")) }}
-- One row per refunded order line of the current tenant, every source: what came back and what was paid back,
-- dated both by the refund (refund_date: cash view) and by the order it belongs to (order_date: the view
-- cohort and return-rate reports use). Merchandise after discount; refunded tax apart. In the reporting
-- currency at the refund date's rate (the cash view; fct_order_lines converts refunds at the order's). Tenant-sliced.
with refunds as (
    {%- for src in ['shopify'] + unified_sources('refunds') %}
    {%- if not loop.first %}

    union all
    {% endif %}
    select tenant_id, '{{ src }}' as source, refund_line_id, order_id, line_id, refunded_at, refunded_quantity,
           refunded_amount, refunded_tax_amount
    from {{ ref('stg_' ~ src ~ '__refunds') }}
    {%- endfor %}
),

tenant as (
    select timezone, currency as reporting_currency from {{ ref('stg_platform__tenants') }}
),

dated as (
    select
        refunds.*,
        orders.order_key,
        orders.channel,
        orders.ordered_at,
        orders.currency,
        tenant.reporting_currency,
        {{ local_date('refunds.refunded_at', 'tenant.timezone') }} as refund_date,
        {{ local_date('orders.ordered_at', 'tenant.timezone') }} as order_date
    from refunds
    -- a refund of an order not (yet) landed waits for it, as order lines do (int_order_lines)
    inner join {{ ref('int_orders') }} as orders
        on orders.source = refunds.source and orders.order_id = refunds.order_id
    cross join tenant
),

lines as (
    select source, line_id, product_key, sku from {{ ref('int_order_lines') }}
)

select
    refunds.tenant_id,
    {{ surrogate_key(['refunds.tenant_id', 'refunds.source', 'refunds.refund_line_id']) }} as refund_line_key,
    refunds.order_key,
    {{ surrogate_key(['refunds.tenant_id', 'refunds.source', 'refunds.line_id']) }} as order_line_key,
    refunds.source,
    refunds.channel,
    lines.product_key,
    lines.sku,
    refunds.refund_line_id,
    refunds.order_id,
    refunds.line_id,
    refunds.refunded_at,
    refunds.refund_date,
    refunds.order_date,
    cast(refunds.refunded_quantity as bigint) as refunded_quantity,
    {{ money('refunds.refunded_amount') }} as refunded_amount,
    {{ money('refunds.refunded_tax_amount') }} as refunded_tax_amount,
    refunds.currency,
    refunds.reporting_currency,
    {{ fx_rate('refunds.currency', 'refunds.reporting_currency', 'fx.rate') }} as fx_rate,
    {{ to_reporting('refunds.refunded_amount', 'refunds.currency', 'refunds.reporting_currency', 'fx.rate') }}
        as refunded_amount_reporting,
    {{ to_reporting('refunds.refunded_tax_amount', 'refunds.currency', 'refunds.reporting_currency', 'fx.rate') }}
        as refunded_tax_amount_reporting
from dated as refunds
left join lines
    on lines.source = refunds.source and lines.line_id = refunds.line_id
-- the cash view: converted at the rate of the day the money went back
left join {{ ref('int_fx_rates_daily') }} as fx
    on fx.base_currency = refunds.currency and fx.date_day = refunds.refund_date
