-- Channel-scoped customers (identity across channels arrives with the unified customer model). A customer id
-- seen on an order but missing from the customer records still gets a row, so no order loses its customer.
with records as (
    select tenant_id, 'shopify' as source, customer_id, email, first_name, last_name, country_code, created_at
    from {{ ref('stg_shopify__customers') }}

    union all

    select tenant_id, 'files' as source, customer_id, email, first_name, last_name, country_code, created_at
    from {{ ref('stg_files__customers') }}
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

order_stats as (
    select
        customer_key,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as order_count,
        sum(net_revenue) as net_revenue
    from {{ ref('fct_orders') }}
    where tenant_id = '{{ current_tenant() }}' and customer_key is not null
    group by customer_key
)

select
    customers.tenant_id,
    {{ surrogate_key(['customers.tenant_id', 'customers.source', 'customers.customer_id']) }} as customer_key,
    customers.source,
    customers.customer_id,
    customers.email,
    customers.first_name,
    customers.last_name,
    customers.country_code,
    customers.created_at,
    customers.has_customer_record,
    order_stats.first_order_at,
    order_stats.last_order_at,
    coalesce(order_stats.order_count, 0) as order_count,
    {{ money('coalesce(order_stats.net_revenue, 0)') }} as net_revenue
from customers
left join order_stats
    on order_stats.customer_key
        = {{ surrogate_key(['customers.tenant_id', 'customers.source', 'customers.customer_id']) }}
