{{ config(post_hook=after_commit("{{ pg_indexes([
    'btree (tenant_id, report_key)',
    'btree (tenant_id, cohort_month)',
]) }}")) }}
-- Customer cohort retention by acquisition channel. One row per acquisition_channel × cohort_month ×
-- months_since_first, from the cohort's first month to the tenant's latest order month (months without any
-- activity included, with zeros). A customer's cohort and channel are dim_customers' first order month and
-- channel: fixed for good, whatever the customer buys later and wherever. acquisition_channel 'all' rolls every
-- channel up. Customers whose every order was cancelled were never acquired: in no cohort. Tenant-sliced shared
-- report (dbt_project.yml).
with customers as (
    select customer_key, acquisition_channel, first_order_month
    from {{ ref('dim_customers') }}
    -- acquired = at least one order not cancelled (a customer whose every order was cancelled never bought)
    where tenant_id = '{{ current_tenant() }}' and first_order_month is not null and order_count > 0
),

-- every customer twice: in its own channel and in the 'all' rollup
cohort_members as (
    select customer_key, acquisition_channel, first_order_month as cohort_month from customers
    union all
    select customer_key, 'all' as acquisition_channel, first_order_month as cohort_month from customers
),

orders as (
    select
        customer_key,
        order_key,
        net_revenue_reporting,
        cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month
    from {{ ref('fct_orders') }}
    -- a cancelled order is no sign of life and no revenue (as in dim_customers' order history)
    where tenant_id = '{{ current_tenant() }}' and customer_key is not null and not is_cancelled
),

latest as (
    select cast({{ dbt.date_trunc('month', 'max(order_date)') }} as date) as latest_month
    from {{ ref('fct_orders') }}
    where tenant_id = '{{ current_tenant() }}'
),

months as (
    select distinct month_start from {{ ref('dim_date') }}
),

cohorts as (
    select acquisition_channel, cohort_month, count(*) as cohort_customers
    from cohort_members
    group by acquisition_channel, cohort_month
),

spine as (
    select
        cohorts.acquisition_channel,
        cohorts.cohort_month,
        cohorts.cohort_customers,
        months.month_start as activity_month,
        cast({{ dbt.datediff('cohorts.cohort_month', 'months.month_start', 'month') }} as integer)
            as months_since_first
    from cohorts
    cross join latest
    inner join months
        on months.month_start >= cohorts.cohort_month and months.month_start <= latest.latest_month
),

activity as (
    select
        cohort_members.acquisition_channel,
        cohort_members.cohort_month,
        orders.order_month,
        count(distinct orders.customer_key) as active_customers,
        count(*) as orders,
        sum(orders.net_revenue_reporting) as net_revenue
    from cohort_members
    inner join orders
        on orders.customer_key = cohort_members.customer_key
    group by cohort_members.acquisition_channel, cohort_members.cohort_month, orders.order_month
),

filled as (
    select
        spine.acquisition_channel,
        spine.cohort_month,
        spine.months_since_first,
        spine.activity_month,
        spine.cohort_customers,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(activity.orders, 0) as orders,
        {{ money('coalesce(activity.net_revenue, 0)') }} as net_revenue
    from spine
    left join activity
        on activity.acquisition_channel = spine.acquisition_channel
        and activity.cohort_month = spine.cohort_month
        and activity.order_month = spine.activity_month
),

cumulative as (
    select
        filled.*,
        sum(net_revenue) over (
            partition by acquisition_channel, cohort_month
            order by months_since_first
            rows between unbounded preceding and current row
        ) as cumulative_net_revenue
    from filled
),

tenant as (
    select currency from {{ ref('dim_tenants') }} where tenant_id = '{{ current_tenant() }}'
)

select
    {{ tenant_id_literal() }} as tenant_id,
    {{ surrogate_key([tenant_id_literal(), 'cumulative.acquisition_channel', 'cumulative.cohort_month',
                      'cumulative.months_since_first']) }} as report_key,
    cumulative.acquisition_channel,
    cumulative.cohort_month,
    cumulative.months_since_first,
    cumulative.activity_month,
    cast(cumulative.cohort_customers as bigint) as cohort_customers,
    cast(cumulative.active_customers as bigint) as active_customers,
    {{ ratio('cumulative.active_customers', 'cumulative.cohort_customers', 4) }} as retention_rate,
    cast(cumulative.orders as bigint) as orders,
    cumulative.net_revenue,
    {{ money('cumulative.cumulative_net_revenue') }} as cumulative_net_revenue,
    {{ ratio('cumulative.cumulative_net_revenue', 'cumulative.cohort_customers', 2) }}
        as cumulative_net_revenue_per_customer,
    tenant.currency as reporting_currency
from cumulative
cross join tenant
