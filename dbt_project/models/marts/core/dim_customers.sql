{{ config(post_hook=after_commit("{{ pg_indexes(['btree (tenant_id, customer_key)']) }}")) }}
-- The current tenant's customers, one row per UNIFIED customer (int_customer_identities): customer records of
-- every source with the same normalized e-mail are one customer; marketplace buyers and records without an
-- e-mail stay channel-scoped. Profile attributes come from the customer's most recently created record. The
-- order history (fct_orders) gives the cohort: the first order placed (first_order_month, acquisition_channel,
-- acquisition_category -- never re-assigned when the customer later buys elsewhere), and an RFM segment as of
-- the tenant's latest order date (recency and monetary quintiles, frequency bands; orders not cancelled).
with identities as (
    select * from {{ ref('int_customer_identities') }}
),

records as (
    select 'shopify' as source, customer_id, first_name, last_name, country_code, created_at
    from {{ ref('stg_shopify__customers') }}
    union all
    select 'files' as source, customer_id, first_name, last_name, country_code, created_at
    from {{ ref('stg_files__customers') }}
    union all
    select 'sql_database' as source, customer_id, first_name, last_name, country_code, created_at
    from {{ ref('stg_sql_database__customers') }}
),

described as (
    select
        identities.customer_key,
        identities.identity_type,
        identities.email,
        identities.email_hash,
        records.*,
        row_number() over (
            partition by identities.customer_key
            order by records.created_at desc nulls last, records.source, records.customer_id
        ) as record_rank
    from records
    inner join identities
        on identities.source = records.source and identities.customer_id = records.customer_id
),

orders as (
    select * from {{ ref('fct_orders') }}
    where tenant_id = '{{ current_tenant() }}' and customer_key is not null
),

-- every customer: those with records, and those known from their orders only (marketplace buyers, ids whose
-- record has not landed)
customer_sources as (
    select distinct customer_key, source from described
    union
    select distinct customer_key, source from orders
),

sources as (
    select
        customer_key,
        {{ dbt.listagg('source', "', '", 'order by source') }} as sources
    from customer_sources
    group by customer_key
),

first_orders as (
    select customer_key, order_key, ordered_at, order_date, channel
    from orders
    where customer_order_number = 1
),

first_order_category as (
    select
        lines.order_key,
        lines.category,
        row_number() over (
            partition by lines.order_key order by lines.net_line_amount_reporting desc, lines.order_line_key
        ) as line_rank
    from {{ ref('fct_order_lines') }} as lines
    inner join first_orders
        on first_orders.order_key = lines.order_key
    where lines.tenant_id = '{{ current_tenant() }}'
),

history as (
    select
        customer_key,
        max(order_date) as last_order_date,
        count(*) as order_count,
        sum(net_revenue_reporting) as net_revenue_reporting
    from orders
    where not is_cancelled
    group by customer_key
),

as_of as (
    select max(order_date) as as_of_date from orders where not is_cancelled
),

scored as (
    select
        history.*,
        {{ dbt.datediff('history.last_order_date', 'as_of.as_of_date', 'day') }} as recency_days,
        6 - ntile(5) over (
            order by {{ dbt.datediff('history.last_order_date', 'as_of.as_of_date', 'day') }}, history.customer_key
        ) as r_score,
        case
            when history.order_count >= 6 then 5
            when history.order_count >= 4 then 4
            else history.order_count
        end as f_score,
        ntile(5) over (order by history.net_revenue_reporting, history.customer_key) as m_score
    from history
    cross join as_of
),

tenant as (
    select currency as reporting_currency from {{ ref('stg_platform__tenants') }}
)

select
    {{ tenant_id_literal() }} as tenant_id,
    sources.customer_key,
    coalesce(profile.identity_type, 'channel') as identity_type,
    profile.email,
    profile.email_hash,
    profile.first_name,
    profile.last_name,
    profile.country_code,
    profile.created_at,
    sources.sources,
    profile.customer_key is not null as has_customer_record,
    first_orders.ordered_at as first_order_at,
    first_orders.order_date as first_order_date,
    cast({{ dbt.date_trunc('month', 'first_orders.order_date') }} as date) as first_order_month,
    first_orders.channel as acquisition_channel,
    category.category as acquisition_category,
    scored.last_order_date,
    cast(coalesce(scored.order_count, 0) as bigint) as order_count,
    {{ money('coalesce(scored.net_revenue_reporting, 0)') }} as net_revenue_reporting,
    tenant.reporting_currency,
    cast(scored.recency_days as bigint) as recency_days,
    cast(scored.r_score as bigint) as r_score,
    cast(scored.f_score as bigint) as f_score,
    cast(scored.m_score as bigint) as m_score,
    case
        when scored.customer_key is null then 'no_orders'
        when scored.r_score >= 4 and scored.f_score >= 4 then 'champions'
        when scored.r_score >= 3 and scored.f_score >= 3 then 'loyal'
        when scored.r_score >= 4 and scored.f_score = 1 then 'new'
        when scored.r_score >= 3 then 'promising'
        when scored.f_score >= 3 then 'at_risk'
        else 'hibernating'
    end as rfm_segment
from sources
left join described as profile
    on profile.customer_key = sources.customer_key and profile.record_rank = 1
left join first_orders
    on first_orders.customer_key = sources.customer_key
left join first_order_category as category
    on category.order_key = first_orders.order_key and category.line_rank = 1
left join scored
    on scored.customer_key = sources.customer_key
cross join tenant
