-- The current tenant's customers, channel-scoped: one row per source customer id (identity across sources
-- comes with the unified customer model). An id seen on orders but missing from the customer records still gets
-- a row, so no order loses its customer. Order history from fct_orders (all orders, cancelled ones included).
with records as (
    select tenant_id, 'shopify' as source, customer_id, email, first_name, last_name, country_code, created_at
    from {{ ref('stg_shopify__customers') }}

    union all

    select tenant_id, 'files' as source, customer_id, email, first_name, last_name, country_code, created_at
    from {{ ref('stg_files__customers') }}

    union all

    select tenant_id, 'sql_database' as source, customer_id, email, first_name, last_name, country_code, created_at
    from {{ ref('stg_sql_database__customers') }}
),

ordering as (
    select tenant_id, source, customer_id
    from {{ ref('int_orders') }}
    where customer_id is not null
    group by tenant_id, source, customer_id
),

customers as (
    select
        coalesce(records.tenant_id, ordering.tenant_id) as tenant_id,
        coalesce(records.source, ordering.source) as source,
        coalesce(records.customer_id, ordering.customer_id) as customer_id,
        records.email,
        records.first_name,
        records.last_name,
        records.country_code,
        records.created_at,
        records.customer_id is not null as has_customer_record
    from records
    full outer join ordering
        on ordering.source = records.source and ordering.customer_id = records.customer_id
),

order_history as (
    select
        customer_key,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as order_count,
        sum(net_revenue) as net_revenue
    from {{ ref('fct_orders') }}
    where tenant_id = '{{ current_tenant() }}' and customer_key is not null
    group by customer_key
),

keyed as (
    select
        {{ surrogate_key(['tenant_id', 'source', 'customer_id']) }} as customer_key,
        customers.*
    from customers
)

select
    keyed.tenant_id,
    keyed.customer_key,
    keyed.source,
    keyed.customer_id,
    keyed.email,
    keyed.first_name,
    keyed.last_name,
    keyed.country_code,
    keyed.created_at,
    keyed.has_customer_record,
    order_history.first_order_at,
    order_history.last_order_at,
    coalesce(order_history.order_count, 0) as order_count,
    {{ money('coalesce(order_history.net_revenue, 0)') }} as net_revenue
from keyed
left join order_history
    on order_history.customer_key = keyed.customer_key
