-- The shared calendar: one row per day from 1 January of the earliest order year (any tenant) to 31 December of
-- the year after the latest order or today, whichever is later. Rebuilt by every tenant's build (it is small),
-- so it always covers every order_date in the marts.
with order_range as (
    select min(order_date) as first_order_date, max(order_date) as last_order_date
    from {{ ref('fct_orders') }}
),

bounds as (
    select
        {{ dbt.date_trunc('year', 'coalesce(first_order_date, current_date)') }} as first_day,
        {{ dbt.dateadd('day', -1, dbt.dateadd('year', 2, dbt.date_trunc(
            'year', 'case when last_order_date > current_date then last_order_date else current_date end'))) }}
            as last_day
    from order_range
),

days as (
    {{ day_spine('(select first_day from bounds)', '(select last_day from bounds)') }}
)

select
    date_day,
    cast(extract(year from date_day) as integer) as year,
    cast(extract(quarter from date_day) as integer) as quarter,
    cast(extract(month from date_day) as integer) as month,
    cast(extract(day from date_day) as integer) as day_of_month,
    cast(extract(doy from date_day) as integer) as day_of_year,
    cast(extract(isoyear from date_day) as integer) as iso_year,
    cast(extract(week from date_day) as integer) as iso_week,
    cast(extract(isodow from date_day) as integer) as iso_day_of_week,
    extract(isodow from date_day) in (6, 7) as is_weekend,
    cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
    cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
    cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start,
    cast({{ dbt.date_trunc('year', 'date_day') }} as date) as year_start
from days
