{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, fee_key)',
    'btree (tenant_id, order_key)',
    'brin (posted_date)',
]) }}")) }}
-- One row per channel fee of the current tenant (marketplace referral and fulfilment fees, and the part of them
-- a marketplace gives back on a refund), dated by when the channel posted it. amount > 0 is a cost to the
-- brand; a fee refund is negative, so sum(amount) is the net fee. Tenant-sliced incremental model.
with fees as (
    {%- for src in unified_sources('fees') %}
    {%- if not loop.first %}

    union all
    {% endif %}
    select tenant_id, '{{ src }}' as source, fee_id, order_id, line_id, channel, fee_type, amount, currency, posted_at,
           posted_on
    from {{ ref('stg_' ~ src ~ '__fees') }}
    {%- endfor %}
),

tenant as (
    select timezone, currency as reporting_currency from {{ ref('stg_platform__tenants') }}
),

dated as (
    select
        fees.*,
        tenant.reporting_currency,
        -- a source that reports the posting day only (posted_on: Walmart) keeps its day; an instant (Amazon)
        -- falls on its day in the tenant's time zone
        coalesce(fees.posted_on, {{ local_date('fees.posted_at', 'tenant.timezone') }}) as posted_date
    from fees
    cross join tenant
)

select
    fees.tenant_id,
    {{ surrogate_key(['fees.tenant_id', 'fees.source', 'fees.fee_id']) }} as fee_key,
    fees.source,
    fees.channel,
    case when fees.order_id is not null
        then {{ surrogate_key(['fees.tenant_id', 'fees.source', 'fees.order_id']) }}
    end as order_key,
    case when fees.line_id is not null
        then {{ surrogate_key(['fees.tenant_id', 'fees.source', 'fees.line_id']) }}
    end as order_line_key,
    fees.fee_id,
    fees.fee_type,
    {{ money('fees.amount') }} as amount,
    fees.currency,
    fees.posted_at,
    fees.posted_date,
    fees.reporting_currency,
    {{ fx_rate('fees.currency', 'fees.reporting_currency', 'fx.rate') }} as fx_rate,
    {{ to_reporting('fees.amount', 'fees.currency', 'fees.reporting_currency', 'fx.rate') }} as amount_reporting
from dated as fees
left join {{ ref('int_fx_rates_daily') }} as fx
    on fx.base_currency = fees.currency and fx.date_day = fees.posted_date
